"""The adversary's attacks on public products (issue 15), each scored against the synthetic truth.

Every attack here recovered single incidents from an earlier odgeo; each test
now asserts that it recovers nothing under --min-count.
"""

from __future__ import annotations

import itertools
import json

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import shapely

from odgeo.geocode.public import geocoding_summary
from odgeo.jobs.hotspots import HotspotSettings, run_hotspots
from odgeo.publish.leakscan import scan_public_outputs
from odgeo.publish.public import PublicGate
from odgeo.publish.release_diff import difference_releases
from odgeo.publish.restricted import RestrictedGate
from odgeo.sites.public import out_of_time, site_layer

from .conftest import SAMPLE, SAMPLE_TZ

FIXED = {"timezone": SAMPLE_TZ, "bandwidth_m": 400.0, "cell_size_m": 50.0}
LAYERS = ("hexes.geojson", "density.tif", "hotspots.geojson", "gistar.geojson")


def _sample() -> pd.DataFrame:
    return pd.read_csv(SAMPLE / "incidents.csv", dtype=str, keep_default_na=False)


def _write(frame: pd.DataFrame, path) -> str:
    frame.to_csv(path, index=False)
    return str(path)


def _run(path, out, **settings):
    return run_hotspots(path, out, HotspotSettings(**{**FIXED, **settings}), overwrite=True)


def test_public_layers_follow_the_published_areas_alone(tmp_path):
    """Move every incident to its hexagon's centre: the hexagon counts stay, so must every public layer.

    Before, the Gi* footprint's hull vertices were occupied cells (28 of 28 in a default
    run), and bins and density followed each incident.
    """
    frame = _sample()
    lon, lat = pd.to_numeric(frame["longitude"], errors="coerce"), pd.to_numeric(frame["latitude"], errors="coerce")
    moved = frame.copy()
    for i in np.flatnonzero((lon.notna() & lat.notna() & lat.between(-90, 90)).to_numpy()):
        cell = h3.latlng_to_cell(float(lat.iloc[i]), float(lon.iloc[i]), 8)
        moved.loc[i, "latitude"], moved.loc[i, "longitude"] = (f"{v:.6f}" for v in h3.cell_to_latlng(cell))
    _run(_write(frame, tmp_path / "a.csv"), tmp_path / "a")
    _run(_write(moved, tmp_path / "b.csv"), tmp_path / "b")
    for name in LAYERS:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_nothing_outside_the_study_area_is_published(tmp_path):
    """A study area smaller than the data: before, every occupied cell outside it was published."""
    frame = _sample()
    box = shapely.box(-97.43, 38.19, -97.40, 38.22)
    area = tmp_path / "area.geojson"
    gpd.GeoDataFrame(geometry=[box], crs="EPSG:4326").to_file(area)
    path = _write(frame, tmp_path / "in.csv")
    result = _run(path, tmp_path / "out", study_area=str(area))
    gistar = gpd.read_file(tmp_path / "out" / "gistar.geojson")
    assert len(gistar) and shapely.within(shapely.centroid(gistar.geometry.to_numpy()), box).all()
    assert set(json.loads((tmp_path / "out" / "gistar.geojson").read_text())["features"][0]["properties"]) \
        == {"h3_cell", "gi_bin"}
    assert scan_public_outputs(tmp_path / "out", result.incidents, study_area=box) == []
    # The scanner finds the old behaviour: cells beyond the study area.
    shifted = shapely.affinity.translate(box, xoff=0.05)
    assert any(leak.kind == "footprint" for leak in scan_public_outputs(tmp_path / "out", result.incidents,
                                                                       study_area=shifted))


def test_a_one_day_run_states_no_small_number(tmp_path):
    """Before: n_used 5 in run.json and the day's deaths within 127 m of a hull vertex."""
    path = _write(_sample(), tmp_path / "in.csv")
    result = _run(path, tmp_path / "day", since="2024-05-01", until="2024-05-01")
    record = json.loads((tmp_path / "day" / "run.json").read_text())
    assert 0 < result.record.sections["counts"]["n_used"] < 20  # the truth is small
    assert record["counts"]["n_used"] is None or record["counts"]["n_used"] >= 10
    assert scan_public_outputs(tmp_path / "day", result.incidents) == []
    for name, column in (("hexes.geojson", "count"), ("hotspots.geojson", "n_incidents"),
                         ("clusters.geojson", "n_incidents")):
        features = json.loads((tmp_path / "day" / name).read_text())["features"]
        assert all(f["properties"][column] >= 10 for f in features), name


def test_differencing_two_weekly_releases(tmp_path):
    """Two releases a week apart: without a ledger differencing finds the week's incidents; with one, nothing."""
    path = _write(_sample(), tmp_path / "in.csv")
    truth_week = _run(path, tmp_path / "n2", until="2025-06-07").record.sections["counts"]["n_used"]
    _run(path, tmp_path / "n1", until="2025-05-31")
    found = difference_releases(tmp_path / "n1", tmp_path / "n2")
    assert found, "the attack works on releases made without a ledger"
    ledger = tmp_path / "ledger.json"
    _run(path, tmp_path / "l1", until="2025-05-31", ledger=str(ledger))
    second = _run(path, tmp_path / "l2", until="2025-06-07", ledger=str(ledger))
    assert second.record.sections["counts"]["n_used"] == truth_week
    assert difference_releases(tmp_path / "l1", tmp_path / "l2") == []
    before = {f["properties"]["h3_cell"]: f["properties"]["n_fine_cells"]
              for f in json.loads((tmp_path / "l1" / "hexes.geojson").read_text())["features"]}
    after = {f["properties"]["h3_cell"]: f["properties"]["n_fine_cells"]
             for f in json.loads((tmp_path / "l2" / "hexes.geojson").read_text())["features"]}
    assert all(after.get(k, v) == v for k, v in before.items())  # the earlier partition is kept
    doc = json.loads(ledger.read_text())
    assert len(doc["releases"]) == 2 and doc["min_count"] == 10


def test_removing_one_row_changes_no_published_file(tmp_path):
    """One record removed (a correction, or an adversary's guess): with a ledger nothing published moves."""
    frame = _sample()
    ledger = tmp_path / "ledger.json"
    _run(_write(frame, tmp_path / "all.csv"), tmp_path / "r1", ledger=str(ledger))
    victim = frame.index[frame["outcome"] == "fatal"][0]
    _run(_write(frame.drop(index=victim), tmp_path / "less.csv"), tmp_path / "r2", ledger=str(ledger))
    for name in LAYERS:
        assert (tmp_path / "r1" / name).read_bytes() == (tmp_path / "r2" / name).read_bytes(), name
    counts = [json.loads((tmp_path / r / "run.json").read_text())["counts"] for r in ("r1", "r2")]
    assert counts[0] == counts[1]


def test_a_series_keeps_what_was_chosen_from_the_data(tmp_path):
    """A record removed at a geocoding pile-up, and another bandwidth: run.json and the density stay put.

    Without the ledger the pile-up's size in run.json would drop by one, and a new
    (data-chosen) bandwidth would redraw the density everywhere.
    """
    frame, pile = _sample(), json.loads((SAMPLE / "truth.json").read_text())["centroid_pileup"]
    ledger = tmp_path / "ledger.json"
    _run(_write(frame, tmp_path / "all.csv"), tmp_path / "r1", ledger=str(ledger))
    at_pile = (pd.to_numeric(frame["longitude"], errors="coerce").round(6) == round(pile["location"][0], 6)) & \
        (pd.to_numeric(frame["latitude"], errors="coerce").round(6) == round(pile["location"][1], 6))
    less = frame.drop(index=frame.index[at_pile][0])
    _run(_write(less, tmp_path / "less.csv"), tmp_path / "r2", ledger=str(ledger), bandwidth_m=800.0)
    assert difference_releases(tmp_path / "r1", tmp_path / "r2") == []
    stacks = [json.loads((tmp_path / r / "run.json").read_text())["coordinate_stacks"] for r in ("r1", "r2")]
    assert stacks[0] == stacks[1] and stacks[0]["n_incidents"] >= 10
    assert (tmp_path / "r1" / "density.tif").read_bytes() == (tmp_path / "r2" / "density.tif").read_bytes()


def test_a_ledger_refuses_other_settings_and_a_place_inside_the_output(tmp_path):
    from odgeo.errors import ParameterError

    path = _write(_sample(), tmp_path / "in.csv")
    ledger = tmp_path / "ledger.json"
    _run(path, tmp_path / "a", ledger=str(ledger))
    with pytest.raises(ParameterError, match="`min_count` 10"):
        _run(path, tmp_path / "b", ledger=str(ledger), min_count=20)
    with pytest.raises(ParameterError, match="inside `out_dir`"):
        _run(path, tmp_path / "c", ledger=str(tmp_path / "c" / "ledger.json"))


def test_totals_hide_small_counts_so_that_none_can_be_had_by_subtraction():
    gate = PublicGate(10)
    gate._n_suppressed = 3
    counts = {"n_input": 120, "n_used": 100, "n_unlocated": 15, "n_rejected": 5, "n_used_undated": 0,
              "n_used_fatal": 12, "rejected_by_code": {"bad_date": 4, "bad_coordinate": 1}}
    out = gate.totals(counts)
    parts = [out["n_used"], out["n_unlocated"], out["n_rejected"]]
    assert all(v is None or v == 0 or v >= 10 for v in [out["n_input"], *parts])
    assert sum(v is None for v in parts) != 1  # a lone hidden part is the total minus the others
    assert out["n_incidents_suppressed"] is None and out["n_used"] is None  # 3 = n_used - sum of areas
    assert set(out["rejected_by_code"].values()) == {None}


def test_geocoding_counts_hide_small_statuses_so_that_none_can_be_had_by_subtraction():
    gate = PublicGate(10)
    summary = {"n": 1053, "by_status": {"exact": 836, "interpolated": 55, "range": 159, "nearest": 0, "street": 3},
               "median_score": 1.0, "min_score": 0.5, "n_located": 1050, "n_left_out": 3}
    out = geocoding_summary(gate, summary)
    shown = {k: v for k, v in out["by_status"].items() if v is not None}
    hidden = [k for k, v in out["by_status"].items() if v is None]
    assert "street" in hidden and len(hidden) >= 2  # a lone hidden status is n minus the others
    assert out["n"] - sum(shown.values()) >= 10
    assert out["n_located"] is None and out["n_left_out"] is None  # 1050 - 836 - 159 would be interpolated
    few = geocoding_summary(gate, {"n": 4, "by_status": {"exact": 4}, "median_score": 0.9, "n_located": 4})
    assert few["n"] is None and few["by_status"] == {"exact": None} and few["median_score"] is None


def test_a_short_geocoded_run_states_no_small_geocoding_count(tmp_path):
    path = _write(_sample(), tmp_path / "in.csv")
    result = _run(path, tmp_path / "week", since="2024-05-01", until="2024-05-14",
                  reference=(str(SAMPLE / "address_points.csv"),))
    truth = result.record.sections["geocoding"]["by_status"]
    assert any(0 < v < 10 for v in truth.values())  # the restricted truth has small counts
    record = json.loads((tmp_path / "week" / "run.json").read_text())["geocoding"]
    values = [record["n"], *record["by_status"].values(), record.get("n_located"), record.get("n_left_out")]
    assert all(v is None or v == 0 or v >= 10 for v in values)
    assert sum(v is None for v in record["by_status"].values()) != 1


def test_site_shares_stop_at_the_first_hidden_gain():
    """Before: cumulative_share gave back every hidden marginal gain (17 of 17)."""
    sites = pd.DataFrame({"site_id": ["a", "b", "c"], "status": ["new"] * 3, "rank": [1, 2, 3],
                          "covered": [40, 12, 5], "marginal_gain": [40, 6, 3],
                          "cumulative_share": [0.40, 0.46, 0.49]})
    out = site_layer(PublicGate(10), sites, 100)
    assert out["marginal_gain"].tolist() == [40, None, None]
    assert out["cumulative_share"].tolist() == [0.40, None, None]
    assert out["covered"].tolist() == [40, 12, None]


def test_a_few_later_incidents_hide_the_out_of_time_figures_in_public_run_json():
    """The sites job has its section shown through sites.public.out_of_time; without it 22 and 13.64% give 3."""
    evaluation = {"n_train": 3962, "n_later": 22, "n_new_sites": 5, "share_of_later_reached": 0.1364,
                  "best_possible_share_of_later": 0.3636, "percent_of_best_possible": 37.5, "meaning": "m"}
    gate = PublicGate(10)
    assert gate.run_record({"out_of_time": evaluation})["out_of_time"]["share_of_later_reached"] == 0.1364
    gate.view_section("out_of_time", lambda value: out_of_time(gate, value))
    shown = gate.run_record({"out_of_time": evaluation})["out_of_time"]
    assert set(shown) == {"meaning", "hidden"}
    assert out_of_time(RestrictedGate(), evaluation) == evaluation


#: Integers of a daily series' public run.json that number alerts, clusters or settings, not overdoses:
#: these may move by one from a morning to the next.
NOT_OVERDOSES = ("alerts.n_alerts", "alerts.by_kind.", "alerts.by_status.", "scan.n_clusters_reported",
                 "scan.n_clusters", "scan.n_scan_alerts", "alerts.areas.", "backtest.")


def _integers(value, path=""):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _integers(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, int) and not isinstance(value, bool):
        yield path, value


def _csv_integers(path) -> dict[str, int]:
    """Every whole number of a CSV, keyed by file, row key (its text columns) and column."""
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    keys = [c for c in table.columns if not table[c].str.fullmatch(r"-?\d+").any()]
    found = {}
    for _, row in table.iterrows():
        key = "|".join(row[c] for c in keys)
        for col in table.columns:
            if col not in keys and row[col].lstrip("-").isdigit():
                found[f"{path.name}:{key}:{col}"] = int(row[col])
    return found


@pytest.mark.parametrize("command", [["alerts"], ["alerts", "--areas", str(SAMPLE / "neighbourhoods.geojson")],
                                     ["scan"], ["alerts", "--reference", str(SAMPLE / "address_points.csv")]])
def test_consecutive_public_mornings_differ_in_no_overdose_count_by_less_than_min_count(tmp_path, command):
    # The adversary of a daily series: each morning's public folder read beside the one before.
    # Any number of overdoses that moves by 1..9 from a morning to the next gives that day's
    # overdoses away (run.json's totals, rejects by reason, ears.csv's counts did).
    from click.testing import CliRunner
    from odgeo_cli.main import cli

    # Each morning reads the export as it stood then: the rows dated before 08:00, plus those without
    # a usable date (geocoding and reading tallies grow with the file, not with --as-of).
    frame = _sample()
    dates = pd.to_datetime(frame["occurred_at"], errors="coerce", format="mixed", utc=True)
    mornings, folders = [], []
    for day in (d.strftime("%Y-%m-%d") for d in pd.date_range("2025-12-02", "2025-12-31")):  # 30 mornings
        out = tmp_path / day
        export = _write(frame[dates.isna() | (dates < pd.Timestamp(f"{day} 08:00", tz=SAMPLE_TZ))],
                        tmp_path / f"{day}.csv")
        result = CliRunner().invoke(cli, [command[0], export, "--out", str(out),
                                          "--timezone", SAMPLE_TZ, "--tiles", "none", "--as-of", f"{day} 08:00",
                                          *command[1:]])
        assert result.exit_code == 0, result.output
        record = json.loads((out / "run.json").read_text())
        numbers = {f"run.json:{p}": v for p, v in _integers(record) if not p.startswith(("parameters", "timings_s"))
                   and not p.startswith(NOT_OVERDOSES)}
        for csv in sorted(out.glob("*.csv")):
            numbers.update(_csv_integers(csv))
        mornings.append(numbers)
        folders.append(out)
    moved = []
    for before, after in itertools.pairwise(mornings):
        moved += [(k, before[k], after[k]) for k in before.keys() & after.keys() if 0 < abs(after[k] - before[k]) < 10]
    assert not moved, moved[:10]
    assert all("ears.csv" not in k or k.endswith(":alarm") for m in mornings for k in m)
    # The scanner plays the same adversary and agrees: nothing between any two consecutive mornings.
    assert [leak for a, b in itertools.pairwise(folders) for leak in difference_releases(a, b)] == []


def test_a_public_record_publishes_no_number_it_has_not_declared(tmp_path):
    # Default-deny: a section nobody vetted (here a weight total and a tally whose keys do not look
    # like counts) publishes none of its numbers; declared counts are gated, declared figures shown.
    gate = PublicGate(10)
    record = gate.run_record({"newsection": {"total_weight": 3976.0, "tally": {"street": 3}},
                              "geocoding": {"n": 7, "by_status": {"street": 3, "exact": 40}},
                              "timings_s": {"read": 0.25}, "scan": {"seed": 3}})
    assert record["newsection"] == {"total_weight": None, "tally": {"street": None}}
    assert record["withheld_numbers"]["paths"] == ["newsection.tally.street", "newsection.total_weight"]
    assert record["geocoding"] == {"n": None, "by_status": {"street": None, "exact": 40}}
    assert record["timings_s"] == {"read": 0.25} and record["scan"] == {"seed": 3}
    # The leak scanner reads a record made without the gate the same way.
    out = tmp_path / "old"
    out.mkdir()
    (out / "run.json").write_text(json.dumps({"newsection": {"total_weight": 3976.0},
                                              "geocoding": {"by_status": {"street": 3}}}))
    one = gpd.GeoDataFrame({"incident_id": ["a"], "occurred_at": [pd.Timestamp("2025-01-01", tz="UTC")]},
                           geometry=gpd.points_from_xy([-97.4], [38.2]), crs="EPSG:4326")
    found = {(leak.kind, leak.detail.split(" = ")[0]) for leak in scan_public_outputs(out, one)}
    assert ("undeclared number", "run.json newsection.total_weight") in found
    assert ("small count", "run.json geocoding.by_status.street") in found


def test_data_notes_say_which_notes_not_how_many_rows(tmp_path):
    # Route 7 of issue 41: "outcome_column_absent" counted every row used (a total the gate hides),
    # "undated" a handful; the data notes bypassed the count protection.
    frame = _sample().drop(columns="outcome")
    frame.loc[:3, "occurred_at"] = ""
    path = _write(frame, tmp_path / "notes.csv")
    _run(path, tmp_path / "public")
    public = json.loads((tmp_path / "public" / "run.json").read_text())["data_notes"]
    assert {"outcome_column_absent", "undated"} <= set(public)
    assert not any(isinstance(v, int) for v in public.values())
    _run(path, tmp_path / "restricted", audience="restricted")
    restricted = json.loads((tmp_path / "restricted" / "run.json").read_text())["data_notes"]
    assert restricted["undated"] == 4 and restricted["outcome_column_absent"] > 4000


def test_the_share_reached_gives_back_no_hidden_gain():
    # Route 6 of issue 41: the final share minus the last published cumulative share was the hidden
    # gains over the total, and weights.total_weight was the total (every incident counting 1).
    from odgeo.sites.public import show_sites

    sites = pd.DataFrame({"site_id": ["a", "b", "c"], "status": ["new"] * 3, "rank": [1, 2, 3],
                          "covered": [40, 12, 5], "marginal_gain": [40, 6, 3],
                          "cumulative_share": [0.40, 0.46, 0.49]})
    gate = PublicGate(10)
    shown = site_layer(gate, sites, 100)["cumulative_share"].dropna().max()
    show_sites(gate, 100)
    record = gate.run_record({"weights": {"base": "every incident counts 1", "total_weight": 100.0},
                              "solution": {"share_reached": 0.49, "share_reached_by_existing": 0.0}})
    assert "total_weight" not in record["weights"]
    hidden_gain = round((record["solution"]["share_reached"] - shown) * 100)
    assert hidden_gain == 0  # 9 before: the two hidden sites' 6 + 3
    restricted = RestrictedGate()
    show_sites(restricted, 100)
    assert restricted.run_record({"solution": {"share_reached": 0.49}})["solution"]["share_reached"] == 0.49


def test_a_ledger_series_shows_the_first_automatic_bandwidth(tmp_path):
    # Route 8 of issue 41: the analysis bandwidth chosen from the data moved from release to release
    # in the public run.json (2210 -> 2220 -> 2210 m on a county's deaths) despite the ledger.
    frame = _sample()
    ledger, dates = tmp_path / "ledger.json", pd.to_datetime(frame["occurred_at"], errors="coerce", format="mixed")
    public, restricted = [], []
    for i, month in enumerate(("2025-06-01", "2025-09-01", "2025-12-01")):
        path = _write(frame[dates < month], tmp_path / f"release{i}.csv")
        auto = {"bandwidth_m": None, "cell_size_m": None}
        for out, audience, found in ((f"p{i}", "public", public), (f"r{i}", "restricted", restricted)):
            _run(path, tmp_path / out, **auto, audience=audience, **({"ledger": str(ledger)} if audience ==
                                                                      "public" else {}))
            found.append(json.loads((tmp_path / out / "run.json").read_text())["parameters"]["bandwidth_m"]["value"])
    assert len(set(restricted)) > 1  # the data's own choice moved
    assert public == [restricted[0]] * 3


def test_a_public_sentence_writes_no_zero_beside_hidden_counts():
    # "0 suspected overdoses in Downtown itself" beside "fewer than 10 ... in Eastside itself" said
    # that "fewer than 10" meant 1 to 9 (a public alerts summary on the sample).
    gate = PublicGate(10)
    assert [gate.count(n) for n in (0, 3, 9, 10, 1234)] == ["fewer than 10"] * 3 + ["10", "1,234"]
    assert RestrictedGate().count(0) == "0"


def test_a_small_scan_alert_sentence_does_not_date_its_first_day():
    # Route 3 of issue 41: "within 1 day to 21 Jun", then "within 2 days to 22 Jun", gave back the
    # first day of a scan cluster whose public row shows only its month.
    from types import SimpleNamespace

    from odgeo.maps.summary import alert_sentence

    def row(count, end):
        return SimpleNamespace(area="Westgate", kind="scan", status="new", count=count, prior_count=None,
                               threshold_or_expected=1.2, related_areas="", window_start=pd.Timestamp("2025-06-20"),
                               window_end=pd.Timestamp(end), first_seen=pd.Timestamp(end))

    public = [alert_sentence(row(5, end), PublicGate(10), "%d %b", 24) for end in ("2025-06-21", "2025-06-22")]
    assert not any("within" in s or " day " in s for s in public), public
    assert all("in the days to" in s for s in public)
    assert "within 2 days" in alert_sentence(row(5, "2025-06-22"), RestrictedGate(), "%d %b", 24)
    assert "within 2 days" in alert_sentence(row(12, "2025-06-22"), PublicGate(10), "%d %b", 24)


def _districts(tmp_path):
    """The sample's neighbourhoods with a district column of two names, each over half the polygons."""
    hoods = gpd.read_file(SAMPLE / "neighbourhoods.geojson")
    hoods["district"] = ["North" if i % 2 else "South" for i in range(len(hoods))]
    path = tmp_path / "districts.geojson"
    hoods.to_file(path)
    return hoods, path


def test_a_ledger_refuses_boundaries_whose_names_repeat(tmp_path):
    # Route 5 of issue 41: with names repeated (9 names for 77 polygons), polygons shared one ledger
    # slot: published with one another's counts, and differenced month to month.
    from odgeo.errors import ParameterError

    _, path = _districts(tmp_path)
    csv = _write(_sample(), tmp_path / "all.csv")
    with pytest.raises(ParameterError, match=r"'district' holds 2 names for \d+ polygons"):
        _run(csv, tmp_path / "r1", ledger=str(tmp_path / "ledger.json"), boundaries=str(path),
             boundary_name_col="district")
    assert not (tmp_path / "ledger.json").exists()
    _run(csv, tmp_path / "r2", boundaries=str(path), boundary_name_col="district")  # a single release is fine


def test_districts_dissolved_make_a_ledger_series_that_differencing_cannot_read(tmp_path):
    # Route 5 of issue 41, with the remedy: each name counted as one area. Counts are checked against
    # a point-in-polygon count by shapely alone; then monthly releases under one ledger give nothing away,
    # and the same releases without one are read by subtraction (the attack works, the ledger stops it).
    import shapely

    hoods, path = _districts(tmp_path)
    csv = _write(_sample(), tmp_path / "all.csv")
    settings = {"boundaries": str(path), "boundary_name_col": "district", "dissolve_boundaries": True}
    restricted = _run(csv, tmp_path / "r", audience="restricted", until="2025-06-30", **settings)
    areas = gpd.read_file(tmp_path / "r" / "areas.geojson")
    assert sorted(areas["name"]) == ["North", "South"]
    used = restricted.located.frame if hasattr(restricted.located, "frame") else restricted.located
    points = shapely.points(np.c_[used.geometry.x, used.geometry.y])
    for name in ("North", "South"):
        parts = shapely.union_all(hoods.loc[hoods["district"] == name].geometry.to_numpy())
        expected = int(shapely.intersects(parts, points).sum())
        assert int(areas.loc[areas["name"] == name, "count"].iloc[0]) == expected
    ledger = tmp_path / "ledger.json"
    months = [str(d.date()) for d in pd.date_range("2025-01-31", periods=12, freq=pd.offsets.MonthEnd())]
    for i, until in enumerate(months):
        _run(csv, tmp_path / f"l{i}", ledger=str(ledger), until=until, **settings)
        if i < 3:
            _run(csv, tmp_path / f"n{i}", until=until, **settings)
    assert [d for i in range(11) for d in difference_releases(tmp_path / f"l{i}", tmp_path / f"l{i + 1}")] == []
    assert any(difference_releases(tmp_path / f"n{i}", tmp_path / f"n{i + 1}") for i in range(2))


def test_twenty_weekly_ledger_releases_difference_to_nothing(tmp_path):
    # The weekly series of issue 41: every release read beside the one before, by the scanner's
    # subtraction; the week's own deaths (the truth) are in the restricted record, never recovered.
    csv = _write(_sample(), tmp_path / "all.csv")
    ledger = tmp_path / "ledger.json"
    weeks = [str(d.date()) for d in pd.date_range("2025-08-16", periods=20, freq="7D")]
    for i, until in enumerate(weeks):
        _run(csv, tmp_path / f"w{i}", ledger=str(ledger), until=until)
    found = [d for i in range(19) for d in difference_releases(tmp_path / f"w{i}", tmp_path / f"w{i + 1}")]
    assert found == [], found[:5]
    assert len(json.loads(ledger.read_text())["releases"]) == 20
