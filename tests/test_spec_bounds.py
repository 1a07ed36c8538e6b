"""A sensitivity or calibration spec's explicit bounds may go beyond a model's declared range.

Vensim treats ``[min, max]`` in a units field as a slider range; pvsd keeps
``Model.run`` strict but lets a study's spec widen it, and says so in its report
(issue 12, bounds).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

import pvsd
from pvsd.errors import ParameterError

MODEL = textwrap.dedent("""\
    {UTF-8}
    Level = INTEG((Goal - Level) / Adjustment Time, 0)
    \t~\tunits
    \t~\t|
    Goal = 100
    \t~\tunits [0, 120]
    \t~\tThe goal; the slider goes to 120.
    \t|
    Adjustment Time = 5
    \t~\tYear [1, 10]
    \t~\t|
    INITIAL TIME = 0 ~ Year ~ |
    FINAL TIME = 10 ~ Year ~ |
    TIME STEP = 0.5 ~ Year ~ |
    SAVEPER = 1 ~ Year ~ |
    """)


@pytest.fixture()
def model(tmp_path: Path) -> pvsd.Model:
    p = tmp_path / "ranged.mdl"
    p.write_text(MODEL)
    return pvsd.load(p)


def test_model_run_stays_strict(model) -> None:
    with pytest.raises(ParameterError, match=r"outside the range the model declares"):
        model.run(params={"Goal": 150})


def test_sensitivity_spec_may_widen_and_says_so(model, tmp_path: Path) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text('[parameters."Goal"]\ndist = "uniform"\nlower = 80\nupper = 200\n'
                    '[parameters."Adjustment Time"]\ndist = "uniform"\nlower = 2\nupper = 8\n'
                    '[outcomes]\nfinal = { variable = "Level", time = 10 }\n')
    res = pvsd.sensitivity(model, spec, method="sobol", n=64, seed=1, progress=False)
    assert any("Goal [80, 200]" in n and "declares [0, 120]" in n for n in res.notes), res.notes
    # the study really ran beyond 120: Level(10) is linear in Goal, so its largest value
    # exceeds what Goal = 120 gives
    top = model.run(params={"Goal": 120, "Adjustment Time": 2}).to_dataframe()["Level"].iloc[-1]
    assert res.samples["Goal"].max() > 120
    assert np.nanmax(res.values.to_numpy()) > top
    # and the model itself stays strict afterwards
    with pytest.raises(ParameterError):
        model.run(params={"Goal": 150})


def test_calibration_spec_may_widen_and_says_so(model, tmp_path: Path) -> None:
    # data made with Goal = 150, beyond the declared slider range [0, 120]
    from pvsd.overrides import widen_ranges

    wide = widen_ranges(model, {"Goal": (0.0, 300.0)})
    data = wide.run(params={"Goal": 150.0}).to_dataframe()["Level"]
    (tmp_path / "level.csv").write_text("year,value\n" + "".join(f"{t:g},{v!r}\n" for t, v in data.items()))
    spec = tmp_path / "cal.toml"
    spec.write_text(f"""
[calibration]
model = "{model.path.as_posix()}"
seed = 1
[series.level]
file = "level.csv"
variable = "Level"
[parameters."Goal"]
value = 100
lower = 50
upper = 300
""")
    fit = pvsd.calibrate(spec, mcmc=False, progress=False)
    assert fit.params["Goal"] == pytest.approx(150.0, rel=1e-4)
    assert any("Goal [50, 300]" in w for w in fit.warnings), fit.warnings
    assert "Goal [50, 300]" in fit.report()
