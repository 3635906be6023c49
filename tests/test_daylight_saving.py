"""Days are calendar days where the incidents happened, across daylight-saving changes and odd offsets.

Issue 42: `odgeo scan` and `odgeo alerts --scan` stopped ("case days must lie in
0..n_days-1") whenever the 30-day window held a DST change, because the window's first
day was the last day minus 29 x 24 hours. The references here are independent of
odgeo's date arithmetic: Python's zoneinfo for the start of a day, and the date written
in the input file (the sample's times are local wall-clock times) for which incidents a
window holds.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pandas as pd
import pytest
from click.testing import CliRunner

from cli.main import cli
from odgeo.incidents.dates import calendar_day, shift_days
from odgeo.incidents.read import read_incidents
from odgeo.jobs.scan import ScanJobSettings, run_scan
from odgeo.schema import has_location

from .conftest import SAMPLE

#: Zones with a DST change in 2025: an hour (Chicago), half an hour (Lord Howe), at midnight
#: (Santiago skips 00:00, Havana repeats it), and fixed odd offsets (Kolkata +5:30, Kathmandu +5:45).
ZONES = ["America/Chicago", "Australia/Lord_Howe", "America/Santiago", "America/Havana", "Asia/Kolkata",
         "Asia/Kathmandu"]


def _first_minute(day: dt.date, zone: str) -> dt.datetime:
    """The first minute whose local date is ``day`` (zoneinfo: fold 0 is a repeated time's first occurrence)."""
    tz = zoneinfo.ZoneInfo(zone)
    wall = dt.datetime.combine(day, dt.time())
    while True:
        t = wall.replace(tzinfo=tz, fold=0)
        if t.astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None) == wall:  # this wall time exists
            return t
        wall += dt.timedelta(minutes=1)


@pytest.mark.parametrize("zone", ZONES)
def test_a_calendar_day_starts_at_its_first_minute_in_every_zone(zone):
    days = pd.date_range("2025-01-01", "2025-12-31", freq="7D").date.tolist()
    changes = {"America/Chicago": ["2025-03-09", "2025-11-02"], "Australia/Lord_Howe": ["2025-04-06", "2025-10-05"],
               "America/Santiago": ["2025-04-06", "2025-09-07"], "America/Havana": ["2025-03-09", "2025-11-02"]}
    days += [dt.date.fromisoformat(d) + dt.timedelta(days=k) for d in changes.get(zone, []) for k in (-1, 0, 1)]
    for day in days:
        noon = pd.Timestamp(dt.datetime.combine(day, dt.time(12)), tz=zone)
        for offset in (-29, -1, 0, 1, 29):
            want = _first_minute(day + dt.timedelta(days=offset), zone)
            got = calendar_day(noon, offset)
            assert got == pd.Timestamp(want), (zone, day, offset, got, want)


def test_shift_days_keeps_the_wall_clock_across_a_change():
    evening = pd.Timestamp("2025-11-02 20:00", tz="America/Chicago")  # the 25-hour day
    assert shift_days(evening, -1) == pd.Timestamp("2025-11-01 20:00", tz="America/Chicago")
    assert evening - shift_days(evening, -1) == pd.Timedelta(hours=25)
    assert shift_days(pd.Timestamp("2025-03-08 02:30", tz="America/Chicago"), 1) == pd.Timestamp(
        "2025-03-09 03:00", tz="America/Chicago")  # 02:30 does not exist that day: the clock moves forward


def _written_dates() -> pd.Series:
    """Each incident's date as the file writes it (ISO or US month/day/year), as YYYY-MM-DD text."""
    raw = pd.read_csv(SAMPLE / "incidents.csv", dtype=str, keep_default_na=False).set_index("incident_id")
    text = raw["occurred_at"]
    us = text.str.extract(r"^(\d\d)/(\d\d)/(\d{4})")
    return text.str[:10].where(us[0].isna(), us[2] + "-" + us[0] + "-" + us[1])


def _ids_by_written_date(first: str, last: str, zone: str) -> set[str]:
    """Located, dated incidents whose date as written in the file lies in [first, last]."""
    written = _written_dates()
    read = read_incidents(SAMPLE / "incidents.csv", timezone=zone).incidents
    usable = set(read.loc[has_location(read.geometry) & read["occurred_at"].notna(),
                          "incident_id"])
    return {i for i in usable if first <= written.get(i, "") <= last}


@pytest.mark.parametrize(("zone", "as_of", "first"), [
    ("America/Chicago", "2025-11-15", "2025-10-17"),     # the window holds the fall-back change
    ("America/Chicago", "2025-03-20", "2025-02-19"),     # ... the spring-forward change
    ("Australia/Lord_Howe", "2025-04-20", "2025-03-22"),  # a half-hour change
    ("Asia/Kathmandu", "2025-11-15", "2025-10-17"),      # +5:45, no change
])
def test_the_scan_window_is_thirty_calendar_days_of_the_file(tmp_path, zone, as_of, first):
    settings = ScanJobSettings(timezone=zone, as_of=as_of, audience="restricted", permutations=99)
    run = run_scan(SAMPLE / "incidents.csv", tmp_path / "out", settings)
    assert f"{run.first_day:%Y-%m-%d %H:%M}" == f"{first} 00:00"
    assert set(run.incidents["incident_id"]) == _ids_by_written_date(first, as_of, zone)


@pytest.mark.parametrize("as_of", ["2025-11-15", "2025-03-20", "2025-11-02", "2025-11-03 00:00"])
def test_alerts_with_the_scan_run_across_both_changes(tmp_path, as_of):
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["alerts", str(SAMPLE / "incidents.csv"), "--timezone", "America/Chicago",
                                      "--as-of", as_of, "--scan", "--threshold", "1", "--audience", "restricted",
                                      "--tiles", "none", "--out", str(out)])
    assert result.exit_code == 0, result.output
    alerts = pd.read_csv(out / "alerts.csv")
    everywhere = alerts[(alerts["area"] == "all") & (alerts["kind"] == "threshold")].iloc[0]
    start, end = (pd.Timestamp(everywhere[c]) for c in ("window_start", "window_end"))
    # The day's window starts at the same wall-clock time the day before, 23 or 25 hours earlier.
    assert start.tz_localize(None) == end.tz_localize(None) - pd.Timedelta(days=1)
    assert end - start == pd.Timedelta(hours=25 if as_of.startswith("2025-11-0") else 24)


def test_sites_train_until_ends_at_the_calendar_day_of_a_change(tmp_path):
    # 2025-03-09 is 23 hours long in Chicago: the sample's 00:11 death on 10 March is after the cut
    # (24 hours after the 9th's midnight, the old cut, was 01:00 on the 10th).
    from odgeo.jobs.hotspots import HotspotSettings
    from odgeo.jobs.sites import SitesSettings, run_sites

    settings = SitesSettings(candidates=str(SAMPLE / "candidate_sites.csv"), n_sites=2, train_until="2025-03-09",
                             hotspots=HotspotSettings(timezone="America/Chicago", audience="restricted"))
    run = run_sites(SAMPLE / "incidents.csv", tmp_path / "out", settings)
    written = _written_dates()
    used = run.hotspots.incidents
    dated = used.loc[used["occurred_at"].notna(), "incident_id"]
    assert run.evaluation["n_train"] == int((written.loc[dated] <= "2025-03-09").sum())
    assert run.evaluation["n_train"] + run.evaluation["n_later"] == len(dated)


@pytest.mark.parametrize(("zone", "day", "before"), [("America/Santiago", "2025-09-07", "2025-09-06"),
                                                      ("America/Havana", "2025-11-02", "2025-11-01")])
@pytest.mark.parametrize("command", ["hotspots --since {day}", "alerts --as-of {before}", "alerts --as-of {day}",
                                     "scan --as-of {day}", "emerging --until {day}", "hotspots --until {before}"])
def test_every_command_runs_on_a_day_whose_midnight_is_skipped_or_repeated(tmp_path, zone, day, before, command):
    # Santiago's clocks go from 23:59 to 01:00 on 7 September 2025 and Havana's repeat 00:00-00:59 on
    # 2 November 2025: a date given or reached there has no single midnight ("nonexistent time" before).
    name, *options = command.format(day=day, before=before).split()
    result = CliRunner().invoke(cli, [name, str(SAMPLE / "incidents.csv"), "--timezone", zone, *options,
                                      "--tiles", "none", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
