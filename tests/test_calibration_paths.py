"""Lever paths (step, ramp) in single-unit calibration specs.

Independent reference: data simulated with plain PySD from a twin of the model whose
lever is a hard Vensim ``STEP`` (known year and size); the fit of the path on the
plain constant recovers them within their standard errors. The fitted scenario file
replays the fit.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pvsd
from pvsd.cli import main
from pvsd.errors import SpecError

STEP_AT, STEP_TO, BEFORE, TAU = 2010.0, 0.5, 0.2, 4.0
CONTROL = ("INITIAL TIME = 2000 ~ Year ~ |\nFINAL TIME = 2030 ~ Year ~ |\n"
           "TIME STEP = 0.25 ~ Year ~ |\nSAVEPER = TIME STEP ~ Year ~ |\n")


def _mdl(lever: str) -> str:
    return "{UTF-8}\n" + textwrap.dedent(f"""\
        Level = INTEG(Inflow - Outflow, 0) ~ Widgets ~ |
        Inflow = Effort ~ Widgets/Year ~ |
        Outflow = Level / Adjustment Time ~ Widgets/Year ~ |
        Adjustment Time = 3 ~ Year [1, 10] ~ |
        Effort = {lever} ~ Widgets/Year [0, 1] ~ LEVER |
        """) + CONTROL


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Model, data from the hard-STEP twin run by plain PySD (seeded noise), the folder."""
    import pysd

    d = tmp_path_factory.mktemp("paths")
    (d / "model.mdl").write_text(_mdl(str(BEFORE)), encoding="utf-8")
    twin = _mdl(f"{BEFORE} + STEP({STEP_TO - BEFORE}, {STEP_AT:g})").replace(
        "Adjustment Time = 3", f"Adjustment Time = {TAU:g}")
    (d / "twin.mdl").write_text(twin, encoding="utf-8")
    ref = pysd.read_vensim(str(d / "twin.mdl"))
    years = np.arange(2000, 2031, 1.0)
    out = ref.run(return_columns=["Level"], return_timestamps=years)
    rng = np.random.default_rng(20261202)
    y = out["Level"].to_numpy() + rng.normal(0, 0.01, len(years))
    pd.DataFrame({"year": years.astype(int), "value": y}).to_csv(d / "level.csv", index=False)
    return d


def _spec(d: Path, params: str, name: str = "spec.toml", search: str = "starts = 3") -> Path:
    path = d / name
    path.write_text(textwrap.dedent(f"""\
        [calibration]
        title = "Step recovery"
        model = "model.mdl"
        seed = 11

        [series.level]
        file = "level.csv"
        variable = "Level"
        likelihood = "sse"

        [search]
        {search}

        """) + textwrap.dedent(params), encoding="utf-8")
    return path


STEP_PARAMS = """\
    [parameters."Adjustment Time"]
    lower = 1
    upper = 10

    [parameters."Effort"]
    path = "step"
    at = { lower = 2004, upper = 2020 }
    to = { lower = 0, upper = 1 }
    """


@pytest.fixture(scope="module")
def fitted(case: Path) -> tuple[Path, object]:
    out = case / "out"
    assert main(["calibrate", str(_spec(case, STEP_PARAMS)), "-o", str(out), "-q",
                 "--plotly-js", "cdn"]) == 0
    return out, pvsd.calibrate(_spec(case, STEP_PARAMS))


def test_fit_recovers_a_hard_step_within_its_se(fitted) -> None:
    _, res = fitted
    p = res.to_dataframe()
    assert list(p.index) == ["Adjustment Time", "Effort: at", "Effort: to"]
    assert list(p["kind"]) == ["model", "path", "path"]
    for name, true in (("Effort: at", STEP_AT), ("Effort: to", STEP_TO), ("Adjustment Time", TAU)):
        est, se = p.loc[name, "value"], p.loc[name, "stderr"]
        assert np.isfinite(se) and 0 < se < 0.1 * abs(true), (name, est, se)
        assert abs(est - true) <= 2.5 * se, (name, est, se, true)
    # fit_report shows the path's pieces with their SEs, and the path as run
    text = res.report()
    assert "Effort: at:" in text and "+/-" in text and "[[Lever paths]]" in text
    row = res.paths.iloc[0]
    assert row["parameter"] == "Effort" and row["path"] == "step" and row["from"] == BEFORE
    assert "linear change over the one time step" in " ".join(res.warnings)
    assert res.provenance["paths"][0]["parameter"] == "Effort"


def test_fitted_scenario_replays_the_fit(fitted, case: Path) -> None:
    out, _ = fitted
    res = pvsd.calibrate(_spec(case, STEP_PARAMS))
    model = pvsd.load(case / "model.mdl")
    sset = pvsd.load_scenarios(out / "fitted_parameters.toml", model)
    scen = sset["calibrated"]
    assert "Effort" in scen.levers and "Adjustment Time" in scen.constants
    traj = res.trajectory
    run = model.run(scenario=scen, outputs=["Level"], return_times=list(traj.index),
                    final_time=float(traj.index[-1]))
    np.testing.assert_allclose(run["Level"].to_numpy(), traj["Level"].to_numpy(), rtol=1e-9)
    # the written report names the path
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Effort: at" in html and "scenario_exact" in html


def test_ramp_with_fixed_and_fitted_pieces(case: Path) -> None:
    """A ramp over 2008-2012 in the data (PySD RAMP twin): start fixed, duration and value fitted."""
    import pysd

    d = case / "ramp"
    d.mkdir()
    (d / "model.mdl").write_text(_mdl(str(BEFORE)), encoding="utf-8")
    slope = (STEP_TO - BEFORE) / 4
    (d / "twin.mdl").write_text(_mdl(f"{BEFORE} + RAMP({slope:g}, 2008, 2012)").replace(
        "Adjustment Time = 3", f"Adjustment Time = {TAU:g}"), encoding="utf-8")
    years = np.arange(2000, 2031, 1.0)
    y = pysd.read_vensim(str(d / "twin.mdl")).run(return_columns=["Level"],
                                                   return_timestamps=years)["Level"].to_numpy()
    y = y + np.random.default_rng(5).normal(0, 0.005, len(y))
    pd.DataFrame({"year": years.astype(int), "value": y}).to_csv(d / "level.csv", index=False)
    res = pvsd.calibrate(_spec(d, f"""\
        [parameters."Adjustment Time"]
        value = {TAU:g}
        vary = false

        [parameters."Effort"]
        path = "ramp"
        start = 2008
        duration = {{ lower = 1, upper = 10 }}
        to = {{ lower = 0, upper = 1 }}
        """))
    p = res.to_dataframe()
    assert list(p.index) == ["Effort: duration", "Effort: to"]
    for name, true in (("Effort: duration", 4.0), ("Effort: to", STEP_TO)):
        assert abs(p.loc[name, "value"] - true) <= 2.5 * p.loc[name, "stderr"], (name, p.loc[name])
    assert res.paths.iloc[0]["start"] == 2008


def test_a_bound_stuck_is_named(case: Path) -> None:
    res = pvsd.calibrate(_spec(case, STEP_PARAMS.replace("to = { lower = 0, upper = 1 }",
                                                         "to = { lower = 0, upper = 0.4 }"),
                               name="stuck.toml", search="starts = 2"))
    assert any("'Effort: to' is at its upper bound 0.4" in w for w in res.warnings), res.warnings


@pytest.mark.parametrize(("params", "expect"), [
    ('[parameters."Effort"]\npath = "step"\nat = 2010\nto = { lower = 0, upper = 1 }\nsize = 3\n',
     "unknown key(s) ['size'] for path = \"step\""),
    ('[parameters."Effort"]\npath = "step"\nat = { scope = "unit", lower = 2004, upper = 2020 }\nto = 0.5\n',
     "a single-unit spec fits one run: leave scope out"),
    ('[parameters."Effort"]\npath = "jump"\nat = 2010\nto = 0.5\n', "is not a path kind"),
    ('[parameters."Effort"]\npath = "step"\nat = { lower = 2020, upper = 2004 }\nto = 0.5\n',
     "lower bound 2020 is not below upper bound 2004"),
    ('[parameters."Level"]\npath = "step"\nat = { lower = 2004, upper = 2020 }\nto = 0.5\n',
     "'Level' is a stock, not a constant"),
    ('[parameters."Effort"]\npath = "step"\nat = { lower = 1990, upper = 2020 }\nto = 0.5\n',
     "outside the run [2000, 2030]"),
    ('[parameters."Effort"]\npath = "step"\nat = 2010\nto = 0.5\n', "nothing to fit"),
])
def test_bad_paths_are_one_paragraph_exit_2(case: Path, capsys, params: str, expect: str) -> None:
    spec = _spec(case, params, name="bad.toml")
    assert main(["calibrate", str(spec), "-o", str(case / "bad-out"), "-q"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert expect in err and "Traceback" not in err, err
    assert not (case / "bad-out").exists()
    with pytest.raises(SpecError):
        pvsd.calibrate(spec)


def test_set_on_a_path_variable_is_refused(case: Path, capsys) -> None:
    spec = _spec(case, STEP_PARAMS, name="set.toml")
    assert main(["calibrate", str(spec), "-o", str(case / "set-out"), "-q", "--set", "Effort=0.3"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "--set 'Effort': it is a parameter (or lever path) the spec fits" in err


def test_grouped_fallback_equals_per_member_paths(case: Path, monkeypatch) -> None:
    """Where the engine takes no time function per member, one ensemble per distinct path
    gives the same runs."""
    from pvsd.calibration.problem import Problem
    from pvsd.calibration.spec import load_spec

    pb = Problem(load_spec(_spec(case, STEP_PARAMS, name="fallback.toml")))
    theta = np.array([[3.0, 2008.3, 0.4], [4.0, 2011.0, 0.6], [3.0, 2008.3, 0.4], [5.0, 2015.9, 0.1]])
    direct = pb.simulate(theta)["Level"]
    assert pb._tf_columns is True
    original = pb.model.run_ensemble

    def no_member_functions(samples, **kw):
        if isinstance(samples, dict) and any(isinstance(v, list) for v in samples.values()):
            raise TypeError("no per-member time functions here")
        return original(samples, **kw)

    monkeypatch.setattr(pb.model, "run_ensemble", no_member_functions)
    pb._tf_columns = None
    calls = pb.n_calls
    grouped = pb.simulate(theta)["Level"]
    assert pb._tf_columns is False and pb.n_calls - calls == 3  # three distinct paths
    np.testing.assert_allclose(grouped, direct, rtol=1e-12)
