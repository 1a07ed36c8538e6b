"""Checks of a :class:`~pvsd.model.Model`'s run arguments (mixed into the class).

Outputs, parameter overrides (numbers, time functions, series, subscripted
constants; the ranges the model declares) and time settings (the time-step grid,
pvsd's work limits) are checked before a run, with a clear
:class:`~pvsd.errors.ParameterError` or :class:`~pvsd.errors.TimeRangeError`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd

from pvsd import model_arrays as _arr
from pvsd.arrays import split_label
from pvsd.errors import ParameterError, TimeRangeError
from pvsd.timefunc import PiecewiseLinear, TimeFunction

__all__ = ["Scenario", "outside_range", "range_text"]


def outside_range(values: Any, lo: float, hi: float) -> np.ndarray:
    """Where ``values`` leave a declared range ``[lo, hi]`` (NaN = that side has no limit)."""
    v = np.asarray(values, float)
    bad = np.zeros(v.shape, dtype=bool)
    if math.isfinite(lo):
        bad |= v < lo
    if math.isfinite(hi):
        bad |= v > hi
    return bad


def range_text(lo: float, hi: float) -> str:
    """``[lo, hi]`` for messages, an unlimited side written "no limit"."""
    return f"[{lo:g}, {hi:g}]".replace("nan", "no limit")


class Scenario(Protocol):
    """What a run needs of a scenario (:class:`pvsd.scenarios.Scenario` is one); model.py
    does not import pvsd.scenarios, which sits above it (scenarios run models)."""

    name: str

    def settings(self) -> Mapping[str, Any]: ...


class _ModelChecks:
    """The checks of :class:`~pvsd.model.Model` (a mixin: it uses the model's tables)."""

    # ------------------------------------------------------------------ checks
    def resolve_outputs(self, outputs: Sequence[str] | str | None) -> list[str]:
        """Canonical output names (default: :meth:`default_outputs`), without duplicates."""
        from pvsd.apitypes import check_outputs_arg

        check_outputs_arg(outputs)
        if outputs is None:
            return self.default_outputs()
        if isinstance(outputs, str):
            outputs = [outputs]
        names = [self.resolve(o, where="outputs") for o in outputs]
        return list(dict.fromkeys(names))

    def check_param(self, name: str, value: Any, where: str = "params") -> tuple[str, Any]:
        """Validate one parameter override; return its canonical name and normal form.

        Numbers stay numbers; :class:`TimeFunction`, ``pandas.Series`` (indexed by
        time) and :class:`PiecewiseLinear` become :class:`PiecewiseLinear`.
        """
        canonical = self.resolve(name, where=where)
        row = self._row(canonical)
        kind = row["kind"]
        base, elems = split_label(canonical)
        if kind in ("stock", "control"):
            hint = (
                "set the constant that gives its initial value instead"
                if kind == "stock"
                else "use the initial_time/final_time/time_step/saveper arguments"
            )
            raise ParameterError(f"{canonical!r} is a {kind} and cannot be set as a parameter: {hint}.")
        from pvsd.overrides import warn_equation_override

        warn_equation_override(canonical, kind, where)
        if base in self._dims:
            if kind == "lookup":
                raise ParameterError(
                    f"{canonical!r} is an arrayed lookup table; pvsd cannot replace arrayed "
                    "lookups yet. Set the constants that feed it instead."
                )
            if kind != "constant":
                raise ParameterError(
                    f"{canonical!r} is a subscripted {kind}; only subscripted constants can be "
                    "set (the values they feed follow)."
                )
            if elems is None:
                return base, _arr.check_whole(self, base, row, value, where)
        if isinstance(value, TimeFunction):
            dflt = self.default(canonical)
            value = value.points(dflt if math.isfinite(dflt) else 0.0, self.initial_time,
                                 self.final_time)
        if isinstance(value, pd.Series):
            if value.isna().any() or not value.index.is_monotonic_increasing:
                raise ParameterError(
                    f"Time series for {canonical!r} must have no NaN and increasing times."
                )
            value = PiecewiseLinear(
                tuple(value.index.astype(float)), tuple(value.to_numpy(dtype=float))
            )
        if isinstance(value, PiecewiseLinear):
            if kind == "lookup":
                return canonical, value
            for v in value.y:
                self._check_bounds(canonical, row, v, where)
            return canonical, value
        if kind == "lookup":
            raise ParameterError(
                f"{canonical!r} is a lookup table; give a pandas Series (x -> y) "
                f"instead of {value!r}."
            )
        if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, np.integer, np.floating)
        ):
            if isinstance(value, np.ndarray):
                raise ParameterError(
                    f"{canonical!r}: an array of values is an ensemble; use "
                    "Model.run_ensemble for many runs at once."
                )
            raise ParameterError(
                f"{canonical!r} must be a number, a pvsd Step/Ramp/Table or a pandas "
                f"Series indexed by time, got {type(value).__name__} {value!r}."
            )
        value = float(value)
        self._check_bounds(canonical, row, value, where)
        return canonical, value

    def _check_bounds(self, canonical: str, row: pd.Series, value: float, where: str) -> None:
        if not math.isfinite(value):
            raise ParameterError(f"{canonical!r} in {where} must be finite, got {value!r}.")
        lo, hi = float(row["min"]), float(row["max"])
        if outside_range(value, lo, hi):
            raise ParameterError(
                f"{canonical!r} = {value:g} in {where} is outside the range the model "
                f"declares for it, {range_text(lo, hi)} (the [min,max] in its units field). "
                "Choose a value inside it, or widen the range in the model file."
            )

    def check_params(
        self, params: Mapping[str, Any] | None, scenario: Scenario | None = None
    ) -> dict[str, Any]:
        """Merge a scenario's settings with explicit ``params`` (which win) and validate."""
        from pvsd.apitypes import check_params_arg, check_scenario_arg

        check_params_arg(params)
        check_scenario_arg(scenario)
        items: list[tuple[str, Any]] = []
        if scenario is not None:
            for name, value in scenario.settings().items():
                items.append(self.check_param(name, value, where=f"scenario {scenario.name!r}"))
        for name, value in (params or {}).items():
            items.append(self.check_param(name, value))
        for name, value in getattr(self, "_fixed", {}).items():  # pvsd.overrides.fix_constants
            items.append(self.check_param(name, value, where="--set"))
        # element settings ("Pop[Town A]") join their variable's full array
        return _arr.merge(self, items)

    def check_times(
        self,
        initial_time: float | None = None,
        final_time: float | None = None,
        time_step: float | None = None,
        saveper: float | None = None,
        return_times: Sequence[float] | None = None,
        allow_long: bool = False,
    ) -> tuple[float, float, float, np.ndarray]:
        """Validate time settings; return (initial, final, time step, save times).

        Save times always lie on the time-step grid ``initial + k * time_step``: explicit
        ``return_times`` off the grid raise :class:`TimeRangeError`; with a ``saveper``
        that is not a multiple of the time step only the common multiples are saved, as
        PySD and Vensim do (with a warning). Runs above pvsd's work limits raise
        :class:`pvsd.numerics.WorkLimitError` unless ``allow_long``.
        """
        t0 = self.initial_time if initial_time is None else initial_time
        t1 = self.final_time if final_time is None else final_time
        dt = self.time_step if time_step is None else time_step
        for what, v in (("initial_time", t0), ("final_time", t1), ("time_step", dt)):
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(v):
                raise TimeRangeError(f"{what} must be a finite number, got {v!r}.")
        t0, t1, dt = float(t0), float(t1), float(dt)
        if t1 <= t0:
            raise TimeRangeError(
                f"final_time ({t1:g}) must be after initial_time ({t0:g}); "
                f"the model runs from {self.initial_time:g} to {self.final_time:g}."
            )
        if dt <= 0 or dt > t1 - t0:
            raise TimeRangeError(
                f"time_step must be positive and at most the run length ({t1 - t0:g}), got {dt:g}."
            )
        from pvsd.numerics import check_work, estimate_work

        # refuse absurd grids before building them (the estimate itself is cheap)
        check_work(estimate_work(t0, t1, dt, 0, 0, len(self._table)), allow_long)
        if return_times is not None:
            times = np.asarray(list(return_times), dtype=float)
            if times.size == 0 or not np.all(np.isfinite(times)):
                raise TimeRangeError("return_times must be a non-empty list of finite times.")
            if times.min() < t0 - 1e-9 or times.max() > t1 + 1e-9:
                raise TimeRangeError(
                    f"return_times must lie within [{t0:g}, {t1:g}], got "
                    f"[{times.min():g}, {times.max():g}]."
                )
            steps = (times - t0) / dt
            snapped = np.round(steps)
            off = np.abs(steps - snapped) > 0.01
            if off.any():
                raise TimeRangeError(
                    f"return_times must lie on the time-step grid ({t0:g} + k * {dt:g}); "
                    f"{times[off][0]:g} does not. Choose a time step that divides them."
                )
            return t0, t1, dt, np.unique(t0 + snapped * dt)
        sp = self.saveper if saveper is None else saveper
        if isinstance(sp, bool) or not isinstance(sp, (int, float, np.integer, np.floating)) \
                or not math.isfinite(sp) or sp <= 0:
            raise TimeRangeError(f"saveper must be a positive number, got {sp!r}.")
        from pvsd.numerics import saveper_times

        # PySD's and Vensim's rule: save the steps that are multiples of SAVEPER (warns
        # when SAVEPER is not a multiple of TIME STEP)
        return t0, t1, dt, saveper_times(t0, t1, dt, float(sp))
