"""The arrayed side of :class:`pvsd.Model`: dims metadata, full arrays, PySD conversions.

Kept apart from ``model.py`` so that file stays small; every function takes the model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from pvsd.arrays import (
    ArrayPiecewise,
    Dims,
    element_labels,
    label,
    pysd_cell,
    split_label,
    split_list,
)
from pvsd.errors import ParameterError, SimulationError
from pvsd.naming import normalize
from pvsd.timefunc import PiecewiseLinear, TimeFunction

__all__ = ["check_whole", "describe", "expand", "flatten", "merge", "pysd_arrays", "read_dims",
           "to_pysd"]


def read_dims(template: Any, doc: pd.DataFrame, subscripts: Mapping[str, Sequence[str]]
              ) -> tuple[dict[str, Dims], dict[str, np.ndarray]]:
    """Dims of every subscripted variable and the default values of arrayed constants.

    The coordinates PySD itself gives a component win (they are exact for
    subranges); the doc's "Subscripts" column is the fallback.
    """
    dims: dict[str, Dims] = {}
    defaults: dict[str, np.ndarray] = {}
    for r in doc.itertuples(index=False):
        real, py = r[0], r[1]
        subs = getattr(r, "Subscripts", None)
        if not isinstance(subs, (list, tuple)) or not subs or real == "Time":
            continue
        d: Dims | None = None
        func = getattr(template.components, py, None)
        try:
            got = template.get_coords(func) if func is not None else None
        except Exception:  # lookups/data may not expose coordinates
            got = None
        if got:
            coords, names = got
            d = Dims(tuple(names), tuple(tuple(coords[n]) for n in names))
        else:
            try:
                d = Dims(tuple(subs), tuple(tuple(subscripts[s]) for s in subs))
            except KeyError:
                continue
        dims[real] = d
        if getattr(r, "Type", None) == "Constant" and func is not None:
            try:
                val = func()
                coords = dict(zip(d.dims, d.coords, strict=True))
                defaults[real] = np.array(pysd_cell(val, d.dims, coords, d.shape), dtype=float)
            except Exception:  # e.g. external data not readable at load time
                pass
    return dims, defaults


def mark_defined(dims: dict[str, Dims], abstract: Any,
                 subscripts: Mapping[str, Sequence[str]]) -> dict[str, Dims]:
    """``dims`` with ``defined`` set where a variable's equations cover only part of its array.

    Read from PySD's abstract model: the union over a variable's equations of the elements
    its subscripts name, less their EXCEPT lists. A subscript that cannot be placed
    (say PySD ordered the dimensions otherwise) leaves the variable as fully defined.
    """
    if abstract is None:
        return dims
    out = dict(dims)
    for section in getattr(abstract, "sections", ()):
        for el in getattr(section, "elements", ()):
            d = dims.get(el.name)
            if d is None or not d.dims:
                continue
            covered: set[tuple[str, ...]] = set()
            for comp in el.components:
                subs, excepts = comp.subscripts
                got = _covered(subs, d, subscripts)
                for ex in excepts:
                    cut = _covered(ex, d, subscripts)
                    got = None if got is None or cut is None else got - cut
                if got is None:
                    covered = set()
                    break
                covered |= got
            if covered and len(covered) < d.size:
                out[el.name] = Dims(d.dims, d.coords, frozenset(covered))
    return out


def _covered(subs: Sequence[str], d: Dims, subscripts: Mapping[str, Sequence[str]]
             ) -> set[tuple[str, ...]] | None:
    """Element tuples one equation's subscripts name (None if one cannot be placed)."""
    import itertools

    if len(subs) != len(d.dims):
        return None
    axes = []
    for s, dim, coords in zip(subs, d.dims, d.coords, strict=True):
        table = {normalize(c): c for c in coords}
        if normalize(s) == normalize(dim):
            axes.append(coords)
        elif s in subscripts and all(normalize(e) in table for e in subscripts[s]):
            axes.append(tuple(table[normalize(e)] for e in subscripts[s]))
        elif normalize(s) in table:
            axes.append((table[normalize(s)],))
        else:
            return None
    return set(itertools.product(*axes))


def expand(model: Any, name: str, where: str = "") -> list[str]:
    """See :meth:`pvsd.Model.expand`."""
    import itertools

    base, elems = split_label(name)
    if elems is None or "*" not in elems:
        return [model.resolve(name, where=where)]
    canonical = model._names.resolve(base, where=where)
    d = model._dims.get(canonical)
    if d is not None and elems == ("*",):
        return element_labels(canonical, d)
    if d is None or len(elems) != len(d.dims):
        return [model.resolve(name, where=where)]  # raises, naming the dimensions
    every = Dims(d.dims, d.coords)  # element names along each dimension, defined or not
    choices = []
    for k, e in enumerate(elems):
        if e == "*":
            choices.append(d.coords[k])
        else:  # one element of this dimension (raises listing its elements)
            probe = [e if i == k else c[0] for i, c in enumerate(d.coords)]
            choices.append((every.index(canonical, probe, where=where, model=model.path.name)[k],))
    picked = [e for e in itertools.product(*choices) if d.defined is None or e in d.defined]
    if not picked:
        return [model.resolve(label(canonical, next(itertools.product(*choices))), where=where)]
    return [label(canonical, e) for e in picked]


def undefined_mask(d: Dims) -> np.ndarray:
    """True where the variable has no equation (see :attr:`pvsd.arrays.Dims.defined`)."""
    mask = np.zeros(d.shape, bool)
    if d.defined is not None:
        mask[...] = True
        for e in d.defined:
            mask[d.position(e)] = False
    return mask


def _bounds(model: Any, lab: str, row: pd.Series, values: np.ndarray, where: str) -> None:
    values = np.asarray(values, float)
    d = model._dims.get(lab)
    if d is not None and d.defined is not None:  # elements without an equation stay NaN
        values = values[..., ~undefined_mask(d)]
    for v in values.reshape(-1):
        model._check_bounds(lab, row, float(v), where)


def check_whole(model: Any, name: str, row: pd.Series, value: Any, where: str) -> Any:
    """A whole-array setting -> full ndarray, or :class:`ArrayPiecewise` if time-varying."""
    d: Dims = model._dims[name]
    base = model._array_defaults.get(name)
    if base is None:
        base = np.full(d.shape, np.nan)
    t0, t1 = model.initial_time, model.final_time
    if isinstance(value, pd.Series):
        if value.isna().any() or not value.index.is_monotonic_increasing:
            raise ParameterError(f"Time series for {name!r} must have no NaN and increasing times.")
        value = PiecewiseLinear(tuple(value.index.astype(float)), tuple(value.to_numpy(float)))
    if isinstance(value, TimeFunction):
        funcs = {d.position(e): value.points(_finite_or0(base[d.position(e)]), t0, t1)
                 for e in d.elements()}
        out = ArrayPiecewise.combine(base, funcs)
    elif isinstance(value, PiecewiseLinear):
        out = ArrayPiecewise.combine(base, {d.position(e): value for e in d.elements()})
    elif isinstance(value, Mapping) and any(
            isinstance(v, (TimeFunction, PiecewiseLinear, pd.Series)) for v in value.values()):
        funcs = {}
        for key, v in value.items():
            given = tuple(split_list(str(key))) if not isinstance(key, tuple) else key
            elems = d.index(name, given, where=where, model=model.path.name)
            _, fv = model.check_param(label(name, elems), v, where=where)
            funcs[d.position(elems)] = fv
        out = ArrayPiecewise.combine(base, funcs)
    else:
        out = d.full(value, base, name, where=where)
        undefined = undefined_mask(d)
        out[undefined] = np.nan  # elements without an equation stay NaN
        if np.isnan(out[~undefined]).any():
            raise ParameterError(f"{name!r} in {where}: some elements have no value.")
    _bounds(model, name, row, out.y if isinstance(out, ArrayPiecewise) else out, where)
    return out


def _finite_or0(v: float) -> float:
    return float(v) if math.isfinite(v) else 0.0


def merge(model: Any, items: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    """Checked (label, value) pairs -> one value per variable (full arrays for arrayed ones).

    Later settings win; an element setting changes only its element.
    """
    out: dict[str, Any] = {}
    state: dict[str, tuple[np.ndarray, dict[tuple[int, ...], Any]]] = {}
    for key, value in items:
        base, elems = split_label(key)
        if base not in model._dims:
            out[key] = value
            continue
        d: Dims = model._dims[base]
        if base not in state:
            dflt = model._array_defaults.get(base)
            state[base] = (np.full(d.shape, np.nan) if dflt is None else dflt.copy(), {})
            out[base] = None  # keeps insertion order
        const, funcs = state[base]
        if elems is None:
            funcs.clear()
            if isinstance(value, ArrayPiecewise):
                x, y = value.arrays()
                for e in d.elements():
                    pos = d.position(e)
                    funcs[pos] = PiecewiseLinear(tuple(x), tuple(y[(slice(None), *pos)]))
            else:
                const[...] = value
        else:
            pos = d.position(elems)
            if isinstance(value, PiecewiseLinear):
                funcs[pos] = value
            else:
                funcs.pop(pos, None)
                const[pos] = float(value)
    for base, (const, funcs) in state.items():
        if np.isnan(const[~undefined_mask(model._dims[base])]).any() and not funcs:
            raise ParameterError(
                f"{base!r}: the model's own values of this arrayed constant could not be read, so "
                "set every element (a scalar, a list or a mapping of all elements)."
            )
        out[base] = ArrayPiecewise.combine(const, funcs) if funcs else const
    return out


def describe(value: Any) -> Any:
    """JSON-friendly form of an arrayed value, for provenance."""
    if isinstance(value, ArrayPiecewise):
        return value.describe()
    return np.asarray(value).tolist()


def to_pysd(model: Any, name: str, value: Any, pysd_model: Any) -> Any:
    """A checked value as PySD's ``run(params=...)`` takes it."""
    d = model._dims.get(name)
    if d is None:
        if isinstance(value, PiecewiseLinear):
            x, y = value.arrays()
            return pd.Series(y, index=x)
        return value
    if isinstance(value, ArrayPiecewise):
        import xarray as xr

        x, y = value.arrays()
        flat = y.reshape(len(x), -1)
        coords = {dd: list(c) for dd, c in zip(d.dims, d.coords, strict=True)}

        # PySD's own series path would give NaN outside the points (xarray interp);
        # this holds the end values, like a scalar lever
        def lever() -> Any:
            t = float(pysd_model.time())
            vals = np.array([np.interp(t, x, flat[:, j]) for j in range(flat.shape[1])])
            return xr.DataArray(vals.reshape(d.shape), coords, list(d.dims))

        return lever
    return d.to_xarray(np.asarray(value, float))


def pysd_arrays(model: Any, frame: pd.DataFrame, names: Sequence[str]
                ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """PySD's unflattened output frame -> (times, {name: (n_times, *shape)})."""
    out: dict[str, np.ndarray] = {}
    for name in names:
        col = frame[model._py[name]]
        d = model._dims.get(name)
        if d is None:
            try:
                out[name] = col.to_numpy(dtype=float)
            except (TypeError, ValueError):
                raise SimulationError(
                    f"PySD returned non-numeric values for {name!r} in {model.path.name}."
                ) from None
            continue
        coords = dict(zip(d.dims, d.coords, strict=True))
        # a constant PySD kept as a number: every element has it
        rows = [np.array(pysd_cell(cell, d.dims, coords, d.shape), dtype=float) for cell in col]
        out[name] = np.stack(rows) if rows else np.empty((0, *d.shape))
    return np.asarray(frame.index, dtype=float), out


def flatten(model: Any, outputs: Sequence[str], times: np.ndarray,
            arrays: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Output labels -> a frame with one column per element (``Var[e1,e2]``)."""
    cols: dict[str, np.ndarray] = {}
    for o in outputs:
        base, elems = split_label(o)
        a = np.asarray(arrays[base], dtype=float)
        d = model._dims.get(base)
        if d is None:
            cols[o] = a.reshape(len(times))
        elif elems is None:
            for lab, e in zip(element_labels(base, d), d.defined_elements(), strict=True):
                cols[lab] = a[(slice(None), *d.position(e))]
        else:
            cols[o] = a[(slice(None), *d.position(elems))]
    return pd.DataFrame(cols, index=pd.Index(np.asarray(times, dtype=float), name="time"))
