"""Panel calibration benchmark: 193 units, 2 shared + 2 per-unit parameters.

1. Point fit of the bundled EGDI panel (reference model, 193 countries) beside the
   one-spec-per-country loop, measured in the same run: a few single-country fits
   of the same four parameters with pvsd's single-unit calibration, scaled to 193.
2. Full posterior of a pooled model (193 synthetic units of tests/models/panel_growth.mdl,
   known truth): Metropolis-within-Gibbs, time, max R-hat and min bulk ESS.

Why this sampler (see pvsd/calibration/panel/sample.py): pvsd's numpy simulator has no
gradients, so NUTS/HMC libraries (blackjax, numpyro) would need a JAX re-implementation of
every model, and emcee's ensemble moves need far more walkers than a few hundred dimensions
allow. The panel posterior factorises given the shared block, the population and the noise,
so blocked Metropolis-within-Gibbs updates every unit's block in one ensemble call, moves
the shared block along both its conditional and its marginal (Laplace) directions, and draws
the population and noise terms exactly. R-hat and ESS come from arviz.

3. ``--paths``: a synthetic panel whose units each have a lever step of unknown year
   (per unit) and size (shared): point fit with one vectorised pass per evaluation
   (per-member time functions) beside the grouped fallback (one ensemble per distinct
   path), and the recovery of the step years.
4. ``--dimension``: the same panel on a subscripted twin model whose dimension holds
   the units (one run per parameter set) beside the scalar model run once per unit.
5. A panel with per-unit inputs (synthetic, 100 units each with its own input series): point
   fit with every unit in one ensemble pass per evaluation (per-member time functions) beside
   the former one-ensemble-per-unit path, measured in the same run; fitted values compared
   (``--skip-inputs`` leaves it out).

Run:  python benchmarks/panel.py [--loop-units 3] [--iterations 3000] [--egdi-posterior]
      python benchmarks/panel.py --paths --dimension --skip-egdi --skip-posterior
      python benchmarks/panel.py --inputs-only [--inputs-units 100]
Load on the machine is printed; ratios measured in one run are what counts.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pvsd  # noqa: E402
from pvsd.calibration import calibrate  # noqa: E402
from pvsd.calibration.panel import calibrate_panel, load_panel_spec  # noqa: E402

EGDI = ROOT / "calibration" / "egdi_panel.toml"


def single_country_spec(folder: Path, iso3: str) -> Path:
    d = pd.read_csv(ROOT / "calibration" / "data" / "un_egdi_panel.csv", comment="#")
    d = d[(d["iso3"] == iso3) & (d["egdi"] > 0)].sort_values("survey_year")
    f = folder / f"{iso3}.csv"
    pd.DataFrame({"year": d["survey_year"], "value": d["egdi"]}).to_csv(f, index=False)
    last = int(d["survey_year"].max())
    p = folder / f"{iso3}.toml"
    p.write_text(f"""
[calibration]
model = "public_value_chain"
fit_period = [2003, {last - 1}]
holdout_period = [{last}, {last}]
time_step = 0.25
seed = 1
[series.egdi]
file = "{f.as_posix()}"
variable = "Digital Capability"
[parameters."Obsolescence Time"]
lower = 3
upper = 25
value = 15
[parameters."Capability Build Time"]
lower = 0.25
upper = 5
value = 0.75
[parameters."Technology Investment"]
lower = 0
upper = 1
value = 0.3
[parameters."Initial Digital Capability"]
lower = 0
upper = 1
value = 0.4
""")
    return p


def synthetic_pooled(folder: Path, n: int, iterations: int, warmup: int, chains: int) -> Path:
    rng = np.random.default_rng(5)
    model = ROOT / "tests" / "models" / "panel_growth.mdl"
    m = pvsd.load(model)
    r, x0 = rng.uniform(0.15, 0.6, n), rng.uniform(0.05, 0.3, n)
    years = list(range(2000, 2021, 2))
    ds = m.run_ensemble(pd.DataFrame({"Growth Rate": r, "Initial Level": x0}),
                        params={"Ceiling": 0.85, "Drift": 0.004}, outputs=["Level"],
                        return_times=years, final_time=2020, progress=False)
    y = ds["Level"].values + rng.normal(0, 0.01, (n, len(years)))
    rows = [(f"U{i:03d}", t, y[i, j]) for i in range(n) for j, t in enumerate(years)]
    pd.DataFrame(rows, columns=["unit", "year", "value"]).to_csv(folder / "syn.csv", index=False)
    p = folder / "syn.toml"
    p.write_text(f"""
[calibration]
model = "{model.as_posix()}"
time_step = 0.125
seed = 9
[panel]
unit_column = "unit"
holdout = 1
[series.level]
file = "syn.csv"
variable = "Level"
[parameters.Ceiling]
scope = "shared"
lower = 0.3
upper = 1.5
[parameters.Drift]
scope = "shared"
lower = -0.05
upper = 0.05
[parameters."Growth Rate"]
scope = "pooled"
lower = 0.01
upper = 2
[parameters."Initial Level"]
scope = "pooled"
lower = 0
upper = 1
[posterior]
enabled = true
chains = {chains}
iterations = {iterations}
warmup = {warmup}
draws = 200
""")
    return p


def synthetic_inputs(folder: Path, n: int) -> Path:
    """A panel of ``n`` units of panel_growth.mdl, each driven by its own External Push series."""
    rng = np.random.default_rng(21)
    model = ROOT / "tests" / "models" / "panel_growth.mdl"
    m = pvsd.load(model)
    years = list(range(2000, 2021, 2))
    push = []
    for i in range(n):
        yrs = sorted(rng.choice(np.arange(2000, 2019), size=3 + i % 4, replace=False).tolist())
        push += [(f"U{i:03d}", y, float(v)) for y, v in zip(yrs, rng.uniform(-0.01, 0.02, len(yrs)),
                                                            strict=True)]
    push_df = pd.DataFrame(push, columns=["unit", "year", "value"])
    push_df.to_csv(folder / "push.csv", index=False)
    from pvsd.timefunc import PiecewiseLinear

    paths = [PiecewiseLinear(tuple(map(float, d["year"])), tuple(map(float, d["value"])))
             for _, d in push_df.groupby("unit", sort=True)]
    r, x0 = rng.uniform(0.15, 0.6, n), rng.uniform(0.05, 0.3, n)
    ds = m.run_ensemble(pd.DataFrame({"Growth Rate": r, "Initial Level": x0, "External Push": paths}),
                        params={"Ceiling": 0.85, "Drift": 0.004}, outputs=["Level"],
                        return_times=years, final_time=2020, progress=False)
    y = ds["Level"].values + rng.normal(0, 0.01, (n, len(years)))
    rows = [(f"U{i:03d}", t, y[i, j]) for i in range(n) for j, t in enumerate(years)]
    pd.DataFrame(rows, columns=["unit", "year", "value"]).to_csv(folder / "syn.csv", index=False)
    p = folder / "inputs.toml"
    p.write_text(f"""
[calibration]
model = "{model.as_posix()}"
time_step = 0.125
seed = 9
[panel]
unit_column = "unit"
holdout = 1
[series.level]
file = "syn.csv"
variable = "Level"
[inputs.push]
file = "push.csv"
variable = "External Push"
beyond = "hold"
[parameters.Ceiling]
scope = "shared"
lower = 0.3
upper = 1.5
[parameters.Drift]
scope = "shared"
lower = -0.05
upper = 0.05
[parameters."Growth Rate"]
scope = "unit"
lower = 0.01
upper = 2
[parameters."Initial Level"]
scope = "unit"
lower = 0
upper = 1
""")
    return p


def former_simulate(self, s_u, U_u, unit, years, final_time=None):
    """PanelProblem.simulate before per-member time functions: one ensemble per unit with
    inputs (that unit's series as a shared time function). Kept here to measure against."""
    from pvsd.errors import SpecError

    M = len(unit)
    cols = {}
    for j, e in enumerate(self.shared):
        if e.kind == "model":
            cols[e.name] = e.lower + np.clip(s_u[:, j], 0, 1) * e.width
    for j, e in enumerate(self.per_unit):
        if e.kind == "model":
            cols[e.name] = e.lower + np.clip(U_u[:, j], 0, 1) * e.width
    for name, vals in self.from_first.items():
        cols[name] = vals[unit]
    t1 = max(float(final_time if final_time is not None else years.max()), self.t0 + self.dt)
    outs = list(dict.fromkeys(self.variables))
    out = {v: np.empty((M, len(years))) for v in outs}
    for i in np.unique(unit):
        rows = np.flatnonzero(unit == i)
        samples = pd.DataFrame({k: v[rows] for k, v in cols.items()})
        ds = self.model.run_ensemble(samples, outputs=outs,
                                     params={var: fns[i] for var, fns in self.inputs},
                                     initial_time=self.t0, final_time=t1, time_step=self.dt,
                                     return_times=list(years), progress=False, check=True,
                                     method=self.spec.method)
        self.n_calls += 1
        self.n_runs += len(rows)
        got = np.asarray(ds["time"].values, float)
        if len(got) != len(years) or not np.allclose(got, years):
            raise SpecError("years off the time-step grid")
        for v in outs:
            out[v][rows] = np.asarray(ds[v].values, float)
    return out


def inputs_case(n: int) -> None:
    """Point fit of a panel with per-unit inputs: one pass per evaluation vs one per unit."""
    from pvsd.calibration.panel.problem import PanelProblem

    with tempfile.TemporaryDirectory() as tmp:
        spec = synthetic_inputs(Path(tmp), n)
        calibrate_panel(spec, posterior=False)  # warm-up: engine build and first-use check
        t = time.perf_counter()
        new = calibrate_panel(spec, posterior=False)
        t_new = time.perf_counter() - t
        now = PanelProblem.simulate
        PanelProblem.simulate = former_simulate
        try:
            t = time.perf_counter()
            old = calibrate_panel(spec, posterior=False)
            t_old = time.perf_counter() - t
        finally:
            PanelProblem.simulate = now
    diff = max(float(np.max(np.abs(new.estimates["value"].to_numpy() - old.estimates["value"].to_numpy())
                            / np.maximum(np.abs(old.estimates["value"].to_numpy()), 1e-300))),
               float(np.max(np.abs(new.shared["value"].to_numpy() - old.shared["value"].to_numpy())
                            / np.abs(old.shared["value"].to_numpy()))))
    print(f"panel with per-unit inputs ({n} synthetic units, 2 shared + 2 per unit, one input series "
          f"each): point fit {t_new:.1f} s in {new.fit['ensemble_calls']} ensemble calls "
          f"(per-member time functions) vs {t_old:.1f} s in {old.fit['ensemble_calls']} calls (one "
          f"ensemble per unit): {t_old / t_new:.1f}x; largest relative difference of the fitted "
          f"values {diff:.1e} (identical within 1e-9: {'yes' if diff <= 1e-9 else 'NO'})")


GROWTH = ROOT / "tests" / "models" / "panel_growth.mdl"


def step_panel(folder: Path, n: int, seed: int = 5) -> tuple[Path, pd.DataFrame]:
    """n units of panel_growth.mdl with a step of External Push at a per-unit year (truth at
    time step 1/64, hard steps), yearly data 2000-2020, noise 0.01."""
    from pvsd.timefunc import Step

    rng = np.random.default_rng(seed)
    truth = pd.DataFrame({"unit": [f"U{i:03d}" for i in range(n)],
                          "gr": rng.uniform(0.15, 0.5, n), "il": rng.uniform(0.05, 0.3, n),
                          "at": rng.uniform(2005, 2015, n)})
    m = pvsd.load(GROWTH)
    years = list(range(2000, 2021))
    ds = m.run_ensemble(pd.DataFrame({"Growth Rate": truth["gr"], "Initial Level": truth["il"],
                                      "External Push": [Step(a, 0.03, 0.0) for a in truth["at"]]}),
                        params={"Ceiling": 0.85}, outputs=["Level"], return_times=years,
                        final_time=2020, time_step=1 / 64, progress=False)
    y = ds["Level"].values + rng.normal(0, 0.01, (n, len(years)))
    pd.DataFrame([(u, t, y[i, j]) for i, u in enumerate(truth["unit"]) for j, t in enumerate(years)],
                 columns=["unit", "year", "value"]).to_csv(folder / "panel.csv", index=False)
    p = folder / "steps.toml"
    p.write_text(f"""
[calibration]
model = "{GROWTH.as_posix()}"
time_step = 0.125
[panel]
unit_column = "unit"
holdout = 0
[series.level]
file = "panel.csv"
variable = "Level"
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
[parameters."External Push"]
path = "step"
from = 0
at = {{ scope = "unit", lower = 2002, upper = 2018 }}
to = {{ scope = "shared", lower = 0, upper = 0.1 }}
""")
    return p, truth


def bench_paths(n: int, n_fallback: int) -> None:
    from pvsd.calibration.panel.fit import fit_point
    from pvsd.calibration.panel.problem import PanelProblem

    with tempfile.TemporaryDirectory() as tmp:
        spec, truth = step_panel(Path(tmp), n)
        t = time.perf_counter()
        r = calibrate_panel(spec)
        t_fast = time.perf_counter() - t
        e = r.estimates[r.estimates["parameter"] == "External Push: at"].reset_index(drop=True)
        z = (e["value"] - truth["at"]) / e["stderr"]
        cover = float(((e["lower"] <= truth["at"]) & (truth["at"] <= e["upper"])).mean())
        to = r.shared.set_index("parameter").loc["External Push: to"]
        print(f"step-year panel, {n} units (3 per unit incl. the step year, 2 shared): "
              f"{t_fast:.1f} s total, fit {r.fit['seconds_point']} s, {r.fit['ensemble_calls']} "
              f"ensemble calls; step size {to['value']:.4f} +/- {to['stderr']:.4f} (true 0.03); "
              f"step year: median |error| {np.median(np.abs(e['value'] - truth['at'])):.3f} y, "
              f"median SE {e['stderr'].median():.3f} y, 95% coverage {cover:.2f}, "
              f"|z| > 2 in {int((np.abs(z) > 2).sum())} units")
        sub = Path(tmp) / "sub"
        sub.mkdir()
        spec_s, _ = step_panel(sub, n_fallback)
        times = {}
        for mode in ("columns", "grouped"):
            pb = PanelProblem(load_panel_spec(spec_s))
            pb.tf_columns = None if mode == "columns" else False
            t = time.perf_counter()
            fit_point(pb)
            times[mode] = (time.perf_counter() - t, pb.n_calls)
        print(f"  {n_fallback} units: point fit with a column of per-member paths "
              f"{times['columns'][0]:.1f} s ({times['columns'][1]} ensemble calls) vs grouped "
              f"fallback {times['grouped'][0]:.1f} s ({times['grouped'][1]} calls): "
              f"{times['grouped'][0] / times['columns'][0]:.1f}x")


def arrayed_model(folder: Path, n: int) -> Path:
    """The subscripted twin of panel_growth.mdl with n elements U000..."""
    text = (ROOT / "tests" / "models" / "panel_growth_arrayed.mdl").read_text(encoding="utf-8")
    els = [f"U{i:03d}" for i in range(n)]
    text = text.replace("AAA, BBB, CCC, DDD, EEE, FFF, GGG", ", ".join(els))
    for v in ("0.3", "0.005", "0", "0.1"):
        text = text.replace(", ".join([v] * 7), ", ".join([v] * n))
    p = folder / "arrayed.mdl"
    p.write_text(text, encoding="utf-8")
    return p


def bench_dimension(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        spec, _ = step_panel(Path(tmp), n)
        text = spec.read_text().split('[parameters."External Push"]')[0]
        spec.write_text(text)
        t = time.perf_counter()
        rs = calibrate_panel(spec)
        t_s = time.perf_counter() - t
        model = arrayed_model(Path(tmp), n)
        spec.write_text(text.replace(GROWTH.as_posix(), model.as_posix()).replace(
            "holdout = 0", 'holdout = 0\ndimension = "Country"'))
        pvsd.load(model).run_ensemble(pd.DataFrame({"Ceiling": [0.8]}), progress=False)  # warm
        t = time.perf_counter()
        ra = calibrate_panel(spec)
        t_a = time.perf_counter() - t
        d = np.max(np.abs(ra.estimates["value"].to_numpy() - rs.estimates["value"].to_numpy())
                   / np.abs(rs.estimates["value"].to_numpy()))
        print(f"unit dimension, {n} units: subscripted model (one run holds every unit) "
              f"{t_a:.1f} s, {ra.fit['engine_members']} members in {ra.fit['ensemble_calls']} "
              f"calls; scalar model once per unit {t_s:.1f} s, {rs.fit['engine_members']} members; "
              f"max relative difference of the estimates {d:.1e}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--loop-units", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=2200)
    ap.add_argument("--warmup", type=int, default=700)
    ap.add_argument("--chains", type=int, default=16)
    ap.add_argument("--posterior-only", action="store_true")
    ap.add_argument("--egdi-posterior", action="store_true",
                    help="also sample the EGDI panel with pooled per-country parameters")
    ap.add_argument("--paths", action="store_true", help="fitted step years (see docstring)")
    ap.add_argument("--path-units", type=int, default=100)
    ap.add_argument("--fallback-units", type=int, default=16)
    ap.add_argument("--dimension", action="store_true", help="subscripted model vs scalar twin")
    ap.add_argument("--dimension-units", type=int, default=100)
    ap.add_argument("--skip-egdi", action="store_true")
    ap.add_argument("--skip-posterior", action="store_true")
    ap.add_argument("--inputs-units", type=int, default=100,
                    help="units of the synthetic panel with per-unit inputs")
    ap.add_argument("--inputs-only", action="store_true",
                    help="only the per-unit inputs case (one pass vs one ensemble per unit)")
    ap.add_argument("--skip-inputs", action="store_true")
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()}; cpu count {os.cpu_count()}")
    if not args.skip_inputs:
        inputs_case(args.inputs_units)
    if args.inputs_only:
        print(f"load average at end: {os.getloadavg()}")
        return
    if args.paths:
        bench_paths(args.path_units, args.fallback_units)
    if args.dimension:
        bench_dimension(args.dimension_units)
    pvsd.load("public_value_chain").run_ensemble(pd.DataFrame({"Obsolescence Time": [10.0]}),
                                                 progress=False)  # warm translation cache
    if not args.posterior_only and not args.skip_egdi:
        t = time.perf_counter()
        res = calibrate_panel(EGDI, posterior=False)
        t_panel = time.perf_counter() - t
        print(f"EGDI panel point fit: {res.fit['n_units']} units, {res.fit['n_params']} parameters, "
              f"{t_panel:.1f} s total ({res.fit['seconds_point']} s in the fit), "
              f"{res.fit['model_runs']} model runs in {res.fit['ensemble_calls']} ensemble calls")
        print(res.skill.to_string(index=False))
        for s in res.verdict:
            print("  " + s)
        units = ["DNK", "USA", "IND", "BRA", "NGA", "EST"][: args.loop_units]
        times = []
        with tempfile.TemporaryDirectory() as tmp:
            for u in units:
                spec = single_country_spec(Path(tmp), u)
                t = time.perf_counter()
                calibrate(spec, mcmc=False, progress=False)
                times.append(time.perf_counter() - t)
                print(f"  single-country fit {u}: {times[-1]:.1f} s")
        per = float(np.mean(times))
        loop = per * res.fit["n_units"]
        print(f"one spec per country: {per:.1f} s each -> {loop:.0f} s for {res.fit['n_units']} "
              f"countries; panel {t_panel:.1f} s: {loop / t_panel:.0f}x faster")
        print(f"point fit within 30 s: {'yes' if t_panel <= 30 else 'NO'}")
    if args.skip_posterior:
        print(f"load average at end: {os.getloadavg()}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        spec = synthetic_pooled(Path(tmp), 193, args.iterations, args.warmup, args.chains)
        t = time.perf_counter()
        post = calibrate_panel(spec, log=lambda m: print("  " + m) if "sweeps" in m else None)
        t_post = time.perf_counter() - t
    m = post.mcmc
    print(f"pooled posterior (193 synthetic units, 2 shared + 2 pooled, {m['chains']} chains x "
          f"{m['iterations']} sweeps): {t_post:.0f} s total, sampler {m['seconds']} s, max R-hat "
          f"{m['max_rhat']:.4f} ({m['worst_rhat']}), min bulk ESS {m['min_ess']:.0f}, acceptance units "
          f"{m['acceptance_units']}, shared {m['acceptance_shared']}, joint {m['acceptance_joint']}")
    sh = post.shared.set_index("parameter")
    print(sh[["value", "stderr", "posterior_mean", "posterior_sd", "rhat", "ess"]].to_string())
    print(f"posterior within 10 min: {'yes' if t_post <= 600 else 'NO'}; R-hat < 1.01: "
          f"{'yes' if m['max_rhat'] < 1.01 else 'NO'}")
    if args.egdi_posterior:
        sp = load_panel_spec(EGDI)
        from dataclasses import replace

        sp = replace(sp, parameters=tuple(replace(p, scope="pooled") if p.scope == "unit" else p
                                          for p in sp.parameters))
        t = time.perf_counter()
        e = calibrate_panel(sp, posterior={"iterations": args.iterations, "warmup": args.warmup})
        print(f"EGDI pooled posterior: {time.perf_counter() - t:.0f} s, max R-hat "
              f"{e.mcmc['max_rhat']:.3f}, min ESS {e.mcmc['min_ess']:.0f}")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
