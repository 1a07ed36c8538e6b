"""pvsd.load and Model.run: isolation, naming, errors, translation cache."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pvsd
from pvsd.loading import cache_dir


def euler_teacup(t_end: float, dt: float, t0_temp: float = 180.0, room=70.0, tau: float = 10.0):
    """Independent Euler integration of dT/dt = -(T - room(t)) / tau."""
    n = round(t_end / dt)
    temps = [t0_temp]
    for k in range(n):
        t = k * dt
        r = room(t) if callable(room) else room
        temps.append(temps[-1] - dt * (temps[-1] - r) / tau)
    return np.arange(n + 1) * dt, np.array(temps)


def test_variables_table(teacup):
    v = teacup.variables.set_index("name")
    assert list(teacup.variables.columns[:4]) == ["name", "units", "kind", "comment"]
    assert v.loc["Teacup Temperature", "kind"] == "stock"
    assert v.loc["Heat Loss to Room", "kind"] == "flow"
    assert v.loc["Room Temperature", "kind"] == "constant"
    assert v.loc["Room Temperature", "default"] == 70
    assert v.loc["Teacup Temperature", "units"] == "Degrees Fahrenheit"
    assert v.loc["Teacup Temperature", "max"] == 212
    assert "liquid phase" in v.loc["Teacup Temperature", "comment"]


def test_run_matches_independent_euler(teacup):
    res = teacup.run(outputs=["Teacup Temperature"], saveper=0.125)
    t, temps = euler_teacup(30, 0.125)
    np.testing.assert_allclose(res.times, t)
    np.testing.assert_allclose(res["Teacup Temperature"].to_numpy(), temps, rtol=1e-12)


def test_runs_are_isolated(teacup):
    """Parameters, final time and time step of one run never leak into the next."""
    first = teacup.run(outputs=["Teacup Temperature"])
    teacup.run(params={"Room Temperature": 20, "Characteristic Time": 3}, final_time=5,
               time_step=0.5, outputs=["Teacup Temperature"])
    again = teacup.run(outputs=["Teacup Temperature"])
    pd.testing.assert_frame_equal(first.data, again.data)
    assert again.times[-1] == 30


def test_plain_pysd_leaks_but_pvsd_does_not(teacup):
    """The pitfall pvsd hides: PySD's own run(params=...) changes later runs."""
    import pysd

    raw = pysd.load(str(teacup.source.py_path))
    raw.run(params={"Room Temperature": 20}, final_time=5, progress=False)
    leaked = raw.run(progress=False)
    assert leaked.index[-1] == 5  # final_time stuck in PySD
    assert leaked["Room Temperature"].iloc[0] == 20
    ours = teacup.run(outputs=["Room Temperature"])
    assert ours.times[-1] == 30 and ours["Room Temperature"].iloc[0] == 70


@pytest.mark.parametrize("spelling", ["Room Temperature", "room_temperature", "ROOM temperature",
                                      "roomtemperature"])
def test_names_ignore_case_spaces_underscores(teacup, spelling):
    res = teacup.run(params={spelling: 50}, outputs=[spelling], final_time=1)
    assert res.variables == ["Room Temperature"]
    assert (res.to_dataframe()["Room Temperature"] == 50).all()


def test_unknown_variable_suggests(teacup):
    with pytest.raises(pvsd.UnknownVariableError) as err:
        teacup.run(params={"Room Temp": 3})
    assert "Room Temperature" in str(err.value) and err.value.suggestions[0] == "Room Temperature"
    with pytest.raises(pvsd.UnknownVariableError, match="outputs"):
        teacup.run(outputs=["Teacup Temprature"])


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"params": {"Room Temperature": "warm"}}, pvsd.ParameterError),
        ({"params": {"Room Temperature": float("nan")}}, pvsd.ParameterError),
        ({"params": {"Room Temperature": True}}, pvsd.ParameterError),
        ({"params": {"Room Temperature": -1000}}, pvsd.ParameterError),  # below declared min
        ({"params": {"Teacup Temperature": 100}}, pvsd.ParameterError),  # a stock
        ({"params": {"Room Temperature": np.ones(3)}}, pvsd.ParameterError),
        ({"final_time": -5}, pvsd.TimeRangeError),
        ({"initial_time": 10, "final_time": 5}, pvsd.TimeRangeError),
        ({"time_step": 0}, pvsd.TimeRangeError),
        ({"time_step": 100}, pvsd.TimeRangeError),
        ({"return_times": [50]}, pvsd.TimeRangeError),
        ({"saveper": -1}, pvsd.TimeRangeError),
    ],
)
def test_bad_input_raises_clear_errors(teacup, kwargs, error):
    with pytest.raises(error) as err:
        teacup.run(**kwargs)
    assert isinstance(err.value, pvsd.PvsdError)
    assert len(str(err.value)) > 20


def test_time_settings_and_return_times(teacup):
    res = teacup.run(initial_time=5, final_time=8, time_step=0.25, saveper=1,
                     outputs=["Teacup Temperature"])
    assert list(res.times) == [5, 6, 7, 8]
    assert res["Teacup Temperature"].iloc[0] == 180  # initial value at the new start
    _, temps = euler_teacup(3, 0.25)
    assert res["Teacup Temperature"].iloc[-1] == pytest.approx(temps[-1], rel=1e-12)
    res = teacup.run(return_times=[0, 2.5, 30], outputs=["Teacup Temperature"])
    assert list(res.times) == [0, 2.5, 30]


def test_step_lever_acts_inside_the_simulation(teacup):
    res = teacup.run(params={"Room Temperature": pvsd.Step(10, 100)}, saveper=0.125,
                     outputs=["Teacup Temperature", "Room Temperature"])
    _, temps = euler_teacup(30, 0.125, room=lambda t: 100.0 if t >= 10 else 70.0)
    np.testing.assert_allclose(res["Teacup Temperature"].to_numpy(), temps, rtol=1e-12)
    assert res["Room Temperature"].loc[9.875] == 70 and res["Room Temperature"].loc[10] == 100


def test_ramp_and_table_levers(teacup):
    ramp = teacup.run(params={"Room Temperature": pvsd.Ramp(10, 20, 90)}, saveper=1,
                      outputs=["Room Temperature"])["Room Temperature"]
    assert ramp.loc[5] == 70 and ramp.loc[15] == pytest.approx(80) and ramp.loc[25] == 90
    table = teacup.run(params={"Room Temperature": pvsd.Table((0, 10), (60, 80))}, saveper=1,
                       outputs=["Room Temperature"])["Room Temperature"]
    assert table.loc[5] == pytest.approx(70) and table.loc[20] == 80


def test_result_schema(teacup, tmp_path):
    res = teacup.run(outputs=["Teacup Temperature", "Heat Loss to Room"], saveper=1)
    df = res.to_dataframe()
    assert df.index.name == "time" and list(df.columns) == ["Teacup Temperature", "Heat Loss to Room"]
    ds = res.to_xarray()
    assert ds["Teacup Temperature"].attrs["units"] == "Degrees Fahrenheit"
    assert ds.attrs["model_sha256"] == teacup.sha256
    fig = res.plot()
    assert len(fig.data) == 2
    assert "Teacup Temperature" in res._repr_html_()
    out = res.to_csv(tmp_path / "run.csv")
    long = pd.read_csv(out)  # tidy: header first, one value per row, units column
    assert list(long.columns) == ["time", "variable", "units", "value"]
    back = long.pivot(index="time", columns="variable", values="value")[list(df.columns)]
    np.testing.assert_allclose(back.to_numpy(), df.to_numpy())
    assert set(long.loc[long["variable"] == "Teacup Temperature", "units"]) == {"Degrees Fahrenheit"}
    prov = json.loads((tmp_path / "run.provenance.json").read_text())
    assert prov["model_sha256"] == teacup.sha256 and prov["pysd_version"] and prov["data_file"] == "run.csv"
    wide = pd.read_csv(res.to_csv(tmp_path / "wide.csv", layout="wide"), index_col="time")
    np.testing.assert_allclose(wide.to_numpy(), df.to_numpy())
    with pytest.raises(pvsd.OutputExistsError):
        res.to_csv(out)
    import os

    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600


def test_translation_is_cached_outside_model_folder(tmp_path, monkeypatch, teacup_path):
    monkeypatch.setenv("PVSD_CACHE_DIR", str(tmp_path / "cache"))
    work = tmp_path / "models"
    work.mkdir()
    shutil.copyfile(teacup_path, work / "cup.mdl")  # the source may be read-only
    m1 = pvsd.load(work / "cup.mdl")
    assert list(work.iterdir()) == [work / "cup.mdl"]  # nothing written next to the model
    assert m1.source.py_path.is_relative_to(cache_dir())
    stamp = m1.source.py_path.stat().st_mtime_ns
    m2 = pvsd.load(work / "cup.mdl")
    assert m2.source.py_path == m1.source.py_path
    assert m2.source.py_path.stat().st_mtime_ns == stamp  # reused, not rebuilt
    (work / "cup.mdl").write_text((work / "cup.mdl").read_text().replace("70", "60"))
    m3 = pvsd.load(work / "cup.mdl")
    assert m3.source.py_path != m1.source.py_path and m3.default("Room Temperature") == 60


def test_load_errors(tmp_path):
    with pytest.raises(pvsd.ModelLoadError, match="does not exist"):
        pvsd.load(tmp_path / "missing.mdl")
    bad = tmp_path / "bad.mdl"
    bad.write_text("Stock = INTEG( flow, \n ~ ~ |\n this is not vensim (((")
    with pytest.raises(pvsd.ModelLoadError, match=r"bad\.mdl"):
        pvsd.load(bad)
    txt = tmp_path / "notes.txt"
    txt.write_text("hello")
    with pytest.raises(pvsd.ModelLoadError, match="suffix"):
        pvsd.load(txt)


def test_load_translated_py_and_xmile(teacup, teacup_path):
    from conftest import require

    py = pvsd.load(teacup.source.py_path)
    a = py.run(outputs=["Teacup Temperature"]).data
    pd.testing.assert_frame_equal(a, teacup.run(outputs=["Teacup Temperature"]).data)
    xm = pvsd.load(require(Path(teacup_path).with_suffix(".xmile")))
    b = xm.run(outputs=["Teacup Temperature"]).data
    np.testing.assert_allclose(b.to_numpy(), a.to_numpy(), rtol=1e-10)


MACRO_MODEL = """{UTF-8}
:MACRO: DOUBLE IT(input)
DOUBLE IT = 2 * input
	~	input
	~	doubles its input
	|

:END OF MACRO:
:MACRO: ADD ONE(input)
ADD ONE = input + 1
	~	input
	~	adds one
	|

:END OF MACRO:
Output = ADD ONE(DOUBLE IT(Input))
	~	widgets
	~	2 * Input + 1, through two macros
	|

Input = 5
	~	widgets
	~		|

FINAL TIME  = 2
	~	Month
	~		|

INITIAL TIME  = 0
	~	Month
	~		|

SAVEPER  = TIME STEP
	~	Month
	~		|

TIME STEP  = 1
	~	Month
	~		|
"""


def test_macro_model_translates_without_writing_beside_it(tmp_path, monkeypatch):
    # PySD writes each macro to its own module beside the source file; a shared
    # read-only model folder (as in CI) must still load and stay untouched.
    monkeypatch.setenv("PVSD_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "readonly"
    folder.mkdir()
    (folder / "macros.mdl").write_text(MACRO_MODEL)
    folder.chmod(0o555)
    try:
        model = pvsd.load(folder / "macros.mdl")
        assert sorted(p.name for p in folder.iterdir()) == ["macros.mdl"]
        out = model.run(params={"Input": 7}, outputs=["Output"]).data["Output"]
        np.testing.assert_array_equal(out.to_numpy(), [15.0, 15.0, 15.0])
        assert model.run(outputs=["Output"]).data["Output"].iloc[0] == 11.0
    finally:
        folder.chmod(0o755)
