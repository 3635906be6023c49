"""The daily job of docs/alerts.md, run as a daily job: 60 mornings, two clock changes, two kills.

Issue 42: `odgeo alerts --scan` stopped on every morning whose 30-day window held a clock
change, and a kill between stores left --out, the history and the database disagreeing.
Each part has its own test; this one runs them together, as cron does: `alerts` with
`--history`, `--scan` and `--to-postgis ... --postgis-mode append`, one public run a morning
from 15 Feb to 15 Apr 2025, and checks every morning that the three stores hold the same
run and that the products name the morning's calendar day.

The zone is Africa/Casablanca, whose clocks go back an hour on 23 Feb 2025 (a 25-hour day)
and forward on 6 Apr (a 23-hour day) for Ramadan: both changes in one 60-day series (the
sample city's America/Chicago has them 8 months apart; tests/test_daylight_saving.py covers
its own). Those two mornings are the ones killed: one after its database commit, which the
next morning finishes (forward), and one before it, which the next morning discards (back).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta

import pandas as pd
import psycopg
from click.testing import CliRunner

from cli.main import cli

from .conftest import SAMPLE
from .test_postgis import server  # noqa: F401  (the throwaway PostgreSQL server, a fixture)
from .test_state_files import KILLER, _last_as_of

ZONE = "Africa/Casablanca"
FIRST, MORNINGS = date(2025, 2, 15), 60
KILLS = {date(2025, 2, 23): "after the journal", date(2025, 4, 6): "before the database commits"}


def _runs(url: str) -> list[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        return [r[0] for r in conn.execute("SELECT run_id FROM daily.runs ORDER BY written_at")]


def _alert_rows(url: str) -> dict[str, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        return dict(conn.execute("SELECT run_id, count(*) FROM daily.alerts GROUP BY 1").fetchall())


def test_sixty_mornings_across_both_clock_changes_with_two_kills(server, tmp_path):  # noqa: F811
    url = server.create_database("daily_job")
    out, history = tmp_path / "alerts" / "today", tmp_path / "alerts" / "history.csv"

    def morning(day: date) -> list[str]:  # the cron line of docs/alerts.md, with the day it runs for
        return ["-q", "alerts", str(SAMPLE / "incidents.csv"), "--out", str(out), "--overwrite", "--timezone", ZONE,
                "--history", str(history), "--scan", "--to-postgis", url, "--schema", "daily", "--postgis-mode",
                "append", "--tiles", "none", "--as-of", day.isoformat()]

    before: list[str] = []  # the database's runs after the last morning that completed
    alerts_seen = alarm_days = 0
    for day in (FIRST + timedelta(days=i) for i in range(MORNINGS)):
        if day in KILLS:
            killed = subprocess.run([sys.executable, "-c", KILLER, KILLS[day], *morning(day)], capture_output=True,
                                    text=True, timeout=600)
            assert killed.returncode == 137, killed.stderr
            assert (out.parent / ".today.odgeo-journal").exists()  # what the next morning finds and finishes
            continue
        result = CliRunner().invoke(cli, morning(day))
        assert result.exit_code == 0, (day, result.output)
        yesterday = KILLS.get(day - timedelta(days=1))  # whose run this morning first finished (-q: silently)
        record = json.loads((out / "run.json").read_text())
        runs = _runs(url)
        new = 2 if yesterday == "after the journal" else 1  # the killed run's copy is kept, once
        assert runs[:len(before)] == before and len(runs) == len(before) + new, day  # none lost, none twice
        assert runs[-1] == record["postgis"]["run_id"], day
        before = runs

        # The three stores hold the same run: --out's, the history's last, the database's last.
        assert record["parameters"]["as_of"]["value"] == day.isoformat(), day  # a public record names the day
        assert _last_as_of(history)[:16] == (day + timedelta(days=1)).isoformat() + "T00:00", day  # its end
        alert_rows = _alert_rows(url)
        assert set(alert_rows) <= set(runs), day  # no rows of a run the runs table does not hold
        shown = pd.read_csv(out / "alerts.csv")
        assert alert_rows.get(runs[-1], 0) == len(shown), day
        alerts_seen += len(shown)
        alarm_days += bool(len(pd.read_csv(out / "ears.csv")))

        # The products name the morning's calendar day, on 23- and 25-hour days as on others.
        alarms = pd.read_csv(out / "ears.csv")
        assert set(alarms["date"]) <= {day.isoformat()}, day
        current = shown[shown["status"] != "ended"]
        assert set(current["window_end"]) <= {day.isoformat()}, day
        assert record["scan"]["window_days"] == 30 and record["scan"]["permutations"] == 999
    assert alerts_seen > 0 and alarm_days > 0  # the checks of the days above were not all vacuous
    assert len(_runs(url)) == MORNINGS - 1  # every morning but the one rolled back
