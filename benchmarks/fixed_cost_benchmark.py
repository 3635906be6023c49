"""The fixed cost of a command, beside the imports it cannot avoid: issue 47's small rows, in one run.

    python benchmarks/fixed_cost_benchmark.py [--runs 3]

Whole processes, each the median of ``--runs`` (after one warm-up), with its peak memory, and its
ratio to a bare ``python -c "import geopandas"`` measured in the same run (these machines are shared
and noisy: the ratio is the figure to quote):

- a bad path (``odgeo hotspots missing.csv``) and a bad option (``--bandwidth -5``): target <= 0.4 s;
- a bad file (no date and no coordinate column): the one-line error after the input is read;
- a county's morning: ``odgeo alerts`` and ``odgeo hotspots`` on 2,000 incidents of the sample
  city: target <= 1.0 s (about 1.5x the bare geopandas import).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_geodata" / "incidents.csv"


def _run(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident MiB of one child process (its own rusage, from wait4)."""
    start = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(child.pid, 0)
    child.returncode = 0  # reaped here
    return time.perf_counter() - start, usage.ru_maxrss / 1024


def _median(args: list[str], runs: int) -> tuple[float, float]:
    _run(args)  # warm-up: the OS's file cache and numba's on-disk cache
    results = [_run(args) for _ in range(runs)]
    return statistics.median(r[0] for r in results), max(r[1] for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    odgeo = [sys.executable, "-m", "odgeo_cli"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        county = folder / "county.csv"
        county.write_text("".join(SAMPLE.read_text().splitlines(keepends=True)[:2001]))
        bad = folder / "bad.csv"
        bad.write_text("a,b\n1,2\n")
        rows = [
            ("python -c pass", [sys.executable, "-c", "pass"]),
            ("import geopandas (the floor)", [sys.executable, "-c", "import geopandas"]),
            ("bad path", [*odgeo, "hotspots", str(folder / "missing.csv"), "--out", str(folder / "o1")]),
            ("bad option", [*odgeo, "hotspots", str(county), "--out", str(folder / "o2"), "--bandwidth", "-5"]),
            ("bad file (no date, no coordinates)", [*odgeo, "hotspots", str(bad), "--out", str(folder / "o3"),
                                                    "--overwrite"]),
            ("odgeo alerts, 2,000 incidents", [*odgeo, "alerts", str(county), "--out", str(folder / "o4"),
                                               "--overwrite", "--timezone", "America/Chicago"]),
            ("odgeo hotspots, 2,000 incidents", [*odgeo, "hotspots", str(county), "--out", str(folder / "o5"),
                                                 "--overwrite", "--timezone", "America/Chicago"]),
        ]
        measured = [(name, *_median(args, runs)) for name, args in rows]
    floor = measured[1][1]
    print(f"{'process':<38} {'median s':>9} {'peak MiB':>9} {'x import geopandas':>19}")
    for name, seconds, mib in measured:
        print(f"{name:<38} {seconds:>9.2f} {mib:>9.0f} {seconds / floor:>19.2f}")


if __name__ == "__main__":
    main()
