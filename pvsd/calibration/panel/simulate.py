"""Running a panel's rows on pvsd's ensemble engine.

A *row* is one unit under one parameter set. Two layouts:

* the scalar model run once per unit: an ensemble member per row;
* a subscripted model whose unit dimension (``[panel] dimension``) holds every
  unit: rows that share their shared-parameter values are packed into one
  member, each unit in its element, so a whole parameter set of the panel is
  one model run. Elements that a member does not use (units without data,
  skipped units, or rows not in this evaluation) keep the model's own values;
  their trajectories are computed and discarded.

Time-varying settings differ per row (each unit's input series, fitted lever
paths). They go to the engine as a sample column of per-member
:class:`~pvsd.timefunc.PiecewiseLinear` objects where the engine takes those;
otherwise rows with the same settings are grouped and each group is its own
ensemble with the setting as a fixed parameter (correct, slower: at most one
call per distinct setting).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pvsd.arrays import label
from pvsd.errors import ParameterError, SpecError
from pvsd.timefunc import PiecewiseLinear

if TYPE_CHECKING:
    from pvsd.calibration.panel.problem import PanelProblem

__all__ = ["PathBinding", "Rows", "run_rows"]


@dataclass(frozen=True)
class PathBinding:
    """A fitted path on a model constant: fixed pieces; the fitted ones come per row."""

    variable: str
    kind: str
    fixed: Mapping[str, float]
    baseline: np.ndarray  # the model's value per unit (the default ``from``), (n_units,)
    name: str = ""


@dataclass
class Rows:
    """Per-row settings of one evaluation (M rows)."""

    unit: np.ndarray  # (M,) unit index
    consts: dict[str, np.ndarray] = field(default_factory=dict)  # variable -> (M,)
    shared: dict[str, np.ndarray] = field(default_factory=dict)  # scope-shared subset of consts
    paths: list[tuple[PathBinding, dict[str, np.ndarray]]] = field(default_factory=list)
    shared_key: np.ndarray | None = None  # (M, q) values every element of a member shares

    def path_objects(self, pb: PanelProblem) -> dict[str, list[PiecewiseLinear]]:
        """Variable -> per-row piecewise-linear fitting form of its path."""
        from pvsd.calibration.panel.paths import path_function

        out: dict[str, list[PiecewiseLinear]] = {}
        for b, vals in self.paths:
            objs = []
            for r, u in enumerate(self.unit):
                v = {**b.fixed, **{k: float(a[r]) for k, a in vals.items()}}
                v.setdefault("from", float(b.baseline[u]))
                x, y = path_function(b.kind, v, pb.dt)
                objs.append(PiecewiseLinear(x, y))
            out[b.variable] = objs
        return out


def _ensemble(pb: PanelProblem, samples: pd.DataFrame, params: Mapping[str, Any],
              years: np.ndarray, t1: float, outs: Sequence[str]) -> Any:
    ds = pb.model.run_ensemble(samples, outputs=list(outs), params=dict(params) or None,
                               initial_time=pb.t0, final_time=t1, time_step=pb.dt,
                               return_times=list(years), progress=False, check=True,
                               method=pb.spec.method)
    pb.n_calls += 1
    pb.n_members += int(ds.sizes["run"])
    got = np.asarray(ds["time"].values, float)
    if len(got) != len(years) or not np.allclose(got, years):
        raise SpecError(f"{pb.spec.where}: observation years {sorted(set(years) - set(got))} are "
                        f"not on the time-step grid {pb.t0:g} + k * {pb.dt:g}; choose a time_step "
                        "that divides the year spacing.")
    return ds


def _frame(cols: Mapping[str, np.ndarray], rows: np.ndarray) -> pd.DataFrame:
    if not cols:
        return pd.DataFrame(index=range(len(rows)))  # N runs of the model as it is
    return pd.DataFrame({k: v[rows] for k, v in cols.items()})


def _groups(tf: Mapping[str, Sequence[Any]], m: int) -> list[tuple[np.ndarray, dict[str, Any]]]:
    """Rows with identical time-function settings, grouped: (rows, {variable: setting})."""
    if not tf:
        return [(np.arange(m), {})]
    by: dict[tuple[Any, ...], list[int]] = {}
    names = list(tf)
    for r in range(m):
        by.setdefault(tuple(tf[v][r] for v in names), []).append(r)
    return [(np.asarray(ix), dict(zip(names, key, strict=True))) for key, ix in by.items()]


def run_rows(pb: PanelProblem, rows: Rows, years: np.ndarray, t1: float) -> dict[str, np.ndarray]:
    """Simulate every row; variable -> (M, len(years))."""
    pb.n_runs += len(rows.unit)
    if pb.dim is not None:
        return _run_dimension(pb, rows, years, t1)
    return _run_scalar(pb, rows, years, t1)


# ---------------------------------------------------------------------- scalar model per unit
def _run_scalar(pb: PanelProblem, rows: Rows, years: np.ndarray, t1: float
                ) -> dict[str, np.ndarray]:
    M = len(rows.unit)
    outs = list(dict.fromkeys(pb.variables))
    tf: dict[str, list[Any]] = {var: [fns[u] for u in rows.unit] for var, fns in pb.inputs}
    tf.update(rows.path_objects(pb))
    out = {v: np.empty((M, len(years))) for v in outs}

    def collect(ds: Any, ix: np.ndarray) -> None:
        for v in outs:
            if ds[v].ndim != 2:
                raise SpecError(
                    f"{pb.spec.where}: {v!r} is subscripted ({', '.join(ds[v].dims[2:])}); a "
                    "panel of the scalar model (one run per unit) fits scalar variables only. "
                    "Measure one element of the array, or map the units to its dimension with "
                    "[panel] dimension = \"...\".")
            out[v][ix] = np.asarray(ds[v].values, float)

    if tf and pb.tf_columns is not False:
        samples: Any = {k: v for k, v in rows.consts.items()}
        samples.update({var: objs for var, objs in tf.items()})
        # inputs: each unit's series stacked once, indexed by the rows' units
        samples.update({var: pb.input_paths(var, fns)[rows.unit] for var, fns in pb.inputs})
        try:
            ds = _ensemble(pb, samples, pb.fixed_params, years, t1, outs)
        except (ParameterError, TypeError, ValueError) as exc:
            if pb.tf_columns:
                raise
            pb.tf_columns = False
            pb.tf_note = (f"the ensemble engine does not take per-member time functions "
                          f"({type(exc).__name__}: {str(exc)[:160]}); rows with distinct paths "
                          "or inputs run as separate ensembles (correct, slower)")
        else:
            pb.tf_columns = True
            collect(ds, np.arange(M))
            return out
    for ix, params in _groups(tf, M):
        ds = _ensemble(pb, _frame(rows.consts, ix), {**pb.fixed_params, **params}, years, t1, outs)
        collect(ds, ix)
    return out


# ---------------------------------------------------------------------- one subscripted run
def _members(rows: Rows) -> np.ndarray:
    """Member index of each row: rows with equal shared values and distinct units share one."""
    M = len(rows.unit)
    if rows.shared_key is None or rows.shared_key.shape[1] == 0:
        grp = np.zeros(M, int)
    else:
        _, grp = np.unique(rows.shared_key, axis=0, return_inverse=True)
        grp = np.asarray(grp).reshape(-1)
    occ = pd.DataFrame({"g": grp, "u": rows.unit}).groupby(["g", "u"]).cumcount().to_numpy()
    _, member = np.unique(np.column_stack([grp, occ]), axis=0, return_inverse=True)
    return np.asarray(member).reshape(-1)


def _run_dimension(pb: PanelProblem, rows: Rows, years: np.ndarray, t1: float
                   ) -> dict[str, np.ndarray]:
    dim = pb.dim
    assert dim is not None
    M = len(rows.unit)
    member = _members(rows)
    n_mem = int(member.max()) + 1
    first = np.zeros(n_mem, int)
    first[member[::-1]] = np.arange(M)[::-1]  # a representative row of each member
    elem = pb.unit_element[rows.unit]  # element position of each row's unit
    cols: dict[str, np.ndarray] = {}
    for var, v in rows.consts.items():
        if var in rows.shared:
            cols[var] = v[first]
            continue
        arr = np.repeat(pb.element_defaults(var)[None, :], n_mem, axis=0)
        arr[member, elem] = v
        for j, e in enumerate(dim.elements):
            cols[label(var, (e,))] = arr[:, j]
    samples = pd.DataFrame(cols) if cols else pd.DataFrame(index=range(n_mem))
    # per member: time-function settings of each path (per element where unit-scope)
    member_params: list[dict[str, Any]] = [{} for _ in range(n_mem)]
    objs = rows.path_objects(pb)
    for b, _ in rows.paths:
        per_row = objs[b.variable]
        if b.variable in pb.scalar_vars:
            for k in range(n_mem):
                member_params[k][b.variable] = per_row[first[k]]
            continue
        base = pb.element_defaults(b.variable)
        idle = [PiecewiseLinear((pb.t0,), (float(v),)) for v in base]  # constant functions
        settings: list[dict[str, Any]] = [
            {label(b.variable, (e,)): idle[j] for j, e in enumerate(dim.elements)}
            for _ in range(n_mem)]
        for r in range(M):
            settings[member[r]][label(b.variable, (dim.elements[elem[r]],))] = per_row[r]
        for k in range(n_mem):
            member_params[k].update(settings[k])
    outs = list(dict.fromkeys(pb.variables))
    out = {v: np.empty((M, len(years))) for v in outs}

    def collect(ds: Any, mem_ix: np.ndarray) -> None:
        pos = np.full(n_mem, -1)
        pos[mem_ix] = np.arange(len(mem_ix))
        sel = np.flatnonzero(pos[member] >= 0)
        for v in outs:
            a = np.asarray(ds[v].transpose("run", "time", dim.name).values, float)
            out[v][sel] = a[pos[member[sel]], :, elem[sel]]

    if rows.paths and pb.tf_columns is not False:
        tcols = samples.copy()
        for k in member_params[0]:
            tcols[k] = pd.Series([p[k] for p in member_params], dtype=object).to_numpy()
        try:
            ds = _ensemble(pb, tcols, pb.fixed_params, years, t1, outs)
        except (ParameterError, TypeError, ValueError) as exc:
            if pb.tf_columns:
                raise
            pb.tf_columns = False
            pb.tf_note = (f"the ensemble engine does not take per-member time functions "
                          f"({type(exc).__name__}: {str(exc)[:160]}); members with distinct paths "
                          "run as separate ensembles (correct, slower)")
        else:
            pb.tf_columns = True
            collect(ds, np.arange(n_mem))
            return out
    keys = [tuple(sorted(p.items(), key=lambda kv: kv[0])) for p in member_params]
    by: dict[tuple[Any, ...], list[int]] = {}
    for k, key in enumerate(keys):
        by.setdefault(key, []).append(k)
    for key, mem in by.items():
        mem_ix = np.asarray(mem)
        ds = _ensemble(pb, samples.iloc[mem_ix].reset_index(drop=True),
                       {**pb.fixed_params, **dict(key)}, years, t1, outs)
        collect(ds, mem_ix)
    return out
