"""Size of report folders written into one parent folder (issue #15: "the default keeps a
report folder under 1 MB per extra report").

Run from the repository root::

    python benchmarks/report_size.py

Writes, into a temporary folder, two ``pvsd report`` folders of the bundled reference model
(the second with a ``--set``) and a small Morris sensitivity report, once with the default
``--plotly-js shared`` and once with ``--plotly-js folder`` (every folder carries its own
plotly.js, as before), and prints the bytes of each folder, of the shared copy and the total.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SENS = ROOT / "models" / "public_value_chain_sensitivity.toml"


def size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else path.stat().st_size


def write_all(parent: Path, mode: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmds = [
        ["report", "-q", "-o", str(parent / "report-a")],
        ["report", "-q", "-o", str(parent / "report-b"), "--set", "Technology Investment=0.4"],
        ["sensitivity", "public_value_chain", str(SENS), "--analysis", "morris", "-n", "20", "--bands", "50",
         "-q", "-o", str(parent / "sensitivity")],
    ]
    for c in cmds:
        subprocess.run([sys.executable, "-m", "pvsd", *c, "--plotly-js", mode], check=True, env=env,
                       stdout=subprocess.DEVNULL)


def main() -> None:
    print(f"{'mode':8s} {'folder':14s} {'MB':>7s}")
    for mode in ("shared", "folder"):
        with tempfile.TemporaryDirectory() as tmp:
            parent = Path(tmp)
            write_all(parent, mode)
            total = 0
            for item in sorted(parent.iterdir()):
                b = size(item)
                total += b
                print(f"{mode:8s} {item.name:14s} {b / 1e6:7.2f}")
            extra = [size(parent / n) for n in ("report-b", "sensitivity")]
            print(f"{mode:8s} {'TOTAL':14s} {total / 1e6:7.2f}   per extra report: "
                  + ", ".join(f"{b / 1e6:.2f} MB" for b in extra)
                  + (" (target < 1 MB: " + ("met" if max(extra) < 1e6 else "NOT met") + ")"))


if __name__ == "__main__":
    main()
