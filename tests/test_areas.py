"""Counts and rates per boundary polygon, and how public products hide the small ones."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from odgeo.boundaries.counts import area_counts, read_boundaries
from odgeo.errors import ColumnError
from odgeo.jobs.hotspots import HotspotSettings, run_hotspots
from odgeo.publish.leakscan import scan_public_outputs
from odgeo.publish.privacy import hidden_counts
from odgeo.schema import has_location

from .conftest import SAMPLE, SAMPLE_TZ


def test_counts_equal_a_point_in_polygon_loop(sample_run):
    result, _ = sample_run
    boundaries, columns = read_boundaries(SAMPLE / "neighbourhoods.geojson")
    assert columns == {"name": "name", "population": "population"}
    areas = area_counts(boundaries, result.incidents)
    points = list(result.incidents.geometry)
    fatal = (result.incidents["outcome"] == "fatal").to_numpy()
    for row, polygon in zip(areas.itertuples(), boundaries.geometry):
        inside = np.array([polygon.intersects(p) for p in points])
        assert row.count == inside.sum() and row.fatal == (inside & fatal).sum()
        assert row.rate_per_10k == pytest.approx(round(row.count / row.population * 10_000, 2))


def test_rates_need_a_population_and_are_unstable_below_20(tmp_path):
    boxes = gpd.GeoDataFrame({"NAMELSAD": ["A", "B"], "POP100": [1000, 0]},
                             geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)], crs=4326)
    boxes.to_file(tmp_path / "b.geojson")
    boundaries, columns = read_boundaries(tmp_path / "b.geojson")
    assert columns == {"name": "NAMELSAD", "population": "POP100"}
    incidents = gpd.GeoDataFrame({"outcome": ["fatal"] * 5}, geometry=gpd.points_from_xy([0.5] * 3 + [1.5] * 2,
                                                                                        [0.5] * 5), crs=4326)
    areas = area_counts(boundaries, incidents)
    assert areas["count"].tolist() == [3, 2]
    assert areas["rate_per_10k"].iloc[0] == 30.0 and bool(areas["unstable"].iloc[0])
    assert np.isnan(areas["rate_per_10k"].iloc[1])  # no residents, no rate
    with pytest.raises(ColumnError, match="no column 'label'"):
        read_boundaries(tmp_path / "b.geojson", name_col="label")


def test_hidden_counts_protect_each_other():
    assert hidden_counts(np.array([50, 4, 30, 0]), min_count=10).tolist() == [False, True, True, False]
    assert hidden_counts(np.array([50, 4, 8, 0]), min_count=10).tolist() == [False, True, True, False]
    assert hidden_counts(np.array([50, 40]), min_count=10).tolist() == [False, False]


def test_public_areas_are_written_hidden_where_small_and_clean(tmp_path):
    settings = HotspotSettings(timezone=SAMPLE_TZ, boundaries=str(SAMPLE / "neighbourhoods.geojson"),
                               outcomes=("fatal",), min_count=50)
    result = run_hotspots(SAMPLE / "incidents.csv", tmp_path, settings)
    doc = json.loads((tmp_path / "areas.geojson").read_text())
    counts = [f["properties"]["count"] for f in doc["features"]]
    assert all(c is None or c >= 50 for c in counts) and None in counts
    assert sum(c is None for c in counts) != 1
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["privacy"]["areas"]["n_counts_hidden"] == sum(c is None for c in counts)
    assert scan_public_outputs(tmp_path, result.incidents, min_count=50) == []
    page = (tmp_path / "map.html").read_text()
    assert "count hidden" in page and "odgeo-label" in page


def test_scanner_reads_counts_written_as_words(tmp_path):
    (tmp_path / "map.html").write_text("<div class='odgeo-label'><b>Harbor</b><br>4 overdoses</div>")
    incidents = gpd.GeoDataFrame({"occurred_at": pd.to_datetime(["2025-01-01"], utc=True)},
                                 geometry=gpd.points_from_xy([0.0], [0.0]), crs=4326)
    leaks = scan_public_outputs(tmp_path, incidents, min_count=10)
    assert [leak.kind for leak in leaks] == ["small count"]


def _polygon_file(path, features):
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": props, "geometry": geometry} for props, geometry in features]}))
    return str(path)


SQUARE = {"type": "Polygon", "coordinates": [[[-97.42, 38.19], [-97.38, 38.19], [-97.38, 38.22], [-97.42, 38.22],
                                              [-97.42, 38.19]]]}
BOWTIE = {"type": "Polygon", "coordinates": [[[-97.45, 38.18], [-97.40, 38.23], [-97.40, 38.18], [-97.45, 38.23],
                                              [-97.45, 38.18]]]}


@pytest.mark.parametrize("command", [["alerts", "--areas"], ["hotspots", "--boundaries"]])
def test_a_bowtie_dissolved_with_its_namesake_is_repaired_and_said(tmp_path, command):
    # Issue 42: "unexpected GEOSException: TopologyException: side location conflict".
    from click.testing import CliRunner
    from odgeo_cli.main import cli

    areas = _polygon_file(tmp_path / "a.geojson", [({"name": "A"}, BOWTIE), ({"name": "B"}, SQUARE)])
    result = CliRunner().invoke(cli, [command[0], str(SAMPLE / "incidents.csv"), "--timezone", SAMPLE_TZ,
                                      "--tiles", "none", "--audience", "restricted", command[1], areas,
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "1 self-intersecting polygon(s) repaired" in result.output
    assert '"repaired_polygons": 1' in (tmp_path / "out" / "run.json").read_text()
    frame, _ = read_boundaries(areas)
    assert shapely.is_valid(frame.geometry.to_numpy()).all()
    assert frame.geometry.iloc[0].area == pytest.approx(2 * 0.5 * 0.05 * 0.025)  # the two triangles, by hand


@pytest.mark.parametrize(("geometry", "said"), [
    (None, "feature 1 has no geometry"),
    # An empty polygon: older GDAL reads it as no geometry at all; either is said.
    ({"type": "Polygon", "coordinates": []}, "feature 1 (is an empty polygon|has no geometry)"),
    ({"type": "Point", "coordinates": [-97.4, 38.2]}, "feature 1 is a Point"),
])
def test_an_area_file_without_a_polygon_is_named(tmp_path, geometry, said):
    from odgeo.errors import InputFileError

    areas = _polygon_file(tmp_path / "a.geojson", [({"name": "A", "population": 5}, geometry),
                                                   ({"name": "B", "population": 9}, SQUARE)])
    with pytest.raises(InputFileError, match=f"{said}; a boundaries file needs polygons"):
        read_boundaries(areas)


def test_alert_areas_need_no_population_but_rates_do(tmp_path):
    # Alerts count incidents per area and never divide: a missing population is not their business.
    from odgeo.alerts.areas import polygon_areas
    from odgeo.errors import InputFileError
    from odgeo.incidents.read import read_incidents

    areas = _polygon_file(tmp_path / "a.geojson", [({"name": "A", "population": None}, SQUARE)])
    incidents = read_incidents(SAMPLE / "incidents.csv", timezone=SAMPLE_TZ).incidents
    located = incidents[has_location(incidents.geometry)].reset_index(drop=True)
    assert polygon_areas(areas, located).names == ["A"]
    with pytest.raises(InputFileError, match="feature 1 has population None"):
        read_boundaries(areas)


def test_dissolving_by_name_sums_population_and_unions_the_parts():
    import geopandas as gpd
    import numpy as np
    from shapely.geometry import box

    from odgeo.boundaries.counts import dissolve_by_name

    parts = gpd.GeoDataFrame({"name": ["B", "A", "B", "C", "C"], "population": [100.0, 50.0, 25.0, 10.0, np.nan]},
                             geometry=[box(0, 0, 1, 1), box(5, 5, 6, 6), box(1, 0, 2, 1), box(8, 8, 9, 9),
                                       box(9, 8, 10, 9)], crs="EPSG:4326")
    merged = dissolve_by_name(parts)
    assert merged["name"].tolist() == ["A", "B", "C"]
    assert merged["population"].tolist()[:2] == [50.0, 125.0] and np.isnan(merged["population"].iloc[2])
    assert merged.geometry.iloc[1].equals(box(0, 0, 2, 1))  # the two touching parts are one polygon
