"""A panel on a subscripted model: the units are the elements of one of its dimensions.

``[panel] dimension = "Country"`` maps each unit of the data (the values of the
unit column) to the element of that name; every unit then runs in one model run
(an ensemble member per parameter set). Unit-scope and pooled parameters, paths
with unit-scope pieces, per-unit inputs and ``from_first`` values must be
constants arrayed over exactly that dimension (one value per unit); shared
parameters may be scalars or arrays (the one value goes to every element).
Observed variables must be arrayed over exactly that dimension. Elements with no
data (or skipped for too few observations) are simulated at the model's own
values and not fitted; the fit lists them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pvsd.errors import SpecError

if TYPE_CHECKING:
    from pvsd.model import Model

__all__ = ["UnitDimension", "check_variable", "map_units", "resolve_dimension"]


@dataclass(frozen=True)
class UnitDimension:
    """The model dimension whose elements are the panel's units."""

    name: str
    elements: tuple[str, ...]


def resolve_dimension(model: Model, name: str, where: str) -> UnitDimension:
    """The model's subscript range called ``name`` (case-insensitive)."""
    subs = getattr(model, "subscripts", {}) or {}
    hit = next((d for d in subs if d == name), None) or \
        next((d for d in subs if d.lower() == name.lower()), None)
    if hit is None:
        have = ", ".join(sorted(subs)) or "none: the model is not subscripted"
        raise SpecError(f"{where}: [panel] dimension = {name!r} is not a dimension of "
                        f"{model.path.name} (its dimensions: {have}). Name the subscript range "
                        "whose elements are the units, or remove `dimension` to run a scalar model "
                        "once per unit.")
    return UnitDimension(hit, tuple(subs[hit]))


def map_units(units: Sequence[str], dim: UnitDimension, column: str, where: str
              ) -> dict[str, str]:
    """Data unit -> element name (exact, else case-insensitive); unknown units are an error."""
    exact = set(dim.elements)
    lower = {e.lower(): e for e in dim.elements}
    out: dict[str, str] = {}
    unknown = []
    for u in units:
        e = u if u in exact else lower.get(u.lower())
        if e is None:
            unknown.append(u)
        else:
            out[u] = e
    if unknown:
        shown = ", ".join(unknown[:12]) + (" ..." if len(unknown) > 12 else "")
        els = ", ".join(dim.elements[:12]) + (" ..." if len(dim.elements) > 12 else "")
        raise SpecError(f"{where}: {len(unknown)} unit(s) in the data's {column} column are not "
                        f"elements of dimension {dim.name!r}: {shown}. Its elements are: {els}. "
                        "Rename the units (or the elements) so that they match, or drop those rows.")
    return out


def check_variable(model: Model, var: str, dim: UnitDimension, per_unit: bool, what: str,
                   where: str) -> bool:
    """Check a variable's dimensions for its role; return True if it is arrayed over ``dim``."""
    dims = tuple(model.dims(var))
    if dims == (dim.name,):
        return True
    if not dims and not per_unit:
        return False
    need = (f"it varies by unit, so it must be arrayed over {dim.name} only" if per_unit else
            f"a shared value fits a scalar or an array over {dim.name} only")
    got = f"arrayed over ({', '.join(dims)})" if dims else "a scalar"
    raise SpecError(f"{where}: {what} {var!r} is {got}; {need} (e.g. {var}[{dim.name}]). Change "
                    "the model, or the parameter's scope.")


def element_defaults(model: Model, var: str, dim: UnitDimension) -> np.ndarray:
    """The model's own values of a constant arrayed over ``dim``, (n_elements,)."""
    from pvsd.arrays import label

    return np.array([model.default(label(var, (e,))) for e in dim.elements], float)
