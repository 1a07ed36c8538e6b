"""Typed, frozen results of single model runs."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pvsd.arrays import split_label
from pvsd.naming import NameIndex, normalize

if TYPE_CHECKING:
    import plotly.graph_objects as go
    import xarray as xr

__all__ = ["RunResult"]


@dataclass(frozen=True)
class RunResult:
    """The outcome of one simulation run.

    Attributes
    ----------
    data
        Simulated values: index ``time`` (model time units), one column per output
        variable, named as in the model file.
    model
        Name of the model file (stem).
    params
        Parameter overrides applied (constants as numbers, time-varying levers as
        their description).
    scenario
        Name of the scenario run, or None for the model's own settings.
    units
        Units of each output column.
    provenance
        Model file SHA-256, parameters, scenario, pvsd/PySD versions, time of run.
    dims
        Dimensions of the arrayed output variables (name -> :class:`pvsd.arrays.Dims`);
        their columns are ``Var[e1,e2]``, one per element.
    """

    data: pd.DataFrame
    model: str
    params: Mapping[str, Any] = field(default_factory=dict)
    scenario: str | None = None
    units: Mapping[str, str] = field(default_factory=dict)
    provenance: Mapping[str, Any] = field(default_factory=dict)
    dims: Mapping[str, Any] = field(default_factory=dict)

    @property
    def times(self) -> np.ndarray:
        """Saved times."""
        return self.data.index.to_numpy(dtype=float)

    @property
    def variables(self) -> list[str]:
        """Output variable names, in column order."""
        return list(self.data.columns)

    def __getitem__(self, name: str) -> pd.Series | pd.DataFrame:
        """One output's trajectory; the name is matched ignoring case/spaces/underscores.

        A whole arrayed variable (``"Population"``) gives a DataFrame, one column per element.
        """
        whole = {normalize(k): k for k in self.dims}
        if normalize(name) in whole:
            base = whole[normalize(name)]
            cols = [c for c in self.data.columns if split_label(c)[0] == base]
            if cols:
                return self.data[cols].copy()
        col = NameIndex(self.data.columns, model=self.model).resolve(name, where="result columns")
        return self.data[col].copy()

    def at(self, time: float) -> pd.Series:
        """All outputs at ``time`` (the nearest saved time)."""
        idx = int(np.abs(self.times - float(time)).argmin())
        return self.data.iloc[idx].copy()

    def to_dataframe(self) -> pd.DataFrame:
        """A copy of the outputs: index ``time``, one column per variable."""
        return self.data.copy()

    def to_xarray(self) -> xr.Dataset:
        """The outputs as an xarray Dataset with units and provenance.

        Scalars have dim ``time``; an arrayed variable has dims ``(time, *its dims)``
        with the element names as coordinates. A single element asked for alone
        (``Var[e1]``) stays a ``time`` series of that name.
        """
        import xarray as xr

        from pvsd.provenance import as_attrs

        ds = xr.Dataset(coords={"time": self.times})
        for name, values in to_arrays(self.data, self.dims, self.times).items():
            ds[name] = values
            ds[name].attrs["units"] = self.units.get(name, "") or self.units.get(
                next((c for c in self.data.columns if split_label(c)[0] == name), name), "")
        ds.attrs.update(as_attrs(self.provenance))
        return ds

    def to_long(self) -> pd.DataFrame:
        """The outputs in long (tidy) form: time, variable, units, value (one value per row)."""
        long = self.data.rename_axis("time").reset_index().melt(id_vars="time", var_name="variable",
                                                                value_name="value")
        long.insert(2, "units", long["variable"].map(lambda v: self.units.get(v, "")))
        return long

    def to_csv(self, path: str | Path, force: bool = False, layout: str = "long") -> Path:
        """Write the outputs as CSV (atomic), provenance in ``<name>.provenance.json``.

        Parameters
        ----------
        layout
            ``"long"`` (default, tidy: time, variable, units, value) or ``"wide"``
            (index time, one column per output).
        """
        from pvsd.io import write_csv

        if layout == "long":
            return write_csv(path, self.to_long(), self.provenance, force=force, index=False)
        if layout == "wide":
            return write_csv(path, self.data, self.provenance, force=force)
        raise ValueError(f"layout must be 'long' or 'wide', got {layout!r}")

    def plot(self, variables: Sequence[str] | None = None, title: str | None = None) -> go.Figure:
        """Plot trajectories, one panel per variable (variables have different units).

        Parameters
        ----------
        variables
            Which outputs to draw (default: all, up to 12).
        title
            Figure title.
        """
        from pvsd.plotting import trajectories_figure

        cols = (
            [NameIndex(self.data.columns).resolve(v, where="plot") for v in variables]
            if variables
            else self.variables[:12]
        )
        label = self.scenario or "run"
        return trajectories_figure(
            {label: self.data}, cols, self.units, title=title or f"{self.model}: {label}"
        )

    def _repr_html_(self) -> str:
        head = (
            f"<p><b>RunResult</b> of <code>{html.escape(self.model)}</code>"
            f"{' scenario ' + html.escape(self.scenario) if self.scenario else ''}: "
            f"{len(self.data.columns)} outputs, t = {self.times[0]:g} to {self.times[-1]:g} "
            f"({len(self.times)} saved times)</p>"
        )
        summary = pd.DataFrame(
            {
                "units": [self.units.get(c, "") for c in self.data.columns],
                "initial": self.data.iloc[0].to_numpy(),
                "final": self.data.iloc[-1].to_numpy(),
                "min": self.data.min().to_numpy(),
                "max": self.data.max().to_numpy(),
            },
            index=pd.Index(self.data.columns, name="variable"),
        )
        return head + summary.to_html(float_format=lambda v: f"{v:.4g}")

    def __repr__(self) -> str:
        return (
            f"RunResult(model={self.model!r}, scenario={self.scenario!r}, "
            f"outputs={len(self.data.columns)}, times={len(self.data)})"
        )


def to_arrays(data: pd.DataFrame, dims: Mapping[str, Any], times: np.ndarray,
              lead: tuple[str, ...] = ("time",)) -> dict[str, Any]:
    """Flat columns -> DataArrays: whole arrayed variables regain their dims.

    ``data`` columns are labels; ``dims`` maps arrayed variable names to
    :class:`pvsd.arrays.Dims`. Columns of a variable that do not cover every
    element stay separate series named by their labels.
    """
    import xarray as xr

    out: dict[str, Any] = {}
    groups: dict[str, list[str]] = {}
    for c in data.columns:
        base, elems = split_label(c)
        if elems is not None and base in dims:
            groups.setdefault(base, []).append(c)
        else:
            out[c] = xr.DataArray(data[c].to_numpy(dtype=float), coords={"time": times},
                                  dims=["time"])
    for base, cols in groups.items():
        d = dims[base]
        labels = [f"{base}[{','.join(e)}]" for e in d.defined_elements()]
        if set(cols) != set(labels):
            for c in cols:
                out[c] = xr.DataArray(data[c].to_numpy(dtype=float), coords={"time": times},
                                      dims=["time"])
            continue
        # elements the model does not define have no column: NaN in the full array
        values = np.full((len(times), *d.shape), np.nan)
        for lab, e in zip(labels, d.defined_elements(), strict=True):
            values[(slice(None), *d.position(e))] = data[lab].to_numpy(dtype=float)
        coords: dict[str, Any] = {"time": times}
        coords.update({dd: list(c) for dd, c in zip(d.dims, d.coords, strict=True)})
        out[base] = xr.DataArray(values, coords=coords, dims=["time", *d.dims])
    return out
