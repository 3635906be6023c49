"""Compare threshold rules and EARS minimum SDs on a real input: the figures behind odgeo alerts' defaults.

    python scripts/alert_rules.py INCIDENTS --timezone TZ [--location-col COL] [--areas FILE]

Reads the input as `odgeo alerts` does (H3 cells at resolution 7 without --areas),
then backtests each candidate (docs/alerts.md has the figures seen on the real data).
"""

from __future__ import annotations

import argparse

import pandas as pd

from odgeo.alerts.areas import h3_areas, polygon_areas
from odgeo.alerts.backtest import backtest
from odgeo.alerts.spikes import ThresholdRule, daily_series
from odgeo.jobs.alerts import AlertSettings
from odgeo.jobs.common import latest_time, read_job_input, select_incidents
from odgeo.runrecord import RunRecord

RULES = [ThresholdRule(3, 30, 3), ThresholdRule(1, 30, 3), ThresholdRule(3, 90, 3), ThresholdRule(1, 90, 3),
         ThresholdRule(3, 30, 2)]
MIN_SDS = [0.0, 0.5, 1.0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("incidents")
    parser.add_argument("--timezone", required=True)
    parser.add_argument("--location-col")
    parser.add_argument("--areas")
    args = parser.parse_args()
    settings = AlertSettings(timezone=args.timezone, columns={"location": args.location_col})
    record = RunRecord("alerts")
    read = read_job_input(args.incidents, settings, record)
    read, used, _ = select_incidents(read, settings, record, require_dates="alerts")
    areas = polygon_areas(args.areas, used) if args.areas else h3_areas(used)
    series = daily_series(used["occurred_at"], areas, latest_time(used["occurred_at"]))
    n = len(areas.names)
    rows = []
    for rule in RULES:
        t = backtest(series.counts, n, ("threshold",), rule=rule, sizes=(3, 5)).table
        rows += [{"candidate": f"threshold rank {rule.rank} of {rule.baseline_days} days, floor {rule.floor}", **r}
                 for r in t.to_dict("records")]
    for sd in MIN_SDS:
        t = backtest(series.counts, n, ("ears_c1", "ears_c2", "ears_c3"), rule=ThresholdRule(), min_sd=sd,
                     sizes=(3, 5)).table
        rows += [{"candidate": f"EARS min SD {sd}", **r} for r in t.to_dict("records")]
    cols = ["candidate", "method", "spike_size", "alerts_per_month", "alerts_per_month_all", "detected_share"]
    print(f"{len(used):,} incidents, {n} areas, {len(series.counts):,} days")
    print(pd.DataFrame(rows)[cols].to_string(index=False))


if __name__ == "__main__":
    main()
