"""Code generation of the vectorised simulator, part 3: declared-range checks.

Every stock, and every auxiliary computed each step, with a finite ``min``/``max``
in its units field is checked at every step (not only at saved times); the run
reports the first save interval in which a bound was crossed and by how many
members.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pvsd.engine.ir import Ref
from pvsd.engine.numpy_exprgen import _ident


class _RangeChecks:
    """Mixin of the code generator: the per-step checks of declared bounds."""

    def tracked_ranges(self, step_part: Sequence[str],
                       static: set[str]) -> list[tuple[str, str, float, float]]:
        """(name, side, bound, tolerance) of every declared bound checked each step.

        Stocks and the auxiliaries computed every step (not constants, not
        overridden variables), with a finite ``min``/``max`` in their units field.
        """
        out: list[tuple[str, str, float, float]] = []
        every = set(step_part)
        for v in self.ir.variables.values():
            if v.py_name in self.params or v.py_name in static:
                continue
            if v.kind not in ("stock", "aux", "flow"):
                continue
            if v.kind != "stock" and v.py_name not in every:
                continue
            lims = (*tuple(v.limits), None, None)
            lo, hi = _bound(lims[0]), _bound(lims[1])
            scale = max([1.0] + [abs(b) for b in (lo, hi) if b is not None])
            tol = 1e-9 * scale
            if lo is not None:
                out.append((v.py_name, "below", lo, tol))
            if hi is not None:
                out.append((v.py_name, "above", hi, tol))
        return out

    def range_lines(self, tracked: Sequence[tuple[str, str, float, float]],
                    ind: str) -> list[str]:
        """Per-step check of the declared bounds (one reduction per bound while inside)."""
        L: list[str] = []
        for k, (n, side, bound, tol) in enumerate(tracked):
            var = self.ir.variables[n]
            # a stock's value is its state (its variable is only computed when needed)
            v = ("s_" + var.expr.name if var.kind == "stock" and isinstance(var.expr, Ref)
                 else _ident(n))
            if side == "below":
                lim, cmp, better = bound - tol, "<", "<"
            else:
                lim, cmp, better = bound + tol, ">", ">"
            if self.scalar:
                L.append(f"{ind}if {v} {cmp} {lim!r}:")
                L.append(f"{ind}    if _rt{k} is None: _rt{k} = time")
                L.append(f"{ind}    if {v} {better} _rx{k}: _rx{k} = {v}")
                L.append(f"{ind}    _rb{k} = True")
            else:
                # per member running extreme, in place (one ufunc call per bound and step);
                # bounds are tested at saved times (see range_checks)
                fn = "np.minimum" if side == "below" else "np.maximum"
                L.append(f"{ind}if _rm{k} is None: _rm{k} = _rstart({v}, _N)")
                L.append(f"{ind}else: {fn}(_rm{k}, {v}, out=_rm{k})")
        return L

    def range_checks(self, tracked: Sequence[tuple[str, str, float, float]],
                     ind: str) -> list[str]:
        """At a saved time: note the first save interval in which a bound was crossed."""
        if self.scalar or not tracked:
            return []
        L: list[str] = []
        for k, (_n, side, bound, tol) in enumerate(tracked):
            if side == "below":
                L.append(f"{ind}if _rt{k} is None and np.min(_rm{k}) < {bound - tol!r}: "
                         f"_rt{k} = (_tsv, time)")
            else:
                L.append(f"{ind}if _rt{k} is None and np.max(_rm{k}) > {bound + tol!r}: "
                         f"_rt{k} = (_tsv, time)")
        L.append(f"{ind}_tsv = time")
        return L


def _bound(v: Any) -> float | None:
    """A declared range bound as a finite float, or None."""
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None
