"""Which constants a model marks as policy levers: one rule for the explorer and the live page.

A constant whose comment starts with ``LEVER`` (or ``POLICY LEVER``) is a policy lever. In a
model that tags none that way, the constants of a Vensim group whose name mentions levers or
policy (``.Policy levers``) are. A model that tags its levers in comments has said which they
are: its lever group may also hold the guards and uncertain constants the levers need (the
reference model v2 does), and those are not levers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

__all__ = ["LEVER_COMMENT", "policy_levers"]

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
