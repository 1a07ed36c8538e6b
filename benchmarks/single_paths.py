"""Single-unit calibration with a fitted lever step: recovery and interval coverage.

Each replication simulates data with plain PySD from a model whose lever is a hard
Vensim STEP (true year drawn uniformly in 2006-2014, off the grid; true size 0.3;
data model at TIME STEP 1/64, yearly observations, noise sd 0.01), then fits the
step's year and size and the adjustment time with ``pvsd.calibrate`` at time step
0.125 (the discretisation differs from the data's, as it would for real data).
Printed: the median error and SE of each piece, and the share of 95% Wald intervals
that cover the truth.

Run:  python benchmarks/single_paths.py [--n 40]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd

CONTROL = ("INITIAL TIME = 2000 ~ Year ~ |\nFINAL TIME = 2030 ~ Year ~ |\n"
           "TIME STEP = {dt} ~ Year ~ |\nSAVEPER = 1 ~ Year ~ |\n")


def mdl(lever: str, tau: float, dt: str) -> str:
    return "{UTF-8}\n" + textwrap.dedent(f"""\
        Level = INTEG(Effort - Level / Adjustment Time, 0) ~ Widgets ~ |
        Adjustment Time = {tau:g} ~ Year [1, 10] ~ |
        Effort = {lever} ~ Widgets/Year [0, 1] ~ LEVER |
        """) + CONTROL.format(dt=dt)


SPEC = """\
[calibration]
model = "model.mdl"
time_step = 0.125
seed = {seed}

[series.level]
file = "level.csv"
variable = "Level"
likelihood = "sse"

[parameters."Adjustment Time"]
lower = 1
upper = 10

[parameters."Effort"]
path = "step"
at = {{ lower = 2003, upper = 2020 }}
to = {{ lower = 0, upper = 1 }}

[search]
starts = 3
"""


def main() -> None:
    import pysd

    import pvsd

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=40)
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    rng = np.random.default_rng(20261202)
    truth = {"Adjustment Time": 4.0, "Effort: to": 0.5}
    rows = []
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "model.mdl").write_text(mdl("0.2", 3.0, "0.125"), encoding="utf-8")
        for k in range(args.n):
            at = float(rng.uniform(2006, 2014))
            (d / "twin.mdl").write_text(mdl(f"0.2 + STEP(0.3, {at!r})", 4.0, "0.015625"), encoding="utf-8")
            years = np.arange(2000, 2031, 1.0)
            y = pysd.read_vensim(str(d / "twin.mdl")).run(
                return_columns=["Level"], return_timestamps=years)["Level"].to_numpy()
            y = y + rng.normal(0, 0.01, len(y))
            pd.DataFrame({"year": years.astype(int), "value": y}).to_csv(d / "level.csv", index=False)
            (d / "spec.toml").write_text(SPEC.format(seed=k + 1), encoding="utf-8")
            res = pvsd.calibrate(d / "spec.toml", progress=False)
            p = res.to_dataframe()
            for name, true in {**truth, "Effort: at": at}.items():
                rows.append({"rep": k, "parameter": name, "true": true, "value": p.loc[name, "value"],
                             "se": p.loc[name, "stderr"], "lo": p.loc[name, "lower"],
                             "hi": p.loc[name, "upper"]})
    df = pd.DataFrame(rows)
    secs = time.perf_counter() - t_start
    print(f"{args.n} fits in {secs:.1f} s ({secs / args.n:.2f} s each)")
    for name, g in df.groupby("parameter", sort=False):
        err = (g["value"] - g["true"]).abs()
        cover = ((g["lo"] <= g["true"]) & (g["true"] <= g["hi"])).mean()
        z = (g["value"] - g["true"]) / g["se"]
        print(f"{name:16s} median |error| {err.median():.4g}, median SE {g['se'].median():.4g}, "
              f"95% interval coverage {cover:.0%}, sd of z {z.std():.2f}, max |z| {z.abs().max():.1f}")


if __name__ == "__main__":
    main()
