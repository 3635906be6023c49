"""One story in every product of a run (issue 43): the same day in the terminal, run.json, the CSVs and the pages.

odgeo names days one way (odgeo.incidents.dates.end_day): a window is named by the day it
ends on, and a window ending at midnight ends on the day before. `--as-of 2025-12-31` reads
up to 1 Jan 00:00 and is "31 Dec" everywhere. Before, one run said "2026-01-01 00:00" in the
terminal, "31 Dec" in the sentences, "as of 01 Jan" on the map, and the summary moved the
public tables' dates back a day again ("In alert since 30 Dec" beside "to 31 Dec").
"""

from __future__ import annotations

import html
import json
import re
import shutil

import pandas as pd
import pytest
from click.testing import CliRunner

from cli.main import cli

from .conftest import SAMPLE, SAMPLE_TZ, message_lines


def _page_text(path) -> str:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", text)))


@pytest.mark.parametrize("audience", ["public", "restricted"])
@pytest.mark.parametrize(("as_of", "day"), [("2025-12-31", "2025-12-31"), ("2025-12-31 20:00", "2025-12-31"),
                                             ("2025-12-27 00:00", "2025-12-26")])
def test_every_product_of_an_alerts_run_names_the_same_day(tmp_path, audience, as_of, day):
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["alerts", str(SAMPLE / "incidents.csv"), "--timezone", SAMPLE_TZ, "--tiles",
                                      "none", "--as-of", as_of, "--audience", audience, "--out", str(out)])
    assert result.exit_code == 0, result.output
    named = pd.Timestamp(day)
    words = f"{named.day} {named:%b}"  # "31 Dec", as the sentences and pages write it
    terminal = re.search(r"^As of (.*?): \d+ alerts", result.output, flags=re.M).group(1)
    midnight = len(as_of) == 10 or as_of.endswith("00:00")
    assert terminal == (f"the end of {words} {named.year}" if midnight else f"{words} {named.year} 20:00")

    record = json.loads((out / "run.json").read_text())
    recorded = pd.Timestamp(record["parameters"]["as_of"]["value"])
    if audience == "public":
        assert record["parameters"]["as_of"]["value"] == day  # the day, as the products name it
        assert record["alerts"]["last_day"] == day
    else:  # the exact reference time, which ends that day
        assert pd.Timestamp(record["alerts"]["as_of"]).tz_localize(None) == (named + pd.Timedelta(days=1)
                                                                            if midnight else recorded.tz_localize(None))
    alerts = pd.read_csv(out / "alerts.csv", dtype=str, keep_default_na=False)
    assert len(alerts), "the sample alerts on these days: the checks below are not vacuous"
    ends = {e[:10] if audience == "public" else str(_end_day(e)) for e in alerts["window_end"]}
    assert ends == {day}
    assert all(f"to {words}" in s for s in alerts["sentence"] if "ended" not in s)
    when = f"{words} 24:00" if (audience == "restricted" and midnight) else (
        f"{words} 20:00" if audience == "restricted" else words)
    for page in ("summary.html", "map.html"):
        assert f"as of {when}" in _page_text(out / page), page
    since = set(re.findall(r"In alert since (\d+ \w+)", _page_text(out / "summary.html")))
    assert since <= {words}, since  # a public date is not moved back a day again


def _end_day(stamp: str):
    from odgeo.incidents.dates import end_day

    return end_day(pd.Timestamp(stamp)).date()


def test_one_alert_and_one_overdose_are_singular():
    # Issue 43, item 7: "1 suspected overdoses", "1 alerts over 14 areas".
    from types import SimpleNamespace

    from odgeo.maps.summary import alert_sentence
    from odgeo.publish.restricted import RestrictedGate
    from odgeo.vocabulary import plural

    row = SimpleNamespace(area="West", kind="neighbour", status="new", count=1, prior_count=None,
                          threshold_or_expected=3, related_areas="East", window_start=pd.Timestamp("2025-03-01"),
                          window_end=pd.Timestamp("2025-03-02 07:00"), first_seen=pd.Timestamp("2025-03-02"))
    assert "it had 1 suspected overdose itself." in alert_sentence(row, RestrictedGate(), "%d %b %H:%M", 24)
    assert (plural(1, "alert"), plural(14, "area"), plural(2_500, "circle")) == ("1 alert", "14 areas", "2,500 circles")


def test_rows_left_out_by_the_as_of_time_are_not_called_rejected():
    # Issue 43, item 7: "847 rejected" for rows that are only after --as-of.
    from odgeo.incidents.selection import RowCounts

    rows = RowCounts(100, 80, 5, 15, {"after_as_of": 12, "bad_date": 3})
    assert rows.line() == ("100 rows: 80 used, 5 without coordinates, 3 rejected; left out: 12 after the as-of "
                           "time")
    assert RowCounts(2000, 2000, 0, 0, {}).line() == "2,000 rows: 2,000 used, 0 without coordinates, 0 rejected"


def test_a_file_without_outcomes_is_not_shown_as_0_fatal(tmp_path, caplog):
    # Issue 43, item 4: Connecticut's deaths, which have no outcome column, were drawn "(0 fatal)".
    frame = pd.read_csv(SAMPLE / "incidents.csv", dtype=str, keep_default_na=False)
    path = tmp_path / "deaths.csv"
    frame.drop(columns="outcome").to_csv(path, index=False)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["hotspots", str(path), "--timezone", SAMPLE_TZ, "--tiles", "none", "--out",
                                      str(out), "--boundaries", str(SAMPLE / "neighbourhoods.geojson")])
    assert result.exit_code == 0, result.output
    assert "located incidents (outcome not recorded)" in _page_text(out / "map.html")
    for layer in ("hexes.geojson", "areas.geojson"):
        properties = json.loads((out / layer).read_text())["features"][0]["properties"]
        assert not {"fatal", "nonfatal", "unknown"} & set(properties), (layer, properties)
    # A column whose values are not outcomes is said to be so, with how many.
    frame["manner"] = "Accident"
    frame.to_csv(path, index=False)
    result = CliRunner().invoke(cli, ["hotspots", str(path), "--timezone", SAMPLE_TZ, "--tiles", "none", "--out",
                                      str(tmp_path / "o2"), "--outcome-col", "manner"])
    assert result.exit_code == 0, result.output
    assert "5,037 value(s) of the outcome column 'manner' are not an outcome odgeo knows" in result.output


@pytest.mark.parametrize("engine", ["memory", "dask"])
def test_a_file_of_deaths_is_said_to_be_one(tmp_path, engine):
    # Issue 43, item 4: `--assume-outcome fatal` for a file that is all deaths, on either engine.
    frame = pd.read_csv(SAMPLE / "incidents.csv", dtype=str, keep_default_na=False)
    path = tmp_path / "deaths.csv"
    frame.drop(columns="outcome").to_csv(path, index=False)
    out = tmp_path / "out"
    args = ["hotspots", str(path), "--timezone", SAMPLE_TZ, "--tiles", "none", "--audience", "restricted",
            "--engine", engine, "--boundaries", str(SAMPLE / "neighbourhoods.geojson"), "--assume-outcome", "fatal"]
    result = CliRunner().invoke(cli, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    record = json.loads((out / "run.json").read_text())
    n_used = record["counts"]["n_used"]
    assert n_used > 0 and record["counts"]["n_used_fatal"] == n_used
    assert record["parameters"]["assume_outcome"]["value"] == "fatal"
    assert f"located incidents ({n_used:,} fatal)" in _page_text(out / "map.html")
    for layer in ("hexes.geojson", "areas.geojson"):
        features = json.loads((out / layer).read_text())["features"]
        assert all(f["properties"]["fatal"] == f["properties"]["count"] for f in features), layer
        assert not {"nonfatal", "unknown"} & set(features[0]["properties"]), layer
    # A file with outcomes of its own is filtered with --outcome, not overridden.
    refused = CliRunner().invoke(cli, ["hotspots", str(SAMPLE / "incidents.csv"), "--timezone", SAMPLE_TZ,
                                       "--engine", engine, "--assume-outcome", "fatal", "--out", str(tmp_path / "x")])
    assert refused.exit_code != 0 and "Traceback" not in refused.output
    assert "has 'outcome'; keep the outcomes you want with --outcome fatal instead" in refused.output


def test_boundary_counts_hide_zeros_beside_hidden_counts():
    import geopandas as gpd
    from shapely.geometry import box

    from odgeo.boundaries.public import public_boundaries
    from odgeo.publish.public import PublicGate

    areas = gpd.GeoDataFrame({"name": list("abcd"), "population": [1000.0] * 4, "count": [0, 5, 30, 44],
                              "fatal": [0, 1, 0, 12], "rate_per_10k": [0.0, 50.0, 300.0, 440.0],
                              "unstable": [True] * 4}, geometry=[box(i, 0, i + 1, 1) for i in range(4)], crs=4326)
    shown, _ = public_boundaries(PublicGate(10), areas)
    # 5 is hidden, 30 with it (complementary: their sum would be 5), and the 0 beside them too.
    assert shown["count"].isna().tolist() == [True, True, True, False]
    assert shown["fatal"].isna().tolist() == [True, True, True, False]


@pytest.mark.parametrize("audience", ["public", "restricted"])
def test_the_emerging_terminal_reports_what_was_written(tmp_path, audience):
    # Issue 43, item 1: a public run printed the restricted analysis' categories ("sporadic hot spot: 4")
    # beside a map and run.json holding others (2 of 56 published areas).
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["emerging", str(SAMPLE / "incidents.csv"), "--timezone", SAMPLE_TZ, "--tiles",
                                      "none", "--audience", audience, "--out", str(out)])
    assert result.exit_code == 0, result.output
    printed = dict(re.findall(r"^  ([a-z ]+): (\d+)$", result.output, flags=re.M))
    layer = json.loads((out / "emerging.geojson").read_text())["features"]
    written = pd.Series([f["properties"]["category"] for f in layer]).value_counts()
    assert {k: int(v) for k, v in printed.items()} == written.to_dict()
    assert json.loads((out / "run.json").read_text())["emerging"]["categories"] == written.to_dict()


def test_dates_exported_as_utc_midnight_stay_on_their_day(tmp_path):
    # Issue 43, item 5: Tempe's dates are written "2017/01/03 00:00:00+00" (dates with no time, exported
    # as UTC midnight) until July 2021, then to the hour in UTC. Converted to America/Phoenix, 2,287 of
    # 2,739 incidents moved to the day before. Months of such dates are read as dates; months of real
    # times keep their conversion (a 00:00 UTC call then is 17:00 the day before in Phoenix).
    from odgeo.incidents.dates import parse_datetimes

    dates = [f"2021/{m:02d}/{d:02d} 00:00:00+00" for m in (5, 6) for d in range(1, 29)]
    times = [f"2021/07/{d:02d} {h:02d}:00:00+00" for d in range(1, 29) for h in (0, 9, 17, 21)]
    parsed = parse_datetimes(pd.Series(dates + times), "America/Phoenix")
    local = parsed.values.dt.tz_localize(None)
    assert (local[:len(dates)] == pd.to_datetime([d[:10] for d in dates], format="%Y/%m/%d")).all()
    assert local.iloc[len(dates)] == pd.Timestamp("2021-06-30 17:00")  # a real 00:00 UTC time: converted
    assert int(parsed.read_as_dates.sum()) == len(dates)
    real = parse_datetimes(pd.Series(times), "America/Phoenix")  # a file of real UTC times: nothing read as dates
    assert real.read_as_dates is None and real.values.dt.tz_localize(None).iloc[0] == pd.Timestamp("2021-06-30 17:00")
    # The run says so, once, with how to convert them as written.
    frame = pd.DataFrame({"date": dates, "lon": -111.93, "lat": [33.42 + i / 1000 for i in range(len(dates))]})
    frame.to_csv(tmp_path / "calls.csv", index=False)
    result = CliRunner().invoke(cli, ["hotspots", str(tmp_path / "calls.csv"), "--timezone", "America/Phoenix",
                                      "--tiles", "none", "--out", str(tmp_path / "out"), "--audience", "restricted"])
    assert result.exit_code == 0, result.output
    assert "56 dates of column 'date' are midnight with a UTC offset" in result.output
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert record["data_notes"]["utc_midnights_read_as_dates"] == 56


def test_town_level_coordinates_are_named_as_such(tmp_path):
    # Issue 43, item 6: Connecticut's deaths sit on town centroids; 56 of 56 clusters were flagged as
    # artefacts and nothing said what that meant. 60 incidents on 3 "town centres" and 10 of their own.
    rows = [(-97.40 + 0.02 * (i % 3), 38.20 + 0.01 * (i % 3)) for i in range(60)]
    rows += [(-97.41 + 0.003 * i, 38.19 + 0.002 * i) for i in range(10)]
    frame = pd.DataFrame({"date": [f"2024-{1 + i % 12:02d}-10" for i in range(70)], "lon": [r[0] for r in rows],
                          "lat": [r[1] for r in rows]})
    frame.to_csv(tmp_path / "towns.csv", index=False)
    result = CliRunner().invoke(cli, ["hotspots", str(tmp_path / "towns.csv"), "--tiles", "none", "--out",
                                      str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "60 of 70 incidents lie on 3 shared coordinates: the file places incidents at shared points" in \
        result.output
    assert "--boundaries with the towns' polygons" in result.output
    assert "Most incidents share a few points (town or ZIP centres)" in _page_text(tmp_path / "out" / "map.html")
    sample = CliRunner().invoke(cli, ["hotspots", str(SAMPLE / "incidents.csv"), "--tiles", "none", "--out",
                                      str(tmp_path / "sample"), "--timezone", SAMPLE_TZ])
    assert "shared coordinates" not in sample.output


@pytest.mark.parametrize(("option", "value"), [("--since", "01/07/2021"), ("--until", "7 Jan 2021"),
                                               ("--since", "2021/07/01")])
def test_dates_in_options_are_iso_only(tmp_path, option, value):
    # Issue 43, item 8: "--since 01/07/2021" was read as 7 January although the help says YYYY-MM-DD.
    result = CliRunner().invoke(cli, ["hotspots", str(SAMPLE / "incidents.csv"), "--tiles", "none", "--out",
                                      str(tmp_path / "out"), option, value])
    assert result.exit_code in (1, 2)
    assert f"{option} {value!r} is not an ISO date; give YYYY-MM-DD" in result.output, result.output
    assert not (tmp_path / "out").exists()


def test_verbosity_options_work_after_the_command_and_are_in_its_help(tmp_path):
    # Issue 43, item 8: -v/-q worked only before the subcommand and were missing from its --help.
    args = ["hotspots", str(SAMPLE / "incidents.csv"), "--tiles", "none", "--timezone", SAMPLE_TZ]
    loud = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "a")])
    assert "WARNING: public release without --ledger" in loud.output
    for quiet in (["-q", *args], [*args, "-q"]):
        result = CliRunner().invoke(cli, [*quiet, "--out", str(tmp_path / "b"), "--overwrite"])
        assert result.exit_code == 0 and "WARNING" not in result.output, result.output
    for command in ("hotspots", "emerging", "alerts", "scan", "geocode", "leakscan", "sites", "outreach"):
        text = CliRunner().invoke(cli, [command, "--help"]).output
        assert "-v, --verbose" in text and "-q, --quiet" in text, command


def test_one_config_file_serves_every_command(tmp_path):
    # Issue 43, item 8: alerts refused a top-level bandwidth, and a file with only a [hotspots] table
    # was silently ignored. Shared keys at the top, per-command tables, others' keys left out with a note.
    cfg = tmp_path / "odgeo.toml"
    cfg.write_text(f'timezone = "{SAMPLE_TZ}"\nbandwidth = 400\nmin_count = 12\n\n[hotspots]\nresolution = 9\n\n'
                   '[alerts]\nwindow_hours = 48\nthreshold = "5"\n')
    runs = {}
    for command in ("hotspots", "alerts"):
        result = CliRunner().invoke(cli, [command, str(SAMPLE / "incidents.csv"), "--tiles", "none", "--out",
                                          str(tmp_path / command), "--config", str(cfg)])
        assert result.exit_code == 0, result.output
        runs[command] = (result, json.loads((tmp_path / command / "run.json").read_text())["parameters"])
    hotspots, alerts = runs["hotspots"][1], runs["alerts"][1]
    assert (hotspots["timezone"]["value"], hotspots["bandwidth_m"]["value"], hotspots["resolution"]["value"],
            hotspots["min_count"]["value"]) == (SAMPLE_TZ, 400.0, 9, 12)
    assert (alerts["timezone"]["value"], alerts["window_hours"]["value"], alerts["min_count"]["value"]) == (
        SAMPLE_TZ, 48.0, 12)
    assert "settings of other commands left out: bandwidth (hotspots" in runs["alerts"][0].output
    cfg.write_text("[hotspots]\nresolution = 9\n")
    only = CliRunner().invoke(cli, ["alerts", str(SAMPLE / "incidents.csv"), "--tiles", "none", "--out",
                                    str(tmp_path / "only"), "--config", str(cfg), "--timezone", SAMPLE_TZ])
    assert only.exit_code == 0 and "has no setting for odgeo alerts (its tables: hotspots)" in only.output
    for bad in ("bandwidthh = 400\n", "[alerts]\nbandwidth = 400\n"):  # a key of no command; of another, in [alerts]
        cfg.write_text(bad)
        refused = CliRunner().invoke(cli, ["alerts", str(SAMPLE / "incidents.csv"), "--out", str(tmp_path / "r"),
                                           "--config", str(cfg)])
        assert refused.exit_code == 2 and "unknown setting" in refused.output, refused.output


@pytest.mark.parametrize("audience", ["public", "restricted"])
def test_the_sites_terminal_coverage_and_layer_name_one_share(tmp_path, audience):
    # Issue 43, item 7: the sites terminal said "5.1% -> 13.6%" beside coverage.csv's 0.0475 -> 0.1351
    # (the terminal printed the analysis, the files the public's rounded figures); "Out of time:" read
    # like a solver timeout.
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["sites", str(SAMPLE / "incidents.csv"), "--candidates",
                                      str(SAMPLE / "candidate_sites.csv"), "--existing",
                                      str(SAMPLE / "existing_sites.csv"), "--n-sites", "3", "--train-until",
                                      "2025-06-30", "--timezone", SAMPLE_TZ, "--tiles", "none", "--audience",
                                      audience, "--out", str(out)])
    assert result.exit_code == 0, result.output
    coverage = pd.read_csv(out / "coverage.csv")
    final = coverage["share"].iloc[-1]
    record = json.loads((out / "run.json").read_text())
    layer = [f["properties"] for f in json.loads((out / "sites.geojson").read_text())["features"]]
    third = next(p for p in layer if p["rank"] == 3)
    assert record["solution"]["share_reached"] == final == third["cumulative_share"]
    assert f"with 3 new, {final * 100:.1f}%" in result.output
    assert f"{third['cumulative_share'] * 100:.1f}% reached" in result.output
    assert "Hold-out check" in result.output and "Out of time" not in result.output


@pytest.mark.parametrize("audience", ["public", "restricted"])
def test_an_ended_alert_is_said_to_end_on_the_day_alerts_csv_gives(tmp_path, audience):
    # Issue 43, item 2: "(since 2 Jul 00:00) has ended as of 2 Jul 00:00" beside ended_at 2021-07-03 00:00:
    # the sentence named the end of the alert's last window, not the run that found it over.
    history = tmp_path / "history.csv"
    for day in ("2025-12-24", "2025-12-25"):
        result = CliRunner().invoke(cli, ["alerts", str(SAMPLE / "incidents.csv"), "--timezone", SAMPLE_TZ,
                                          "--tiles", "none", "--as-of", day, "--history", str(history),
                                          "--audience", audience, "--out", str(tmp_path / "out"), "--overwrite"])
        assert result.exit_code == 0, result.output
    alerts = pd.read_csv(tmp_path / "out" / "alerts.csv", dtype=str, keep_default_na=False)
    ended = alerts[alerts["status"] == "ended"]
    assert len(ended), "the sample has alerts ending on 25 Dec"
    for row in ended.itertuples():
        day = pd.Timestamp(row.ended_at[:10]) if audience == "public" else pd.Timestamp(_end_day(row.ended_at))
        words = f"{day.day} {day:%b}" + (" 24:00" if audience == "restricted" else "")
        assert row.sentence.endswith(f"has ended as of {words}."), (row.sentence, row.ended_at)


def test_the_scan_legend_speaks_to_a_reader_not_to_an_option():
    # Issue 43, item 7: the scan map's legend named --report-p.
    from odgeo.maps.overlays import SCAN_COLOURS

    words = [w for _, _, w in SCAN_COLOURS]
    assert not any("--" in w for w in words) and words[-1] == "p ≥ 0.1: weak, could well be chance"


@pytest.mark.parametrize("audience", ["public", "restricted"])
def test_h3_areas_are_named_by_a_place_not_by_their_index(tmp_path, audience):
    # Issue 43, item 7: "10 suspected overdoses in 872830828ffffff" told a duty officer nothing.
    import h3

    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["alerts", str(SAMPLE / "incidents.csv"), "--timezone", SAMPLE_TZ, "--tiles",
                                      "none", "--audience", audience, "--out", str(out)])
    assert result.exit_code == 0, result.output
    alerts = pd.read_csv(out / "alerts.csv", dtype=str, keep_default_na=False)
    cells = [a for a in alerts["area"] if a != "all"]
    assert cells and all(h3.is_valid_cell(c) for c in cells)  # the table keeps the key
    for cell, sentence in zip(alerts["area"], alerts["sentence"]):
        if cell == "all":
            continue
        lat, lon = h3.cell_to_latlng(cell)  # the published centre, independently of odgeo's helper
        assert f"the area near {abs(lat):.2f}° N, {abs(lon):.2f}° W".lower() in sentence.lower(), sentence
        assert not re.search(r"\b8[0-9a-f]{14}\b", sentence), sentence
    for page in ("summary.html", "map.html"):
        assert not re.search(r"\b8[0-9a-f]{14}\b", _page_text(out / page)), f"{page} names a cell by its index"
    assert not re.search(r"\b8[0-9a-f]{14}\b", result.output)
    if audience == "restricted":  # issue 43, item 10: the 90-day charts had no y scale
        page = (out / "summary.html").read_text()
        charts = re.findall(r"<svg[^>]*class='chart'.*?</svg>", page, flags=re.S)
        assert charts
        for chart in charts:
            labels = [int(t) for t in re.findall(r"<text[^>]*>(\d+)</text>", chart)]
            heights = [int(c) for c in re.findall(r"<title>[\d-]+: (\d+)</title>", chart)]
            assert labels[-1] == 0 and labels[0] >= max(heights) > 0, chart[:200]


def test_a_slow_step_is_shown_and_a_quick_one_is_not(monkeypatch, capsys):
    # Issue 43, item 9: a first run compiled for 25 s with nothing on screen.
    import time

    from cli import progress as progress_mod

    monkeypatch.setattr(progress_mod, "DELAY_S", 0.2)
    lines = progress_mod.Progress(every_step=False, live=False)  # stderr into a file (cron)
    lines("reading incidents")
    lines("counting")  # the step before ended at once: not shown
    time.sleep(0.6)
    lines("compiling the cube (compiling, first run only)")  # known to be slow: shown at once
    lines.close()
    err = capsys.readouterr().err
    assert err == "odgeo: counting...\nodgeo: compiling the cube (compiling, first run only)...\n", err
    live = progress_mod.Progress(every_step=False, live=True)  # a terminal: one line that counts seconds
    live("computing kernel density")
    time.sleep(1.5)
    live.close()
    err = capsys.readouterr().err
    # Seconds as the clock gave them (a loaded machine may show 1 s first): the form is what matters.
    assert re.search(r"\r\x1b\[Kodgeo: computing kernel density\.\.\. \d+ s", err) and err.endswith("\r\x1b[K"), \
        repr(err)
    assert "\n" not in err  # the live line never scrolls the terminal


def test_the_first_run_of_compiled_code_is_said_to_compile(tmp_path):
    # numba's cache in a new folder: H3 counting has nothing compiled, then everything it ran.
    import subprocess
    import sys

    code = ("from odgeo.engine.compiled import uncompiled; import numpy as np; "
            "from odgeo.hexes import COMPILED_MODULES, FEW_POINTS, points_to_cells; "
            "before = uncompiled(*COMPILED_MODULES); "
            "points_to_cells(np.full(FEW_POINTS, -97.4), np.full(FEW_POINTS, 38.2), 8); "
            "print(len(before), len(uncompiled(*COMPILED_MODULES)))")
    env = {**__import__("os").environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    before, after = (int(n) for n in out.stdout.split())
    assert before > 0 and after == 0, out.stdout


def test_a_small_file_is_not_told_it_compiles_what_it_does_not_run(tmp_path):
    # Under FEW_POINTS h3 counts the cells: the lattice never compiles, so saying so would repeat every run.
    import subprocess
    import sys

    small = tmp_path / "small.csv"
    small.write_text("".join((SAMPLE / "incidents.csv").read_text().splitlines(keepends=True)[:501]))
    env = {**__import__("os").environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    out = subprocess.run([sys.executable, "-m", "odgeo_cli", "hotspots", str(small), "--out", str(tmp_path / "o"),
                          "--timezone", SAMPLE_TZ], env=env, capture_output=True, text=True, check=True)
    assert "hexagon (compiling" not in out.stderr
    assert "computing kernel density (compiling, first run only)" in out.stderr  # the density's binning does


@pytest.mark.parametrize("audience", ["public", "restricted"])
def test_the_warnings_of_a_run_are_kept_in_log_txt(tmp_path, audience):
    # Issue 43, item 9: warnings scrolled away (or, with -q, were never shown); log.txt keeps them,
    # and a public log.txt goes through the gate: its counts are exact.
    frame = pd.read_csv(SAMPLE / "incidents.csv", dtype=str, keep_default_na=False)
    frame.loc[:40, "outcome"] = "Accident"  # 41 values that are not an outcome: a warning with a count
    path = tmp_path / "ems.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["-q", "hotspots", str(path), "--timezone", SAMPLE_TZ, "--tiles", "none",
                                      "--audience", audience, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "WARNING" not in result.output  # -q keeps stderr for errors
    log = (out / "log.txt").read_text(encoding="utf-8")
    record = json.loads((out / "run.json").read_text())
    assert "log.txt" in record["outputs"]
    warning = next(line for line in log.splitlines() if "outcome column 'outcome'" in line)
    assert warning.startswith("WARNING: ") and "--outcome-col" in warning  # the flag, not the setting's name
    numbers = re.findall(r"(?<![\w:-])\d[\d,]*", re.sub(r"\d{4}-\d{2}-\d{2}", "", log))
    if audience == "restricted":
        assert warning.startswith("WARNING: 41 value(s)")
    else:
        assert warning.startswith("WARNING: [n] value(s)") and numbers == [], numbers
        from odgeo.incidents.read import read_incidents
        from odgeo.publish.leakscan import scan_public_outputs

        incidents = read_incidents(path, timezone=SAMPLE_TZ).incidents
        assert [str(leak) for leak in scan_public_outputs(out, incidents) if leak.file == "log.txt"] == []
        planted = tmp_path / "planted"  # a copy: the session's own scan of every public folder keeps `out`
        shutil.copytree(out, planted)
        (planted / "log.txt").write_text(log.replace("[n] value(s)", "41 value(s)"), encoding="utf-8")
        assert [str(leak) for leak in scan_public_outputs(planted, incidents) if leak.file == "log.txt"] == [
            "log.txt: count in a message: 41"]


_INCIDENTS_LINE = re.compile(r"^Incidents: ([\d,]+) rows: ([\d,]+) used, ([\d,]+) without coordinates, ([\d,]+) "
                             r"rejected(?:; left out: (.*?))? \(reasons", flags=re.M)
_COMMANDS = {
    "hotspots": [], "emerging": [], "scan": [], "alerts": [],
    "sites": ["--candidates", str(SAMPLE / "candidate_sites.csv"), "--existing", str(SAMPLE / "existing_sites.csv")],
    "outreach": [],
}


def _number(text: str) -> int:
    return int(text.replace(",", ""))


@pytest.mark.parametrize("audience", ["public", "restricted"])
@pytest.mark.parametrize("command", list(_COMMANDS))
def test_every_command_tells_one_story(tmp_path, command, audience):
    # Issue 43, done means: the terminal, run.json, the CSVs and the pages of one run name the same
    # rows, counts and days, in each audience (every public folder also passes odgeo leakscan: the
    # session's own scan, tests/conftest.py).
    out = tmp_path / "out"
    key = ["--key-file", str(tmp_path / "team.key")] if command == "outreach" else []
    result = CliRunner().invoke(cli, [command, str(SAMPLE / "incidents.csv"), *_COMMANDS[command], *key, "--timezone",
                                      SAMPLE_TZ, "--tiles", "none", "--audience", audience, "--out", str(out)])
    assert result.exit_code == 0, result.output
    line = _INCIDENTS_LINE.search(result.output)
    assert line, result.output
    n_input, n_used, n_unlocated, n_faults = (_number(g) for g in line.groups()[:4])
    left_out = sum(_number(n) for n in re.findall(r"([\d,]+) [a-z]", line.group(5) or ""))
    assert n_input == n_used + n_unlocated + n_faults + left_out  # the terminal's rows add up

    counts = json.loads((out / "run.json").read_text())["counts"]
    terminal = {"n_input": n_input, "n_used": n_used, "n_unlocated": n_unlocated, "n_rejected": n_faults + left_out}
    shown = {k: counts[k] for k in terminal if counts.get(k) is not None}
    assert shown == {k: terminal[k] for k in shown}  # what run.json shows is what the terminal said
    if audience == "restricted":
        assert set(shown) == set(terminal)

    rejects = pd.read_csv(out / "rejects.csv")
    if audience == "restricted":
        assert len(rejects) == n_faults + left_out
    else:
        assert list(rejects.columns) == ["code", "n_rows", "reason"]
        published = rejects["n_rows"].dropna()
        assert published.sum() <= n_faults + left_out
        if len(published) == len(rejects):
            assert published.sum() == n_faults + left_out

    page = _page_text(out / ("summary.html" if command == "alerts" else "map.html"))
    located = re.search(r"(at least )?([\d,]+) located incidents", page)
    if command in ("hotspots", "emerging", "sites"):
        assert located, page[:300]
        if located.group(1):  # the public map counts only what its published areas hold
            assert audience == "public" and counts["n_used"] is None
            assert _number(located.group(2)) == counts["n_used_in_published_areas"] <= n_used
            if command == "hotspots":  # the terminal says why its count is not the page's
                assert f"holding {located.group(2)} of the {n_used:,} incidents used" in result.output
        else:
            assert _number(located.group(2)) == n_used
        layer = out / "hexes.geojson"
        properties = json.loads(layer.read_text())["features"][0]["properties"] if layer.exists() else {}
        months = sorted(k for k in properties if re.match(r"\d{4}-\d{2}$", k))
        if months:  # the map's period is the months hexes.geojson counts
            first, last = (pd.Timestamp(m) for m in (months[0], months[-1]))
            assert f"{first:%b %Y} to {last:%b %Y}" in page
    if command == "scan":
        window = re.search(r"Study window (\d{4}-\d{2}-\d{2}) to (\d{4}-\d{2}-\d{2})", result.output)
        record = json.loads((out / "run.json").read_text())
        last = pd.Timestamp(window.group(2))
        assert record["parameters"]["as_of"]["value"] == window.group(2)
        assert f"30 days to {last.day} {last:%b %Y}" in page
        n_found = _number(re.search(r"^([\d,]+) clusters? with p", result.output, flags=re.M).group(1))
        assert n_found == len(pd.read_csv(out / "scan_clusters.csv"))
    if command == "alerts":
        record = json.loads((out / "run.json").read_text())
        alerts = pd.read_csv(out / "alerts.csv", dtype=str, keep_default_na=False)
        day = pd.Timestamp(record["alerts"]["last_day"])
        assert re.search(rf"^As of .*?: {len(alerts)} alerts?", result.output, flags=re.M)
        assert f"as of {day.day} {day:%b}" in page
        assert f"Alerts ({(alerts['status'] != 'ended').sum()} live)" in page


def _left_out_exactly(rejects: pd.DataFrame, unwanted) -> None:
    """Every unwanted row is a reject (left out, or a fault found before), and no wanted row is left out."""
    left = set(rejects.loc[rejects["code"] == "where_filtered", "row"])
    assert left and left <= set(unwanted.tolist()) <= set(rejects["row"])


@pytest.mark.parametrize("engine", ["memory", "dask"])
def test_where_keeps_the_rows_an_analyst_asks_for(tmp_path, engine):
    # Issue 43, asked on the way: Tempe's 253 "No" and 128 "Unknown" opioid-use calls went into
    # every product. --where keeps the rows meeting a condition; the others are left out, counted.
    frame = pd.read_csv(SAMPLE / "incidents.csv", dtype=str, keep_default_na=False)
    frame["Opioid Use"] = (["Yes", "No", " yes", "Unknown", ""] * len(frame))[: len(frame)]
    path = tmp_path / "ems.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "out"
    args = ["hotspots", str(path), "--timezone", SAMPLE_TZ, "--tiles", "none", "--audience", "restricted",
            "--engine", engine, "--out", str(out)]
    result = CliRunner().invoke(cli, [*args, "--where", "`opioid use` in ('yes', '')"])
    assert result.exit_code == 0, result.output
    wanted = frame["Opioid Use"].str.strip().str.lower().isin(["yes", ""])  # pandas, not odgeo's parser
    rejects = pd.read_csv(out / "rejects.csv")
    left_out = rejects[rejects["code"] == "where_filtered"]
    _left_out_exactly(rejects, frame.index[~wanted] + 1)
    assert set(left_out["column"]) == {"Opioid Use"}
    assert f"left out: {len(left_out):,} not matching --where" in result.output
    counts = json.loads((out / "run.json").read_text())["counts"]
    assert counts["n_input"] == counts["n_used"] + counts["n_unlocated"] + counts["n_rejected"]
    assert json.loads((out / "run.json").read_text())["parameters"]["where"]["value"] == [
        "`opioid use` in ('yes', '')"]
    # Two conditions must both hold; != leaves out what it names.
    both = CliRunner().invoke(cli, [*args, "--overwrite", "--where", "Opioid Use != No, Unknown",
                                    "--where", "outcome == fatal"])
    assert both.exit_code == 0, both.output
    kept = (~frame["Opioid Use"].str.strip().str.lower().isin(["no", "unknown"])
            & (frame["outcome"].str.strip().str.lower() == "fatal"))
    _left_out_exactly(pd.read_csv(out / "rejects.csv"), frame.index[~kept] + 1)
    for condition, words in (("opioid_use ~ 'Yes'", "is not a condition"),
                             ("Opioid Use in 'Yes'", "in brackets"),
                             ("drug == 'x'", "names column 'drug', which is not in the file")):
        bad = CliRunner().invoke(cli, [*args, "--overwrite", "--where", condition])
        assert bad.exit_code in (1, 2) and words in bad.output and "Traceback" not in bad.output, bad.output
        assert len(message_lines(bad.output)) == 1, bad.output


def test_one_geopackage_holds_every_layer_styled_for_qgis(tmp_path, sample_run, restricted_run):
    # Issue 43, asked on the way: every layer of a run in one GeoPackage with a QGIS style each,
    # month columns named so QGIS handles them, and for restricted runs the incident points.
    import sqlite3
    import xml.etree.ElementTree as ET

    import geopandas as gpd
    import pyogrio

    _, out = sample_run
    path = out / "odgeo.gpkg"
    layers = [name for name, kind in pyogrio.list_layers(path) if kind is not None]
    assert layers == ["hexes", "hotspots", "clusters", "gistar"]  # no point layer for the public
    for name in layers:
        packed = gpd.read_file(path, layer=name)
        product = gpd.read_file(out / f"{name}.geojson")
        assert len(packed) == len(product)
        months = [c for c in product.columns if re.match(r"\d{4}-\d{2}$", c)]
        fields = {f"m{c[:4]}_{c[5:]}" for c in months}
        assert fields <= set(packed.columns) and not {c for c in packed.columns if re.match(r"\d", c)}
        for column in months:
            assert packed[f"m{column[:4]}_{column[5:]}"].fillna(-1).tolist() == product[column].fillna(-1).tolist()
    with sqlite3.connect(path) as con:
        styles = dict(con.execute("SELECT f_table_name, styleQML FROM layer_styles WHERE useAsDefault"))
    con.close()
    assert set(styles) == set(layers)
    hexes_style = ET.fromstring(styles["hexes"].split("\n", 1)[1])
    renderer = hexes_style.find("renderer-v2")
    assert renderer.get("type") == "graduatedSymbol" and renderer.get("attr") == "per_km2"
    labels = [r.get("label") for r in renderer.iter("range")]
    legend = re.findall(r"<span>([^<]*)</span>", (out / "map.html").read_text())
    assert labels and all(label in legend for label in labels)  # QGIS's classes are the map's
    assert ET.fromstring(styles["gistar"].split("\n", 1)[1]).find("renderer-v2").get("attr") == "gi_bin"

    _, restricted = restricted_run
    points = gpd.read_file(restricted / "odgeo.gpkg", layer="incidents")
    n_used = json.loads((restricted / "run.json").read_text())["counts"]["n_used"]
    assert len(points) == n_used and (points.geom_type == "Point").all()

    # The leak scanner reads a GeoPackage's layers: a point layer slipped into a public one is found.
    from odgeo.incidents.read import read_incidents
    from odgeo.publish.leakscan import scan_public_outputs

    planted = tmp_path / "planted"
    shutil.copytree(out, planted)
    pyogrio.write_dataframe(points, planted / "odgeo.gpkg", layer="incidents", append=True)
    incidents = read_incidents(SAMPLE / "incidents.csv", timezone=SAMPLE_TZ).incidents
    kinds = {leak.kind for leak in scan_public_outputs(planted, incidents) if leak.file == "odgeo.gpkg"}
    assert {"point", "coordinate"} <= kinds


def test_place_level_counts_shared_points_as_a_brute_force_does():
    """The integer key of odgeo.incidents.extent.place_level groups points as rounding to 6 decimals does."""
    from collections import Counter

    import numpy as np

    from odgeo.incidents.extent import SHARED_MIN, place_level

    rng = np.random.default_rng(47)
    centres = rng.uniform([-180, -90], [180, 90], (40, 2)).round(6)
    pick = rng.integers(0, 40, 3000)
    lon = np.r_[centres[pick, 0] + rng.uniform(-4e-7, 4e-7, 3000), rng.uniform(-180, 180, 500)]
    lat = np.r_[centres[pick, 1] + rng.uniform(-4e-7, 4e-7, 3000), rng.uniform(-90, 90, 500)]
    sizes = Counter((round(float(x), 6), round(float(y), 6)) for x, y in zip(lon, lat))
    shared = [n for n in sizes.values() if n >= SHARED_MIN]
    assert place_level(lon, lat) == (sum(shared), len(shared))
    assert place_level(lon[3000:], lat[3000:]) is None
