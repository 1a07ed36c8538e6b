"""The registry of sensitivity methods: sampling and analysis delegated to SALib.

Each :class:`Method` knows how many runs a sample size means, draws its design
on the unit cube with SALib (seeded), and turns model outputs into indices with
SALib's estimators. pvsd never re-implements an estimator; it only maps unit-cube
designs through the parameters' distributions and collects the indices into
tables with a fixed schema.

Register a new method with :func:`register_method`.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from pvsd.errors import SpecError
from pvsd.parameters import ParameterSpace

__all__ = [
    "METHODS",
    "DeltaMethod",
    "FastMethod",
    "Method",
    "MorrisMethod",
    "SobolMethod",
    "get_method",
    "method_names",
    "register_method",
]


@contextlib.contextmanager
def _quiet_salib() -> Iterator[None]:
    """Silence SALib's warnings and undo its global side effects (RNG seed, formatwarning)."""
    state = np.random.get_state()  # noqa: NPY002 - SALib seeds the legacy global RNG
    fmt = warnings.formatwarning
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            yield
    finally:
        np.random.set_state(state)  # noqa: NPY002
        warnings.formatwarning = fmt


def _as_array(v: Any, k: int) -> np.ndarray:
    if v is None:
        return np.full(k, np.nan)
    a = np.ma.filled(np.ma.asarray(v, dtype=float), np.nan) if np.ma.isMaskedArray(v) else v
    return np.asarray(a, dtype=float).reshape(-1)[:k] if np.size(a) >= k else np.full(k, np.nan)


@dataclass(frozen=True)
class Method:
    """A sensitivity method: its design, its estimator and the columns of its results.

    Subclasses set the class attributes and implement :meth:`runs`,
    :meth:`sample_unit` and :meth:`analyze`.
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    #: Index columns of a result row, in order (the fixed schema).
    columns: ClassVar[tuple[str, ...]] = ()
    #: The index used for ranking parameters.
    main: ClassVar[str] = ""
    #: (index, half-width column) pairs checked for convergence.
    intervals: ClassVar[tuple[tuple[str, str], ...]] = ()
    #: Whether interval widths are judged relative to the largest index (unscaled indices).
    relative_tolerance: ClassVar[bool] = False
    #: Smallest sample size accepted.
    min_n: ClassVar[int] = 2
    supports_groups: ClassVar[bool] = False
    #: What ``n`` counts, for messages.
    n_meaning: ClassVar[str] = "samples"
    #: Default sample size.
    default_n: ClassVar[int] = 1024
    #: Default number of bootstrap resamples for the intervals.
    default_resamples: ClassVar[int] = 100
    #: Option names accepted (besides num_resamples, conf_level).
    option_names: ClassVar[tuple[str, ...]] = ()

    # ------------------------------------------------------------------ checks
    def check(self, space: ParameterSpace, n: Any, options: Mapping[str, Any], where: str = "") -> int:
        """Validate the sample size and options before anything runs; return ``n`` as int."""
        loc = f"{where}: " if where else ""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise SpecError(f"{loc}n must be a whole number for method {self.name!r}, got {n!r}.")
        n = int(n)
        if n < self.min_n:
            raise SpecError(
                f"{loc}n = {n} is too small for method {self.name!r} ({self.n_meaning}); "
                f"use at least {self.min_n} (for example {max(self.min_n, self.default_n)})."
            )
        if space.groups and not self.supports_groups:
            raise SpecError(
                f"{loc}method {self.name!r} does not support parameter groups; remove the "
                "group keys or use 'sobol' or 'morris'."
            )
        return n

    def factors(self, space: ParameterSpace) -> int:
        """Number of factors analysed (groups count once)."""
        return len(space.factors) if self.supports_groups else len(space.names)

    def runs(self, n: int, space: ParameterSpace, options: Mapping[str, Any]) -> int:
        """Number of model runs a study of size ``n`` needs."""
        raise NotImplementedError

    def sample_unit(self, space: ParameterSpace, n: int, seed: int | None, options: Mapping[str, Any]) -> np.ndarray:
        """The design on the unit cube, shape (runs, sampled parameters)."""
        raise NotImplementedError

    def analyze(
        self,
        space: ParameterSpace,
        X: np.ndarray,
        Y: np.ndarray,
        seed: int | None,
        options: Mapping[str, Any],
    ) -> dict[str, np.ndarray]:
        """Indices for one output vector ``Y``: column name -> array (one value per factor).

        Sobol may add the matrices ``S2`` and ``S2_conf``.
        """
        raise NotImplementedError

    def _common(self, options: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "num_resamples": int(options.get("num_resamples") or self.default_resamples),
            "conf_level": float(options.get("conf_level", 0.95)),
        }


class SobolMethod(Method):
    """Variance-based indices (Sobol'/Saltelli): first-order S1, total ST, optional S2.

    ``n`` is the base sample size, a power of two; the study runs ``n * (k + 2)``
    parameter sets for ``k`` factors (``n * (2k + 2)`` with second order).
    """

    name = "sobol"
    title = "Sobol' variance-based indices"
    columns = ("S1", "S1_conf", "ST", "ST_conf")
    main = "ST"
    intervals = (("S1", "S1_conf"), ("ST", "ST_conf"))
    min_n = 64
    supports_groups = True
    n_meaning = "base samples, a power of two; runs = n x (parameters + 2)"
    default_n = 1024
    option_names = ("second_order",)

    def check(self, space: ParameterSpace, n: Any, options: Mapping[str, Any], where: str = "") -> int:
        n = super().check(space, n, options, where)
        if n & (n - 1):
            lo = 1 << (n.bit_length() - 1)
            loc = f"{where}: " if where else ""
            raise SpecError(
                f"{loc}n = {n} is not a power of two; Sobol' sequences keep their balance only "
                f"for powers of two. Use {lo} or {lo * 2}."
            )
        return n

    def runs(self, n: int, space: ParameterSpace, options: Mapping[str, Any]) -> int:
        k = self.factors(space)
        return n * (2 * k + 2 if options.get("second_order") else k + 2)

    def sample_unit(self, space: ParameterSpace, n: int, seed: int | None, options: Mapping[str, Any]) -> np.ndarray:
        from SALib.sample import sobol

        with _quiet_salib():
            return sobol.sample(space.to_salib_problem(unit=True), n,
                                calc_second_order=bool(options.get("second_order", False)),
                                scramble=True, seed=seed)

    def analyze(self, space: ParameterSpace, X: np.ndarray, Y: np.ndarray, seed: int | None,
                options: Mapping[str, Any]) -> dict[str, np.ndarray]:
        from SALib.analyze import sobol

        k = self.factors(space)
        second = bool(options.get("second_order", False))
        if not second and options.get("design_second_order"):
            # A second-order design holds the first-order one: per base sample the rows are
            # A, AB_1..AB_k, BA_1..BA_k, B; keep A, AB_1..AB_k, B (SALib's first-order layout).
            step = 2 * k + 2
            keep = np.r_[0 : k + 1, step - 1]
            Y = np.asarray(Y).reshape(-1, step)[:, keep].reshape(-1)
        with _quiet_salib():
            res = sobol.analyze(space.to_salib_problem(unit=True), Y, calc_second_order=second,
                                seed=seed, print_to_console=False, **self._common(options))
        out = {c: _as_array(res.get(c), k) for c in self.columns}
        if options.get("second_order"):
            out["S2"] = np.asarray(res["S2"], dtype=float)
            out["S2_conf"] = np.asarray(res["S2_conf"], dtype=float)
        return out


class MorrisMethod(Method):
    """Morris elementary effects (screening): mu, mu* (with its interval) and sigma.

    ``n`` is the number of trajectories; the study runs ``n * (k + 1)`` parameter
    sets. Effects are measured per unit of each parameter's *quantile* range (the
    design lives on the unit cube), so mu* is in output units and comparable
    across parameters. Unbounded distributions (normal, lognormal) are explored
    between their 0.5% and 99.5% quantiles.
    """

    name = "morris"
    title = "Morris elementary effects"
    columns = ("mu", "mu_star", "mu_star_conf", "sigma")
    main = "mu_star"
    intervals = (("mu_star", "mu_star_conf"),)
    relative_tolerance = True
    min_n = 4
    supports_groups = True
    n_meaning = "trajectories; runs = n x (parameters + 1)"
    default_n = 50
    option_names = ("num_levels", "optimal_trajectories")
    EDGE: ClassVar[float] = 0.005

    def check(self, space: ParameterSpace, n: Any, options: Mapping[str, Any], where: str = "") -> int:
        n = super().check(space, n, options, where)
        loc = f"{where}: " if where else ""
        levels = options.get("num_levels", 4)
        if isinstance(levels, bool) or not isinstance(levels, int) or levels < 2 or levels % 2:
            raise SpecError(f"{loc}num_levels must be an even whole number >= 2 (usually 4), got {levels!r}.")
        opt = options.get("optimal_trajectories")
        if opt is not None and (not isinstance(opt, int) or not 2 <= opt < n):
            raise SpecError(f"{loc}optimal_trajectories must be a whole number between 2 and n - 1 = {n - 1}.")
        return n

    def runs(self, n: int, space: ParameterSpace, options: Mapping[str, Any]) -> int:
        traj = options.get("optimal_trajectories") or n
        return int(traj) * (self.factors(space) + 1)

    def sample_unit(self, space: ParameterSpace, n: int, seed: int | None, options: Mapping[str, Any]) -> np.ndarray:
        from SALib.sample import morris

        with _quiet_salib():
            u = morris.sample(space.to_salib_problem(unit=True), n,
                              num_levels=int(options.get("num_levels", 4)),
                              optimal_trajectories=options.get("optimal_trajectories"),
                              seed=seed)
        unbounded = [not p.bounded for p in space.varied]
        if any(unbounded):
            u = u.copy()
            u[:, unbounded] = self.EDGE + (1 - 2 * self.EDGE) * u[:, unbounded]
        return u

    def analyze(self, space: ParameterSpace, X: np.ndarray, Y: np.ndarray, seed: int | None,
                options: Mapping[str, Any]) -> dict[str, np.ndarray]:
        from SALib.analyze import morris

        k = self.factors(space)
        with _quiet_salib():
            res = morris.analyze(space.to_salib_problem(unit=True), X, Y,
                                 num_levels=int(options.get("num_levels", 4)),
                                 seed=seed, print_to_console=False, **self._common(options))
        return {c: _as_array(res.get(c), k) for c in self.columns}


class FastMethod(Method):
    """Extended Fourier amplitude sensitivity test (eFAST): S1 and ST.

    ``n`` is the number of samples per parameter (more than ``4 M^2``, 65 for the
    default interference ``M = 4``); the study runs ``n * k`` parameter sets.
    SALib's bootstrap intervals for eFAST are indicative only.
    """

    name = "fast"
    title = "eFAST (extended Fourier amplitude sensitivity test)"
    columns = ("S1", "S1_conf", "ST", "ST_conf")
    main = "ST"
    intervals = (("S1", "S1_conf"), ("ST", "ST_conf"))
    min_n = 65
    n_meaning = "samples per parameter; runs = n x parameters"
    default_n = 1024
    option_names = ("M",)

    def check(self, space: ParameterSpace, n: Any, options: Mapping[str, Any], where: str = "") -> int:
        n = super().check(space, n, options, where)
        m = options.get("M", 4)
        if isinstance(m, bool) or not isinstance(m, int) or m < 1:
            raise SpecError(f"{where + ': ' if where else ''}M must be a positive whole number, got {m!r}.")
        if n <= 4 * m * m:
            raise SpecError(
                f"{where + ': ' if where else ''}n = {n} is too small for method 'fast' with M = {m}: "
                f"eFAST needs n > 4 M^2 = {4 * m * m}; use at least {4 * m * m + 1}."
            )
        return n

    def runs(self, n: int, space: ParameterSpace, options: Mapping[str, Any]) -> int:
        return n * len(space.names)

    def sample_unit(self, space: ParameterSpace, n: int, seed: int | None, options: Mapping[str, Any]) -> np.ndarray:
        from SALib.sample import fast_sampler

        with _quiet_salib():
            return fast_sampler.sample(space.to_salib_problem(unit=True), n, M=int(options.get("M", 4)), seed=seed)

    def analyze(self, space: ParameterSpace, X: np.ndarray, Y: np.ndarray, seed: int | None,
                options: Mapping[str, Any]) -> dict[str, np.ndarray]:
        from SALib.analyze import fast

        k = len(space.names)
        with _quiet_salib():
            res = fast.analyze(space.to_salib_problem(unit=True), Y, M=int(options.get("M", 4)),
                               seed=seed, print_to_console=False, **self._common(options))
        return {c: _as_array(res.get(c), k) for c in self.columns}


class DeltaMethod(Method):
    """Borgonovo's moment-independent delta (and first-order S1) from a Latin hypercube.

    ``n`` is the number of runs. Uses SALib's given-data estimator (the "raw"
    bootstrap variant). The estimator smooths densities with kernels and is slow
    (tens of seconds for a few thousand runs), so the intervals use 20 bootstrap
    resamples unless ``num_resamples`` says otherwise.
    """

    name = "delta"
    title = "Borgonovo's moment-independent delta"
    columns = ("delta", "delta_conf", "S1", "S1_conf")
    main = "delta"
    intervals = (("delta", "delta_conf"), ("S1", "S1_conf"))
    min_n = 64
    n_meaning = "runs (a Latin hypercube)"
    default_n = 1024
    default_resamples = 20

    def runs(self, n: int, space: ParameterSpace, options: Mapping[str, Any]) -> int:
        return n

    def sample_unit(self, space: ParameterSpace, n: int, seed: int | None, options: Mapping[str, Any]) -> np.ndarray:
        from SALib.sample import latin

        with _quiet_salib():
            return latin.sample(space.to_salib_problem(unit=True), n, seed=seed)

    def analyze(self, space: ParameterSpace, X: np.ndarray, Y: np.ndarray, seed: int | None,
                options: Mapping[str, Any]) -> dict[str, np.ndarray]:
        from SALib.analyze import delta

        k = len(space.names)
        problem = space.to_salib_problem(unit=True)
        # SALib forbids some name suffixes; the names do not matter for the estimate.
        problem["names"] = [f"x{i}" for i in range(k)]
        with _quiet_salib():
            res = delta.analyze(problem, X, Y, seed=seed, print_to_console=False,
                                **self._common(options))
        return {
            "delta": _as_array(res.get("delta_raw", res.get("delta")), k),
            "delta_conf": _as_array(res.get("delta_raw_conf", res.get("delta_conf")), k),
            "S1": _as_array(res.get("S1"), k),
            "S1_conf": _as_array(res.get("S1_conf"), k),
        }


METHODS: dict[str, Method] = {}
_ALIASES = {
    "efast": "fast",
    "e-fast": "fast",
    "saltelli": "sobol",
    "elementary_effects": "morris",
    "ee": "morris",
    "borgonovo": "delta",
    "moment_independent": "delta",
}


def register_method(method: Method, *aliases: str) -> None:
    """Add a method to the registry (its ``name`` and any aliases)."""
    if not method.name:
        raise ValueError("a sensitivity method needs a name")
    METHODS[method.name] = method
    for a in aliases:
        _ALIASES[a] = method.name


for _m in (MorrisMethod(), SobolMethod(), FastMethod(), DeltaMethod()):
    register_method(_m)


def method_names() -> list[str]:
    """Names of the registered methods."""
    return list(METHODS)


def get_method(name: Any) -> Method:
    """The registered method called ``name`` (case-insensitive; aliases such as 'efast')."""
    if isinstance(name, Method):
        return name
    key = str(name).strip().lower().replace("-", "_") if isinstance(name, str) else ""
    key = _ALIASES.get(key, key)
    if key not in METHODS:
        import difflib

        close = difflib.get_close_matches(str(name).lower(), list(METHODS) + list(_ALIASES), n=1)
        hint = f" Did you mean {_ALIASES.get(close[0], close[0])!r}?" if close else ""
        raise SpecError(
            f"Unknown sensitivity method {name!r}; available: {', '.join(METHODS)} "
            f"(eFAST is 'fast').{hint}"
        )
    return METHODS[key]


def child_seeds(seed: int | None, count: int) -> list[int | None]:
    """Independent, reproducible integer seeds derived from ``seed`` (None stays None).

    SALib treats seed 0 as "not seeded", so derived seeds are never 0.
    """
    if seed is None:
        return [None] * count
    ss = np.random.SeedSequence(int(seed))
    return [int(s.generate_state(1)[0] % (2**31 - 2)) + 1 for s in ss.spawn(count)]
