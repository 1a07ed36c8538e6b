"""Structural and behavioural tests of the reference model ``public_value_chain``.

The theoretical claims of the model (Wang & Chen 2022, see models/README.md) are
checked as directional statements with margins, never against numbers copied
from a run:

(a) with no levers, digital capability decays and every stock stays bounded;
(b) technology plus organisational reform beats technology alone (technology
    logic trap: more technology without reform adds little);
(c) the co-production programme raises public trust;
(d) an agile programme shortens recovery from a trust shock;
(e) halving TIME STEP changes no stock by more than 1 %.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pvsd

ROOT = Path(__file__).resolve().parents[1]
MODEL_FILE = ROOT / "models" / "public_value_chain.mdl"
README = ROOT / "models" / "README.md"

BOUNDED_STOCKS = [
    "Digital Capability",
    "Technology Organisation Fit",
    "Collaboration Capacity",
    "Agile Capability",
    "Service Quality",
    "Public Trust",
    "Public Expectations",
    "Value Understanding",
    "Measured Performance",
    "Hierarchical Control",
]
ALL_STOCKS = [*BOUNDED_STOCKS, "Cumulative Public Value"]
LEVERS = [
    "Technology Investment",
    "Organisational Reform Effort",
    "Coproduction Programme",
    "Agile Capability Programme",
    "Evaluation Quality",
]
OUTPUTS = [
    "Satisfaction Gap",
    "Citizen Satisfaction",
    "Public Value Creation Rate",
    "Participation",
    "Budget Support",
]
UNCERTAIN = [
    "Capability Build Time",
    "Obsolescence Time",
    "Trust Adjustment Time",
    "Expectation Adjustment Time",
    "Effect of Quality on Trust",
    "Organisational Change Time",
    "Agility Erosion Time",
    "Effect of Gap on Control",
]
LOOP_IDS = ["R1", "R2", "R3", "R4", "R5", "B1", "B2", "B3", "B4", "B5"]
STAGES = [
    "Value expression and identification",
    "Value management",
    "Evaluation",
    "Feedback",
]
NO_LEVERS = {name: 0.0 for name in LEVERS}
SHOCK_TIME = 2030.0


@pytest.fixture(scope="module")
def model() -> pvsd.Model:
    return pvsd.load("public_value_chain")


@pytest.fixture(scope="module")
def dt(model: pvsd.Model) -> float:
    return model.time_step


def run(model: pvsd.Model, params=None, outputs=ALL_STOCKS, **kw) -> pd.DataFrame:
    return model.run(params=params or {}, outputs=outputs, **kw).to_dataframe()


# --------------------------------------------------------------------- structure
def test_model_file_is_bundled_and_loads_by_name(model: pvsd.Model) -> None:
    assert MODEL_FILE.is_file()
    # the bundled copy (repository or installed package data) is this repository's file
    assert model.sha256 == hashlib.sha256(MODEL_FILE.read_bytes()).hexdigest()
    assert model.initial_time == 2000
    assert model.final_time == 2050
    assert model.saveper <= 1
    assert model.time_step <= 0.0625


def test_required_stocks_levers_and_outputs_exist(model: pvsd.Model) -> None:
    assert set(ALL_STOCKS) <= set(model.stocks)
    assert model.kind("Public Value Creation Rate") in ("flow", "aux")
    for name in OUTPUTS:
        assert model.kind(name) in ("flow", "aux"), name
    for name in [*LEVERS, "Evaluation Delay", "Trust Shock Size", "Trust Shock Time"]:
        assert model.kind(name) == "constant", name


def test_levers_have_ranges_and_modest_nonzero_baselines(model: pvsd.Model) -> None:
    table = model.variables.set_index("name")
    for name in LEVERS:
        row = table.loc[name]
        assert row["min"] == 0 and row["max"] == 1, f"{name} needs a [0,1] range"
        assert 0 < row["default"] <= 0.5, f"{name} baseline should be modest and non-zero"
    delay = table.loc["Evaluation Delay"]
    assert 0 < delay["min"] < delay["default"] < delay["max"]
    assert delay["units"] == "Year"
    assert table.loc["Trust Shock Size", "default"] == 0


def test_uncertain_constants_have_ranges_around_defaults(model: pvsd.Model) -> None:
    table = model.variables.set_index("name")
    for name in UNCERTAIN:
        row = table.loc[name]
        assert row["kind"] == "constant", name
        assert np.isfinite(row["min"]) and np.isfinite(row["max"]), f"{name} has no range"
        assert row["min"] <= row["default"] <= row["max"], name


def test_every_variable_has_units_and_a_comment(model: pvsd.Model) -> None:
    table = model.variables
    missing_units = table.loc[table["units"].str.strip() == "", "name"].tolist()
    missing_comment = table.loc[table["comment"].str.strip() == "", "name"].tolist()
    assert not missing_units, f"variables without units: {missing_units}"
    assert not missing_comment, f"variables without a comment: {missing_comment}"


def test_units_use_the_documented_vocabulary(model: pvsd.Model) -> None:
    allowed = {"Dmnl", "Year", "1/Year", "Value Unit", "Value Unit/Year"}
    units = {name: u.split("[")[0].strip() for name, u in model.units.items()}
    odd = {n: u for n, u in units.items() if u not in allowed}
    assert not odd, f"unexpected units: {odd}"
    for name in BOUNDED_STOCKS:
        assert units[name] == "Dmnl", name
    table = model.variables.set_index("name")
    for name in table.index[table["kind"] == "flow"]:
        assert units[name] in ("1/Year", "Value Unit/Year"), name


def test_header_comment_and_value_chain_stages_are_present(model: pvsd.Model) -> None:
    text = MODEL_FILE.read_text(encoding="utf-8")
    assert "public value" in model.description.lower()
    groups = re.findall(r"\*{20,}\s*\n\s*\.([^\n]+)\n", text)
    for stage in STAGES:
        assert any(g.strip().startswith(stage) for g in groups), f"no group for stage {stage!r}"


def test_loops_are_documented_in_model_and_readme(model: pvsd.Model) -> None:
    comments = " ".join(model.variables["comment"])
    readme = README.read_text(encoding="utf-8")
    for lid in LOOP_IDS:
        assert re.search(rf"\b{lid}\b", comments), f"loop {lid} not named in any comment"
        assert re.search(rf"\*\*{lid}\*\*", readme), f"loop {lid} not in the README table"
    assert "## Sensitivity findings" in readme


def test_sketch_places_every_variable_once(model: pvsd.Model) -> None:
    text = MODEL_FILE.read_text(encoding="utf-8")
    assert "\\\\\\---/// Sketch information" in text
    sketch = text.split("\\\\\\---/// Sketch information", 1)[1]
    real: dict[str, int] = {}
    for line in sketch.splitlines():
        f = line.split(",")
        if f[0] == "10" and len(f) > 8 and f[8] == "3":  # real (not shadow) variable
            real[f[2]] = real.get(f[2], 0) + 1
    table = model.variables
    names = table.loc[table["kind"] != "control", "name"]
    assert not [n for n in names if n not in real], "variables missing from the sketch"
    assert all(c == 1 for c in real.values()), "a variable is placed twice"
    views = re.findall(r"^\*(.+)$", sketch, flags=re.M)
    assert len(views) >= 4


# --------------------------------------------------------------------- claim (a)
def test_no_levers_capability_decays_and_stocks_stay_bounded(model, dt) -> None:
    df = run(model, NO_LEVERS, time_step=dt)
    assert np.isfinite(df.to_numpy()).all()
    dc = df["Digital Capability"]
    assert dc.iloc[-1] < 0.5 * dc.iloc[0], "capability should decay without investment"
    assert (dc.diff().dropna() <= 1e-12).all(), "capability should never grow without investment"
    bounded = df[BOUNDED_STOCKS]
    assert (bounded >= 0).all().all() and (bounded <= 1).all().all()
    assert (df["Cumulative Public Value"].diff().dropna() >= 0).all()


@pytest.mark.parametrize(
    "params",
    [
        {},
        {name: 1.0 for name in LEVERS},
        {**{name: 1.0 for name in LEVERS}, "Evaluation Delay": 0.5, "Trust Shock Size": 0.9},
    ],
    ids=["baseline", "all-levers-max", "max-levers-and-shock"],
)
def test_bounded_stocks_stay_in_unit_interval(model, dt, params) -> None:
    df = run(model, params, time_step=dt)
    assert np.isfinite(df.to_numpy()).all()
    assert (df[BOUNDED_STOCKS] >= 0).all().all()
    assert (df[BOUNDED_STOCKS] <= 1).all().all()


def test_baseline_capability_growth_is_s_shaped(model, dt) -> None:
    dc = run(model, outputs=["Digital Capability"], time_step=dt)["Digital Capability"]
    growth = dc.diff().dropna()  # growth during each saved interval
    peak_year = growth.idxmax()
    # growth first speeds up (adoption learning), then slows (saturation, obsolescence)
    assert growth.index[0] < peak_year < 2040
    assert growth.iloc[0] < 0.9 * growth.max()
    assert growth.iloc[-1] < 0.2 * growth.max()
    assert dc.iloc[-1] > 3 * dc.iloc[0]


# --------------------------------------------------------------------- claim (b)
def test_technology_with_reform_beats_technology_alone(model, dt) -> None:
    high_tech = 2 * model.default("Technology Investment")
    outs = ["Cumulative Public Value", "Effective Digital Capability", "Hierarchical Control"]

    def at_2040(params):
        return run(model, params, outputs=outs, final_time=2040, time_step=dt).iloc[-1]

    modest = at_2040({"Organisational Reform Effort": 0.0})
    tech_alone = at_2040({"Technology Investment": high_tech, "Organisational Reform Effort": 0.0})
    tech_reform = at_2040({"Technology Investment": high_tech, "Organisational Reform Effort": 0.5})

    cpv = "Cumulative Public Value"
    reform_gain = tech_reform[cpv] - tech_alone[cpv]
    tech_gain = tech_alone[cpv] - modest[cpv]
    assert reform_gain > 0.05 * tech_alone[cpv], "reform should add at least 5 % public value"
    # technology logic trap: doubling technology alone adds far less than reform does
    assert tech_gain < 0.25 * reform_gain
    assert tech_reform["Effective Digital Capability"] > tech_alone["Effective Digital Capability"]
    assert tech_alone["Hierarchical Control"] > tech_reform["Hierarchical Control"]


# --------------------------------------------------------------------- claim (c)
def test_coproduction_programme_raises_public_trust(model, dt) -> None:
    outs = ["Public Trust", "Collaboration Capacity"]
    base = run(model, outputs=outs, time_step=dt)
    copro = run(model, {"Coproduction Programme": 0.5}, outputs=outs, time_step=dt)
    for year in (2040, 2050):
        assert copro.loc[year, "Collaboration Capacity"] > base.loc[year, "Collaboration Capacity"]
        assert copro.loc[year, "Public Trust"] > base.loc[year, "Public Trust"] + 0.01, year


# --------------------------------------------------------------------- claim (d)
def recovery_time(model, dt, agile: float, size: float = 0.3) -> tuple[float, float]:
    """Years after the shock until trust stays within 95 % of the no-shock run."""
    params = {"Agile Capability Programme": agile, "Trust Shock Time": SHOCK_TIME}
    kw = dict(outputs=["Public Trust"], time_step=dt, saveper=0.125)
    calm = run(model, params, **kw)["Public Trust"]
    shocked = run(model, {**params, "Trust Shock Size": size}, **kw)["Public Trust"]
    ratio = (shocked / calm)[calm.index >= SHOCK_TIME]
    below = ratio[ratio < 0.95]
    assert len(below) and below.index.max() < model.final_time, "trust never recovers"
    return below.index.max() - SHOCK_TIME, ratio.min()


def test_agile_programme_shortens_recovery_after_trust_shock(model, dt) -> None:
    slow, dip_slow = recovery_time(model, dt, agile=0.0)
    fast, dip_fast = recovery_time(model, dt, agile=0.6)
    assert dip_slow < 0.85 and dip_fast < 0.85, "the shock should cut trust noticeably"
    assert fast < slow - 0.5, f"agile recovery {fast:.2f} y vs {slow:.2f} y without"
    assert fast < 0.9 * slow


def test_trust_shock_is_off_by_default(model, dt) -> None:
    default = run(model, outputs=["Public Trust"], time_step=dt)
    explicit = run(model, {"Trust Shock Size": 0.0}, outputs=["Public Trust"], time_step=dt)
    pd.testing.assert_frame_equal(default, explicit)


# --------------------------------------------------------------------- claim (e)
@pytest.mark.parametrize("params", [{}, NO_LEVERS, {"Trust Shock Size": 0.5}], ids=["baseline", "no-levers", "shock"])
def test_halving_time_step_changes_no_stock_by_more_than_one_percent(model, params) -> None:
    outs = ALL_STOCKS + [o for o in OUTPUTS if o != "Satisfaction Gap"]
    coarse = run(model, params, outputs=outs, time_step=model.time_step)
    fine = run(model, params, outputs=outs, time_step=model.time_step / 2)
    assert coarse.index.equals(fine.index)
    rel = (coarse - fine).abs() / fine.abs().clip(lower=1e-9)
    assert rel.to_numpy().max() < 0.01, rel.max().idxmax()


# --------------------------------------------------------------------- other dynamics
def test_sense_of_gain_trails_rising_expectations(model, dt) -> None:
    """B1: expectations rise with quality, so the satisfaction gap stays positive."""
    outs = ["Public Expectations", "Service Quality", "Satisfaction Gap"]
    base = run(model, outputs=outs, time_step=dt)
    better = run(
        model, {"Organisational Reform Effort": 0.5, "Agile Capability Programme": 0.5}, outputs=outs, time_step=dt
    )
    assert (base["Satisfaction Gap"] > 0).all()
    assert better.loc[2050, "Service Quality"] > base.loc[2050, "Service Quality"]
    assert better.loc[2050, "Public Expectations"] > base.loc[2050, "Public Expectations"]
