"""pvsd: system-dynamics modelling of how digital government creates public value.

Data flows one way: model file -> :func:`load` -> :class:`Model` -> ``run`` /
``run_ensemble`` -> analyses (calibration, sensitivity, loops) -> reports and CLI.
"""

from __future__ import annotations

from importlib import metadata as _metadata

from pvsd.errors import (
    DataError,
    ModelLoadError,
    OutputExistsError,
    ParameterError,
    PvsdError,
    ScenarioError,
    SimulationError,
    SpecError,
    TimeRangeError,
    UnknownVariableError,
    UnsupportedModelError,
)

# Names resolve on first use (PEP 562), so ``pvsd --help`` and ``import pvsd.errors``
# do not pay for scipy, pandas and networkx.
_LAZY: dict[str, str] = {
    "CalibrationResult": "pvsd.calibration",
    "calibrate": "pvsd.calibration",
    "fit_statistics": "pvsd.calibration",
    "loops": "pvsd.loops",
    "optimize": "pvsd.policy",
    "discover": "pvsd.policy",
    "Model": "pvsd.model",
    "load": "pvsd.model",
    "Parameter": "pvsd.parameters",
    "ParameterSpace": "pvsd.parameters",
    "RunResult": "pvsd.results",
    "Scenario": "pvsd.scenarios",
    "ScenarioComparison": "pvsd.scenarios",
    "ScenarioSet": "pvsd.scenarios",
    "load_scenarios": "pvsd.scenarios",
    "run_scenarios": "pvsd.scenarios",
    "sensitivity": "pvsd.sensitivity",
    "uncertainty_bands": "pvsd.sensitivity",
    "Ramp": "pvsd.timefunc",
    "Step": "pvsd.timefunc",
    "Table": "pvsd.timefunc",
    "save_figure": "pvsd.figures",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pvsd' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


try:
    __version__ = _metadata.version("pvsd")
except _metadata.PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = [
    "CalibrationResult",
    "DataError",
    "Model",
    "ModelLoadError",
    "OutputExistsError",
    "Parameter",
    "ParameterError",
    "ParameterSpace",
    "PvsdError",
    "Ramp",
    "RunResult",
    "Scenario",
    "ScenarioComparison",
    "ScenarioError",
    "ScenarioSet",
    "SimulationError",
    "SpecError",
    "Step",
    "Table",
    "TimeRangeError",
    "UnknownVariableError",
    "UnsupportedModelError",
    "__version__",
    "calibrate",
    "discover",
    "fit_statistics",
    "load",
    "load_scenarios",
    "loops",
    "optimize",
    "run_scenarios",
    "save_figure",
    "sensitivity",
    "uncertainty_bands",
]
