"""The explorer's value types: control settings, Monte Carlo bands, updates, key outputs.

Held apart from :mod:`pvsd.explorer.core` (the :class:`~pvsd.explorer.core.Explorer`
itself) so the figure and saving code can use them without importing the explorer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pvsd.errors import ParameterError, PvsdError
from pvsd.scenarios import Scenario
from pvsd.timefunc import Step

if TYPE_CHECKING:
    from pvsd.model import Model
    from pvsd.parameters import ParameterSpace

#: Preferred dashboard outputs, in order; for each entry the first name the model has is used.
KEY_OUTPUTS: tuple[tuple[str, ...], ...] = (
    ("Digital Capability",),
    ("Service Quality",),
    ("Public Trust",),
    ("Public Expectations",),
    ("Satisfaction Gap",),
    ("Cumulative Public Value", "Public Value Creation Rate", "Public Value Index", "Public Value"),
)


class ExplorerInputError(ParameterError):
    """Values sent to the explorer are not numbers, or lie outside a slider's range."""


def _clean(value: float) -> float:
    """Round away binary noise from slider arithmetic (0.1 + 0.2 -> 0.3)."""
    return float(f"{value:.12g}")


def key_outputs(model: Model, outputs: Sequence[str] | None = None, limit: int = 6) -> list[str]:
    """Dashboard outputs: ``outputs`` if given, else :data:`KEY_OUTPUTS` found in the model.

    Falls back to the first stocks (then auxiliaries) when the model has none of
    the key outputs.
    """
    if outputs:
        return [e for o in model.resolve_outputs(list(outputs)) for e in model.elements(o)]
    return _elements(model, _key_variables(model, limit), limit)


#: Elements of one arrayed variable on the dashboard by default.
MAX_ELEMENTS = 4


def _elements(model: Model, names: Sequence[str], limit: int) -> list[str]:
    """Element labels of the chosen variables, one chart each (the first :data:`MAX_ELEMENTS`
    of a long dimension); whole variables only, up to ``2 * limit`` charts."""
    out: list[str] = []
    for name in names:
        els = model.elements(name)[:MAX_ELEMENTS]
        if out and len(out) + len(els) > 2 * limit:
            break
        out.extend(els)
    return out


def _key_variables(model: Model, limit: int) -> list[str]:
    kinds = dict(zip(model.variables["name"], model.variables["kind"], strict=True))
    found: list[str] = []
    for candidates in KEY_OUTPUTS:
        for cand in candidates:
            try:
                name = model.resolve(cand)
            except PvsdError:
                continue
            if kinds.get(name) in ("stock", "flow", "aux") and name not in found:
                found.append(name)
                break
    if len(found) >= 2:
        return found
    pool = model.stocks + [n for n in model.default_outputs() if n not in model.stocks]
    for name in pool:
        if len(found) >= limit:
            break
        if name not in found:
            found.append(name)
    return found


@dataclass(frozen=True)
class Settings:
    """What the controls say: lever values that differ from the model's, and step changes.

    Attributes
    ----------
    values
        ``(name, value)`` for every lever set away from its default, in lever order.
    steps
        ``(name, year, to)``: the lever jumps to ``to`` in ``year``.
    """

    values: tuple[tuple[str, float], ...] = ()
    steps: tuple[tuple[str, float, float], ...] = ()

    @property
    def is_baseline(self) -> bool:
        """Nothing is changed from the model's own settings."""
        return not self.values and not self.steps

    def changed(self) -> set[str]:
        """Names of the levers this setting changes."""
        return {n for n, _ in self.values} | {n for n, _, _ in self.steps}

    def params(self) -> dict[str, float | Step]:
        """``Model.run`` parameters: numbers, and :class:`~pvsd.timefunc.Step` levers."""
        out: dict[str, float | Step] = dict(self.values)
        for name, year, to in self.steps:
            before = out.get(name)
            out[name] = Step(year, to, before if isinstance(before, float) else None)
        return out

    def to_scenario(self, name: str, title: str = "", description: str = "") -> Scenario:
        """The setting as a :class:`~pvsd.scenarios.Scenario` (constants and step levers)."""
        stepped = {n for n, _, _ in self.steps}
        constants = {n: v for n, v in self.values if n not in stepped}
        levers = {n: v for n, v in self.params().items() if isinstance(v, Step)}
        return Scenario(name=name, title=title, description=description, constants=constants, levers=levers)


@dataclass(frozen=True)
class Bands:
    """Monte Carlo percentiles around one setting.

    Attributes
    ----------
    times
        Saved times.
    percentiles
        Percentile -> variable -> values over time.
    n
        Number of runs.
    seed
        Seed of the draw.
    varied
        Parameters sampled.
    held
        Uncertain parameters held at the user's setting instead of sampled.
    """

    times: np.ndarray
    percentiles: Mapping[float, Mapping[str, np.ndarray]]
    n: int
    seed: int
    varied: tuple[str, ...]
    held: tuple[str, ...] = ()

    def pairs(self) -> tuple[list[tuple[float, float]], float | None]:
        """Symmetric percentile pairs, widest first, and the median (if requested)."""
        ps = sorted(self.percentiles)
        lower = [p for p in ps if p < 50]
        upper = [p for p in ps if p > 50]
        pairs = list(zip(lower, reversed(upper), strict=False))
        median = 50.0 if 50.0 in self.percentiles else None
        return pairs, median


@dataclass
class Update:
    """The result of a change of the controls.

    Attributes
    ----------
    figure
        The dashboard figure (plotly JSON), or None when the input was rejected.
    message
        Error text to show (empty when all is well).
    status
        A short status line (timings, what the bands show).
    settings
        The validated settings (None when rejected).
    """

    figure: dict[str, Any] | None
    message: str = ""
    status: str = ""
    settings: Settings | None = None


@dataclass
class _BandConfig:
    space: ParameterSpace
    n: int = 200
    percentiles: tuple[float, ...] = (5.0, 25.0, 50.0, 75.0, 95.0)
    seed: int = 20240501
    sampling: str = "lhs"
    source: str = ""
    samples: pd.DataFrame | None = field(default=None, repr=False)



def _as_number(value: Any) -> float | None:
    """A finite float, or None for anything else (strings, bools, NaN, lists ...)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    v = float(value)
    return v if math.isfinite(v) else None
