"""PRIM, the Patient Rule Induction Method (Friedman & Fisher 1999), for scenario discovery.

Peeling: starting from the box holding every case, repeatedly remove the
``alpha`` share of the cases in the box from the low or the high end of one
input, choosing the peel that raises the share of cases of interest (density)
most per case removed, until the box holds less than ``mass_min`` of the data.
Pasting then widens the chosen box again where that raises the density.
Every box on the way is kept (the peeling trajectory: coverage against density),
and each limit of a box gets a quasi-p-value (Bryant & Lempert 2010): the
one-sided binomial probability of the box's density if that limit were dropped.

Implemented here (numpy only) because the standalone ``prim`` package is GPL-3
(pvsd is MIT) and imports matplotlib GUI helpers, and the EMA Workbench pulls in
a large stack; the test suite checks this implementation against planted boxes
and, when ``prim`` is installed, against it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pvsd.errors import PvsdError

__all__ = ["PrimResult", "prim"]


@dataclass(frozen=True)
class PrimResult:
    """The peeling trajectory and the boxes found.

    Attributes
    ----------
    trajectory
        One row per box: ``box`` (index), ``coverage``, ``density``, ``mass``,
        ``res_dim`` (restricted inputs), ``n`` (cases in the box), ``pasted``.
    boxes
        Per box, a (min, max) limit per input.
    chosen
        Index of the chosen box.
    names
        Input names.
    y_mean
        Share of cases of interest overall.
    """

    trajectory: pd.DataFrame
    boxes: tuple[pd.DataFrame, ...]
    chosen: int
    names: tuple[str, ...]
    y_mean: float
    limits_table: pd.DataFrame

    @property
    def box(self) -> pd.DataFrame:
        """Limits of the chosen box on its restricted inputs, with quasi-p-values."""
        return self.limits_table

    @property
    def stats(self) -> pd.Series:
        return self.trajectory.iloc[self.chosen]


def _in_box(X: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.all((X >= lo) & (X <= hi), axis=1)


def prim(
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    peel_alpha: float = 0.05,
    paste_alpha: float = 0.05,
    mass_min: float = 0.05,
    min_density: float = 0.8,
    paste: bool = True,
) -> PrimResult:
    """Find a box of inputs in which the cases of interest concentrate.

    Parameters
    ----------
    X
        Inputs, one row per case, numeric columns.
    y
        1 for a case of interest, 0 otherwise (booleans accepted).
    peel_alpha, paste_alpha
        Share of the box's cases removed per peel / added per paste.
    mass_min
        Stop peeling when the box holds less than this share of all cases.
    min_density
        The chosen box is the one with the highest coverage among those with at
        least this density (else the densest box).
    paste
        Paste the chosen box after peeling.
    """
    names = tuple(str(c) for c in X.columns)
    A = X.to_numpy(dtype=float)
    yv = np.asarray(y, dtype=float).reshape(-1)
    if A.ndim != 2 or A.shape[0] != yv.size:
        raise PvsdError(f"PRIM needs one outcome per case: {A.shape[0]} cases but {yv.size} outcomes.")
    if not np.isfinite(A).all():
        raise PvsdError("PRIM inputs contain non-finite values.")
    if not set(np.unique(yv)) <= {0.0, 1.0}:
        raise PvsdError("PRIM's outcome must be 0/1 (case of interest or not).")
    if not 0 < peel_alpha < 0.5 or not 0 < mass_min < 1:
        raise PvsdError("peel_alpha must be in (0, 0.5) and mass_min in (0, 1).")
    N = len(yv)
    total = yv.sum()
    if total == 0:
        raise PvsdError("No case of interest in the ensemble: the outcome never happens, so there is "
                        "nothing for PRIM to find. Check the case definition or widen the uncertainties.")
    lo, hi = A.min(axis=0), A.max(axis=0)
    full_lo, full_hi = lo.copy(), hi.copy()
    inside = np.ones(N, dtype=bool)
    boxes = [(lo.copy(), hi.copy())]
    while inside.sum() / N > mass_min:
        yin = yv[inside]
        m_old = yin.mean()
        if m_old >= 1.0:
            break
        best = None
        Ain = A[inside]
        n_in = inside.sum()
        for j in range(A.shape[1]):
            col = Ain[:, j]
            for side in ("lo", "hi"):
                q = np.quantile(col, peel_alpha if side == "lo" else 1 - peel_alpha, method="linear")
                keep = col >= q if side == "lo" else col <= q
                if keep.all() or not keep.any():
                    # ties: peel the extreme value alone when the quantile cannot split
                    ext = col.min() if side == "lo" else col.max()
                    keep = col > ext if side == "lo" else col < ext
                    if keep.all() or not keep.any():
                        continue
                    q = col[keep].min() if side == "lo" else col[keep].max()
                removed = n_in - keep.sum()
                gain = (yin[keep].mean() - m_old) / removed
                if best is None or gain > best[0]:
                    best = (gain, j, side, q, keep)
        if best is None:
            break
        _, j, side, q, keep = best
        if keep.sum() / N < mass_min:
            break
        idx = np.flatnonzero(inside)
        inside[idx[~keep]] = False
        lo, hi = lo.copy(), hi.copy()
        if side == "lo":
            lo[j] = q
        else:
            hi[j] = q
        boxes.append((lo, hi))
    rows = [_stats(A, yv, b, full_lo, full_hi, total) for b in boxes]
    traj = pd.DataFrame(rows)
    traj.insert(0, "box", range(len(traj)))
    traj["pasted"] = False
    ok = traj[traj["density"] >= min_density]
    chosen = int(ok.sort_values(["coverage", "density"], ascending=False).index[0]) if len(ok) else int(
        traj["density"].idxmax())
    if paste:
        b = _paste(A, yv, boxes[chosen], paste_alpha, full_lo, full_hi)
        if b is not None:
            boxes.append(b)
            row = _stats(A, yv, b, full_lo, full_hi, total)
            traj = pd.concat([traj, pd.DataFrame([{"box": len(traj), **row, "pasted": True}])],
                             ignore_index=True)
            chosen = len(traj) - 1
    frames = tuple(pd.DataFrame({"min": b[0], "max": b[1]}, index=list(names)) for b in boxes)
    limits = _limits(A, yv, boxes[chosen], full_lo, full_hi, names)
    return PrimResult(traj, frames, chosen, names, float(yv.mean()), limits)


def _stats(A: np.ndarray, y: np.ndarray, box: tuple[np.ndarray, np.ndarray], full_lo: np.ndarray,
           full_hi: np.ndarray, total: float) -> dict[str, float]:
    inb = _in_box(A, *box)
    n = int(inb.sum())
    hits = float(y[inb].sum())
    res = int(np.sum((box[0] > full_lo) | (box[1] < full_hi)))
    return {"coverage": hits / total, "density": hits / n if n else 0.0, "mass": n / len(y),
            "res_dim": res, "n": n}


def _paste(A: np.ndarray, y: np.ndarray, box: tuple[np.ndarray, np.ndarray], alpha: float,
           full_lo: np.ndarray, full_hi: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Widen the box one limit at a time while that raises its density."""
    lo, hi = box[0].copy(), box[1].copy()
    changed = False
    while True:
        inb = _in_box(A, lo, hi)
        m_old = y[inb].mean()
        step = max(1, round(float(alpha * inb.sum())))
        best = None
        for j in range(A.shape[1]):
            others = np.ones(len(y), dtype=bool)
            for k in range(A.shape[1]):
                if k != j:
                    others &= (A[:, k] >= lo[k]) & (A[:, k] <= hi[k])
            col = A[others, j]
            for side in ("lo", "hi"):
                cand = np.sort(col[col < lo[j]])[::-1] if side == "lo" else np.sort(col[col > hi[j]])
                if cand.size == 0:
                    continue
                q = cand[min(step, cand.size) - 1]
                nlo, nhi = lo.copy(), hi.copy()
                if side == "lo":
                    nlo[j] = q
                else:
                    nhi[j] = q
                m_new = y[_in_box(A, nlo, nhi)].mean()
                if m_new > m_old and (best is None or m_new > best[0]):
                    best = (m_new, nlo, nhi)
        if best is None:
            break
        _, lo, hi = best
        changed = True
    return (lo, hi) if changed else None


def _limits(A: np.ndarray, y: np.ndarray, box: tuple[np.ndarray, np.ndarray], full_lo: np.ndarray,
            full_hi: np.ndarray, names: tuple[str, ...],
            member: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None,
            inb: np.ndarray | None = None) -> pd.DataFrame:
    """Restricted limits with quasi-p-values (binomial test of the box against dropping the limit).

    ``member(A, lo, hi)`` says which points a box holds (default: closed limits);
    ``inb`` the box's own members when they are known otherwise (a tree's leaf).
    """
    from scipy.stats import binom

    member = member or _in_box
    lo, hi = box
    inb = member(A, lo, hi) if inb is None else inb
    hits, n = int(y[inb].sum()), int(inb.sum())
    rows = []
    for j, name in enumerate(names):
        if lo[j] <= full_lo[j] and hi[j] >= full_hi[j]:
            continue
        qps = []
        for side in ("lo", "hi"):
            restricted = lo[j] > full_lo[j] if side == "lo" else hi[j] < full_hi[j]
            if not restricted:
                qps.append(np.nan)
                continue
            nlo, nhi = lo.copy(), hi.copy()
            if side == "lo":
                nlo[j] = full_lo[j]
            else:
                nhi[j] = full_hi[j]
            wider = member(A, nlo, nhi)
            p0 = y[wider].mean()
            qps.append(float(binom.sf(hits - 1, n, p0)))
        rows.append({"input": name, "min": lo[j], "max": hi[j], "range min": full_lo[j],
                     "range max": full_hi[j], "qp min": qps[0], "qp max": qps[1]})
    cols = ["input", "min", "max", "range min", "range max", "qp min", "qp max"]
    return pd.DataFrame(rows, columns=cols).set_index("input")
