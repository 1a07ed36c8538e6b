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
structure.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pvsd.errors import ParameterError, SpecError, UnknownVariableError

if TYPE_CHECKING:
    from pvsd.model import Model

__all__ = ["DISTRIBUTIONS", "Parameter", "ParameterSpace", "load_parameter_space"]

#: Distribution names and the keys each one needs (besides the optional ones).
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "uniform": ("lower", "upper"),
    "loguniform": ("lower", "upper"),
    "triangular": ("lower", "mode", "upper"),
    "normal": ("mean", "sd"),
    "lognormal": ("mu", "sigma"),
}

_ALIASES = {
    "unif": "uniform",
    "logunif": "loguniform",
    "log-uniform": "loguniform",
    "triang": "triangular",
    "norm": "normal",
    "gaussian": "normal",
    "truncnorm": "normal",
    "lognorm": "lognormal",
    "log-normal": "lognormal",
}

#: Keys a parameter table may have in TOML.
PARAMETER_KEYS = (
    "lower", "upper", "dist", "mean", "sd", "mode", "mu", "sigma", "value", "vary",
    "group", "description",
)

#: Unit-cube samples are kept this far from 0 and 1 so that unbounded
#: distributions map to finite values (about 6.4 standard deviations).
_EDGE = 1e-10


def _num(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise SpecError(f"{what} must be a number, got {value!r}.")
    value = float(value)
    if math.isnan(value):
        raise SpecError(f"{what} must be a number, got NaN.")
    return value


@dataclass(frozen=True)
class Parameter:
    """One uncertain (or fixed) model constant.

    Attributes
    ----------
    name
        Variable name as written by the user (see :meth:`ParameterSpace.validate`
        for matching it to the model).
    lower, upper
        Bounds. Required for ``uniform``, ``loguniform`` and ``triangular``;
        optional truncation for ``normal`` and ``lognormal``.
    dist
        ``uniform`` (default), ``loguniform``, ``triangular``, ``normal`` or
        ``lognormal``.
    mean, sd
        Mean and standard deviation of a ``normal`` distribution.
    mode
        Most likely value of a ``triangular`` distribution.
    mu, sigma
        Mean and standard deviation of the natural logarithm of a ``lognormal``
        variable (its median is ``exp(mu)``).
    value
        Nominal value (the value used when ``vary`` is false; default: the
        distribution's median).
    vary
        Whether the parameter is sampled; a fixed parameter is set to ``value``
        in every run.
    group
        Parameters with the same group are analysed as one factor (Sobol, Morris).
    description
        Free text shown in reports.
    """

    name: str
    lower: float | None = None
    upper: float | None = None
    dist: str = "uniform"
    mean: float | None = None
    sd: float | None = None
    mode: float | None = None
    mu: float | None = None
    sigma: float | None = None
    value: float | None = None
    vary: bool = True
    group: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise SpecError(f"A parameter needs a non-empty name, got {self.name!r}.")
        label = f"parameter {self.name!r}"
        dist = _ALIASES.get(str(self.dist).lower(), str(self.dist).lower())
        if dist not in DISTRIBUTIONS:
            raise SpecError(
                f"{label}: unknown distribution {self.dist!r}; use one of "
                f"{', '.join(DISTRIBUTIONS)}."
            )
        object.__setattr__(self, "dist", dist)
        for key in ("lower", "upper", "mean", "sd", "mode", "mu", "sigma", "value"):
            object.__setattr__(self, key, _num(getattr(self, key), f"{label}: {key}"))
        if not isinstance(self.vary, (bool, np.bool_)):
            raise SpecError(f"{label}: vary must be true or false, got {self.vary!r}.")
        object.__setattr__(self, "vary", bool(self.vary))
        if self.group is not None and not isinstance(self.group, str):
            raise SpecError(f"{label}: group must be a text label, got {self.group!r}.")
        if not self.vary:
            if self.value is None:
                raise SpecError(
                    f"{label}: a fixed parameter (vary = false) needs a value, "
                    "e.g. value = 0.5."
                )
            return
        lo, hi = self.lower, self.upper
        if lo is not None and hi is not None:
            if lo > hi:
                raise SpecError(
                    f"{label}: lower bound {lo:g} is above upper bound {hi:g}; "
                    "swap them (lower must be the smaller value)."
                )
            if lo == hi:
                raise SpecError(
                    f"{label}: lower and upper bound are both {lo:g}, so it cannot vary; "
                    f"widen the range, or hold it fixed with value = {lo:g} and vary = false."
                )
        for key in DISTRIBUTIONS[dist]:
            v = getattr(self, key)
            if v is None or not math.isfinite(v):
                need = " and ".join(DISTRIBUTIONS[dist])
                raise SpecError(
                    f"{label}: a {dist} distribution needs finite {need}; {key} is missing "
                    f"or infinite."
                )
        if dist == "triangular" and not lo <= self.mode <= hi:  # type: ignore[operator]
            raise SpecError(
                f"{label}: mode {self.mode:g} lies outside [lower, upper] = [{lo:g}, {hi:g}]."
            )
        if dist == "loguniform" and lo <= 0:  # type: ignore[operator]
            raise SpecError(f"{label}: a loguniform distribution needs lower > 0, got {lo:g}.")
        if dist == "normal" and self.sd <= 0:  # type: ignore[operator]
            raise SpecError(f"{label}: sd must be positive, got {self.sd:g}.")
        if dist == "lognormal":
            if self.sigma <= 0:  # type: ignore[operator]
                raise SpecError(f"{label}: sigma must be positive, got {self.sigma:g}.")
            if hi is not None and hi <= 0:
                raise SpecError(f"{label}: a lognormal variable is positive; upper {hi:g} <= 0.")
        if dist in ("normal", "lognormal"):
            a, b = self._cdf_range()
            if b - a < 1e-12:
                raise SpecError(
                    f"{label}: the bounds [{lo}, {hi}] cut away (almost) all of the "
                    f"{dist} distribution's probability; check mean/sd or the bounds."
                )

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(cls, name: str, table: Mapping[str, Any], where: str = "") -> Parameter:
        """Build a parameter from its TOML table; ``where`` prefixes error messages."""
        prefix = f"{where}: " if where else ""
        if not isinstance(table, Mapping):
            raise SpecError(
                f"{prefix}parameter {name!r} must be a table such as "
                "{ lower = 1, upper = 5 }, got " + repr(table) + "."
            )
        unknown = sorted(set(table) - set(PARAMETER_KEYS))
        if unknown:
            raise SpecError(
                f"{prefix}parameter {name!r} has unknown key(s) {unknown}; allowed: "
                f"{', '.join(PARAMETER_KEYS)}."
            )
        try:
            return cls(name=name, **dict(table))
        except SpecError as exc:
            raise SpecError(f"{prefix}{exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """The TOML table of this parameter (without its name; only set keys)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "name":
                continue
            v = getattr(self, f.name)
            if v is None or v == f.default:
                continue
            out[f.name] = v
        return out

    # ------------------------------------------------------------------ distribution
    def distribution(self) -> Any:
        """The untruncated ``scipy.stats`` frozen distribution."""
        from scipy import stats

        lo, hi = self.lower, self.upper
        if self.dist == "uniform":
            return stats.uniform(loc=lo, scale=hi - lo)  # type: ignore[operator]
        if self.dist == "loguniform":
            return stats.loguniform(lo, hi)
        if self.dist == "triangular":
            width = hi - lo  # type: ignore[operator]
            return stats.triang(c=(self.mode - lo) / width, loc=lo, scale=width)  # type: ignore[operator]
        if self.dist == "normal":
            return stats.norm(loc=self.mean, scale=self.sd)
        return stats.lognorm(s=self.sigma, scale=math.exp(self.mu))  # type: ignore[arg-type]

    @property
    def truncated(self) -> bool:
        """Whether bounds cut a normal/lognormal distribution."""
        return self.dist in ("normal", "lognormal") and (
            self.lower is not None or self.upper is not None
        )

    def _cdf_range(self) -> tuple[float, float]:
        d = self.distribution()
        a = float(d.cdf(self.lower)) if self.lower is not None else 0.0
        b = float(d.cdf(self.upper)) if self.upper is not None else 1.0
        return a, b

    @property
    def bounded(self) -> bool:
        """Whether the distribution has finite support."""
        lo, hi = self.support()
        return math.isfinite(lo) and math.isfinite(hi)

    def support(self) -> tuple[float, float]:
        """Smallest and largest possible value (may be infinite)."""
        if not self.vary:
            return (self.value, self.value)  # type: ignore[return-value]
        d = self.distribution()
        lo, hi = (float(v) for v in d.support())
        if self.lower is not None:
            lo = max(lo, self.lower)
        if self.upper is not None:
            hi = min(hi, self.upper)
        return lo, hi

    def ppf(self, u: Any) -> np.ndarray:
        """Map unit-interval samples ``u`` to parameter values (inverse CDF).

        Truncated distributions are handled by mapping ``u`` onto the CDF range
        between the bounds. Values of ``u`` are clipped to ``[1e-10, 1 - 1e-10]``
        for unbounded distributions so that every value is finite.
        """
        u = np.asarray(u, dtype=float)
        if not self.vary:
            return np.full(u.shape, self.value, dtype=float)
        if self.dist == "uniform":
            return self.lower + u * (self.upper - self.lower)  # type: ignore[operator]
        d = self.distribution()
        if self.dist in ("normal", "lognormal"):
            a, b = self._cdf_range()
            q = a + np.clip(u, _EDGE, 1 - _EDGE) * (b - a)
            out = np.asarray(d.ppf(q), dtype=float)
            lo, hi = self.support()
            return np.clip(out, lo, hi)
        return np.asarray(d.ppf(u), dtype=float)

    @property
    def nominal(self) -> float:
        """``value`` if given, else the distribution's median."""
        if self.value is not None:
            return float(self.value)
        return float(self.ppf(0.5))

    def describe(self) -> str:
        """Plain-language description, e.g. ``uniform on [3, 10]``."""
        if not self.vary:
            return f"fixed at {self.value:g}"
        trunc = ""
        if self.truncated:
            lo = "-inf" if self.lower is None else f"{self.lower:g}"
            hi = "inf" if self.upper is None else f"{self.upper:g}"
            trunc = f", truncated to [{lo}, {hi}]"
        if self.dist in ("uniform", "loguniform"):
            return f"{self.dist} on [{self.lower:g}, {self.upper:g}]"
        if self.dist == "triangular":
            return f"triangular on [{self.lower:g}, {self.upper:g}], mode {self.mode:g}"
        if self.dist == "normal":
            return f"normal, mean {self.mean:g}, sd {self.sd:g}{trunc}"
        return f"lognormal, median {math.exp(self.mu):.4g} (mu {self.mu:g}, sigma {self.sigma:g}){trunc}"  # type: ignore[arg-type]

    def to_salib(self) -> tuple[str, list[float]]:
        """SALib's ``(dist, bounds)`` pair for this parameter."""
        lab = f"parameter {self.name!r}"
        if self.dist == "uniform":
            return "unif", [self.lower, self.upper]  # type: ignore[list-item]
        if self.dist == "loguniform":
            return "logunif", [self.lower, self.upper]  # type: ignore[list-item]
        if self.dist == "triangular":
            c = (self.mode - self.lower) / (self.upper - self.lower)  # type: ignore[operator]
            return "triang", [self.lower, self.upper, c]  # type: ignore[list-item]
        if self.dist == "normal":
            if self.truncated:
                lo = -math.inf if self.lower is None else self.lower
                hi = math.inf if self.upper is None else self.upper
                return "truncnorm", [lo, hi, self.mean, self.sd]  # type: ignore[list-item]
            return "norm", [self.mean, self.sd]  # type: ignore[list-item]
        if self.truncated:
            raise SpecError(
                f"{lab}: SALib has no truncated lognormal distribution; drop lower/upper "
                "to export this parameter space as a SALib problem."
            )
        return "lognorm", [self.mu, self.sigma]  # type: ignore[list-item]


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
