"""pvsd: system-dynamics modelling of how digital government creates public value.

Data flows one way: model file -> :func:`load` -> :class:`Model` -> ``run`` /
``run_ensemble`` -> analyses (calibration, sensitivity, loops) -> reports and CLI.
"""

from __future__ import annotations

from importlib import metadata as _metadata

from pvsd.calibration import CalibrationResult, calibrate, fit_statistics
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
from pvsd.loops import loops
from pvsd.model import Model, load
from pvsd.parameters import Parameter, ParameterSpace
from pvsd.policy import discover, optimize
from pvsd.results import RunResult
from pvsd.scenarios import Scenario, ScenarioComparison, ScenarioSet, load_scenarios, run_scenarios
from pvsd.sensitivity import sensitivity, uncertainty_bands
from pvsd.timefunc import Ramp, Step, Table

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
    "sensitivity",
    "uncertainty_bands",
]
