"""Panel inputs: a bounded trend stops at its bound; held-out waves never leak through inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pvsd.calibration.panel import load_panel_spec
from pvsd.calibration.panel.data import extend_input
from pvsd.calibration.panel.problem import PanelProblem
from pvsd.errors import DataError, SpecError

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "tests" / "models" / "panel_growth.mdl"


def test_bounded_trend_stops_at_the_bound() -> None:
    x, y = np.array([2014, 2016, 2018, 2020.0]), np.array([0.6, 0.7, 0.8, 0.9])
    # slope 0.05 / year: reaches 1 in 2022 and stays there
    tx, ty = extend_input(x, y, "trend", 4, 2050.0, upper=1.0)
    np.testing.assert_allclose(tx[-2:], [2022.0, 2050.0])
    np.testing.assert_allclose(ty[-2:], [1.0, 1.0])
    assert np.interp(2021.0, tx, ty) == pytest.approx(0.95)
    # unbounded: the line runs on to FINAL TIME (past 1)
    _, uy = extend_input(x, y, "trend", 4, 2050.0)
    assert uy[-1] == pytest.approx(0.9 + 0.05 * 30)
    # falling series and a lower bound
    lx, ly = extend_input(x, 1 - y, "trend", 4, 2050.0, lower=0.0)
    np.testing.assert_allclose(lx[-2:], [2022.0, 2050.0])
    np.testing.assert_allclose(ly[-2:], [0.0, 0.0])
    # a trend that stays inside the bounds is unchanged
    fx, fy = extend_input(x, y * 0.1, "trend", 4, 2030.0, lower=0.0, upper=1.0)
    assert fx[-1] == 2030.0 and fy[-1] == pytest.approx(0.09 + 0.005 * 10)
    # hold ignores the bounds
    hx, _ = extend_input(x, y, "hold", 4, 2050.0, upper=1.0)
    np.testing.assert_array_equal(hx, x)


def _write(tmp: Path, holdout: int, extra: str = "") -> Path:
    years = list(range(2000, 2021, 2))
    rows = ["unit,year,value"] + [f"{u},{t},{0.1 + 0.01 * (t - 2000) + 0.01 * i:.4f}"
                                  for i, u in enumerate(["A", "B"]) for t in years]
    (tmp / "panel.csv").write_text("\n".join(rows) + "\n")
    # the input jumps in the last wave: a forecast of that wave must not see the jump
    push = ["unit,year,value"] + [f"{u},{t},{0.5 if t == 2020 else 0.0}" for u in ("A", "B")
                                  for t in years]
    (tmp / "push.csv").write_text("\n".join(push) + "\n")
    p = tmp / "panel.toml"
    p.write_text(f"""
[calibration]
model = "{MODEL.as_posix()}"
time_step = 0.125
[panel]
unit_column = "unit"
min_observations = 4
holdout = {holdout}
[series.level]
file = "panel.csv"
variable = "Level"
[parameters."Growth Rate"]
scope = "unit"
lower = 0.01
upper = 2
[inputs.push]
file = "push.csv"
variable = "External Push"
beyond = "trend"
{extra}
""")
    return p


def test_held_out_waves_do_not_leak_through_inputs(tmp_path: Path) -> None:
    pb = PanelProblem(load_panel_spec(_write(tmp_path, holdout=1)))
    _, fns = pb.inputs[0]
    for f in fns:
        # the 2020 value (0.5) is not used: the input ends at 2018 and its trend (0) goes on
        assert max(f.x[:-1]) == pytest.approx(2018.0)
        assert max(f.y) == pytest.approx(0.0)
    assert "not used" in pb.input_notes[0]
    # without a hold-out the whole input series is used; its trend (0.5 in 2020 after 0 in
    # 2018) would leave External Push's range [-1, 1] before 2030, which is refused by name
    with pytest.raises(DataError, match=r"unit A's input \(trend\) reaches 1.25 in 2030"):
        PanelProblem(load_panel_spec(_write(tmp_path, holdout=0)))
    pb0 = PanelProblem(load_panel_spec(_write(tmp_path, holdout=0, extra="upper = 1\n")))
    assert max(pb0.inputs[0][1][0].y) > 0.4 and max(pb0.inputs[0][1][0].y) <= 1.0


def test_input_bounds_the_wrong_way_round(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="lower 1 is not below upper 0"):
        load_panel_spec(_write(tmp_path, holdout=1, extra="lower = 1\nupper = 0\n"))
