"""Panel inputs per unit run as per-member time functions: one ensemble call per evaluation,
the same numbers as one ensemble per unit with that unit's series as a shared time function."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import pvsd
from pvsd.calibration.panel import load_panel_spec
from pvsd.calibration.panel.problem import PanelProblem

MODEL = Path(__file__).parent / "models" / "panel_growth.mdl"
YEARS = [2000, 2003, 2006, 2009, 2012, 2015, 2018]


def _write(tmp: Path, n: int) -> Path:
    rng = np.random.default_rng(7)
    units = [f"U{i:02d}" for i in range(n)]
    rows = [(u, y, float(v)) for u in units for y, v in
            zip(YEARS, np.clip(0.1 + np.cumsum(rng.uniform(0, 0.08, len(YEARS))), 0, 1),
                strict=True)]
    pd.DataFrame(rows, columns=["unit", "year", "value"]).to_csv(tmp / "panel.csv", index=False)
    # inputs of different lengths per unit (padding) and different years
    push = []
    for i, u in enumerate(units):
        yrs = (2000, 2008, 2012, 2016)[: 2 + i % 3]
        push += [(u, y, 0.003 * ((i + 1) % 5) * (k + 1)) for k, y in enumerate(yrs)]
    pd.DataFrame(push, columns=["unit", "year", "value"]).to_csv(tmp / "push.csv", index=False)
    p = tmp / "panel.toml"
    p.write_text(f"""
[calibration]
model = "{MODEL.as_posix()}"
time_step = 0.125
seed = 3
[panel]
unit_column = "unit"
min_observations = 4
holdout = 1
[series.level]
file = "panel.csv"
variable = "Level"
[inputs.push]
file = "push.csv"
variable = "External Push"
beyond = "trend"
[parameters.Ceiling]
scope = "shared"
lower = 0.3
upper = 1.5
[parameters."Growth Rate"]
scope = "unit"
lower = 0.01
upper = 2
[parameters."Initial Level"]
scope = "unit"
lower = 0
upper = 1
""", encoding="utf-8")
    return p


def test_inputs_one_pass_equals_one_ensemble_per_unit(tmp_path: Path) -> None:
    pb = PanelProblem(load_panel_spec(_write(tmp_path, 7)))
    rng = np.random.default_rng(1)
    unit = np.repeat(np.arange(pb.n_units), 3)  # several members per unit, as in the sampler
    s = rng.uniform(0.2, 0.8, (len(unit), pb.n_shared))
    U = rng.uniform(0.1, 0.9, (len(unit), pb.K))
    years = np.asarray(YEARS, float)
    got = pb.simulate(s, U, unit, years)
    assert pb.n_calls == 1
    # reference: the former path, one ensemble per unit with its series as a shared parameter
    m = pvsd.load(MODEL)
    var, fns = pb.inputs[0]
    for i in range(pb.n_units):
        rows = np.flatnonzero(unit == i)
        cols = {e.name: e.lower + s[rows, j] * e.width for j, e in enumerate(pb.shared)}
        cols.update({e.name: e.lower + U[rows, j] * e.width for j, e in enumerate(pb.per_unit)})
        ds = m.run_ensemble(pd.DataFrame(cols), outputs=["Level"], params={var: fns[i]},
                            initial_time=pb.t0, final_time=years.max(), time_step=pb.dt,
                            return_times=list(years), progress=False)
        np.testing.assert_allclose(got["Level"][rows], ds["Level"].values, rtol=1e-12, atol=0)
    # the units' inputs differ, so a shared function would have given other numbers
    assert len({fn.y for fn in fns}) > 1
