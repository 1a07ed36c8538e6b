"""Start-up time of the command line (issue #15; target: ``pvsd --help`` under 0.5 s).

Run from the repository root::

    python benchmarks/cli_startup.py [--repeat 7]

Each case runs in a fresh Python process (``python -m pvsd ...``, the same code the
``pvsd`` script runs) and the median wall time of ``--repeat`` runs is printed, with
``python -c pass`` (the interpreter alone) as the reference and the eager import of the
whole library (what ``pvsd --help`` cost before the lazy imports) for comparison.
The ratios are measured in one run, so load on the machine affects all cases alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CASES = [
    ("python -c pass (interpreter only)", ["-c", "pass"]),
    ("pvsd --help", ["-m", "pvsd", "--help"]),
    ("pvsd report --help", ["-m", "pvsd", "report", "--help"]),
    ("pvsd scenarios --help", ["-m", "pvsd", "scenarios", "--help"]),
    ("import the whole library (eager)", ["-c", "import pvsd.model, pvsd.calibration, pvsd.loops, "
                                          "pvsd.sensitivity, pvsd.scenarios"]),
]
TARGET = 0.5


def _time(args: list[str], repeat: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, *args], check=True, capture_output=True, env=env, cwd=ROOT)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"Python {sys.version.split()[0]}; {os.cpu_count()} CPUs; load average {load:.2f}; "
          f"median of {args.repeat} fresh processes")
    print(f"{'case':40s} {'seconds':>8s} {'vs interpreter':>15s}")
    base = None
    results = {}
    for label, cmd in CASES:
        t = _time(cmd, args.repeat)
        results[label] = t
        base = base or t
        print(f"{label:40s} {t:8.3f} {t / base:14.1f}x")
    help_t = results["pvsd --help"]
    verdict = "meets" if help_t < TARGET else "MISSES"
    print(f"\npvsd --help: {help_t:.3f} s, {verdict} the {TARGET} s target; "
          f"{results['import the whole library (eager)'] / help_t:.1f}x faster than importing the library")
    return 0 if help_t < TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
