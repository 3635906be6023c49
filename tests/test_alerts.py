"""odgeo alerts: daily series, thresholds, neighbours, history, backtest, audiences, bad input, e-mail."""

from __future__ import annotations

import json
import socketserver
import threading
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from cli.main import cli
from odgeo.alerts.areas import polygon_areas
from odgeo.alerts.backtest import backtest
from odgeo.alerts.spikes import ThresholdRule, daily_series, thresholds

from .conftest import SAMPLE, SAMPLE_TZ

TZ = "America/Chicago"
WEST = shapely.box(-97.50, 38.0, -97.40, 38.1)
EAST = shapely.box(-97.40, 38.0, -97.30, 38.1)
FAR = shapely.box(-97.10, 38.0, -97.00, 38.1)


def _areas_file(tmp_path: Path) -> str:
    path = tmp_path / "areas.geojson"
    gpd.GeoDataFrame({"district": ["West", "East", "Far"]}, geometry=[WEST, EAST, FAR], crs=4326).to_file(path)
    return str(path)


def _incidents(days: dict[str, list[tuple[str, float]]]) -> pd.DataFrame:
    """Rows from {"2025-03-01 10:00": [("West", n) ...]}: incidents at each area's centre."""
    centre = {"West": (-97.45, 38.05), "East": (-97.35, 38.05), "Far": (-97.05, 38.05), "None": (-97.2, 38.05)}
    rows = []
    for when, parts in days.items():
        for area, n in parts:
            for k in range(int(n)):
                lon, lat = centre[area]
                rows.append({"incident_id": f"{when}-{area}-{k}", "occurred_at": when, "outcome": "nonfatal",
                             "longitude": lon + 0.001 * k, "latitude": lat})
    return pd.DataFrame(rows)


def _quiet_history(days: int = 40, end: str = "2025-03-01") -> dict:
    """One incident every other day in West and every third day in East, up to the day before ``end``."""
    out: dict = {}
    for k, day in enumerate(pd.date_range(end=pd.Timestamp(end) - pd.Timedelta(days=1), periods=days)):
        parts = [("West", 1)] if k % 2 == 0 else []
        parts += [("East", 1)] if k % 3 == 0 else []
        if parts:
            out[f"{day:%Y-%m-%d} 09:00"] = parts
    return out


def _write(frame: pd.DataFrame, path: Path) -> str:
    frame.to_csv(path, index=False)
    return str(path)


def _alerts(args: list[str]):
    result = CliRunner().invoke(cli, ["alerts", *args], catch_exceptions=False)
    return result


def _west_spike(tmp_path: Path, out: Path, *options: str):
    """odgeo alerts on the three districts, with 4 incidents in West on the morning of 1 March 2025."""
    days = _quiet_history()
    days["2025-03-01 06:00"] = [("West", 4)]
    path = _write(_incidents(days), tmp_path / "ems.csv")
    result = _alerts([path, "--out", str(out), "--timezone", TZ, "--areas", _areas_file(tmp_path),
                      "--area-name-col", "district", *options])
    assert result.exit_code == 0, result.output
    return path


def test_thresholds_equal_a_brute_force_rank():
    rng = np.random.default_rng(1)
    counts = rng.poisson(1.3, (120, 3))
    rule = ThresholdRule(rank=3, baseline_days=30, floor=2)  # not the default: rank and window both exercised
    got = thresholds(counts, rule)
    for t in range(len(counts)):
        for s in range(3):
            before = sorted(counts[max(0, t - 30): t, s].tolist(), reverse=True)
            expected = max(2, before[min(3, len(before)) - 1]) if before else 2
            assert got[t, s] == expected, (t, s)


def test_daily_series_windows_and_date_only_incidents(tmp_path):
    frame = _incidents({"2025-03-01 07:00": [("West", 2)], "2025-03-01 09:30": [("East", 1), ("None", 1)],
                        "2025-03-01": [("West", 1)], "2025-02-27 23:00": [("West", 1)]})
    frame["geometry"] = gpd.points_from_xy(frame["longitude"], frame["latitude"])
    used = gpd.GeoDataFrame(frame, geometry="geometry", crs=4326)
    times = pd.to_datetime(frame["occurred_at"], format="mixed").dt.tz_localize(TZ)
    areas = polygon_areas(_areas_file(tmp_path), used, name_col="district")
    assert areas.names == ["East", "Far", "West"] and areas.n_outside(len(used)) == 1
    assert areas.neighbours[0] == {2} and areas.neighbours[1] == set()  # East touches West; Far nothing
    at_eight = daily_series(times, areas, pd.Timestamp("2025-03-01 08:00", tz=TZ))
    # Window (28 Feb 08:00, 1 Mar 08:00]: West's two 07:00 cases; the date-only one is left out of it.
    assert at_eight.window.tolist() == [0, 0, 2, 2] and at_eight.n_without_time_in_window == 1
    at_midnight = daily_series(times, areas, pd.Timestamp("2025-03-02 00:00", tz=TZ))
    assert at_midnight.window.tolist() == [1, 0, 3, 5] and at_midnight.n_without_time_in_window == 0
    assert at_midnight.days[-1] == "2025-03-01" and at_midnight.counts[:, 2].tolist() == [1, 0, 3]


def test_threshold_and_neighbour_alerts_and_their_record(tmp_path):
    out = tmp_path / "out"
    _west_spike(tmp_path, out, "--audience", "restricted", "--as-of", "2025-03-01")
    alerts = pd.read_csv(out / "alerts.csv")
    spike = alerts[(alerts["kind"] == "threshold") & (alerts["area"] == "West")].iloc[0]
    record = json.loads((out / "run.json").read_text())
    west = record["thresholds"]["West"]
    # The 40 days before: West had 1 on every other day, so its highest day is 1 and the floor 3 decides.
    assert west == {**west, "threshold": 3, "kth_highest_daily_count": 1, "baseline_days": 40, "floor": 3}
    assert spike["count"] == 4 and spike["threshold_or_expected"] == 3 and spike["status"] == "new"
    assert spike["sentence"] == ("4 suspected overdoses in West in the 24 hours to 1 Mar 24:00; "
                                 "the alert threshold there is 3.")
    neighbour = alerts[alerts["kind"] == "neighbour"]
    assert neighbour[["area", "related_areas"]].values.tolist() == [["East", "West"]]
    assert "Far" not in set(alerts["area"])
    ears = pd.read_csv(out / "ears.csv")
    last = ears[(ears["date"] == "2025-03-01") & (ears["area"] == "West")]
    assert set(last["method"]) == {"C1", "C2", "C3"} and last["alarm"].all()
    # Three methods on one area and day are one alert, which names them and the lowest bound crossed.
    west_ears = alerts[(alerts["kind"] == "ears") & (alerts["area"] == "West")]
    assert len(west_ears) == 1 and west_ears.iloc[0]["methods"] == "C1, C2, C3"
    assert west_ears.iloc[0]["threshold_or_expected"] == pytest.approx(last["upper_bound"].min(), abs=1e-3)
    assert west_ears.iloc[0]["sentence"].endswith("(EARS C1, C2 and C3).")
    assert not alerts["kind"].str.startswith("ears_").any()
    assert record["counts"]["n_input"] == record["counts"]["n_used"] + record["counts"]["n_rejected"] + \
        record["counts"]["n_unlocated"]
    page = (out / "summary.html").read_text()
    assert "West" in page and "<svg" in page and "http" not in page.replace("http-equiv", "")


def _run_day(tmp_path, days, as_of, history, out_name):
    path = _write(_incidents(days), tmp_path / f"{out_name}.csv")
    out = tmp_path / out_name
    result = _alerts([path, "--out", str(out), "--overwrite", "--timezone", TZ, "--areas", _areas_file(tmp_path),
                      "--area-name-col", "district", "--audience", "restricted", "--as-of", as_of,
                      "--history", str(history), "--ears", "none", "--neighbours", "none"])
    assert result.exit_code == 0, result.output
    alerts = pd.read_csv(out / "alerts.csv")
    return alerts[alerts["area"] != "all"].reset_index(drop=True)


@pytest.mark.parametrize("suffix", [".csv", ".sqlite"])
def test_history_new_ongoing_ended_and_a_rerun_changes_nothing(tmp_path, suffix):
    history = tmp_path / f"history{suffix}"
    days = _quiet_history()
    days["2025-03-01 06:00"] = [("West", 4)]
    first = _run_day(tmp_path, days, "2025-03-01 20:00", history, "d1")
    assert first[["area", "kind", "status"]].values.tolist() == [["West", "threshold", "new"]]
    saved = history.read_bytes()
    again = _run_day(tmp_path, days, "2025-03-01 20:00", history, "d1")
    assert history.read_bytes() == saved and again.equals(first)
    days["2025-03-02 05:00"] = [("West", 1)]  # still >= 3 in the 24 hours to 2 Mar 05:30
    second = _run_day(tmp_path, days, "2025-03-02 05:30", history, "d2")
    row = second.iloc[0]
    assert (row["status"], row["count"], row["prior_count"]) == ("ongoing", 5, 4)
    assert "Up from 4 in the last run's window" in row["sentence"] and row["alert_id"] == first.iloc[0]["alert_id"]
    third = _run_day(tmp_path, days, "2025-03-03 12:00", history, "d3")
    assert third[["area", "status"]].values.tolist() == [["West", "ended"]]
    assert "has ended" in third.iloc[0]["sentence"]
    days["2025-03-04 10:00"] = [("West", 5)]  # above the highest day of the 90 before (4)
    fourth = _run_day(tmp_path, days, "2025-03-04 12:00", history, "d4")
    assert fourth[["status"]].values.tolist() == [["new"]] and fourth.iloc[0]["alert_id"] != first.iloc[0]["alert_id"]
    with pytest.raises(AssertionError):  # a history only moves forward
        _run_day(tmp_path, days, "2025-03-02 05:30", history, "d5")


def test_bad_input_is_one_line_exit_1_and_nothing_is_overwritten(tmp_path):
    days = _quiet_history()
    path = _write(_incidents(days), tmp_path / "ems.csv")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    history = tmp_path / "h.csv"
    history.write_text("not a history\n1,2\n")
    points = tmp_path / "points.geojson"
    gpd.GeoDataFrame({"name": ["a"]}, geometry=[shapely.Point(-97.4, 38.05)], crs=4326).to_file(points)
    cases = [
        (["--as-of", "2019-01-01"], "outside the data"),
        (["--areas", str(points)], "needs polygons"),
        (["--areas", _areas_file(tmp_path), "--area-name-col", "nope"], "no column 'nope'"),
        (["--history", str(history)], "not an odgeo alert history"),
    ]
    for extra, message in cases:
        result = _alerts([path, "--out", str(out), "--overwrite", "--timezone", TZ, *extra])
        assert result.exit_code == 1, (extra, result.output)
        lines = [line for line in result.output.splitlines() if line.startswith("Error")]
        assert len(lines) == 1 and message in lines[0], (extra, result.output)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert history.read_text() == "not a history\n1,2\n"
    ok = tmp_path / "ok.csv"
    _run_day(tmp_path, days, "2025-02-28", ok, "first")
    other = tmp_path / "other.geojson"
    gpd.GeoDataFrame({"district": ["A"]}, geometry=[shapely.box(-98, 37, -97, 39)], crs=4326).to_file(other)
    result = _alerts([path, "--out", str(out), "--overwrite", "--timezone", TZ, "--areas", str(other),
                      "--area-name-col", "district", "--history", str(ok)])
    assert result.exit_code == 1 and "was made for other areas" in result.output


def test_public_alerts_hide_small_counts_and_times(tmp_path):
    out = tmp_path / "public"
    _west_spike(tmp_path, out, "--as-of", "2025-03-01 20:00")
    alerts = pd.read_csv(out / "alerts.csv", dtype=str, keep_default_na=False)
    spike = alerts[alerts["kind"] == "threshold"].iloc[0]
    assert spike["count"] == "" and spike["threshold_or_expected"] == ""
    assert spike["window_end"] == "2025-03-01" and "20:00" not in (out / "alerts.csv").read_text()
    assert spike["sentence"].startswith("Fewer than 10 suspected overdoses in West")
    ears = pd.read_csv(out / "ears.csv")
    # Alarms only: no counts (a zero beside hidden ones says "hidden" means 1 or more), no baselines.
    assert list(ears.columns) == ["area", "date", "method", "alarm"] and ears["alarm"].all() and len(ears)
    assert set(ears["date"]) == {"2025-03-01"}  # the alert day only: no history of daily alarms
    record = json.loads((out / "run.json").read_text())
    assert record["parameters"]["as_of"]["value"] == "2025-03-01"
    assert record["thresholds"]["West"]["threshold"] is None
    assert "days_reaching_threshold" not in record["thresholds"]["West"]
    # A daily series publishes no totals: two mornings' would differ by one day's overdoses.
    assert all(v is None for k, v in record["counts"].items() if k.startswith("n_"))
    assert pd.read_csv(out / "rejects.csv")["n_rows"].isna().all()
    assert "RESTRICTED" not in (out / "summary.html").read_text()


def test_sample_city_shows_its_planted_spike(tmp_path, truth):
    out = tmp_path / "sample"
    result = _alerts([str(SAMPLE / "incidents.csv"), "--out", str(out), "--timezone", SAMPLE_TZ,
                      "--areas", str(SAMPLE / "neighbourhoods.geojson"), "--audience", "restricted"])
    assert result.exit_code == 0, result.output
    alerts = pd.read_csv(out / "alerts.csv")
    spike = alerts[(alerts["kind"] == "threshold") & (alerts["area"] != "all")]
    hoods = gpd.read_file(SAMPLE / "neighbourhoods.geojson")
    centre = shapely.Point(truth["late_spike"]["centre"])
    assert spike["area"].tolist() == hoods.loc[hoods.contains(centre), "name"].tolist()
    assert spike["count"].iloc[0] >= truth["late_spike"]["n"]


def test_backtest_counts_new_alerts_and_detects_planted_spikes():
    counts = np.zeros((400, 2), dtype=np.int64)
    counts[::7, 0] = 1  # one a week in the area
    counts[:, 1] = counts[:, 0]  # "all"
    counts[[100, 101, 300], 0] = [5, 5, 6]  # two episodes: 100-101 is one alert, 300 another
    counts[:, 1] = counts[:, 0]
    test = backtest(counts, 1, ("threshold",), rule=ThresholdRule(), sizes=(20,), n_spikes=50, seed=2)
    row = test.table.iloc[0]
    months = 400 / (365.25 / 12)
    assert row["alerts_per_month"] == round(4 / months, 2)  # 2 episodes in the area + 2 in all
    assert row["detected_share"] == 1.0 and row["median_days_to_detection"] == 0.0


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib: EHLO, MAIL, RCPT, DATA, QUIT; messages kept on the server."""

    def handle(self):
        self.wfile.write(b"220 test ESMTP\r\n")
        while line := self.rfile.readline():
            verb = line.strip().split(b" ")[0].upper()
            if verb == b"DATA":
                self.wfile.write(b"354 go on\r\n")
                body = []
                while (part := self.rfile.readline()) not in (b".\r\n", b""):
                    body.append(part)
                self.server.messages.append(b"".join(body))
                self.wfile.write(b"250 ok\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


def test_notify_sends_the_summary_to_a_local_smtp_server(tmp_path):
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTPHandler)
    server.messages = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        path = _west_spike(tmp_path, tmp_path / "o", "--notify", f"smtp://127.0.0.1:{server.server_address[1]}",
                           "--to", "duty@example.org")
        assert len(server.messages) == 1 and b"duty@example.org" in server.messages[0]
        assert b"West" in server.messages[0] and b"text/html" in server.messages[0]
    finally:
        server.shutdown()
    refused = _alerts([path, "--out", str(tmp_path / "p"), "--notify", "http://x", "--to", "a@b"])
    assert refused.exit_code == 2 and "smtp://HOST:PORT" in refused.output


def test_a_history_of_h3_areas_follows_new_cells_and_refuses_another_resolution(tmp_path):
    # H3 areas are the cells holding incidents: more of them each morning. The history belongs to
    # the resolution, so it keeps working as cells appear (it refused once the list grew).
    history = tmp_path / "history.csv"
    cells = []
    for day in ("2024-01-03", "2024-01-04", "2024-02-15"):
        out = tmp_path / day
        result = _alerts([str(SAMPLE / "incidents.csv"), "--out", str(out), "--timezone", SAMPLE_TZ,
                          "--audience", "restricted", "--history", str(history), "--as-of", day])
        assert result.exit_code == 0, result.output
        cells.append(json.loads((out / "run.json").read_text())["alerts"]["areas"]["n_areas"])
    assert cells[0] < cells[-1]  # new cells appeared between the runs
    result = _alerts([str(SAMPLE / "incidents.csv"), "--out", str(tmp_path / "r8"), "--timezone", SAMPLE_TZ,
                      "--audience", "restricted", "--history", str(history), "--as-of", "2024-02-16",
                      "--resolution", "8"])
    assert result.exit_code == 1 and "was made for other areas" in result.output


def test_a_public_sentence_never_compares_two_hidden_counts():
    # Issue 41: "more incidents have joined it" between a hidden 5 and a hidden 4 told the public that
    # the day's hidden count rose; and the last run's window is another window, so "joined" was wrong.
    from types import SimpleNamespace

    from odgeo.maps.summary import alert_sentence
    from odgeo.publish.public import PublicGate
    from odgeo.publish.restricted import RestrictedGate

    def row(count, prior):
        return SimpleNamespace(area="West", kind="threshold", status="ongoing", count=count, prior_count=prior,
                               threshold_or_expected=3, related_areas="", window_start=pd.Timestamp("2025-03-01"),
                               window_end=pd.Timestamp("2025-03-02"), first_seen=pd.Timestamp("2025-03-01"))

    assert "Up from" not in alert_sentence(row(5, 4), PublicGate(10), "%d %b", 24)
    assert "Up from" not in alert_sentence(row(14, 4), PublicGate(10), "%d %b", 24)  # 4 is hidden
    assert "Up from 11 in the last run's window" in alert_sentence(row(14, 11), PublicGate(10), "%d %b", 24)
    assert "Up from 4 in the last run's window" in alert_sentence(row(5, 4), RestrictedGate(), "%d %b", 24)


def test_a_version_1_history_keeps_its_ears_alerts_as_one(tmp_path):
    """A history written when each EARS method was its own alert reads on: West's C1 and C2 become one."""
    days = _quiet_history()
    days["2025-03-01 06:00"] = [("West", 4)]
    days["2025-03-02 06:00"] = [("West", 4)]
    history = tmp_path / "history.csv"
    meta = {"format": "odgeo-alert-history", "version": 1, "last_as_of": "2025-03-02T00:00:00-06:00"}
    old = pd.DataFrame({
        "alert_id": ["West:ears_c2:2025-03-01", "West:ears_c1:2025-03-01", "East:ears_c1:2025-02-20"],
        "area": ["West", "West", "East"], "kind": ["ears_c2", "ears_c1", "ears_c1"],
        "status": ["new", "new", "ended"], "window_start": ["2025-03-01T00:00:00-06:00"] * 3,
        "window_end": ["2025-03-02T00:00:00-06:00"] * 3, "count": [4, 4, 1],
        "threshold_or_expected": [2.1, 1.9, 0.8], "related_areas": ["", "", ""],
        "first_seen": ["2025-03-02T00:00:00-06:00"] * 2 + ["2025-02-21T00:00:00-06:00"],
        "last_seen": ["2025-03-02T00:00:00-06:00"] * 2 + ["2025-02-21T00:00:00-06:00"],
        "ended_at": ["", "", "2025-02-22T00:00:00-06:00"], "prior_count": ["", "", ""]})
    path = _write(_incidents(days), tmp_path / "ems.csv")
    first = _alerts([path, "--out", str(tmp_path / "made"), "--timezone", TZ, "--areas", _areas_file(tmp_path),
                     "--area-name-col", "district", "--audience", "restricted", "--as-of", "2025-03-01",
                     "--history", str(tmp_path / "made.csv")])
    assert first.exit_code == 0, first.output
    meta["key"] = json.loads((tmp_path / "made.csv").read_text().splitlines()[0][2:])["key"]
    history.write_text(f"# {json.dumps(meta)}\n" + old.to_csv(index=False))
    out = tmp_path / "out"
    result = _alerts([path, "--out", str(out), "--timezone", TZ, "--areas", _areas_file(tmp_path),
                      "--area-name-col", "district", "--audience", "restricted", "--as-of", "2025-03-02",
                      "--history", str(history)])
    assert result.exit_code == 0, result.output
    alerts = pd.read_csv(out / "alerts.csv", keep_default_na=False)
    west = alerts[(alerts["area"] == "West") & (alerts["kind"] == "ears")]
    assert len(west) == 1, alerts
    assert west.iloc[0]["alert_id"] == "West:ears_c1:2025-03-01" and west.iloc[0]["status"] == "ongoing"
    ears = pd.read_csv(out / "ears.csv")
    today = ears[(ears["date"] == "2025-03-02") & (ears["area"] == "West") & ears["alarm"]]
    assert west.iloc[0]["methods"] == ", ".join(today["method"]) != ""  # this run's methods, not the old ones
    saved = pd.read_csv(history, comment=None, skiprows=1, keep_default_na=False)
    assert json.loads(history.read_text().splitlines()[0][2:])["version"] == 2
    assert saved.loc[saved["alert_id"] == "East:ears_c1:2025-02-20", ["kind", "methods", "status"]].values.tolist() \
        == [["ears", "C1", "ended"]]
