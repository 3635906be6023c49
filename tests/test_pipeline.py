"""The main job end to end: products, counts that add up, determinism, audiences."""

import csv
import hashlib
import json

import geopandas as gpd
import pandas as pd
import pytest
import rasterio

from odgeo.errors import NoDataError, OutputExistsError
from odgeo.jobs.hotspots import PRODUCT_FILES, HotspotSettings, run_hotspots
from odgeo.publish.leakscan import scan_public_outputs

from .conftest import SAMPLE, SAMPLE_TZ


def test_every_product_is_written(sample_run):
    _, out = sample_run
    assert sorted(p.name for p in out.iterdir()) == sorted(PRODUCT_FILES)


def test_run_record_counts_add_up_and_parameters_have_sources(sample_run, restricted_run, truth):
    result, out = restricted_run
    c = json.loads((out / "run.json").read_text())["counts"]
    assert c["n_input"] == c["n_used"] + c["n_unlocated"] + c["n_rejected"] == truth["n_rows"]
    assert sum(c["rejected_by_code"].values()) == c["n_rejected"]
    # the result's typed counts are what run.json says, and what the located incidents and rejects hold
    assert result.rows.as_record() == c
    assert result.rows.n_used == len(result.incidents) and result.rows.n_rejected == len(result.read.rejects)
    _, out = sample_run
    record = json.loads((out / "run.json").read_text())
    public = record["counts"]  # the sample's 8 rejects and 8 suppressed incidents are hidden
    assert public["n_input"] == truth["n_rows"] and public["n_unlocated"] == c["n_unlocated"]
    assert public["n_used"] is None and public["n_rejected"] is None
    assert public["n_used_in_published_areas"] + 8 == c["n_used"]
    params = record["parameters"]
    assert params["bandwidth_m"]["source"] == "auto" and "rule" in params["bandwidth_m"]["reason"]
    assert params["timezone"] == {"value": SAMPLE_TZ, "source": "given"}
    assert params["resolution"]["value"] == 8
    assert record["software"]["h3"] and record["timings_s"]["density"] >= 0
    assert record["columns"]["longitude"] == "longitude"
    digest = hashlib.sha256((SAMPLE / "incidents.csv").read_bytes()).hexdigest()
    assert record["input"] == {"path": str(SAMPLE / "incidents.csv"), "format": "csv", "sha256": digest,
                               "encoding": "utf-8", "delimiter": ",", "date_order": "month-first"}


def test_hexes_sum_to_incidents_used(sample_run, restricted_run):
    _, out = restricted_run
    hexes = gpd.read_file(out / "hexes.geojson")
    used = json.loads((out / "run.json").read_text())["counts"]["n_used"]
    assert hexes["count"].sum() == used
    assert {"h3_cell", "count", "fatal", "nonfatal", "2024-01", "2025-12"} <= set(hexes.columns)
    # Public: published areas plus the suppressed incidents account for every incident.
    result, out = sample_run
    public = gpd.read_file(out / "hexes.geojson")
    record = json.loads((out / "run.json").read_text())
    assert public["count"].sum() == record["counts"]["n_used_in_published_areas"]
    assert public["count"].sum() + result.gate.n_suppressed == used
    assert public["count"].min() >= record["privacy"]["min_count"] == 10


def test_rejects_file_lists_every_rejected_row(sample_run, restricted_run, truth):
    _, out = restricted_run
    with open(out / "rejects.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted((int(r["row"]), r["code"]) for r in rows) == sorted((b["row"], b["code"]) for b in truth["bad_rows"])
    # Public: totals by code, no rows (which rows were rejected says which were that day's), none small.
    _, out = sample_run
    with open(out / "rejects.csv", newline="") as fh:
        public = list(csv.DictReader(fh))
    assert set(public[0]) == {"code", "n_rows", "reason"}
    assert {r["code"] for r in public} == {b["code"] for b in truth["bad_rows"]}
    assert all(r["n_rows"] == "" or int(r["n_rows"]) >= 10 for r in public)


def test_density_tif_is_metric_and_matches_the_grid(sample_run):
    result, out = sample_run
    with rasterio.open(out / "density.tif") as src:
        assert src.crs.is_projected and src.crs.linear_units in ("metre", "meter")
        assert src.read(1).shape == result.products.grid.values.shape


def test_same_input_gives_byte_identical_outputs(tmp_path):
    settings = HotspotSettings(timezone=SAMPLE_TZ, audience="restricted")
    run_hotspots(SAMPLE / "incidents.csv", tmp_path / "a", settings)
    run_hotspots(SAMPLE / "incidents.csv", tmp_path / "b", settings)
    for name in PRODUCT_FILES:
        a, b = (tmp_path / "a" / name).read_bytes(), (tmp_path / "b" / name).read_bytes()
        if name == "run.json":  # timings differ from run to run; everything else must not
            a, b = (json.loads(x) for x in (a, b))
            a.pop("timings_s"), b.pop("timings_s")
        assert a == b, name


def test_public_map_has_no_points_restricted_map_has_points_and_banner(sample_run, restricted_run):
    result, out = sample_run
    public = (out / "map.html").read_text()
    assert "RESTRICTED" not in public and "odgeo-points" not in public
    restricted_out = restricted_run[1]
    restricted = (restricted_out / "map.html").read_text()
    assert "RESTRICTED: contains sensitive health data" in restricted
    assert "<title>RESTRICTED" in restricted
    # The leak scanner finds (nearly) every incident in the restricted page, none in the public one.
    found = scan_public_outputs(restricted_out, result.incidents)
    on_map = {leak.detail for leak in found if leak.file == "map.html" and leak.kind == "coordinate"}
    assert len(on_map) > 0.9 * len({(p.x, p.y) for p in result.incidents.geometry})
    assert scan_public_outputs(out, result.incidents) == []
    rejects = pd.read_csv(restricted_out / "rejects.csv")
    assert "incident_id" in rejects.columns


def test_map_layers_and_title(sample_run):
    _, out = sample_run
    page = (out / "map.html").read_text()
    for layer in ("Overdoses per area", "Kernel density", "Hot spots (density)", "DBSCAN clusters"):
        assert layer in page
    assert "Jan 2024 to Dec 2025" in page and "Audience: public" in page


def test_refuses_non_empty_output_folder(tmp_path):
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(OutputExistsError, match="`overwrite`"):
        run_hotspots(SAMPLE / "incidents.csv", tmp_path)
    assert (tmp_path / "keep.txt").exists()


def test_no_located_incidents_is_a_clear_error(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("id,date,lon,lat,address\n1,2024-01-01,,,12 Oak St\n2,someday,-97.4,38.2,\n")
    with pytest.raises(NoDataError, match="no located incidents.*1 without coordinates, 1 rejected: 1 bad_date"):
        run_hotspots(path, tmp_path / "out")


def test_one_incident_uses_the_fallback_bandwidth(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("id,date,lon,lat\n1,2024-01-01,-97.40,38.20\n")
    result = run_hotspots(path, tmp_path / "out")
    param = result.record.parameters["bandwidth_m"]
    assert param.value == 400.0 and param.source == "auto" and "fallback" in param.reason
    assert result.grid.mass() == pytest.approx(1.0, rel=1e-3)


def test_three_incidents_still_work(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("id,date,lon,lat\n1,2024-01-01,-97.40,38.20\n2,2024-02-01,-97.41,38.21\n3,2024-03-01,-97.42,38.20\n")
    result = run_hotspots(path, tmp_path / "out")
    assert result.counts["count"].sum() == 3 and len(result.clusters) == 0
