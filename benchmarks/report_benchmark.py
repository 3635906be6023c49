"""odgeo report on a state's five years: the whole report, and its statistics beside plain pandas/scipy loops.

    .venv/bin/python benchmarks/report_benchmark.py [--incidents 1000000] [--counties 100] [--years 5]

A state of ``--counties`` square counties (populations 5,000 to 900,000, log-uniform) and
``--incidents`` incidents over ``--years`` years, more where more people live. Timed in one run:

- the whole ``odgeo report`` (reading the CSV, validating, the tables, report.html and report.pdf
  printed by Chromium) as the command line runs it, in a child process (wall clock);
- the statistics alone: :func:`odgeo.report.tables.rate_table` and :func:`trend_table` on the
  incidents read, beside the loop one writes first (per county: a boolean mask for the period and
  the year before, ``scipy.stats.chi2`` for the interval and ``scipy.stats.binomtest`` for the
  change; per period: a mask and a count). Both must give the same counts.

Target (issue 45): the whole report, PDF included, in 10 s or less.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_benchmarks import table


def state(folder: Path, n: int, counties: int, years: float, seed: int = 45) -> tuple[Path, Path]:
    import geopandas as gpd
    import shapely

    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(counties)))
    cell = 0.3
    boxes = [shapely.box(-90 + (k % side) * cell, 35 + (k // side) * cell, -90 + (k % side + 1) * cell,
                         35 + (k // side + 1) * cell) for k in range(counties)]
    population = np.exp(rng.uniform(np.log(5_000), np.log(900_000), counties)).round()
    areas = gpd.GeoDataFrame({"name": [f"County {k + 1:03d}" for k in range(counties)], "population": population},
                             geometry=boxes, crs="EPSG:4326")
    where = rng.choice(counties, n, p=population / population.sum())
    lon = -90 + (where % side + rng.random(n)) * cell
    lat = 35 + (where // side + rng.random(n)) * cell
    start = pd.Timestamp("2021-01-01")
    times = start + pd.to_timedelta(rng.integers(0, int(years * 365.25 * 86400), n), unit="s")
    frame = pd.DataFrame({"incident_id": np.arange(n), "occurred_at": times.strftime("%Y-%m-%d %H:%M:%S"),
                          "longitude": lon.round(5), "latitude": lat.round(5),
                          "outcome": rng.choice(["fatal", "nonfatal"], n, p=[0.15, 0.85]),
                          "suspected_drug": rng.choice(["fentanyl", "heroin", "cocaine", "fentanyl and xylazine",
                                                        "methamphetamine", ""], n),
                          "age": rng.integers(15, 80, n), "sex": rng.choice(["M", "F", "U"], n, p=[0.6, 0.38, 0.02])})
    incidents, counties_file = folder / "state.csv", folder / "counties.geojson"
    frame.to_csv(incidents, index=False)
    areas.to_file(counties_file)
    shares = {"0-14": 0.182, "15-24": 0.130, "25-34": 0.139, "35-44": 0.129, "45-54": 0.122, "55-64": 0.129,
              "65+": 0.169}
    pd.DataFrame([(name, group, round(pop * share)) for name, pop in zip(areas["name"], population)
                  for group, share in shares.items()],
                 columns=["name", "age_group", "population"]).to_csv(folder / "counties_by_age.csv", index=False)
    return incidents, counties_file


def loop_statistics(incidents, areas, period) -> tuple[np.ndarray, list]:
    """The first thing one writes: per county, masks, then scipy for the interval and the test."""
    from scipy import stats

    dates = incidents["occurred_at"].dt.tz_localize(None)
    now = (dates >= period.current.start_time) & (dates <= period.current.end_time)
    before = (dates >= period.earlier.start_time) & (dates <= period.earlier.end_time)
    counts, rows = [], []
    taken = np.zeros(len(incidents), dtype=bool)
    for _, area in areas.iterrows():  # an incident on a shared edge counts in the first county, as in odgeo
        inside = incidents.geometry.intersects(area.geometry).to_numpy() & ~taken
        taken |= inside
        x1, x2 = int((inside & now).sum()), int((inside & before).sum())
        t = area["population"] * period.years
        low = stats.chi2.ppf(0.025, 2 * x1) / 2 / t * 1e5 if x1 else 0.0
        high = stats.chi2.ppf(0.975, 2 * x1 + 2) / 2 / t * 1e5
        p = stats.binomtest(x1, x1 + x2, 0.5).pvalue if x1 + x2 else 1.0
        counts.append(x1)
        rows.append((low, high, p))
    for p in pd.period_range(dates.min().to_period("Q"), period.current, freq="Q"):
        ((dates >= p.start_time) & (dates <= p.end_time)).sum()
    return np.array(counts), rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--counties", type=int, default=100)
    parser.add_argument("--years", type=float, default=5)
    args = parser.parse_args()

    from odgeo.boundaries.counts import read_boundaries
    from odgeo.incidents.read import read_incidents
    from odgeo.report.tables import area_of_incidents, rate_table, report_period, trend_table
    from odgeo.schema import located

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        incidents_csv, counties = state(folder, args.incidents, args.counties, args.years)
        odgeo = str(Path(sys.executable).with_name("odgeo"))
        start = time.perf_counter()
        done = subprocess.run([odgeo, "report", str(incidents_csv), "--boundaries", str(counties), "--out",
                               str(folder / "out"), "--as-of", "2025-12-31", "-q", "--population-by-age",
                               str(folder / "counties_by_age.csv")], capture_output=True, text=True)
        whole_s = time.perf_counter() - start
        if done.returncode != 0:
            print(done.stdout, done.stderr)
            return 1
        pdf = (folder / "out" / "report.pdf").exists()
        read = read_incidents(incidents_csv)
        used = located(read.incidents)
        areas, _ = read_boundaries(counties)
        period = report_period(used["occurred_at"], "quarter", "2025-12-31")
        start = time.perf_counter()
        rates = rate_table(used, areas, period, where=area_of_incidents(used, areas), min_count=10)
        trend_table(used, period, population=float(areas["population"].sum()), provisional_months=6)
        ours_s = time.perf_counter() - start
        start = time.perf_counter()
        counts, _ = loop_statistics(used, areas, period)
        loop_s = time.perf_counter() - start
        same = bool((rates["count"].to_numpy()[:-1] == counts).all())
    table(f"odgeo report: {args.incidents:,} incidents, {args.counties} counties, {args.years:g} years",
          ["what", "odgeo", "peer (same run)", "ratio", "target"],
          [["whole report, populations by age, PDF" if pdf else "whole report (no Chromium: no PDF)",
            f"{whole_s:.1f} s", "—", "—", "<= 10 s"],
           ["statistics (rates, change, trend)", f"{ours_s:.2f} s", f"{loop_s:.1f} s (pandas/scipy loop)",
            f"{loop_s / ours_s:.0f}x", "—"]])
    print(f"\nthe loop's county counts equal odgeo's: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
