"""odgeo alerts: the daily run and the one-year backtest beside a naive per-day pandas loop, in the same run.

    python benchmarks/alerts_benchmark.py [--incidents 1000000] [--areas 100] [--years 5]

Synthetic state: ``--areas`` square counties, incidents over ``--years`` years with
rates that differ by county. Timed on the same in-memory incidents (reading
the file is the main job's reader, benchmarked by run_benchmarks.py):

- daily run: odgeo (points in counties, daily series, recommended thresholds,
  neighbour alerts, EARS C1/C2/C3) vs the naive loop: for each day a boolean
  mask over the incidents and a groupby per county, then pandas rolling windows
  for the thresholds and EARS;
- backtest of one year of daily runs: odgeo (one series, every day's alarms at
  once, 600 planted spikes per method) vs the naive loop rerunning the daily job
  for each day (timed on 20 days and scaled to 365, as noted).

Targets (issue 11): daily run <= 10 s; backtest of 1 year <= 60 s.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_benchmarks import table

from odgeo.alerts.areas import polygon_areas
from odgeo.alerts.backtest import backtest
from odgeo.alerts.spikes import ThresholdRule, current_alerts, daily_series

TZ = "America/New_York"


def _state(n: int, n_areas: int, years: int, seed: int = 0):
    side = int(np.ceil(np.sqrt(n_areas)))
    boxes = [shapely.box(-80 + 0.25 * (k % side), 40 + 0.25 * (k // side), -80 + 0.25 * (k % side + 1),
                         40 + 0.25 * (k // side + 1)) for k in range(n_areas)]
    counties = gpd.GeoDataFrame({"name": [f"County {k + 1:03d}" for k in range(n_areas)]}, geometry=boxes, crs=4326)
    rng = np.random.default_rng(seed)
    weight = rng.gamma(0.8, size=n_areas)
    area = rng.choice(n_areas, size=n, p=weight / weight.sum())
    x = -80 + 0.25 * (area % side) + rng.uniform(0.001, 0.249, n)
    y = 40 + 0.25 * (area // side) + rng.uniform(0.001, 0.249, n)
    start = pd.Timestamp("2021-01-01", tz=TZ)
    seconds = rng.integers(0, int(years * 365.25 * 86400), n)
    times = pd.Series(start + pd.to_timedelta(np.sort(seconds), unit="s"))
    incidents = gpd.GeoDataFrame({"occurred_at": times}, geometry=gpd.points_from_xy(x, y), crs=4326)
    return counties, incidents


def _odgeo_daily(path, incidents, as_of):
    areas = polygon_areas(path, incidents)
    series = daily_series(incidents["occurred_at"], areas, as_of)
    current_alerts(series, areas, rule=ThresholdRule(), fixed=None, methods=("c1", "c2", "c3"))
    return areas, series


def _naive_daily(area_of: np.ndarray, times: pd.Series, as_of: pd.Timestamp, n_areas: int) -> pd.DataFrame:
    """The per-day loop: mask the incidents of each 24 hours, count per county, then rolling windows.

    Returns the last day's threshold, C1 and C2 alarms per county (C3 left out: the loop is already slower).
    """
    n_days = int((as_of - times.min()) / pd.Timedelta(days=1)) + 1
    frame = pd.DataFrame({"area": area_of, "t": times})
    rows = []
    for k in range(n_days):
        end = as_of - pd.Timedelta(days=k)
        day = frame[(frame["t"] > end - pd.Timedelta(days=1)) & (frame["t"] <= end)]
        rows.append(day.groupby("area").size().reindex(range(n_areas), fill_value=0).to_numpy())
    daily = pd.DataFrame(rows[::-1])
    threshold = daily.shift(1).rolling(90, min_periods=1).max().clip(lower=3)
    alarms = {"threshold": daily.iloc[-1] >= threshold.iloc[-1]}
    for name, lag in (("c1", 1), ("c2", 3)):
        base = daily.shift(lag).rolling(7)
        alarms[name] = daily.iloc[-1] > (base.mean() + 3 * np.maximum(base.std(), 0.5)).iloc[-1]
    return pd.DataFrame(alarms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--areas", type=int, default=100)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--naive-backtest-days", type=int, default=20)
    args = parser.parse_args()
    counties, incidents = _state(args.incidents, args.areas, args.years)
    path = Path("/tmp/odgeo-bench-counties.geojson")
    counties.to_file(path)
    as_of = incidents["occurred_at"].max()
    t0 = time.perf_counter()
    areas, series = _odgeo_daily(path, incidents, as_of)
    t_daily = time.perf_counter() - t0
    area_of = np.full(len(incidents), -1)
    area_of[areas.members[0]] = areas.members[1]
    t0 = time.perf_counter()
    _naive_daily(area_of, incidents["occurred_at"], as_of, len(areas.names))
    t_naive = time.perf_counter() - t0
    year = series.counts[-(365 + 60):]  # one year of runs, each with its 60 days of history
    t0 = time.perf_counter()
    test = backtest(year, len(areas.names), ("threshold", "ears_c1", "ears_c2", "ears_c3"), rule=ThresholdRule())
    t_backtest = time.perf_counter() - t0
    days = args.naive_backtest_days
    t0 = time.perf_counter()
    recent = incidents["occurred_at"] > as_of - pd.Timedelta(days=60 + days)
    for k in range(days):
        _naive_daily(area_of[recent.to_numpy()], incidents.loc[recent, "occurred_at"], as_of - pd.Timedelta(days=k),
                     len(areas.names))
    t_naive_backtest = (time.perf_counter() - t0) * 365 / days
    print(f"{args.incidents:,} incidents, {args.areas} counties, {args.years} years "
          f"({len(series.counts):,} days); backtest rows: {len(test.table)}")
    table("odgeo alerts", ["task", "odgeo s", "naive pandas loop s", "naive / odgeo", "target"], [
        ["daily run", f"{t_daily:.2f}", f"{t_naive:.2f}", f"{t_naive / t_daily:.1f}", "<= 10 s"],
        ["backtest, 1 year of daily runs", f"{t_backtest:.2f}",
         f"{t_naive_backtest:.1f} (from {days} days x 365/{days}; threshold only, no spikes)",
         f"{t_naive_backtest / t_backtest:.1f}", "<= 60 s"],
    ])


if __name__ == "__main__":
    main()
