"""Reproducible random functions: every run and ensemble member seeded from one recorded seed.

PySD's translations draw RANDOM UNIFORM / NORMAL / EXPONENTIAL / RANDOM 0 1 from
numpy's global generator and drop Vensim's seed argument, so two runs of the same
model differ and nothing records why. pvsd seeds that generator around each run:

* the seed is the one the caller passes, else the model's own seed arguments
  (combined when several calls give one), else :data:`DEFAULT_SEED`, so a model
  reruns bit for bit by default, as in Vensim;
* ensemble members get independent streams spawned from that seed
  (:class:`numpy.random.SeedSequence`), member ``i`` always the same one;
* the seed is recorded in the output's provenance;
* the caller's global numpy state is restored afterwards.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["DEFAULT_SEED", "member_seeds", "random_info", "run_seed", "seeded"]

#: Seed of models with random functions when neither the call nor the model gives one.
DEFAULT_SEED = 0

# PySD's names of Vensim's random functions, and where Vensim puts the seed argument
_SEED_ARG = {"random_uniform": 2, "random_normal": 4, "random_exponential": 4, "random_0_1": None}


def _calls(node: Any) -> Iterator[Any]:
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        if type(node).__name__ == "CallStructure":
            yield node
        for f in dataclasses.fields(node):
            yield from _calls(getattr(node, f.name))
    elif isinstance(node, (list, tuple)):
        for x in node:
            yield from _calls(x)
    elif isinstance(node, dict):
        for x in node.values():
            yield from _calls(x)


def random_info(model: Any) -> tuple[bool, int | None]:
    """Whether the model draws random numbers, and the seed its own equations give (or None)."""
    cached = getattr(model, "_random_info", None)
    if cached is not None:
        return cached
    found, seeds = False, []
    am = None
    with contextlib.suppress(Exception):
        am = model.abstract_model()
    if am is not None:
        for sec in am.sections:
            for el in sec.elements:
                for comp in el.components:
                    for call in _calls(comp.ast):
                        fn = getattr(getattr(call, "function", None), "reference", None)
                        if fn not in _SEED_ARG:
                            continue
                        found = True
                        pos = _SEED_ARG[fn]
                        args = tuple(getattr(call, "arguments", ()) or ())
                        if pos is not None and pos < len(args) and isinstance(args[pos], (int, float)):
                            seeds.append(int(args[pos]))
    else:  # a translated .py: PySD's generated calls
        with contextlib.suppress(OSError):
            text = model.source.py_path.read_text(encoding="utf-8")
            found = "np.random." in text or ".rvs(" in text
    seed = None
    if seeds:
        seed = int(np.random.SeedSequence(seeds).generate_state(1)[0]) if len(set(seeds)) > 1 \
            else seeds[0]
    info = (found, seed)
    with contextlib.suppress(AttributeError):
        model._random_info = info
    return info


def run_seed(model: Any, seed: int | None) -> int | None:
    """The seed of a run: the caller's, else the model's, else :data:`DEFAULT_SEED`; None if no draw."""
    found, own = random_info(model)
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            from pvsd.errors import ParameterError

            raise ParameterError(f"seed must be a non-negative integer, got {seed!r}.")
        return int(seed)
    if not found:
        return None
    return DEFAULT_SEED if own is None else own


def member_seeds(base: int, n: int) -> np.ndarray:
    """Independent per-member seeds spawned from ``base`` (member i's never depends on n)."""
    children = np.random.SeedSequence(base).spawn(n)
    return np.array([c.generate_state(1)[0] for c in children], dtype=np.uint32)


@contextlib.contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Seed numpy's global generator (what PySD's random functions use); restore it after."""
    if seed is None:
        yield
        return
    state = np.random.get_state()  # noqa: NPY002 - PySD draws from the legacy global generator
    np.random.seed(int(seed) % (2**32))  # noqa: NPY002
    try:
        yield
    finally:
        np.random.set_state(state)  # noqa: NPY002
