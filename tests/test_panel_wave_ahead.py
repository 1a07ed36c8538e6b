"""The panel engine's wave-ahead estimator ([panel] estimator = "wave-ahead").

A tiny model (one stock chasing a per-unit goal, measured as stock ^ e with e fitted) is
simulated by an independent numpy Euler loop WITH per-pair restarts from the observed
state and noise; the estimator must recover the true values. The state inversion is
checked against plain PySD; held-out values must not move the fit; bad specs fail with
a SpecError naming the key and the file (exit 2 on the CLI).
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pvsd.calibration.panel import calibrate_panel, load_panel_spec
from pvsd.calibration.panel.problem import PanelProblem
from pvsd.errors import SpecError

MDL = r"""{UTF-8}
Level= INTEG (
	(Goal * Drive Signal - Level) / Adjustment Time,
		Initial Level)
	~	Dmnl [0,2]
	~	STOCK chasing the goal.
	|
Initial Level=
	0.5
	~	Dmnl [0,2]
	~	Initial value of the stock.
	|
Goal=
	1
	~	Dmnl [0,2]
	~	Per-unit goal.
	|
Drive=
	1
	~	Dmnl [0,2]
	~	INPUT per unit.
	|
Drive Signal=
	Drive{DRIVE}
	~	Dmnl
	~	The input as the flow sees it.
	|
Adjustment Time=
	3
	~	Year [0.5,20]
	~	Shared.
	|
Measure Exponent=
	1
	~	Dmnl [0.2,5]
	~	Measurement curvature.
	|
Measured Level=
	Level ^ Measure Exponent{TIMEDEP}
	~	Dmnl
	~	What is observed.
	|
Other Indicator=
	(Measured Level + Drive) / 2
	~	Dmnl
	~	A second series.
	|
********************************************************
	.Control
********************************************************~
		Simulation Control Parameters
	|
FINAL TIME  = 2030
	~	Year
	~	The final time for the simulation.
	|
INITIAL TIME  = 2000
	~	Year
	~	The initial time for the simulation.
	|
SAVEPER  = 1
	~	Year [0,?]
	~	The frequency with which output is stored.
	|
TIME STEP  = 0.125
	~	Year [0,?]
	~	The time step for the simulation.
	|
"""

WAVES = np.array([2000, 2002, 2004, 2005, 2008, 2010, 2012, 2014, 2016, 2018], float)
TRUE_TAU, TRUE_E = 4.0, 0.6
DT = 0.125


def _model(tmp: Path, timedep: bool = False, drive: str = "") -> Path:
    p = tmp / (("wave_td" if timedep else "wave") + ("_drive" if drive else "") + ".mdl")
    # a TIME term that is exactly zero: the equations read TIME, the numbers do not change
    p.write_text(MDL.replace("{TIMEDEP}", " + 0 * Time" if timedep else "")
                 .replace("{DRIVE}", drive), encoding="utf-8")
    return p


def _drive(i: int) -> tuple[np.ndarray, np.ndarray]:
    return WAVES, 0.8 + 0.02 * (i % 5) + 0.01 * np.arange(len(WAVES)) * (1 + i % 3) / 3


def _euler(x0: float, goal: float, tau: float, a: float, b: float, dx: np.ndarray,
           dy: np.ndarray) -> float:
    """Independent reference: the stock from year a (value x0) to year b under Euler."""
    x, t = x0, a
    for _ in range(round((b - a) / DT)):
        x = x + DT * (goal * np.interp(t, dx, dy) - x) / tau
        t += DT
    return x


def _data(tmp: Path, n: int = 24, seed: int = 5, sigma: float = 0.004) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    goals = rng.uniform(0.3, 0.9, n)
    rows, drive = [], []
    for i in range(n):
        dx, dy = _drive(i)
        drive += [(f"U{i:02d}", y, v) for y, v in zip(dx, dy, strict=True)]
        obs = [float(rng.uniform(0.05, 0.3)) ** TRUE_E]
        for a, b in itertools.pairwise(WAVES):
            x0 = obs[-1] ** (1 / TRUE_E)  # per-pair restart from the observed state
            x1 = _euler(x0, goals[i], TRUE_TAU, a, b, dx, dy)
            obs.append(x1 ** TRUE_E + sigma * rng.standard_normal())
        rows += [(f"U{i:02d}", y, v) for y, v in zip(WAVES, obs, strict=True)]
    pd.DataFrame(rows, columns=["unit", "year", "value"]).to_csv(tmp / "level.csv", index=False)
    pd.DataFrame(drive, columns=["unit", "year", "value"]).to_csv(tmp / "drive.csv", index=False)
    return {"goal": goals}


SPEC = """
[calibration]
model = "{model}"
time_step = 0.125
seed = 2
[panel]
unit_column = "unit"
min_observations = 6
estimator = "wave-ahead"
holdout = {holdout}
{extra_panel}
[panel.state]
"Initial Level" = "level"
[series.level]
file = "level.csv"
variable = "Measured Level"
sigma = "fit"
[inputs.drive]
file = "drive.csv"
variable = "Drive"
beyond = "hold"
[parameters."Adjustment Time"]
scope = "shared"
lower = 0.5
upper = 20
value = 2
[parameters."Measure Exponent"]
scope = "shared"
lower = 0.2
upper = 3
value = 1
[parameters.Goal]
scope = "unit"
lower = 0.05
upper = 2
value = 0.5
{extra}
[search]
starts = 3
maxiter = 40
"""


FEW_DRAWS = "[posterior]\ndraws = 20\n"  # forecast bands from 20 Laplace draws: a fast test


def _spec(tmp: Path, holdout: int = 0, extra: str = "", extra_panel: str = "",
          timedep: bool = False, name: str = "wave.toml", drive: str = "") -> Path:
    p = tmp / name
    p.write_text(SPEC.format(model=_model(tmp, timedep, drive).as_posix(), holdout=holdout,
                             extra=extra, extra_panel=extra_panel), encoding="utf-8")
    return p


def test_recovers_shared_and_unit_parameters(tmp_path: Path) -> None:
    truth = _data(tmp_path, n=12)
    res = calibrate_panel(_spec(tmp_path, extra=FEW_DRAWS))
    sh = res.shared.set_index("parameter")
    for name, true in (("Adjustment Time", TRUE_TAU), ("Measure Exponent", TRUE_E)):
        est, se = sh.loc[name, "value"], sh.loc[name, "stderr"]
        assert np.isfinite(se) and se > 0
        assert abs(est - true) < 3 * se, (name, est, se)
    g = res.estimates[res.estimates["parameter"] == "Goal"].set_index("unit")
    true_g = pd.Series(truth["goal"], index=[f"U{i:02d}" for i in range(len(truth["goal"]))])
    z = (g["value"] - true_g[g.index]) / g["stderr"]
    assert np.all(np.isfinite(z))
    cover = float(np.mean(np.abs(z) < 1.96))
    assert 0.8 <= cover <= 1.0, cover
    assert np.corrcoef(g["value"], true_g[g.index])[0, 1] > 0.95
    f = res.fit
    assert f["estimator"] == "wave-ahead"
    assert f["wave_pairs"] == len(g) * (len(WAVES) - 1)
    assert f["wave_clipped"] == 0
    assert "wave-ahead" in res.report() and "pairs" in res.report()
    assert res.provenance["estimator"] == "wave-ahead"
    # the first wave of each unit is the start state: its value is the observation itself
    first = res.fitted[res.fitted["year"] == WAVES[0]]
    assert (first["period"] == "start").all()
    np.testing.assert_allclose(first["fitted"], first["data"], atol=1e-9, rtol=0)
    assert (res.fitted["period"] == "fit").sum() == f["n_obs"]
    st = res.states
    assert len(st) == f["wave_starts"] and not st["clipped"].any()
    assert set(st["constant"]) == {"Initial Level"}


def test_state_inversion_matches_plain_pysd(tmp_path: Path) -> None:
    import pysd

    _data(tmp_path, n=6)
    pb = PanelProblem(load_panel_spec(_spec(tmp_path)))
    rng = np.random.default_rng(3)
    s = rng.uniform(0.2, 0.8, pb.n_shared)
    U = rng.uniform(0.1, 0.9, (pb.n_units, pb.K))
    pb.predict(np.tile(s, (pb.n_units, 1)), U, pb.all_units())
    munit, mstart, x, clipped = pb.wave.last_states
    assert not clipped.any()
    s_val, _ = pb.values(pb.join(s, U))
    expo = s_val[[e.name for e in pb.shared].index("Measure Exponent")]
    model = pysd.read_vensim(str(_model(tmp_path)))
    for m in (0, 7, len(munit) - 1):  # a few members, checked against plain PySD
        out = model.run(params={"Initial Level": float(x[m, 0]), "Measure Exponent": float(expo)},
                        return_columns=["Measured Level"], final_time=2001)
        obs = pb.Y[0, munit[m], np.searchsorted(pb.years, mstart[m])]
        assert abs(float(out["Measured Level"].iloc[0]) - obs) < 1e-9


def test_unreachable_observation_is_clipped_and_counted(tmp_path: Path) -> None:
    _data(tmp_path, n=3)
    d = pd.read_csv(tmp_path / "level.csv")
    d.loc[(d["unit"] == "U01") & (d["year"] == 2008), "value"] = 3.0  # above 2 ^ e for any e <= 3
    d.to_csv(tmp_path / "level.csv", index=False)
    pb = PanelProblem(load_panel_spec(_spec(tmp_path)))
    s = np.full((pb.n_units, pb.n_shared), 0.3)
    U = np.full((pb.n_units, pb.K), 0.5)
    pb.predict(s, U, pb.all_units())
    munit, mstart, x, clipped = pb.wave.last_states
    hit = (munit == 1) & (mstart == 2008)
    assert clipped[hit].all() and pb.wave.stats["clipped"] == 1
    assert x[hit, 0] == pytest.approx(2.0)  # the range end nearer the observation


def test_real_years_equal_shifted_runs(tmp_path: Path) -> None:
    _data(tmp_path, n=5)
    a = PanelProblem(load_panel_spec(_spec(tmp_path)))
    b = PanelProblem(load_panel_spec(_spec(tmp_path, timedep=True, name="td.toml")))
    assert not a.wave.time_runs and b.wave.time_runs
    rng = np.random.default_rng(4)
    s = rng.uniform(0.2, 0.8, (a.n_units, a.n_shared))
    U = rng.uniform(0.1, 0.9, (a.n_units, a.K))
    years = np.arange(2000.0, 2025.0)
    np.testing.assert_allclose(a.predict(s, U, a.all_units(), years=years),
                               b.predict(s, U, b.all_units(), years=years), rtol=1e-10, atol=1e-12)
    assert b.n_calls > a.n_calls  # one call per start year


def test_time_read_only_by_an_input_term_is_shifted_when_proven_exact(tmp_path: Path) -> None:
    _data(tmp_path, n=4)
    # TIME read by a term of the input alone (no stock, no fitted constant) that the shift
    # leaves unchanged: proven for every run, so one shifted call; equal to real years
    a = PanelProblem(load_panel_spec(_spec(tmp_path, drive=" + 0 * (Time - 2000)", name="a.toml")))
    assert not a.wave.time_runs and "checked equal" in a.wave.mode
    rng = np.random.default_rng(6)
    s = rng.uniform(0.2, 0.8, (a.n_units, a.n_shared))
    U = rng.uniform(0.1, 0.9, (a.n_units, a.K))
    years = np.arange(2000.0, 2025.0)
    shifted = a.predict(s, U, a.all_units(), years=years)
    a.wave.time_runs = True  # force calendar years
    # (to the state solve's tolerance: each mode solves its starts to 1e-12 on its own)
    np.testing.assert_allclose(a.predict(s, U, a.all_units(), years=years), shifted,
                               rtol=1e-10, atol=1e-12)
    # a term that does change with the calendar: the check fails, runs go at real years
    b = PanelProblem(load_panel_spec(_spec(tmp_path, drive=" + 0.01 * (Time - 2000)",
                                           name="b.toml")))
    assert b.wave.time_runs and "reads TIME" in b.wave.mode


def test_a_model_reading_final_time_is_refused(tmp_path: Path) -> None:
    # every wave-ahead run has its own start and end, so FINAL TIME would change meaning
    _data(tmp_path, n=3)
    with pytest.raises(SpecError, match=r"reads FINAL TIME in Drive Signal.*estimator = \"path\""):
        PanelProblem(load_panel_spec(_spec(tmp_path, drive=" + 0 * FINAL TIME", name="ft.toml")))


def test_held_out_values_cannot_move_the_fit(tmp_path: Path) -> None:
    _data(tmp_path, n=4)
    r1 = calibrate_panel(_spec(tmp_path, holdout=2, extra=FEW_DRAWS))
    d = pd.read_csv(tmp_path / "level.csv")
    late = d["year"] >= WAVES[-2]
    d.loc[late, "value"] = d.loc[late, "value"] * 3 + 1  # wildly different held-out waves
    d.to_csv(tmp_path / "level.csv", index=False)
    dr = pd.read_csv(tmp_path / "drive.csv")
    dr.loc[dr["year"] > WAVES[-3], "value"] = 1.9  # and the inputs after the last fitted wave
    dr.to_csv(tmp_path / "drive.csv", index=False)
    r2 = calibrate_panel(_spec(tmp_path, holdout=2, extra=FEW_DRAWS))
    np.testing.assert_array_equal(r1.shared["value"], r2.shared["value"])
    np.testing.assert_array_equal(r1.estimates["value"], r2.estimates["value"])
    f1 = r1.forecast.sort_values(["unit", "year"])["value"].to_numpy()
    f2 = r2.forecast.sort_values(["unit", "year"])["value"].to_numpy()
    np.testing.assert_array_equal(f1, f2)
    assert len(r1.skill) and set(r1.skill["method"]) >= {"model", "last value"}


BAD = [
    (("[panel.state]\n\"Initial Level\" = \"level\"\n", ""), "[panel.state]"),
    (("\"Initial Level\" = \"level\"", "\"Initial Level\" = \"nope\""), "nope"),
    (("estimator = \"wave-ahead\"", "estimator = \"wave-behind\""), "estimator"),
    (("[search]", "[parameters.\"Initial Level\"]\nscope = \"unit\"\nlower = 0\nupper = 2\n"
      "[search]"), "Initial Level"),
    (("[search]", "[parameters.\"Initial Level\"]\nfrom_first = \"level\"\n[search]"),
     "Initial Level"),
]


def _bad(tmp: Path, change: tuple[str, str]) -> Path:
    p = _spec(tmp)
    text = p.read_text(encoding="utf-8")
    assert change[0] in text
    p.write_text(text.replace(change[0], change[1]), encoding="utf-8")
    return p


@pytest.mark.parametrize("change, key", BAD)
def test_bad_specs_name_key_and_file(tmp_path: Path, change: tuple[str, str], key: str) -> None:
    _data(tmp_path, n=3)
    p = _bad(tmp_path, change)
    with pytest.raises(SpecError) as e:
        PanelProblem(load_panel_spec(p))
    msg = str(e.value)
    assert key in msg and str(p) in msg
    if key == "[panel.state]":
        assert "wave-ahead" in msg


def test_bad_spec_on_the_cli_is_one_paragraph_exit_2(tmp_path: Path) -> None:
    _data(tmp_path, n=3)
    change, key = BAD[3]
    p = _bad(tmp_path, change)
    cli = subprocess.run([sys.executable, "-m", "pvsd", "calibrate", str(p), "--out",
                          str(tmp_path / "out")], capture_output=True, text=True)
    assert cli.returncode == 2
    assert "Traceback" not in cli.stderr and key in cli.stderr.replace("\n  ", " ")
    assert cli.stderr.startswith("pvsd: error") and "\n\n" not in cli.stderr.strip()
    assert not (tmp_path / "out").exists()


def test_state_not_a_constant_and_path_estimator_with_state(tmp_path: Path) -> None:
    _data(tmp_path, n=3)
    p = _spec(tmp_path)
    p.write_text(p.read_text().replace("\"Initial Level\" = \"level\"", "\"Level\" = \"level\""))
    with pytest.raises(SpecError, match="not a constant"):
        PanelProblem(load_panel_spec(p))
    p.write_text(p.read_text().replace("\"Level\" = \"level\"", "\"Initial Level\" = \"level\"")
                 .replace("estimator = \"wave-ahead\"", "estimator = \"path\""))
    with pytest.raises(SpecError, match=r"\[panel.state\] is used by"):
        load_panel_spec(p)


def test_set_of_a_state_constant_is_refused(tmp_path: Path) -> None:
    from argparse import Namespace

    from pvsd.cli.calibrate import _model_with_sets
    from pvsd.errors import ParameterError

    _data(tmp_path, n=3)
    spec = load_panel_spec(_spec(tmp_path))
    with pytest.raises(ParameterError, match="per run"):
        _model_with_sets(Namespace(set=["Initial Level=0.3"]), spec)
