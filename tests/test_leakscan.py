"""Public products cannot leak: the scanner reads every file a public run writes.

The scanner itself is tested first on files that do leak (each kind), then on
restricted output (which must light up), then run over the public output of
every option combination the suite uses, including a three-incident input and
one full of HTML/JS payloads.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from odgeo_cli.main import cli

from odgeo.incidents.read import read_incidents
from odgeo.jobs.hotspots import HotspotSettings, run_hotspots
from odgeo.publish.leakscan import scan_public_outputs
from odgeo.publish.release_diff import difference_releases

from .conftest import SAMPLE, SAMPLE_TZ

PAYLOADS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "javascript:alert(1)"]


def _identifying(path) -> list[str]:
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    cols = [c for c in ("incident_id", "address", "narrative", "notes", "name") if c in raw.columns]
    return raw[cols].to_numpy().ravel().tolist()


def _scan(out, path, *, min_count=10, timezone=SAMPLE_TZ):
    incidents = read_incidents(path, timezone=timezone).incidents
    return scan_public_outputs(out, incidents, min_count=min_count, identifying=_identifying(path))


def test_scanner_finds_each_kind_of_leak(tmp_path):
    csv = tmp_path / "in.csv"
    csv.write_text("incident_id,occurred_at,outcome,longitude,latitude\n"
                   "CASE-0001,2025-03-04 10:00,fatal,-97.412345,38.201234\n"
                   "CASE-0002,2025-03-05 11:00,nonfatal,-97.40001,38.21002\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "hull.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"count": 3, "age": "34", "first": "2025-03-04"},
        "geometry": {"type": "Polygon", "coordinates": [[[-97.4123, 38.2012], [-97.39, 38.2], [-97.4123, 38.2012]]]},
    }]}))
    (out / "points.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [-97.5, 38.0]}}]}))
    (out / "map.html").write_text("<html><script>L.marker([38.21002, -97.40001]);</script>"
                                  "<p>seen 2025-03-05: CASE-0002</p></html>")
    leaks = _scan(out, csv, timezone="UTC")
    kinds = {(leak.file, leak.kind) for leak in leaks}
    assert ("hull.geojson", "coordinate") in kinds  # 4-decimal hull vertex through an incident
    assert ("hull.geojson", "small count") in kinds
    assert ("hull.geojson", "property") in kinds  # 'age' is not a public property
    assert ("hull.geojson", "date") in kinds
    assert ("points.geojson", "point") in kinds
    assert ("map.html", "coordinate") in kinds  # (lat, lon) order as Leaflet writes it
    assert ("map.html", "date") in kinds and ("map.html", "identifier") in kinds


def test_scanner_lights_up_on_restricted_output(restricted_run):
    _, out = restricted_run
    kinds = {leak.kind for leak in _scan(out, SAMPLE / "incidents.csv")}
    assert {"coordinate", "point", "identifier", "date"} <= kinds


def test_every_public_run_is_noted_for_the_end_of_session_scan(tmp_path, every_public_output_is_scanned):
    before = len(every_public_output_is_scanned)
    run_hotspots(SAMPLE / "incidents.csv", tmp_path / "p", HotspotSettings(timezone=SAMPLE_TZ, min_count=12))
    run_hotspots(SAMPLE / "incidents.csv", tmp_path / "r", HotspotSettings(timezone=SAMPLE_TZ, audience="restricted"))
    added = every_public_output_is_scanned[before:]
    assert [(folder.name, min_count) for folder, _, min_count in added] == [("p", 12)]


def test_default_public_run_is_clean(sample_run):
    _, out = sample_run
    assert _scan(out, SAMPLE / "incidents.csv") == []


@pytest.mark.parametrize("options", [
    {"min_count": 5, "resolution": 9, "period": "week", "min_samples": 5},
    {"min_count": 20, "resolution": 7, "kernel": "gaussian", "outcomes": ("fatal",)},
    {"min_count": 3, "resolution": 10, "eps_m": 60, "min_samples": 3, "bandwidth_m": 150},
    {"since": "2025-01-01", "until": "2025-06-30", "period": "none"},
])
def test_public_runs_with_other_options_are_clean(tmp_path, options):
    settings = HotspotSettings(timezone=SAMPLE_TZ, **options)
    result = run_hotspots(SAMPLE / "incidents.csv", tmp_path, settings)
    min_count = options.get("min_count", 10)
    leaks = scan_public_outputs(tmp_path, result.incidents, min_count=min_count,
                                identifying=_identifying(SAMPLE / "incidents.csv"))
    assert leaks == []
    assert (result.products.hexes["count"] >= min_count).all()


def test_three_incidents_give_a_safe_mostly_empty_product(tmp_path):
    csv = tmp_path / "three.csv"
    csv.write_text("incident_id,occurred_at,outcome,longitude,latitude\n"
                   "T-00001,2025-03-04 10:00,fatal,-97.41,38.20\n"
                   "T-00002,2025-03-05 11:00,nonfatal,-97.415,38.205\n"
                   "T-00003,2025-04-01 09:00,nonfatal,-97.40,38.21\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["hotspots", str(csv), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "0 areas" in result.output
    assert _scan(out, csv, timezone="UTC") == []
    hexes = json.loads((out / "hexes.geojson").read_text())
    assert hexes["features"] == []
    record = json.loads((out / "run.json").read_text())
    assert record["counts"]["n_incidents_suppressed"] is None and record["counts"]["n_used"] is None
    assert "undisclosed number of located incidents" in (out / "map.html").read_text()


def _payload_csv(path):
    rows = []
    for i in range(40):
        payload = PAYLOADS[i % len(PAYLOADS)]
        rows.append({"incident_id": f"{payload}-{i}", "occurred_at": f"2025-0{1 + i % 6}-1{i % 9} 10:00",
                     "outcome": payload if i % 4 == 0 else "fatal", "suspected_drug": payload,
                     "address": f"{i} {payload} St", "city": payload, "narrative": payload,
                     "longitude": -97.41 + (i % 5) * 0.0004, "latitude": 38.20 + (i // 5) * 0.0004})
    pd.DataFrame(rows).to_csv(path, index=False)


@pytest.mark.parametrize("audience", ["public", "restricted"])
def test_html_payloads_in_every_text_field_are_never_written_unescaped(tmp_path, audience):
    csv = tmp_path / "x<script>alert(1)<>.csv"
    _payload_csv(csv)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["hotspots", str(csv), "--out", str(out), "--audience", audience,
                                      "--title", PAYLOADS[1], "--min-count", "3"])
    assert result.exit_code == 0, result.output
    page = (out / "map.html").read_text()
    for payload in PAYLOADS[:2]:
        assert payload not in page
    assert "<img src=x" not in page and "<script>alert" not in page
    assert "javascript:alert" not in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page  # the title, shown as text
    if audience == "public":
        assert _scan(out, csv, min_count=3, timezone="UTC") == []


def _old_daily_folder(path, n_used, after_as_of, fairview):
    """A public alerts folder as odgeo wrote them before daily series withheld their totals."""
    path.mkdir()
    record = {"parameters": {}, "counts": {"n_input": 5045, "n_used": n_used, "n_rejected": after_as_of}}
    (path / "run.json").write_text(json.dumps(record))
    pd.DataFrame({"code": ["after_as_of"], "n_rows": [after_as_of], "reason": ["after the reference time"]}).to_csv(
        path / "rejects.csv", index=False)
    pd.DataFrame({"area": ["Fairview", "Eastside", "all"], "date": ["2025-12-30"] * 3, "count": [fairview, 0, 12],
                  "method": ["C1"] * 3, "alarm": [False] * 3}).to_csv(path / "ears.csv", index=False)
    return str(path)


def test_series_finds_what_subtracting_mornings_gives_away(tmp_path):
    # The routes of issue 41 on folders made as the old odgeo made them: one morning to the next,
    # n_used rose by 4, the rows after --as-of fell by 6, and Fairview's EARS count rose by 3.
    first = _old_daily_folder(tmp_path / "mon", 3950, 41, 10)
    second = _old_daily_folder(tmp_path / "tue", 3954, 35, 13)
    result = CliRunner().invoke(cli, ["leakscan", first, second, str(SAMPLE / "incidents.csv"), "--series",
                                      "--timezone", SAMPLE_TZ])
    assert result.exit_code == 1
    out = result.output
    assert "counts.n_used: 3950 -> 3954" in out and "after_as_of n_rows: 41 -> 35" in out
    assert "Fairview C1 count: 10 -> 13" in out
    alone = CliRunner().invoke(cli, ["leakscan", first, second, str(SAMPLE / "incidents.csv"), "--timezone", SAMPLE_TZ])
    assert "->" not in alone.output  # without --series each folder is scanned alone


def test_series_finds_nothing_in_todays_daily_mornings(tmp_path):
    folders = []
    for day in ("2025-12-29", "2025-12-30", "2025-12-31"):
        out = tmp_path / day
        result = CliRunner().invoke(cli, ["alerts", str(SAMPLE / "incidents.csv"), "--out", str(out), "--timezone",
                                          SAMPLE_TZ, "--tiles", "none", "--as-of", f"{day} 08:00", "--areas",
                                          str(SAMPLE / "neighbourhoods.geojson")])
        assert result.exit_code == 0, result.output
        folders.append(str(out))
    result = CliRunner().invoke(cli, ["leakscan", *folders, str(SAMPLE / "incidents.csv"), "--series", "--timezone",
                                      SAMPLE_TZ])
    assert result.exit_code == 0 and "0 finding(s) in 3 folders" in result.output, result.output


def test_public_sites_pass_and_a_site_on_an_incident_needs_declaring(tmp_path):
    # Issue 41/43: public sites.geojson was reported for its point geometries, though sites are public
    # places (odgeo's own public output failed odgeo's own scanner). A site standing exactly where an
    # incident was recorded is still a finding until the places are declared public.
    candidates = pd.read_csv(SAMPLE / "candidate_sites.csv", dtype=str)
    incidents = pd.read_csv(SAMPLE / "incidents.csv", dtype=str, keep_default_na=False)
    located = incidents[(incidents["longitude"] != "") & (incidents["latitude"] != "")].iloc[0]
    on_incident = candidates.iloc[:1].copy()
    on_incident[["longitude", "latitude"]] = [located["longitude"], located["latitude"]]
    places = tmp_path / "places.csv"
    pd.concat([candidates, on_incident.assign(**{candidates.columns[0]: "Pharmacy at an incident"})]).to_csv(
        places, index=False)
    scans = {}
    for name, path in (("sample", SAMPLE / "candidate_sites.csv"), ("with one on an incident", places)):
        out = tmp_path / name
        result = CliRunner().invoke(cli, ["sites", str(SAMPLE / "incidents.csv"), "--candidates", str(path),
                                          "--out", str(out), "--timezone", SAMPLE_TZ, "--tiles", "none"])
        assert result.exit_code == 0, result.output
        scans[name] = ["leakscan", str(out), str(SAMPLE / "incidents.csv"), "--timezone", SAMPLE_TZ]
    clean = CliRunner().invoke(cli, scans["sample"])
    assert clean.exit_code == 0 and "0 finding(s)" in clean.output, clean.output
    on = CliRunner().invoke(cli, scans["with one on an incident"])
    assert on.exit_code == 1 and "sites.geojson: coordinate" in on.output and ": point" not in on.output, on.output
    declared = CliRunner().invoke(cli, [*scans["with one on an incident"], "--public-places", str(places)])
    assert declared.exit_code == 0 and "0 finding(s)" in declared.output, declared.output


#: Files a public folder may hold that are not what odgeo writes (issue 42: 9 "unexpected" errors before).
DAMAGED = {
    "cut run.json": ("run.json", b'{"a": '),
    "a list as run.json": ("run.json", b"[1, 2]"),
    "a PNG that is not one": ("map.png", b"notpng"),
    "a TIFF that is not one": ("density.tif", b"nottiff"),
    "a cut GeoJSON": ("hexes.geojson", b'{"type": "FeatureCollection", "features": ['),
    "features that are a number": ("hexes.geojson", b'{"type": "FeatureCollection", "features": 5}'),
    "an empty CSV": ("rejects.csv", b""),
    "a Latin-1 CSV": ("ears.csv", "area,method,alarm\nété,c1,1\n".encode("latin-1")),
}


@pytest.mark.parametrize("case", sorted(DAMAGED))
def test_a_file_the_scanner_cannot_read_is_a_finding_not_a_crash(tmp_path, case):
    # A scanner that cannot read a file cannot vouch for it: exit 1 with the file named, never a traceback.
    name, data = DAMAGED[case]
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / name).write_bytes(data)
    result = CliRunner().invoke(cli, ["leakscan", str(tmp_path / "out"), str(SAMPLE / "incidents.csv"),
                                      "--timezone", SAMPLE_TZ])
    assert result.exit_code == 1, result.output
    assert f"{name}: unreadable: not the file odgeo writes under this name" in result.output
    assert "unexpected" not in result.output
    # ... and compared with a good release, the damaged one is named too.
    good = tmp_path / "good"
    good.mkdir()
    (good / name).write_bytes(b'{"type": "FeatureCollection", "features": []}' if name.endswith("json") else
                              b"area,method,alarm\n" if name.endswith(".csv") else data)
    found = {(leak.file, leak.kind) for leak in difference_releases(tmp_path / "out", good)}
    assert name.endswith((".png", ".tif")) or (name, "unreadable") in found


def test_a_folder_without_odgeo_products_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(cli, ["leakscan", str(tmp_path / "empty"), str(SAMPLE / "incidents.csv"),
                                      "--timezone", SAMPLE_TZ])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (f"Error: {tmp_path / 'empty'}: no odgeo product in it (run.json, "
                                                      "map.html, .geojson, .csv, .tif, .png); give the output folder "
                                                      "of an odgeo run")


def _write_layer(path, features) -> None:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": props, "geometry": {"type": "Polygon", "coordinates": [ring]}}
        for props, ring in features]}))


def _square(x0: float, y0: float, size: float = 0.01) -> list[list[float]]:
    return [[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]]


def test_zeros_shown_beside_hidden_counts_are_found(tmp_path):
    # Issue 41: public ears.csv showed 0 and hid 1-9, so "hidden" meant at least one; hexes.geojson's
    # months did the same until this scanner found it on odgeo's own sample run.
    out = tmp_path / "old"
    out.mkdir()
    _write_layer(out / "hexes.geojson", [({"count": 25, "2025-01": 0, "2025-02": None, "2025-03": 14},
                                          _square(-97.5, 38.1))])
    pd.DataFrame({"area": ["Fairview", "Eastside", "all"], "date": ["2025-12-30"] * 3, "count": ["", 0, 12],
                  "method": ["C1"] * 3}).to_csv(out / "ears.csv", index=False)
    found = {(leak.file, leak.kind, leak.detail.split()[0]) for leak in _scan(out, SAMPLE / "incidents.csv")}
    assert ("hexes.geojson", "zero beside hidden", "months") in found
    assert ("ears.csv", "zero beside hidden", "count") in found


def test_thresholds_and_baselines_under_the_limit_are_bounds(tmp_path):
    # Issue 41: a threshold of 3 says an area not in alert had at most 2; an EARS upper bound of 1.5
    # beside a quiet day says it had at most 1.
    out = tmp_path / "old"
    out.mkdir()
    (out / "run.json").write_text(json.dumps({"parameters": {}, "thresholds": {
        "Fairview": {"threshold": 3, "rule": "recommended", "floor": 3},
        "Eastside": {"threshold": 12, "rule": "recommended", "floor": 3}}}))
    pd.DataFrame({"area": ["Fairview"], "date": ["2025-12-30"], "method": ["C1"], "upper_bound": [1.5],
                  "alarm": [True]}).to_csv(out / "ears.csv", index=False)
    found = [str(leak) for leak in _scan(out, SAMPLE / "incidents.csv") if leak.kind == "bound"]
    assert any("thresholds.Fairview.threshold = 3" in f for f in found), found
    assert not any("Eastside" in f for f in found)  # a threshold of 12 bounds nothing under the limit
    assert any(f.startswith("ears.csv: bound: upper_bound = 1.5") for f in found), found


def test_polygons_are_matched_by_shape_not_by_their_repeated_name(tmp_path):
    # Issue 41: with districts of several polygons each, matching by name compared a polygon with
    # another one of its district (and missed that each moved by 3).
    releases = []
    for i, counts in enumerate(((20, 40), (23, 43))):
        out = tmp_path / f"release{i}"
        out.mkdir()
        _write_layer(out / "areas.geojson", [({"name": "District 1", "count": counts[0]}, _square(-97.5, 38.1)),
                                             ({"name": "District 1", "count": counts[1]}, _square(-97.4, 38.1))])
        releases.append(out)
    found = [leak.detail for leak in difference_releases(*releases)]
    assert found == ["District 1 count: 20 -> 23", "District 1 count: 40 -> 43"], found


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.text(alphabet="ab1-_ .é²", min_size=5, max_size=9), max_size=12),
       text=st.text(alphabet="ab1-_ .é²,\n", max_size=200))
def test_identifiers_are_found_as_one_search_per_value_finds_them(values, text):
    # The one-pass search (by each value's longest word) against the brute force it replaced.
    import re

    from odgeo.publish.leakscan import _Secrets

    for value in values[:3]:  # plant some, so that matches are common
        text = f"{text[:len(text) // 2]} {value} {text[len(text) // 2:]}"
    brute = sorted({v for v in values if re.search(rf"(?<!\w){re.escape(v)}(?!\w)", text)})
    assert _Secrets.of(set(values)).found_in(text) == brute


@pytest.mark.parametrize(("route", "monday", "tuesday", "expected"), [
    # 2: the number of H3 cells holding incidents dated the first death in each new cell
    ("2: alerts.areas.n_areas", {"alerts": {"areas": {"kind": "h3", "n_areas": 41}}},
     {"alerts": {"areas": {"kind": "h3", "n_areas": 44}}}, "alerts.areas.n_areas"),
    # 4: the scan's totals moved by the day's deaths
    ("4: scan n_cases", {"scan": {"n_cases": 118}}, {"scan": {"n_cases": 121}}, "scan.n_cases"),
    # 6: sites' total weight is the hidden number of incidents used
    ("6: sites weights", {"weights": {"total_weight": 3984}}, {"weights": {"total_weight": 3986}},
     "weights.total_weight"),
    # 7: data_notes held counts under keys that do not start with n_
    ("7: data_notes", {"data_notes": {"undated": 2}}, {"data_notes": {"undated": 3}}, "data_notes.undated"),
    # 8: an automatic bandwidth that moves says the incidents' spread did
    ("8: bandwidth", {"parameters": {"bandwidth_m": {"value": 2210.0, "source": "auto"}}},
     {"parameters": {"bandwidth_m": {"value": 2220.0, "source": "auto"}}}, "parameters.bandwidth_m, chosen"),
])
def test_series_finds_each_run_json_route_of_issue_41_on_old_folders(tmp_path, route, monday, tuesday, expected):
    folders = []
    for name, record in (("mon", monday), ("tue", tuesday)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "run.json").write_text(json.dumps(record))
        folders.append(str(folder))
    result = CliRunner().invoke(cli, ["leakscan", *folders, str(SAMPLE / "incidents.csv"), "--series", "--timezone",
                                      SAMPLE_TZ])
    assert result.exit_code == 1 and expected in result.output, (route, result.output)


def test_a_sentence_dating_a_window_its_row_shows_by_month_is_found(tmp_path):
    # Route 3 of issue 41: "within 2 days to 22 Jun" beside a window_start of 2025-06 gave the first day.
    out = tmp_path / "old"
    out.mkdir()
    pd.DataFrame({"area": ["Westgate"], "kind": ["scan"], "window_start": ["2025-06"], "window_end": ["2025-06-22"],
                  "count": [None], "sentence": ["Fewer than 10 suspected overdoses in Westgate within 2 days to "
                                                "22 Jun, more than expected."]}).to_csv(out / "alerts.csv", index=False)
    found = [str(leak) for leak in _scan(out, SAMPLE / "incidents.csv")]
    assert any(f.startswith("alerts.csv: date: a sentence gives the length in days") for f in found), found


def test_a_public_backtest_passes_the_scanner(tmp_path):
    # Issue 43, item 3: "backtest.csv: small count: n_spikes_skipped = 1"; it counts synthetic spikes.
    out = tmp_path / "bt"
    result = CliRunner().invoke(cli, ["alerts", str(SAMPLE / "incidents.csv"), "--out", str(out), "--timezone",
                                      SAMPLE_TZ, "--tiles", "none", "--backtest"])
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out / "backtest.csv")["n_spikes_skipped"].between(1, 9).any()  # what was flagged before
    assert _scan(out, SAMPLE / "incidents.csv") == []
