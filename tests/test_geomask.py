"""Donut geomasking and its k-anonymity estimate, and the restricted products that use them."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely

from odgeo.errors import ParameterError
from odgeo.jobs.hotspots import HotspotSettings, run_hotspots
from odgeo.publish.geomask import donut_mask, parse_mask_distances, ring_population

from .conftest import SAMPLE, SAMPLE_TZ

GEOD = pyproj.Geod(ellps="WGS84")


def _points(n, seed=0):
    rng = np.random.default_rng(seed)
    return -97.4 + rng.uniform(-0.02, 0.02, n), 38.2 + rng.uniform(-0.02, 0.02, n)


def test_every_point_moves_between_the_two_distances():
    lon, lat = _points(2000)
    mask = donut_mask(lon, lat, min_m=50, max_m=300, seed=7)
    _, _, dist = GEOD.inv(lon, lat, mask.lon, mask.lat)  # measured independently of the mask's own figure
    assert dist.min() >= 50 * 0.999 and dist.max() <= 300 * 1.001
    assert np.allclose(dist, mask.distance_m, atol=1e-6)
    # Uniform over the ring's area: half the points within sqrt((50² + 300²) / 2) = 215 m.
    assert np.median(dist) == pytest.approx(np.sqrt((50**2 + 300**2) / 2), rel=0.05)


def test_same_seed_same_points_other_seed_other_points():
    lon, lat = _points(50)
    a = donut_mask(lon, lat, min_m=10, max_m=100, seed=1)
    b = donut_mask(lon, lat, min_m=10, max_m=100, seed=1)
    c = donut_mask(lon, lat, min_m=10, max_m=100, seed=2)
    assert np.array_equal(a.lon, b.lon) and np.array_equal(a.lat, b.lat)
    assert not np.allclose(a.lon, c.lon)


@pytest.mark.parametrize("text", ["300,50", "abc", "50", "-5,10", "50,inf"])
def test_bad_mask_distances_name_the_option(text):
    with pytest.raises(ParameterError, match="`mask_points`"):
        parse_mask_distances(text)


def test_ring_population_is_density_times_ring_area():
    # A 1 km x 1 km square (in UTM 14N) of 2,000 people: 0.002 residents per m².
    utm = "EPSG:32614"
    square = gpd.GeoDataFrame({"pop": [2000]}, geometry=[shapely.box(630000, 4229000, 631000, 4230000)], crs=utm)
    to_lonlat = pyproj.Transformer.from_crs(utm, "EPSG:4326", always_xy=True)
    lon, lat = to_lonlat.transform([630500, 640000], [4229500, 4229500])
    k = ring_population(np.array(lon), np.array(lat), square.to_crs(4326), "pop", min_m=50, max_m=100)
    assert k[0] == pytest.approx(0.002 * np.pi * (100**2 - 50**2), rel=0.01)
    assert np.isnan(k[1])  # outside every polygon


def test_restricted_run_with_masking_records_displacement_and_k(tmp_path):
    settings = HotspotSettings(timezone=SAMPLE_TZ, audience="restricted", mask_points="50,250", mask_seed=3,
                               population=str(SAMPLE / "neighbourhoods.geojson"))
    result = run_hotspots(SAMPLE / "incidents.csv", tmp_path, settings)
    record = json.loads((tmp_path / "run.json").read_text())
    masked = record["privacy"]["geomask"]
    assert masked["min_m"] == 50 and masked["max_m"] == 250 and masked["seed"] == 3
    assert 50 <= masked["achieved_displacement_m"]["min"] <= masked["achieved_displacement_m"]["max"] <= 250
    assert masked["k_anonymity"]["n_points"] == len(result.incidents)
    assert masked["k_anonymity"]["median"] > 0
    # The map's points are the displaced ones, none at a true location.
    true = {(round(p.x, 6), round(p.y, 6)) for p in result.incidents.geometry}
    shown = {(round(p.x, 6), round(p.y, 6)) for p in result.products.points.geometry}
    assert len(shown) > 0.9 * len(true) and not (true & shown)


def test_masking_options_are_refused_for_public_products(tmp_path):
    with pytest.raises(ParameterError, match="`mask_points` applies to `audience` restricted"):
        run_hotspots(SAMPLE / "incidents.csv", tmp_path, HotspotSettings(timezone=SAMPLE_TZ, mask_points="50,300"))


def test_population_layer_problems_are_one_clear_line(tmp_path):
    from odgeo.boundaries.population import read_population
    from odgeo.errors import ColumnError, InputFileError

    layer, column = read_population(SAMPLE / "neighbourhoods.geojson")
    assert column == "population" and len(layer) == 9
    bad = gpd.GeoDataFrame({"residents": ["12", "-4"]}, geometry=[shapely.box(0, 0, 1, 1)] * 2, crs=4326)
    bad.to_file(tmp_path / "bad.geojson")
    with pytest.raises(InputFileError, match=r"bad.geojson: feature 2 has population '-4'"):
        read_population(tmp_path / "bad.geojson")
    with pytest.raises(ColumnError, match="no column 'pop2020'"):
        read_population(SAMPLE / "neighbourhoods.geojson", column="pop2020")
    points = gpd.GeoDataFrame({"pop": [5]}, geometry=[shapely.Point(0, 0)], crs=4326)
    points.to_file(tmp_path / "pts.geojson")
    with pytest.raises(InputFileError, match="is a Point; a population layer needs polygons"):
        read_population(tmp_path / "pts.geojson")
