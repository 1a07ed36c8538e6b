"""Sample columns of time functions: one lever path per ensemble member.

A column of a sample table may hold, per row, a :class:`~pvsd.timefunc.Step`,
:class:`~pvsd.timefunc.Ramp`, :class:`~pvsd.timefunc.Table`,
:class:`~pvsd.timefunc.PiecewiseLinear` or a ``pandas.Series`` indexed by time
(numbers mixed in are constant functions). Every row's value is checked as
``Model.run(params=...)`` checks it, then the column becomes one
:class:`~pvsd.timefunc.MemberPiecewise`, which the vectorised engine evaluates
for all members at once and the PySD fallback member by member.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from pvsd.arrays import ArrayPiecewise, split_label
from pvsd.errors import ParameterError
from pvsd.timefunc import MemberPiecewise, PiecewiseLinear, TimeFunction

__all__ = ["as_table", "member_time_functions", "split_time_columns"]

_TIME_TYPES = (TimeFunction, PiecewiseLinear, pd.Series, ArrayPiecewise)


def as_table(samples: Any) -> Any:
    """A DataFrame or mapping from a sample table or sampler output (else unchanged)."""
    if not isinstance(samples, (pd.DataFrame, Mapping)):
        if isinstance(getattr(samples, "samples", None), pd.DataFrame):
            return samples.samples
        if hasattr(samples, "to_frame"):
            return samples.to_frame()
    return samples


def _is_time_column(values: Any) -> bool:
    if isinstance(values, MemberPiecewise):
        return True
    if isinstance(values, pd.Series):
        if values.dtype != object:
            return False
        values = values.to_numpy()
    elif isinstance(values, np.ndarray):
        if values.dtype != object:
            return False
    elif not isinstance(values, (list, tuple)):
        return False
    return any(isinstance(v, _TIME_TYPES) for v in values)


def split_time_columns(samples: Any) -> tuple[Any, dict[str, Any]]:
    """Split the columns that hold time functions off a sample table.

    Returns the table without them (a DataFrame keeping the rows when nothing
    else is left) and name -> the column's values (a sequence, or a
    :class:`MemberPiecewise` given as it is).
    """
    samples = as_table(samples)
    if not isinstance(samples, (pd.DataFrame, Mapping)):
        return samples, {}
    tcols = {str(k): v for k, v in samples.items() if _is_time_column(v)}
    if not tcols:
        return samples, {}
    n = len(next(iter(tcols.values())))
    for k, v in tcols.items():
        if len(v) != n:
            raise ParameterError(f"Sample column {k!r} has {len(v)} values but other columns "
                                 f"have {n}.")
    if isinstance(samples, pd.DataFrame):
        rest = samples.drop(columns=[c for c in samples.columns if str(c) in tcols])
    else:
        rest = {k: v for k, v in samples.items() if str(k) not in tcols}
        if not rest:
            rest = pd.DataFrame(index=range(n))
    return rest, {k: (v if isinstance(v, MemberPiecewise) else list(v)) for k, v in tcols.items()}


def _points(value: Any) -> tuple[np.ndarray, np.ndarray]:
    x, y = value.arrays()
    return np.asarray(x, float), np.asarray(y, float)


def _key(v: Any) -> Any:
    # frozen time functions and numbers compare by value; Series and arrays by identity
    try:
        hash(v)
    except TypeError:
        return ("id", id(v))
    return ("v", type(v).__name__, v)


def member_time_functions(
    model: Any,
    tcols: Mapping[str, Any],
    cols: dict[str, np.ndarray],
    fixed: Mapping[str, Any],
    n: int,
) -> tuple[dict[str, MemberPiecewise], dict[str, list[str]]]:
    """Time-function columns -> per variable one :class:`MemberPiecewise` of ``n`` members.

    Numeric sample columns of an arrayed constant that also has a time-function
    column are taken out of ``cols`` and merged row by row (an element column
    changes only its element; the other elements keep the fixed setting or the
    model's values). Returns the functions and, per column, a short description
    of each row's setting.

    Raises
    ------
    ParameterError
        A column on something other than a constant, a row that is neither a
        number nor a time function, values outside the declared range.
    """
    table = model.variables.set_index("name")
    out: dict[str, MemberPiecewise] = {}
    described: dict[str, list[str]] = {}
    groups: dict[str, list[tuple[str, Any]]] = {}
    t0 = float(model.initial_time)
    for name, values in tcols.items():
        canonical = model.resolve(str(name), where="samples")
        base = split_label(canonical)[0]
        kind = table.loc[base, "kind"]
        if kind in ("stock", "control", "lookup", "data"):
            raise ParameterError(
                f"Sample column {name!r} holds time functions, but {base!r} is a {kind}; "
                "only constants can follow a time path per run (set the constants that "
                "drive it)."
            )
        if isinstance(values, MemberPiecewise):
            if canonical != base:
                raise ParameterError(f"Sample column {name!r}: a MemberPiecewise sets a whole "
                                     "variable; give one column per element as time functions.")
            if len(values) != n:
                raise ParameterError(f"Sample column {name!r} has {len(values)} members but "
                                     f"the other columns have {n}.")
            # the first member through Model.check_param (kind rules, warnings), all by range
            model.check_param(canonical, values[0], where=f"samples column {name!r}, row 0")
            _check_member_bounds(model, canonical, table.loc[base], values)
            out[canonical] = values
            described[canonical] = [f"time path {i}" for i in range(n)]
            continue
        if len(values) != n:
            raise ParameterError(f"Sample column {name!r} has {len(values)} values but the "
                                 f"other columns have {n}.")
        if canonical in cols or canonical in out:
            raise ParameterError(f"Sample columns {name!r} and another both name {canonical!r}.")
        if base in model._dims:
            groups.setdefault(base, []).append((canonical, values))
            continue
        uniq: dict[Any, int] = {}
        pts: list[tuple[np.ndarray, np.ndarray]] = []
        desc: list[str] = []
        idx = np.empty(n, dtype=int)
        fast = _FastCheck(model, canonical, table.loc[base])
        for i, v in enumerate(values):
            key = _key(v)
            j = uniq.get(key)
            if j is None:
                j = uniq[key] = len(pts)
                # the first row goes through Model.check_param (kind checks, warnings); the
                # others through the same conversion and range check without the lookups
                pl = _checked(model, canonical, v, name, i) if not pts else fast(v, name, i)
                pts.append(_points(pl))
                desc.append(_describe(v))
            idx[i] = j
        out[canonical] = MemberPiecewise.stack(pts, idx)
        described[canonical] = [desc[j] for j in idx]
    for base, items in groups.items():
        # numeric element columns of the same variable join the row-by-row merge
        for lab in [c for c in cols if split_label(c)[0] == base]:
            items.append((lab, cols.pop(lab).tolist()))
        out[base], described[base] = _arrayed(model, base, items, fixed, n, t0)
    return out, described


class _FastCheck:
    """``Model.check_param`` for further rows of a scalar constant's column (same rules)."""

    def __init__(self, model: Any, canonical: str, row: Any) -> None:
        import math

        self.model, self.canonical, self.row = model, canonical, row
        d = float(row["default"])
        self.baseline = d if math.isfinite(d) else 0.0

    def __call__(self, v: Any, column: str, i: int) -> PiecewiseLinear:
        m = self.model
        where = f"samples column {column!r}, row {i}"
        if isinstance(v, TimeFunction):
            v = v.points(self.baseline, m.initial_time, m.final_time)
        elif isinstance(v, pd.Series):
            return _checked(m, self.canonical, v, column, i)
        elif not isinstance(v, PiecewiseLinear):
            if isinstance(v, (bool, np.bool_)) or \
                    not isinstance(v, (int, float, np.integer, np.floating)):
                return _checked(m, self.canonical, v, column, i)  # raises, naming the row
            m._check_bounds(self.canonical, self.row, float(v), where)
            return PiecewiseLinear((float(m.initial_time),), (float(v),))
        for y in v.y:
            m._check_bounds(self.canonical, self.row, float(y), where)
        return v


def _checked(model: Any, canonical: str, v: Any, column: str, row: int) -> PiecewiseLinear:
    where = f"samples column {column!r}, row {row}"
    if isinstance(v, (bool, np.bool_)) or v is None:
        raise ParameterError(f"{where}: {v!r} is neither a number nor a time function "
                             "(Step, Ramp, Table, PiecewiseLinear or a pandas Series).")
    if isinstance(v, (int, float, np.integer, np.floating)):
        _, val = model.check_param(canonical, float(v), where=where)
        return PiecewiseLinear((float(model.initial_time),), (float(val),))
    if not isinstance(v, _TIME_TYPES):
        raise ParameterError(f"{where}: {type(v).__name__} {v!r} is neither a number nor a "
                             "time function (Step, Ramp, Table, PiecewiseLinear or a pandas "
                             "Series).")
    _, val = model.check_param(canonical, v, where=where)
    return val


def _arrayed(model: Any, base: str, items: Sequence[tuple[str, Any]], fixed: Mapping[str, Any],
             n: int, t0: float) -> tuple[MemberPiecewise, list[str]]:
    from pvsd.model_arrays import merge

    start = [(base, fixed[base])] if base in fixed else []
    uniq: dict[Any, int] = {}
    pts: list[tuple[np.ndarray, np.ndarray]] = []
    desc: list[str] = []
    idx = np.empty(n, dtype=int)
    for i in range(n):
        row = [(lab, vals[i]) for lab, vals in items]
        key = tuple((lab, _key(v)) for lab, v in row)
        j = uniq.get(key)
        if j is None:
            j = uniq[key] = len(pts)
            checked = []
            for lab, v in row:
                where = f"samples column {lab!r}, row {i}"
                if isinstance(v, (int, float, np.integer, np.floating)) and \
                        not isinstance(v, (bool, np.bool_)):
                    checked.append(model.check_param(lab, float(v), where=where))
                elif isinstance(v, _TIME_TYPES):
                    checked.append(model.check_param(lab, v, where=where))
                else:
                    raise ParameterError(f"{where}: {v!r} is neither a number nor a time "
                                         "function.")
            value = merge(model, [*start, *checked])[base]
            if isinstance(value, ArrayPiecewise):
                pts.append(_points(value))
            else:
                pts.append((np.array([t0]), np.asarray(value, float)[None, ...]))
            desc.append("; ".join(f"{lab}: {_describe(v)}" for lab, v in row))
        idx[i] = j
    return MemberPiecewise.stack(pts, idx), [desc[j] for j in idx]


def _check_member_bounds(model: Any, canonical: str, row: Any, mp: MemberPiecewise) -> None:
    from pvsd.model_checks import outside_range, range_text

    lo, hi = float(row["min"]), float(row["max"])
    y = np.asarray(mp.y, float)
    if not np.isfinite(y).all() or not np.isfinite(np.asarray(mp.x, float)).all():
        raise ParameterError(f"Sample column {canonical!r}: time paths must be finite.")
    bad = outside_range(y, lo, hi)
    if bad.any():
        idx = tuple(int(k) for k in np.argwhere(bad)[0])
        at = float(np.asarray(mp.x, float)[idx[0], idx[1]])
        raise ParameterError(f"Sample column {canonical!r}: the time path of row {idx[0]} leaves the "
                             f"range the model declares for it, {range_text(lo, hi)}: "
                             f"{float(y[idx]):g} at time {at:g}.")
    if np.any(np.diff(np.asarray(mp.x, float), axis=1) < 0):
        raise ParameterError(f"Sample column {canonical!r}: each row's times must increase.")


def _describe(v: Any) -> str:
    if isinstance(v, TimeFunction):
        return v.describe()
    if isinstance(v, (int, float, np.integer, np.floating)):
        return f"{float(v):g}"
    if isinstance(v, pd.Series):
        v = PiecewiseLinear(tuple(v.index.astype(float)), tuple(v.to_numpy(float)))
    if isinstance(v, PiecewiseLinear):
        return "table " + ", ".join(f"{a:g}: {b:g}" for a, b in zip(v.x, v.y, strict=True))
    return "time path"
