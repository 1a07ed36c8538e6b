"""Panel calibration: one model fitted to many units (countries) at once.

Use :func:`calibrate_panel` with a panel spec (a calibration spec with a
``[panel]`` table, see :mod:`pvsd.calibration.panel.spec`).
"""

from pvsd.calibration.panel.result import PanelResult
from pvsd.calibration.panel.run import calibrate_panel
from pvsd.calibration.panel.spec import PanelSpec, is_panel_spec, load_panel_spec

__all__ = ["PanelResult", "PanelSpec", "calibrate_panel", "is_panel_spec", "load_panel_spec"]
