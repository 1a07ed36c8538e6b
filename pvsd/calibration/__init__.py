"""Calibration: fit a model's constants to observed indicator series.

Use :func:`calibrate` with a spec file (one unit) or :func:`calibrate_panel` with a
panel spec (many units at once, :mod:`pvsd.calibration.panel`) (see :mod:`pvsd.calibration.spec`) or a
:class:`CalibrationSpec`; :func:`fit_statistics` gives the fit statistics alone.
"""

from pvsd.calibration.data import Observations, read_series
from pvsd.calibration.fit import calibrate
from pvsd.calibration.panel import PanelResult, PanelSpec, calibrate_panel, load_panel_spec
from pvsd.calibration.result import CalibrationResult
from pvsd.calibration.spec import CalibrationSpec, SeriesSpec, load_spec
from pvsd.calibration.stats import fit_statistics

__all__ = [
    "CalibrationResult",
    "CalibrationSpec",
    "Observations",
    "PanelResult",
    "PanelSpec",
    "SeriesSpec",
    "calibrate",
    "calibrate_panel",
    "fit_statistics",
    "load_panel_spec",
    "load_spec",
    "read_series",
]
