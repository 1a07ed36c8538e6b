"""Which constants a model marks as policy levers, and their slider grid: one rule for the
explorer and the live page.

A constant whose comment starts with ``LEVER`` (or ``POLICY LEVER``) is a policy lever. In a
model that tags none that way, the constants of a Vensim group whose name mentions levers or
policy (``.Policy levers``) are. A model that tags its levers in comments has said which they
are: its lever group may also hold the guards and uncertain constants the levers need (the
reference model v2 does), and those are not levers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

__all__ = ["LEVER_COMMENT", "grid_step", "nice_step", "policy_levers"]

LEVER_COMMENT = re.compile(r"^\s*(policy\s+)?lever\b", re.I)
_POLICY_GROUP = re.compile(r"lever|polic", re.I)


def policy_levers(names: Iterable[str], comments: Mapping[str, str], groups: Mapping[str, str]) -> set[str]:
    """The policy levers among ``names`` (empty when the model marks none).

    Parameters
    ----------
    names
        Candidate constants.
    comments, groups
        Each name's comment and Vensim group (missing: none).
    """
    names = list(names)
    tagged = {n for n in names if LEVER_COMMENT.match(str(comments.get(n, "") or ""))}
    if tagged:
        return tagged
    return {n for n in names if _POLICY_GROUP.search(str(groups.get(n, "") or ""))}


def nice_step(lo: float, hi: float, n: int = 100) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving about ``n`` positions."""
    span = hi - lo
    if not math.isfinite(span) or span <= 0:
        return 1.0
    raw = span / n
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return float(f"{m * mag:.12g}")
    return float(f"{10 * mag:.12g}")  # pragma: no cover - the loop always returns


def grid_step(lo: float, hi: float, n: int = 100) -> float:
    """:func:`nice_step`, made finer (down to about ``10 n`` positions) until the range's upper
    end lies on the grid ``lo + k step``: on [0.0001, 0.1] a 0.001 grid from 0.0001 never
    reaches 0.1. A default off the grid keeps the coarser step (arrow keys stay useful); the
    slider's model-value mark and reset still reach it."""
    step = nice_step(lo, hi, n)

    def on_grid(v: float, st: float) -> bool:
        k = (v - lo) / st
        return abs(k - round(k)) < 1e-6

    finest = (hi - lo) / (10 * n)
    while step / 10 >= finest * (1 - 1e-9) and not on_grid(hi, step):
        step = float(f"{step / 10:.12g}")
    return step
