"""Sensitivity analysis: which assumptions drive a result, when, and how uncertain it is.

The entry point is :func:`sensitivity`::

    import pvsd
    m = pvsd.load("public_value_chain")
    res = pvsd.sensitivity(m, "models/public_value_chain_sensitivity.toml",
                           method="sobol", n=1024, seed=1)
    res.to_dataframe()      # one row per parameter (and outcome/time): S1, S1_conf, ST, ST_conf
    res.plot()              # ranking with confidence intervals
    print(res.summary())    # plain-language top drivers

Methods (a registry, :data:`METHODS`): ``morris`` (elementary-effects screening),
``sobol`` (Saltelli/Sobol' first, total and optional second-order indices),
``fast`` (eFAST) and ``delta`` (Borgonovo's moment-independent measure). SALib
draws every design and computes every estimate; pvsd maps designs through the
parameters' distributions, runs them with the ensemble engine, computes the
outcomes, and keeps bootstrap intervals and a convergence check on every index.

:func:`uncertainty_bands` gives Monte Carlo percentile envelopes against the
baseline run. Parameter spaces are described in :mod:`pvsd.parameters` and
spec files in :mod:`pvsd.sensitivity.spec`.

Note that ``pvsd.sensitivity`` (the attribute of the ``pvsd`` package) is the
function; import the classes from this module, e.g.
``from pvsd.sensitivity import SobolResult``.
"""

from __future__ import annotations

import sys as _sys

from pvsd.parameters import Parameter, ParameterSpace
from pvsd.sensitivity.core import prepare, sensitivity, uncertainty_bands
from pvsd.sensitivity.methods import METHODS, Method, get_method, method_names, register_method
from pvsd.sensitivity.results import (
    DeltaResult,
    FastResult,
    MorrisResult,
    SensitivityResult,
    SobolResult,
    UncertaintyBands,
)
from pvsd.sensitivity.spec import STATS, BandsSpec, Outcome, SensitivitySpec, load_spec

__all__ = [
    "METHODS",
    "STATS",
    "BandsSpec",
    "DeltaResult",
    "FastResult",
    "Method",
    "MorrisResult",
    "Outcome",
    "Parameter",
    "ParameterSpace",
    "SensitivityResult",
    "SensitivitySpec",
    "SobolResult",
    "UncertaintyBands",
    "get_method",
    "load_spec",
    "method_names",
    "prepare",
    "register_method",
    "sensitivity",
    "uncertainty_bands",
]


class _CallableModule(type(_sys.modules[__name__])):
    """``pvsd.sensitivity`` is both this package and the function (see ``pvsd.loops``)."""

    def __call__(self, *args: object, **kwargs: object) -> object:
        return sensitivity(*args, **kwargs)


_sys.modules[__name__].__class__ = _CallableModule
