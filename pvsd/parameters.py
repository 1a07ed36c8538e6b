"""Parameter spaces: which model constants are uncertain, and how.

A parameter space is a plain problem description shared by sensitivity analysis
and calibration. A policy analyst writes it by hand in TOML::

    [parameters."Capability Build Time"]
    lower = 3
    upper = 10                        # uniform on [3, 10] (the default)

    [parameters."Citizen Adoption Rate"]
    dist = "triangular"
    lower = 0.05
    upper = 0.4
    mode = 0.15

    [parameters."Trust Erosion Time"]
    dist = "normal"                   # optionally truncated by lower/upper
    mean = 8
    sd = 2
    lower = 1
    group = "trust"                   # groups are analysed together (Sobol, Morris)

    [parameters."Service Cost"]
    dist = "lognormal"                # mu and sigma of the logarithm
    mu = 2.3
    sigma = 0.4

    [parameters."Budget"]
    value = 100
    vary = false                      # held fixed at ``value`` in every run

Subscripted constants: ``[parameters."Population[Town A]"]`` samples one element;
``[parameters."Population[*]"]`` makes every element a separate parameter with the
same table (``"Population[*, Young]"`` stars one dimension); the bare name
``"Population"`` is ONE parameter whose value every element takes.

Distributions are ``uniform`` (lower, upper), ``loguniform`` (lower, upper > 0),
``triangular`` (lower, mode, upper), ``normal`` (mean, sd; truncated to
lower/upper when given) and ``lognormal`` (mu, sigma of the natural logarithm;
truncated to lower/upper when given). Samples are drawn on the unit cube and
mapped through each distribution's inverse CDF (:meth:`ParameterSpace.ppf`), so
quasi-random designs (Sobol, Morris, FAST, Latin hypercube) keep their
structure. One parameter and its distribution: :mod:`pvsd.distributions`.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pvsd.distributions import DISTRIBUTIONS, Parameter
from pvsd.distributions import PARAMETER_KEYS as PARAMETER_KEYS  # re-exported
from pvsd.errors import ParameterError, SpecError, UnknownVariableError

if TYPE_CHECKING:
    from pvsd.model import Model

__all__ = ["DISTRIBUTIONS", "Parameter", "ParameterSpace", "load_parameter_space"]


@dataclass(frozen=True)
class ParameterSpace:
    """An ordered set of :class:`Parameter` objects (the uncertain inputs of a study).

    Attributes
    ----------
    parameters
        All parameters, varied and fixed, in file order.
    source
        File the space was read from (for messages), if any.
    """

    parameters: tuple[Parameter, ...]
    source: Path | None = field(default=None, compare=False)
    #: parameter -> (lower, upper) where the space's bounds go beyond the model's declared
    #: range (filled by :meth:`validate`; studies widen the range for themselves only)
    range_overrides: dict[str, tuple[float | None, float | None]] = field(
        default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        params = tuple(self.parameters)
        object.__setattr__(self, "parameters", params)
        if not all(isinstance(p, Parameter) for p in params):
            raise SpecError("A ParameterSpace holds Parameter objects only.")
        seen: dict[str, str] = {}
        from pvsd.naming import normalize

        for p in params:
            key = normalize(p.name)
            if key in seen:
                raise SpecError(
                    f"{self._where()}: parameter {p.name!r} is listed twice "
                    f"(also as {seen[key]!r}); keep one entry."
                )
            seen[key] = p.name
        if not any(p.vary for p in params):
            raise SpecError(
                f"{self._where()}: no parameter varies; give at least one parameter "
                "bounds or a distribution (and vary = true)."
            )

    def _where(self) -> str:
        return str(self.source) if self.source else "parameter space"

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str | Path | None = None) -> ParameterSpace:
        """Build from parsed TOML.

        Parameters
        ----------
        data
            Either a mapping with a ``parameters`` table (other tables are ignored,
            so one file can also describe outcomes or calibration data), or the
            ``parameters`` table itself: parameter name -> table of keys.
        source
            File name used in error messages.
        """
        src = Path(source) if source is not None else None
        where = str(src) if src else "parameter space"
        if not isinstance(data, Mapping):
            raise SpecError(f"{where}: expected a table of parameters, got {type(data).__name__}.")
        table = data["parameters"] if "parameters" in data else data
        if not isinstance(table, Mapping) or not table:
            raise SpecError(
                f"{where}: defines no parameters; add tables such as\n"
                '[parameters."Capability Build Time"]\nlower = 3\nupper = 10'
            )
        params = [
            Parameter.from_dict(str(name), spec, where=f'{where}, [parameters."{name}"]')
            for name, spec in table.items()
        ]
        return cls(tuple(params), source=src)

    @classmethod
    def from_toml(cls, path: str | Path) -> ParameterSpace:
        """Read the ``[parameters]`` tables of a TOML file."""
        return cls.from_dict(read_toml(path), source=path)

    @classmethod
    def from_salib_problem(cls, problem: Mapping[str, Any]) -> ParameterSpace:
        """Build from a SALib problem dict (``names``, ``bounds``, optional ``dists``, ``groups``).

        SALib's conventions are followed: ``unif``/``logunif`` ``[lower, upper]``,
        ``triang`` ``[lower, upper, peak as a fraction of the width]``, ``norm``
        ``[mean, sd]``, ``truncnorm`` ``[lower, upper, mean, sd]``, ``lognorm``
        ``[mu, sigma]`` of the natural logarithm.
        """
        where = "SALib problem"
        if not isinstance(problem, Mapping):
            raise SpecError(f"A {where} is a dict with 'names' and 'bounds'.")
        names = problem.get("names")
        bounds = problem.get("bounds")
        if not isinstance(names, Sequence) or isinstance(names, str) or not names:
            raise SpecError(f"{where}: 'names' must be a non-empty list of parameter names.")
        if not isinstance(bounds, Sequence) or len(bounds) != len(names):
            raise SpecError(
                f"{where}: 'bounds' must be a list with one entry per name "
                f"({len(names)} names, got {None if bounds is None else len(bounds)} bounds)."
            )
        dists = problem.get("dists") or ["unif"] * len(names)
        groups = problem.get("groups") or [None] * len(names)
        for key, seq in (("dists", dists), ("groups", groups)):
            if len(seq) != len(names):
                raise SpecError(f"{where}: {key!r} needs one entry per name ({len(names)}).")
        if "num_vars" in problem and problem["num_vars"] != len(names):
            raise SpecError(f"{where}: num_vars is {problem['num_vars']} but {len(names)} names are given.")
        params = []
        for name, b, d, g in zip(names, bounds, dists, groups, strict=True):
            lab = f"{where}, parameter {name!r}"
            b = list(b)
            d = str(d).lower()
            need = {"unif": 2, "logunif": 2, "triang": 3, "norm": 2, "truncnorm": 4, "lognorm": 2}
            if d not in need:
                raise SpecError(f"{lab}: unknown SALib distribution {d!r}; use one of {', '.join(need)}.")
            if len(b) != need[d]:
                raise SpecError(f"{lab}: {d} needs {need[d]} values in its bounds entry, got {b}.")
            try:
                if d in ("unif", "logunif"):
                    p = Parameter(name, b[0], b[1], "uniform" if d == "unif" else "loguniform")
                elif d == "triang":
                    if not 0 <= b[2] <= 1:
                        raise SpecError(
                            f"parameter {name!r}: SALib's triangular peak is a fraction of the "
                            f"width between 0 and 1, got {b[2]}."
                        )
                    p = Parameter(name, b[0], b[1], "triangular", mode=b[0] + b[2] * (b[1] - b[0]))
                elif d == "norm":
                    p = Parameter(name, dist="normal", mean=b[0], sd=b[1])
                elif d == "truncnorm":
                    lo = None if b[0] == -math.inf else b[0]
                    hi = None if b[1] == math.inf else b[1]
                    p = Parameter(name, lo, hi, "normal", mean=b[2], sd=b[3])
                else:
                    p = Parameter(name, dist="lognormal", mu=b[0], sigma=b[1])
            except SpecError as exc:
                raise SpecError(f"{where}: {exc}") from None
            params.append(replace(p, group=None if g is None else str(g)))
        return cls(tuple(params))

    # ------------------------------------------------------------------ views
    def __iter__(self) -> Iterator[Parameter]:
        return iter(self.parameters)

    def __len__(self) -> int:
        return len(self.parameters)

    def __getitem__(self, name: str) -> Parameter:
        from pvsd.naming import normalize

        for p in self.parameters:
            if normalize(p.name) == normalize(name):
                return p
        raise UnknownVariableError(name, [p.name for p in self.parameters][:3],
                                   where=self._where())

    @property
    def varied(self) -> tuple[Parameter, ...]:
        """Parameters that are sampled."""
        return tuple(p for p in self.parameters if p.vary)

    @property
    def names(self) -> list[str]:
        """Names of the sampled parameters, in order (the columns of :meth:`ppf`)."""
        return [p.name for p in self.varied]

    @property
    def fixed(self) -> dict[str, float]:
        """Fixed parameters (``vary = false``) and their values."""
        return {p.name: float(p.value) for p in self.parameters if not p.vary}  # type: ignore[arg-type]

    @property
    def groups(self) -> list[str] | None:
        """Group of each sampled parameter (its own name when ungrouped), or None if no groups."""
        if not any(p.group for p in self.varied):
            return None
        return [p.group or p.name for p in self.varied]

    @property
    def factors(self) -> list[str]:
        """What the analysis reports on: group names (in order of appearance) or parameter names."""
        groups = self.groups
        return list(dict.fromkeys(groups)) if groups else self.names

    @property
    def nominal(self) -> dict[str, float]:
        """Nominal value of every parameter (``value``, else the median)."""
        return {p.name: p.nominal for p in self.parameters}

    # ------------------------------------------------------------------ SALib and sampling
    def to_salib_problem(self, unit: bool = False) -> dict[str, Any]:
        """The sampled parameters as a SALib problem dict.

        Parameters
        ----------
        unit
            Give every parameter bounds ``[0, 1]`` (uniform): the problem pvsd
            samples before mapping through :meth:`ppf`.
        """
        names = self.names
        problem: dict[str, Any] = {"num_vars": len(names), "names": names}
        if unit:
            problem["bounds"] = [[0.0, 1.0]] * len(names)
        else:
            pairs = [p.to_salib() for p in self.varied]
            problem["bounds"] = [b for _, b in pairs]
            problem["dists"] = [d for d, _ in pairs]
        if self.groups:
            problem["groups"] = self.groups
        return problem

    def ppf(self, unit_samples: Any) -> pd.DataFrame:
        """Map unit-cube samples to parameter values.

        Parameters
        ----------
        unit_samples
            Array of shape (runs, number of sampled parameters) with values in
            [0, 1], columns in the order of :attr:`names`.

        Returns
        -------
        pandas.DataFrame
            One row per run, one column per sampled parameter.
        """
        u = np.asarray(unit_samples, dtype=float)
        if u.ndim == 1:
            u = u[:, None] if len(self.names) == 1 else u[None, :]
        if u.ndim != 2 or u.shape[1] != len(self.names):
            raise SpecError(
                f"Unit-cube samples must have one column per sampled parameter "
                f"({len(self.names)}), got shape {u.shape}."
            )
        if u.size and (np.nanmin(u) < 0 or np.nanmax(u) > 1 or np.isnan(u).any()):
            raise SpecError("Unit-cube samples must lie in [0, 1] (no NaN).")
        cols = {p.name: p.ppf(u[:, i]) for i, p in enumerate(self.varied)}
        return pd.DataFrame(cols, columns=self.names)

    def sample(self, n: int, seed: int | None = None, method: str = "lhs") -> pd.DataFrame:
        """Draw ``n`` parameter sets from the joint (independent) distribution.

        Parameters
        ----------
        n
            Number of samples.
        seed
            Random seed (the same seed gives the same samples).
        method
            ``"lhs"`` (Latin hypercube, default), ``"sobol"`` (scrambled Sobol'
            points) or ``"random"`` (plain Monte Carlo).
        """
        from scipy.stats import qmc

        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise SpecError(f"The number of samples must be a positive integer, got {n!r}.")
        d = len(self.names)
        if method == "lhs":
            u = qmc.LatinHypercube(d=d, rng=np.random.default_rng(seed)).random(int(n))
        elif method == "sobol":
            u = qmc.Sobol(d=d, scramble=True, rng=np.random.default_rng(seed)).random(int(n))
        elif method == "random":
            u = np.random.default_rng(seed).random((int(n), d))
        else:
            raise SpecError(f"Unknown sampling method {method!r}; use 'lhs', 'sobol' or 'random'.")
        return self.ppf(u)

    # ------------------------------------------------------------------ model checks
    def validate(self, model: Model, widen: bool = True) -> ParameterSpace:
        """Check the space against a model, before anything runs.

        Every name must be a constant of the model. A range that goes beyond the
        range the model declares (``[min, max]`` in the units field, Vensim's slider
        range) is allowed when ``widen`` (the default) and recorded in
        ``range_overrides``, so a study can widen the model's range for itself and
        say so; ``widen=False`` refuses it.

        Returns
        -------
        ParameterSpace
            A copy whose parameter names are spelled as in the model file.

        Raises
        ------
        UnknownVariableError
            A name is not a model variable (the message suggests close names).
        SpecError
            A name is not a constant, or its range leaves the model's declared range.
        """
        where = f"{self._where()} [parameters]"
        out = []
        widened: dict[str, tuple[float | None, float | None]] = {}
        seen: dict[str, str] = {}
        expanded = [replace(p, name=lab) for p in self.parameters
                    for lab in model.expand(p.name, where=where)]
        for p in expanded:
            canonical = model.resolve(p.name, where=where)
            if canonical in seen:
                raise SpecError(
                    f"{where}: {p.name!r} and {seen[canonical]!r} are the same model "
                    f"variable {canonical!r}; keep one entry."
                )
            seen[canonical] = p.name
            kind = model.kind(canonical)
            if kind != "constant":
                raise SpecError(
                    f'{where}: "{canonical}" is a {kind}, not a constant of '
                    f"{model.path.name}; only constants can be uncertain parameters. "
                    f"Candidates: {', '.join(model.constants[:8])}."
                )
            lo, hi = p.support()
            outside = False
            for v in {lo, hi} if p.vary else {p.value}:
                if v is None or not math.isfinite(v):
                    continue
                try:
                    model.check_param(canonical, float(v), where=f"{where} (an end of its range)")
                except ParameterError as exc:
                    # a spec's explicit bounds may reach beyond the model's declared
                    # (slider) range, as in Vensim; reports say so (range_overrides)
                    if not widen or "outside the range the model" not in str(exc):
                        raise SpecError(str(exc)) from None
                    outside = True
            if outside:
                widened[canonical] = (lo, hi) if p.vary else (p.value, p.value)
            out.append(replace(p, name=canonical))
        return ParameterSpace(tuple(out), source=self.source, range_overrides=widened)

    # ------------------------------------------------------------------ display
    def to_dataframe(self) -> pd.DataFrame:
        """One row per parameter: distribution, bounds, nominal value, group, description."""
        rows = []
        for p in self.parameters:
            lo, hi = p.support()
            rows.append((p.name, p.describe(), p.dist if p.vary else "fixed", lo, hi,
                         p.nominal, p.group or "", p.description))
        return pd.DataFrame(
            rows,
            columns=["parameter", "distribution", "dist", "lower", "upper", "nominal",
                     "group", "description"],
        ).set_index("parameter")

    def to_toml_dict(self) -> dict[str, Any]:
        """``{"parameters": {name: table}}``, ready for ``tomli_w.dumps``."""
        return {"parameters": {p.name: p.to_dict() for p in self.parameters}}

    def _repr_html_(self) -> str:
        head = f"<p><b>ParameterSpace</b>: {len(self.names)} varied, {len(self.fixed)} fixed</p>"
        return head + self.to_dataframe().to_html(float_format=lambda v: f"{v:.4g}")

    def __repr__(self) -> str:
        more = "..." if len(self.names) > 6 else ""
        return f"ParameterSpace({len(self.names)} varied: {', '.join(self.names[:6])}{more})"


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML spec file with clear errors (:class:`SpecError`)."""
    p = Path(path)
    if not p.is_file():
        raise SpecError(f"Spec file {str(p)!r} does not exist; check the path.")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"Spec file {str(p)!r} is not valid TOML: {exc}.") from None
    except UnicodeDecodeError:
        raise SpecError(f"Spec file {str(p)!r} is not UTF-8 text.") from None


def load_parameter_space(path: str | Path) -> ParameterSpace:
    """Read the ``[parameters]`` tables of a TOML file (see :class:`ParameterSpace`)."""
    return ParameterSpace.from_toml(path)
