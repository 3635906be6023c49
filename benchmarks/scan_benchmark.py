"""odgeo scan beside a naive pandas scan, in the same run.

    python benchmarks/scan_benchmark.py [--cases 3000] [--locations 2500] [--permutations 999] [--days 10]
    python benchmarks/scan_benchmark.py --incidents ../shared/realdata/tempe/Opioid_EMS_Calls.csv \
        --timezone America/Phoenix --year 2021     # a year of real daily runs, every day timed

A SOON-style daily run (30-day window, clusters up to 7 days and 1.2 km, 999
permutations) on a synthetic city of ``--cases`` cases at ``--locations``
locations over about 100 km2 (a background plus ten hot neighbourhoods):

- odgeo: :func:`odgeo.scan.statistic.scan` after its one-off compilation (timed apart),
  on every core and on one thread, and split into its stages (the circles,
  the observed search, the permutations);
- naive: the same maximisation written with pandas, a boolean mask and a
  ``value_counts`` per circle, timed on a sample of centres for one data set and
  scaled to every centre and 1 + permutations data sets (noted as scaled);
- a year of daily runs (the backtest of ``odgeo alerts``): ``--days`` consecutive
  daily runs over a year of such data, scaled to 365;
- the retrospective mode (windows anywhere in the 30 days) with 99 permutations;
- with ``--incidents``: 365 daily runs over ``--year`` of a real file, each day
  timed (the clusters a daily SOON-style run would have reported that year).

Target (issue 12): the daily run <= 10 s on this 2-core machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numba
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_benchmarks import table

from odgeo.scan.statistic import ScanSettings, build_zones, scan, time_windows

SOON = ScanSettings(window_days=30, max_days=7, max_radius_m=1200, min_cases=3, permutations=999)


def city(n_cases: int, n_locations: int, n_days: int, seed: int = 0):
    """Locations over ~10 x 10 km (a third in ten neighbourhoods) and cases on them, days at random."""
    rng = np.random.default_rng(seed)
    hot = rng.uniform(1000, 9000, (10, 2))
    k = n_locations // 3
    xy = np.r_[rng.uniform(0, 10000, (n_locations - k, 2)), hot[rng.integers(0, 10, k)] + rng.normal(0, 300, (k, 2))]
    loc = np.r_[np.arange(n_locations), rng.integers(0, n_locations, n_cases - n_locations)]
    return loc, rng.integers(0, n_days, n_cases), xy[:, 0], xy[:, 1]


def naive_max_llr(loc, day, x, y, n_days, s: ScanSettings, centres) -> float:
    """The largest LLR over the cylinders of ``centres``, by pandas masks per circle and window."""
    cases = pd.DataFrame({"loc": loc, "day": day})
    n = len(cases)
    first, last = time_windows(n_days, s.max_days, s.retrospective)
    per_window = pd.Series([((cases["day"] >= a) & (cases["day"] <= b)).sum() for a, b in zip(first, last)])
    best = 0.0
    for i in centres:
        dist = pd.Series(np.hypot(x - x[i], y - y[i]))
        for radius in np.unique(dist[dist <= s.max_radius_m]):
            zone = cases[cases["loc"].isin(dist.index[dist <= radius])]
            if len(zone) > 0.5 * n:
                break
            for w, (a, b) in enumerate(zip(first, last)):
                c = int(zone["day"].between(a, b).sum())
                e = len(zone) * per_window[w] / n
                if c >= s.min_cases and c > e:
                    best = max(best, c * np.log(c / e) + (n - c) * np.log((n - c) / (n - e)))
    return best


def real_year(path: str, timezone: str, year: int, settings: ScanSettings) -> None:
    """Every day of ``year`` scanned as a daily run would have: time, and days with a cluster at p < 0.05."""
    from odgeo.incidents.read import read_incidents
    from odgeo.scan.cases import scan_cases
    from odgeo.schema import located

    used = located(read_incidents(path, timezone=timezone).incidents)
    used = used[used["occurred_at"].notna()].reset_index(drop=True)
    days = pd.date_range(f"{year}-01-01", f"{year}-12-31", tz=used["occurred_at"].dt.tz)
    start, signals, cases = time.perf_counter(), 0, 0
    for last in days:
        first = last - pd.Timedelta(days=settings.window_days - 1)
        window = used[(used["occurred_at"] >= first) & (used["occurred_at"] < last + pd.Timedelta(days=1))]
        if len(window) < settings.min_cases:
            continue
        data = scan_cases(window, first)
        result = scan(data.location, data.day, data.x, data.y, settings.window_days, settings)
        signals += int(result.most_likely is not None and result.most_likely["p_value"] < 0.05)
        cases += len(window)
    elapsed = time.perf_counter() - start
    table(f"A year of daily runs on {Path(path).name} ({year}, {settings.permutations} permutations)",
          ["days", "seconds", "per day", "mean cases per window", "days with a cluster at p < 0.05"],
          [[len(days), f"{elapsed:,.0f}", f"{elapsed / len(days):.2f}", f"{cases / len(days):.0f}", signals]])


def timed(fn, *args, **kw):
    start = time.perf_counter()
    out = fn(*args, **kw)
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--locations", type=int, default=2500)
    parser.add_argument("--permutations", type=int, default=999)
    parser.add_argument("--days", type=int, default=10, help="daily runs timed for the one-year figure")
    parser.add_argument("--naive-centres", type=int, default=40)
    parser.add_argument("--incidents", help="a real incident file: time a year of daily runs on it instead")
    parser.add_argument("--timezone", default="UTC")
    parser.add_argument("--year", type=int, default=2021)
    args = parser.parse_args()
    settings = ScanSettings(**{**SOON.__dict__, "permutations": args.permutations})
    if args.incidents:
        real_year(args.incidents, args.timezone, args.year, settings)
        return
    loc, day, x, y = city(args.cases, args.locations, 30)

    compile_s, _ = timed(scan, loc[:50], day[:50], x[:50], y[:50], 30, ScanSettings(permutations=9))
    odgeo_s, _ = timed(scan, loc, day, x, y, 30, settings)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    one_s, _ = timed(scan, loc, day, x, y, 30, settings)
    numba.set_num_threads(threads)
    zones_s, zones = timed(build_zones, x, y, np.bincount(loc, minlength=len(x)), settings.max_radius_m)
    observed_s, _ = timed(scan, loc, day, x, y, 30, ScanSettings(**{**settings.__dict__, "permutations": 9}))

    rng = np.random.default_rng(1)
    centres = rng.choice(len(x), size=min(args.naive_centres, len(x)), replace=False)
    naive_s, _ = timed(naive_max_llr, loc, day, x, y, 30, settings, centres)
    naive_total = naive_s * len(x) / len(centres) * (settings.permutations + 1)

    per_second = args.cases / odgeo_s
    table(f"Daily scan: {args.cases:,} cases, {args.locations:,} locations, 30 days, <= 7 days, 1.2 km, "
          f"{settings.permutations} permutations ({int(zones.closes.sum()):,} circles x 7 windows)",
          ["method", "seconds", "cases/s", "vs odgeo"],
          [[f"odgeo, {threads} threads", f"{odgeo_s:.2f}", f"{per_second:,.0f}", "1.0"],
           ["odgeo, 1 thread", f"{one_s:.2f}", f"{args.cases / one_s:,.0f}", f"{one_s / odgeo_s:.1f}"],
           [f"naive pandas (scaled from {len(centres)} centres x 1 data set)", f"{naive_total:,.0f}",
            f"{args.cases / naive_total:.2f}", f"{naive_total / odgeo_s:,.0f}"]])
    table("Where odgeo's time goes", ["stage", "seconds", "share"],
          [["numba compilation (once per installation, cached)", f"{compile_s:.2f}", "-"],
           ["circles (KD-tree, sorting)", f"{zones_s:.2f}", f"{zones_s / odgeo_s:.0%}"],
           ["observed search + 9 permutations", f"{observed_s:.2f}", f"{observed_s / odgeo_s:.0%}"],
           [f"{settings.permutations} permutations", f"{odgeo_s - observed_s:.2f}",
            f"{(odgeo_s - observed_s) / odgeo_s:.0%}"]])

    year_loc, year_day, yx, yy = city(args.cases * 12, args.locations * 4, 365, seed=2)
    start = time.perf_counter()
    for last in range(364 - args.days + 1, 365):
        keep = (year_day <= last) & (year_day > last - 30)
        present, location = np.unique(year_loc[keep], return_inverse=True)  # the window's own locations
        scan(location, year_day[keep] - (last - 29), yx[present], yy[present], 30, settings)
    per_day = (time.perf_counter() - start) / args.days
    retro_s, _ = timed(scan, loc, day, x, y, 30, ScanSettings(**{**settings.__dict__, "retrospective": True,
                                                                   "permutations": 99}))
    table("Longer runs", ["run", "seconds", "note"],
          [[f"one year of daily runs ({args.cases * 12:,} cases a year, {args.locations * 4:,} locations)",
            f"{per_day * 365:,.0f}", f"{per_day:.2f} s a day, {args.days} days timed and scaled to 365"],
           ["retrospective, 99 permutations", f"{retro_s:.2f}",
            f"{len(time_windows(30, 7, True)[0])} time windows instead of 7"]])


if __name__ == "__main__":
    main()
