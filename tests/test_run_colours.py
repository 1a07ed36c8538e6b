"""A scenario has one colour, different from every other run's, in every chart of a report."""

from __future__ import annotations

import pandas as pd

import pvsd
from pvsd.plotting import run_colours, trajectories_figure
from pvsd.report.scenario_report import difference_figure
from pvsd.resources import bundled_scenarios


def test_run_colours_do_not_repeat_before_the_palettes_run_out() -> None:
    c = run_colours(43)
    assert c[0] == "#000000" and len(set(c)) == 43
    assert run_colours(44)[43] in c[1:]  # only then does one come back
    assert "#0072B2" not in run_colours(20, exclude=("#0072b2",))


def test_ten_runs_get_ten_colours_and_bars_match_lines() -> None:
    runs = {f"run {k}": pd.DataFrame({"x": [0.0, float(k)]}, index=[0.0, 1.0]) for k in range(10)}
    fig = trajectories_figure(runs, ["x"])
    line = {t.name: t.line.color for t in fig.data}
    assert len(set(line.values())) == 10  # before: the 9th run was black like the baseline

    model = pvsd.load("public_value_chain_v2")
    scen = pvsd.load_scenarios(bundled_scenarios(model.name), model)
    comp = pvsd.run_scenarios(model, scen, progress=False)
    assert len(comp.runs) >= 10
    lines = {t.name: t.line.color for t in comp.plot().data}
    bars = {t.name: t.marker.color for t in difference_figure(comp, 2050).data}
    assert len(set(lines.values())) == len(comp.runs)
    assert bars == {name: lines[name] for name in bars}  # the same scenario, the same colour


def test_sensitivity_colours_leave_grey_to_the_interactions_band():
    # the stacked S1 chart draws interactions in grey; the 11th parameter was drawn #888888 too
    from pvsd.sensitivity.results import _colours

    cols = [c.upper() for c in _colours(20)]
    assert len(set(cols)) == 20 and "#888888" not in cols and "#000000" not in cols
