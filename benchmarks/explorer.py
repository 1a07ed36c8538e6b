"""Latency of the what-if explorer: slider release to redrawn charts (issue #7; target < 200 ms).

Run from the repository root::

    python benchmarks/explorer.py [--model public_value_chain] [--presses 20] [--no-browser]

Measures, for the reference model:

* ``server``: :meth:`pvsd.explorer.Explorer.update` for a setting not seen before
  (one model run on the fast path plus building the figure);
* ``browser``: in headless Chromium, from the key press that moves a slider to
  the end of Plotly's redraw (``plotly_afterplot``), with the run cache cleared
  before every press, so each press costs a fresh simulation; this is what an
  analyst waits for.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

LEVER = "Coproduction Programme"


def summary(label: str, ms: list[float]) -> str:
    ms = sorted(ms)
    p90 = ms[min(len(ms) - 1, round(0.9 * (len(ms) - 1)))]
    return (f"{label:<32} median {statistics.median(ms):6.1f} ms   p90 {p90:6.1f} ms   "
            f"min {ms[0]:6.1f}   max {ms[-1]:6.1f}   (n={len(ms)})")


def bench_server(ex, presses: int) -> list[float]:
    lever = ex.by_name[LEVER]
    out = []
    for k in range(presses):
        value = lever.min + (k % 20 + 1) * lever.step
        ex._cache.clear()
        t = time.perf_counter()
        up = ex.update({LEVER: min(value, lever.max)}, None, [o["value"] for o in ex.scenario_options()], False)
        out.append((time.perf_counter() - t) * 1000)
        assert up.figure is not None, up.message
    return out


def bench_browser(app, presses: int) -> list[float]:
    from browser import browser_page

    from pvsd.explorer import start_server

    ex = app.explorer
    srv = start_server(app)
    out: list[float] = []
    try:
        with browser_page(1366, 768) as (page, seen):
            page.goto(srv.url)
            page.wait_for_selector("#dashboard .main-svg", timeout=60_000)
            page.wait_for_function("() => document.querySelector('#status').textContent.length > 0",
                                   timeout=60_000)
            page.evaluate("""() => {
                const gd = document.querySelector('#dashboard .js-plotly-plot');
                window.__plotted = 0; window.__pressed = 0;
                gd.on('plotly_afterplot', () => { window.__plotted = performance.now(); });
                document.addEventListener('keydown', () => { window.__pressed = performance.now(); }, true);
            }""")
            thumb = page.locator(f'[role="slider"][aria-label^="{LEVER}"]')
            thumb.focus()
            key = "ArrowRight"
            for k in range(presses + 2):
                value = float(thumb.get_attribute("aria-valuenow"))
                lever = ex.by_name[LEVER]
                if value + lever.step > lever.max:
                    key = "ArrowLeft"
                elif value - lever.step < lever.min:
                    key = "ArrowRight"
                ex._cache.clear()
                page.keyboard.press(key)
                page.wait_for_function("() => window.__plotted > window.__pressed", timeout=30_000)
                ms = page.evaluate("() => window.__plotted - window.__pressed")
                if k >= 2:  # the first presses warm up the browser's JIT
                    out.append(float(ms))
                page.wait_for_timeout(150)
            if seen["console_errors"] or seen["page_errors"]:
                print("browser errors:", seen["console_errors"], seen["page_errors"])
    finally:
        srv.stop()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="public_value_chain")
    ap.add_argument("--presses", type=int, default=20)
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()

    import tempfile

    import pvsd
    from pvsd.explorer import create_app
    from pvsd.resources import bundled_scenarios

    model = pvsd.load(args.model)
    scen = bundled_scenarios(model.name) if args.model == "public_value_chain" else None
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        app = create_app(model, scen, save_to=Path(tmp) / "s.toml")
        print(f"{model.name}: app ready in {time.perf_counter() - t:.2f} s "
              f"({len(app.explorer.levers)} sliders, {len(app.explorer.scenarios)} scenarios overlaid)")
        t = time.perf_counter()
        model.run(params={LEVER: 0.55}, outputs=app.explorer.outputs)
        print(f"{'one Model.run (fast path)':<32} {(time.perf_counter() - t) * 1000:6.1f} ms")
        print(summary("server: Explorer.update", bench_server(app.explorer, args.presses)))
        if not args.no_browser:
            print(summary("browser: key press -> redrawn", bench_browser(app, args.presses)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
