"""The :class:`Model`: a loaded stock-flow model that runs in isolation.

Its checks of run arguments live in :mod:`pvsd.model_checks`.
"""

from __future__ import annotations

import contextlib
import html
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pvsd import model_arrays as _arr
from pvsd.arrays import ArrayPiecewise, Dims, element_labels, split_label
from pvsd.arrays import label as _label
from pvsd.errors import SimulationError
from pvsd.loading import ModelSource, resolve_model_path, translate
from pvsd.model_checks import Scenario, _ModelChecks
from pvsd.naming import NameIndex
from pvsd.provenance import provenance
from pvsd.results import RunResult
from pvsd.timefunc import PiecewiseLinear, TimeFunction

if TYPE_CHECKING:
    import xarray as xr


__all__ = ["Model", "load"]

_GROUP = re.compile(r"\*{10,}\s*\n\s*\.([^\n]+)\n\s*\*{10,}\s*~([^|]*)\|")
CONTROL_VARIABLES = ("INITIAL TIME", "FINAL TIME", "TIME STEP", "SAVEPER")
ParamValue = float | int | TimeFunction | PiecewiseLinear | pd.Series


def load(model: str | os.PathLike[str]) -> Model:
    """Load a model file, or a model bundled with pvsd by name.

    Parameters
    ----------
    model
        Path of a Vensim ``.mdl``, XMILE ``.xmile``/``.stmx`` or PySD-translated
        ``.py`` file, or the name of a bundled model such as
        ``"public_value_chain"``.

    Returns
    -------
    Model
        The loaded model. Its PySD translation is cached (keyed by the file's
        SHA-256) outside the model's folder and reused by later loads.

    Raises
    ------
    ModelLoadError
        The file is missing, not a model file, or cannot be parsed/translated.
    """
    from pvsd.apitypes import check_model_arg

    check_model_arg(model)
    path = resolve_model_path(model)
    return Model(translate(path))


def _kinds(doc: pd.DataFrame, deps: Mapping[str, Any]) -> dict[str, str]:
    flows: set[str] = set()
    for key, dep in deps.items():
        if key.startswith("_integ_") and isinstance(dep, Mapping):
            flows.update(dep.get("step", {}) or {})
    out = {}
    for row in doc.itertuples(index=False):
        real, py, typ, sub = row[0], row[1], row[2], row[3]
        if real in CONTROL_VARIABLES:
            kind = "control"
        elif typ == "Constant":
            kind = "constant"
        elif typ == "Lookup":
            kind = "lookup"
        elif typ == "Data":
            kind = "data"
        elif typ == "Stateful" and sub == "Integ":
            kind = "stock"
        elif py in flows:
            kind = "flow"
        else:
            kind = "aux"
        out[real] = kind
    return out


class Model(_ModelChecks):
    """A loaded stock-flow model.

    Every call to :meth:`run` starts from the model's original state: parameters,
    time settings and stock values of one run never leak into the next.

    Use :func:`pvsd.load` to create one.
    """

    def __init__(self, source: ModelSource) -> None:
        self.source = source
        self.path: Path = source.path
        self.name: str = source.path.stem
        self.sha256: str = source.sha256
        template = self._fresh()
        doc = template.doc
        #: dimension -> elements (ranges and subranges, PySD order)
        self.subscripts: dict[str, tuple[str, ...]] = {
            k: tuple(v) for k, v in (getattr(template, "_subscript_dict", None) or {}).items()
        }
        self._dims, self._array_defaults = _arr.read_dims(template, doc, self.subscripts)
        self._abstract: Any = None
        if self._dims:
            self._dims = _arr.mark_defined(self._dims, self.abstract_model(), self.subscripts)
        self._table = self._variable_table(template, doc)
        self._table.insert(4, "dims", [", ".join(self._dims[n].dims) if n in self._dims else ""
                                       for n in self._table["name"]])
        self._py = dict(zip(self._table["name"], self._table["py_name"], strict=True))
        from pvsd.modelcheck import check_cycles

        check_cycles(self.path, template.dependencies, {py: n for n, py in self._py.items()})
        self._names = NameIndex(
            self._table["name"],
            aliases={py: name for name, py in self._py.items()},
            model=self.path.name,
        )
        self.initial_time = float(template.components.initial_time())
        self.final_time = float(template.components.final_time())
        self.time_step = float(template.components.time_step())
        self.saveper = float(template.components.saveper())

    # ------------------------------------------------------------------ metadata
    def _fresh(self) -> Any:
        """A new PySD model object loaded from the cached translation.

        A cached translation PySD cannot load (damaged on disk, or written by a
        crashed process) is rebuilt once from the model file before giving up.
        """
        import pysd

        from pvsd.errors import ModelLoadError

        for attempt in (0, 1):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    return pysd.load(str(self.source.py_path))
            except Exception as exc:  # PySD raises many types on broken modules
                cached = self.source.py_path != self.path
                missing = _missing_external_file(self.path, self.source.py_path, exc)
                if missing is not None:
                    raise ModelLoadError(missing) from None
                if attempt == 0 and cached:
                    from pvsd.loading import translate

                    self.source = translate(self.path, rebuild=True)
                    continue
                where = (f" (its cached translation {str(self.source.py_path.parent)!r} was "
                         "rebuilt and still fails; delete that folder or set PVSD_CACHE_DIR to "
                         "start a fresh cache)") if cached else ""
                raise ModelLoadError(
                    f"PySD could not load the translation of {str(self.path)!r}{where}: "
                    f"{type(exc).__name__}: {exc}"
                ) from None
        raise AssertionError("unreachable")

    @staticmethod
    def _variable_table(template: Any, doc: pd.DataFrame) -> pd.DataFrame:
        doc = doc[doc["Real Name"] != "Time"].reset_index(drop=True)
        sub = doc[["Real Name", "Py Name", "Type", "Subtype"]]
        kinds = _kinds(sub, template.dependencies)
        rows = []
        for r in doc.itertuples(index=False):
            lim = r.Limits if isinstance(r.Limits, tuple) else (np.nan, np.nan)
            lo, hi = (np.nan if v is None else float(v) for v in (*tuple(lim), None, None)[:2])
            kind = kinds[r[0]]
            default = np.nan
            if kind in ("constant", "control"):
                try:
                    default = float(getattr(template.components, r[1])())
                except Exception:  # subscripted constants have no single value
                    default = np.nan
            units = r.Units if isinstance(r.Units, str) else ""
            comment = r.Comment if isinstance(r.Comment, str) else ""
            rows.append((r[0], units, kind, comment.strip(), default, lo, hi, r[1],
                         r.Subtype if isinstance(r.Subtype, str) else ""))
        table = pd.DataFrame(
            rows,
            columns=["name", "units", "kind", "comment", "default", "min", "max",
                     "py_name", "subtype"],
        )
        return table.sort_values("name", key=lambda s: s.str.lower()).reset_index(drop=True)

    @property
    def variables(self) -> pd.DataFrame:
        """One row per variable: name, units, kind, comment, dims, default, min, max, py_name.

        ``kind`` is one of stock, flow, aux, constant, lookup, data, control; ``dims``
        lists a subscripted variable's dimensions ("" for a scalar); ``default`` is NaN
        for an arrayed constant (see :meth:`defaults`).
        """
        return self._table.copy()

    def resolve(self, name: str, where: str = "") -> str:
        """The canonical name of a variable or of one element (case/space/underscore-insensitive).

        ``"population[town a]"`` -> ``"Population[Town A]"``; an unknown element raises
        :class:`~pvsd.errors.UnknownVariableError` listing the dimension's elements.
        """
        base, elems = split_label(name) if isinstance(name, str) else (name, None)
        if elems is None:
            return self._names.resolve(name, where=where)
        canonical = self._names.resolve(base, where=where)
        dims = self._dims.get(canonical, Dims((), ()))
        return _label(canonical, dims.index(canonical, elems, where=where, model=self.path.name))

    def dims(self, name: str) -> tuple[str, ...]:
        """Dimensions of a variable (empty for a scalar or for one element)."""
        base, elems = split_label(self.resolve(name))
        return () if elems is not None or base not in self._dims else self._dims[base].dims

    def elements(self, name: str) -> list[str]:
        """Labels of every element of a variable (``[name]`` for a scalar or one element)."""
        canonical = self.resolve(name)
        d = self._dims.get(canonical)
        return [canonical] if d is None else element_labels(canonical, d)

    def expand(self, name: str, where: str = "") -> list[str]:
        """Labels a name stands for: ``"Pop[*]"`` -> every element, ``"Pop[*, Young]"`` ->
        every element along the starred dimension; any other name -> ``[canonical name]``."""
        return _arr.expand(self, name, where)

    def defaults(self, name: str) -> Any:
        """The model's own value of a constant: a float, or an xarray DataArray if arrayed."""
        canonical = self.resolve(name)
        if canonical in self._array_defaults:
            return self._dims[canonical].to_xarray(self._array_defaults[canonical])
        return self.default(canonical)

    def kind(self, name: str) -> str:
        """Kind of a variable (stock, flow, aux, constant, lookup, data, control)."""
        canonical = self.resolve(name)
        return str(self._row(canonical)["kind"])

    def _row(self, canonical: str) -> pd.Series:
        base = split_label(canonical)[0]
        return self._table.loc[self._table["name"] == base].iloc[0]

    def default(self, name: str) -> float:
        """The model's own value of a constant, or of one element (NaN for a whole array)."""
        canonical = self.resolve(name)
        base, elems = split_label(canonical)
        if elems is not None and base in self._array_defaults:
            d = self._dims[base]
            return float(self._array_defaults[base][d.position(elems)])
        return float(self._row(canonical)["default"])

    @property
    def constants(self) -> list[str]:
        """Names of the model's constants (candidate parameters and levers)."""
        return self._table.loc[self._table["kind"] == "constant", "name"].tolist()

    @property
    def stocks(self) -> list[str]:
        """Names of the model's stocks."""
        return self._table.loc[self._table["kind"] == "stock", "name"].tolist()

    @property
    def units(self) -> dict[str, str]:
        """Units by variable name."""
        return dict(zip(self._table["name"], self._table["units"], strict=True))

    def default_outputs(self) -> list[str]:
        """Stocks, flows and auxiliaries: what a run returns when no outputs are given."""
        mask = self._table["kind"].isin(["stock", "flow", "aux"])
        return self._table.loc[mask, "name"].tolist()

    @property
    def description(self) -> str:
        """The model's purpose, from its header comment (first group comment of a ``.mdl``)."""
        if self.path.suffix.lower() != ".mdl":
            return ""
        text = self.path.read_text(encoding="utf-8", errors="replace")
        for m in _GROUP.finditer(text):
            if m.group(1).strip().lower() != "control":
                # Vensim wraps long comments with a trailing backslash.
                body = " ".join(line.strip().rstrip("\\") for line in m.group(2).splitlines())
                return re.sub(r"\s+", " ", body).strip()
        return ""

    def abstract_model(self) -> Any:
        """PySD's abstract model of the file (None for a translated ``.py``)."""
        if self._abstract is None:
            self._abstract = self.source.abstract_model()
        return self._abstract

    # ------------------------------------------------------------------ running
    def run(
        self,
        params: Mapping[str, ParamValue] | None = None,
        scenario: Scenario | None = None,
        *,
        initial_time: float | None = None,
        final_time: float | None = None,
        time_step: float | None = None,
        saveper: float | None = None,
        return_times: Sequence[float] | None = None,
        outputs: Sequence[str] | str | None = None,
        method: str = "euler",
        allow_long: bool = False,
        seed: int | None = None,
    ) -> RunResult:
        """Simulate the model once, from its original state.

        Parameters
        ----------
        params
            Overrides by variable name: a number for a constant, a
            :class:`~pvsd.timefunc.Step`/``Ramp``/``Table`` or a ``pandas.Series``
            indexed by time for a lever that changes during the run, a Series
            (x -> y) for a lookup.
        scenario
            A :class:`~pvsd.scenarios.Scenario`; ``params`` are applied on top.
        initial_time, final_time, time_step, saveper
            Time settings for this run only (default: the model file's).
        return_times
            Explicit save times (instead of every ``saveper``).
        outputs
            Variables to return (default: every stock, flow and auxiliary).
        method
            Integration method: ``"euler"`` (default, as PySD) or ``"rk4"`` (Vensim's
            "RK4 Fixed"; needs the vectorised engine).
        allow_long
            Run even when the estimated work or memory is above pvsd's limits
            (:mod:`pvsd.numerics.limits`).
        seed
            Seed of the model's random functions (default: the model's own seed
            arguments, else :data:`pvsd.randomness.DEFAULT_SEED`); recorded in the
            provenance, so a run repeats bit for bit.

        Returns
        -------
        RunResult
            Outputs indexed by time, named as in the model file, with provenance.

        Raises
        ------
        UnknownVariableError, ParameterError, TimeRangeError
            Bad names, values or time settings (raised before anything runs).
        SimulationError
            PySD failed during the simulation.
        """
        from pvsd.engine.controls import dynamic_run
        from pvsd.numerics import check_work, estimate_work, resolve_method

        method = resolve_method(method)
        merged = self.check_params(params, scenario)
        cols = self.resolve_outputs(outputs)
        # FINAL TIME / TIME STEP / SAVEPER that change during the run: as PySD does
        given = {"initial_time": initial_time, "final_time": final_time, "time_step": time_step,
                 "saveper": saveper}
        from pvsd.randomness import run_seed, seeded

        rseed = run_seed(self, seed)  # None unless the model draws random numbers
        with seeded(rseed):
            dyn = dynamic_run(self, merged, given, return_times, cols, method)
        extra_prov: dict[str, Any] = {}
        if dyn is not None:
            frame, (t0, t1, dt) = dyn
        else:
            t0, t1, dt, times = self.check_times(initial_time, final_time, time_step, saveper,
                                                 return_times, allow_long=allow_long)
            from pvsd.overrides import warn_ineffective_levers

            warn_ineffective_levers(self, merged, t0, t1, dt)
            check_work(estimate_work(t0, t1, dt, len(times), len(cols), len(self._table)),
                       allow_long)
            from pvsd.engine import fast_run

            # pvsd's vectorised engine when it supports the model (same numbers as
            # PySD, checked against PySD on first use), else plain PySD
            frame = fast_run(self, merged, t0, t1, dt, times, cols, method=method)
            if frame is None:
                with seeded(rseed):
                    frame = self._simulate_pysd(merged, t0, t1, dt, times, cols)
                from pvsd.numerics.saved_ranges import check_saved

                # PySD returns the saved times only: check those, and say so
                extra_prov["range_check"] = check_saved(
                    self, frame.index.to_numpy(float), {c: frame[c].to_numpy(float)
                                                        for c in frame.columns}, dt, method)
        described = {k: (v if isinstance(v, float) else _describe(v)) for k, v in merged.items()}
        by_var = self.units  # a property that builds a dict: once per run, not per column
        units = {c: by_var.get(split_label(c)[0], "") for c in frame.columns}
        scen_name = scenario.name if scenario is not None else None
        prov = provenance(
            self.path, self.sha256, described, scenario=scen_name, seed=rseed,
            initial_time=t0, final_time=t1, time_step=dt, integration=method, **extra_prov,
        )
        return RunResult(
            data=frame,
            model=self.name,
            params=described,
            scenario=scen_name,
            units=units,
            provenance=prov,
            dims={b: d for b, d in self._dims.items() if b in cols},
        )

    def _simulate_pysd(
        self,
        params: Mapping[str, Any],
        t0: float,
        t1: float,
        dt: float,
        times: np.ndarray,
        outputs: Sequence[str],
    ) -> pd.DataFrame:
        """Run a fresh PySD model object, so nothing persists between runs.

        Returns one column per output label; a whole arrayed variable gives one
        column per element (``Var[e1,e2]``). See :meth:`_simulate_pysd_arrays`.
        """
        st, arrays = self._simulate_pysd_arrays(params, t0, t1, dt, times,
                                                [split_label(o)[0] for o in outputs])
        return _arr.flatten(self, outputs, st, arrays)

    def _simulate_pysd_arrays(
        self,
        params: Mapping[str, Any],
        t0: float,
        t1: float,
        dt: float,
        times: np.ndarray,
        names: Sequence[str],
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Plain PySD; per variable name an array ``(n_times, *shape)`` in dims order."""
        pysd_model = self._fresh()
        pysd_params = {self._py[name]: _arr.to_pysd(self, name, value, pysd_model)
                       for name, value in params.items()}
        names = list(dict.fromkeys(names))
        py_out = [self._py[c] for c in names]
        kwargs: dict[str, Any] = {}
        if t0 != self.initial_time:
            kwargs["initial_condition"] = (t0, {})
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                frame = pysd_model.run(
                    params=pysd_params,
                    final_time=t1,
                    time_step=dt,
                    return_timestamps=list(times),
                    return_columns=py_out,
                    progress=False,
                    flatten_output=False,
                    **kwargs,
                )
        except Exception as exc:
            raise SimulationError(
                f"Simulation of {self.path.name} failed: {type(exc).__name__}: {exc}"
            ) from exc
        return _arr.pysd_arrays(self, frame, names)

    def run_ensemble(self, samples: Any, **kwargs: Any) -> xr.Dataset:
        """Run many parameter sets; see :func:`pvsd.ensemble.run_ensemble`."""
        from pvsd.ensemble import run_ensemble

        return run_ensemble(self, samples, **kwargs)

    # ------------------------------------------------------------------ display
    def __repr__(self) -> str:
        if "_table" not in self.__dict__:  # failed while loading
            return f"<pvsd.Model (not loaded) {getattr(self, 'path', '?')}>"
        counts = self._table["kind"].value_counts()
        parts = ", ".join(f"{counts.get(k, 0)} {k}s" for k in ("stock", "flow", "aux", "constant"))
        return f"<pvsd.Model {self.path.name}: {parts}; t = {self.initial_time:g}..{self.final_time:g}>"

    def _repr_html_(self) -> str:
        cols = ["name", "kind", "units", "default", "comment"]
        return (
            f"<p><b>{html.escape(self.path.name)}</b> (SHA-256 {self.sha256[:12]}...), "
            f"t = {self.initial_time:g} to {self.final_time:g}, time step {self.time_step:g}</p>"
            + self._table[cols].to_html(index=False, float_format=lambda v: f"{v:.4g}")
        )


def _describe(value: Any) -> Any:
    if isinstance(value, (np.ndarray, ArrayPiecewise)):
        return _arr.describe(value)
    if isinstance(value, PiecewiseLinear):
        return {"time": list(value.x), "value": list(value.y)}
    return value


def _missing_external_file(model_path: Path, py_path: Path, exc: BaseException) -> str | None:
    """The message for a data file the model reads but its folder lacks (else None).

    PySD reports it against the translation's folder (the cache); the user needs the
    model's own folder, and the line of the model that names the file.
    """
    if not isinstance(exc, FileNotFoundError):
        return None
    found = re.search(r"File '([^']+)' not found", str(exc))
    if not found:
        return None
    reported = Path(found.group(1))
    try:
        rel = reported.relative_to(py_path.parent)
    except ValueError:
        rel = Path(reported.name)
    if (model_path.parent / rel).exists():
        return None  # present in the model folder: not this problem
    where = ""
    with contextlib.suppress(OSError):
        text = model_path.read_text(encoding="utf-8", errors="replace")
        for n, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1):
            if rel.name.lower() in line.lower():
                where = f", line {n}: {line.strip()[:120]!r}"
                break
    return (f"{model_path.name} reads the external data file {str(rel)!r}{where}, but "
            f"{model_path.parent} has no such file. Paths in the model are relative to the "
            "model file: put the file next to it, or correct the file name in the equation.")
