"""One uncertain parameter and its distribution (see :mod:`pvsd.parameters`).

:class:`Parameter`: bounds or a distribution (uniform, loguniform, triangular,
normal, lognormal; normal and lognormal optionally truncated), its inverse CDF on
the unit interval, its TOML table and its SALib form; :data:`DISTRIBUTIONS` lists
the distributions and the keys each one needs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from pvsd.errors import SpecError

__all__ = ["DISTRIBUTIONS", "PARAMETER_KEYS", "Parameter"]

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
