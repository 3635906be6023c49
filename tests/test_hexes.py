"""H3 counts: the vectorised assignment equals per-point h3 calls; counts are conserved."""

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from odgeo.hexes import cells_to_polygons, count_cells, points_to_cells


def _reference(lon, lat, res):
    return np.array([h3.str_to_int(h3.latlng_to_cell(b, a, res)) for a, b in zip(lon, lat)], dtype=np.uint64)


@pytest.mark.parametrize("centre, spread, res", [
    ((-97.4, 38.2), 0.05, 8), ((-97.4, 38.2), 0.05, 9), ((10.0, 60.0), 0.5, 7), ((151.2, -33.9), 0.02, 11),
    ((179.95, 0.0), 0.2, 8),  # across the antimeridian
    ((-70.0, 78.0), 1.0, 6), ((0.0, 0.0), 3.0, 4),
])
def test_fast_path_equals_h3_on_every_point(centre, spread, res):
    rng = np.random.default_rng(res)
    n = 60_000  # above the size where the block machinery is used
    lon = centre[0] + rng.uniform(-spread, spread, n)
    lon = np.where(lon > 180, lon - 360, lon)
    lat = centre[1] + rng.uniform(-spread, spread, n)
    assert np.array_equal(points_to_cells(lon, lat, res), _reference(lon, lat, res))


@settings(max_examples=25, deadline=None)
@given(st.floats(-170, 170), st.floats(-75, 75), st.integers(2, 12), st.integers(0, 2**32 - 1))
def test_any_place_and_resolution(lon0, lat0, res, seed):
    rng = np.random.default_rng(seed)
    n = 25_000
    edge_deg = h3.average_hexagon_edge_length(res, unit="m") / 111_000
    lon = lon0 + rng.normal(0, 3 * edge_deg, n)
    lat = np.clip(lat0 + rng.normal(0, 3 * edge_deg, n), -79.9, 79.9)
    assert np.array_equal(points_to_cells(lon, lat, res), _reference(lon, lat, res))


def test_missing_coordinates_give_zero():
    cells = points_to_cells(np.array([np.nan, -97.4]), np.array([38.2, 38.2]), 8)
    assert cells[0] == 0 and cells[1] != 0


def _incidents(n, seed=0):
    rng = np.random.default_rng(seed)
    times = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 365 * 24, n), unit="h")
    return gpd.GeoDataFrame(
        {"occurred_at": times, "outcome": rng.choice(["fatal", "nonfatal", "unknown"], n)},
        geometry=shapely.points(-97.4 + rng.normal(0, 0.02, n), 38.2 + rng.normal(0, 0.02, n)),
        crs="EPSG:4326",
    )


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 3000), st.integers(5, 10), st.sampled_from([None, "month", "week"]))
def test_counts_sum_to_incidents_and_breakdowns_to_counts(n, res, period):
    frame = _incidents(n, seed=n)
    counts = count_cells(frame, resolution=res, period=period)
    assert counts["count"].sum() == n
    assert (counts[["fatal", "nonfatal", "unknown"]].sum(axis=1) == counts["count"]).all()
    if period:
        periods = counts.columns[4:]
        assert len(periods) > 0
        assert (counts[periods].sum(axis=1) == counts["count"]).all()
    assert counts.index.is_monotonic_increasing and counts.index.name == "h3_cell"


def test_counts_equal_a_groupby_of_per_point_cells():
    frame = _incidents(500)
    counts = count_cells(frame, resolution=9, by_outcome=False)
    ref = pd.Series([h3.latlng_to_cell(p.y, p.x, 9) for p in frame.geometry]).value_counts().sort_index()
    assert counts["count"].to_dict() == ref.to_dict()


def test_month_columns_match_the_dates():
    frame = _incidents(300)
    counts = count_cells(frame, resolution=7, period="month")
    months = frame["occurred_at"].dt.strftime("%Y-%m").value_counts()
    for month, n in months.items():
        assert counts[month].sum() == n


def test_polygons_contain_their_points():
    frame = _incidents(200)
    cells = [h3.latlng_to_cell(p.y, p.x, 8) for p in frame.geometry]
    polys = cells_to_polygons(pd.Index(cells))
    assert all(poly.buffer(1e-9).contains(p) for poly, p in zip(polys, frame.geometry))


@pytest.mark.parametrize("period", ["month", "week"])
def test_period_codes_are_the_formatted_dates(period):
    from odgeo.hexes import period_codes

    rng = np.random.default_rng(4)
    times = pd.Series(pd.to_datetime(rng.integers(1.5e9, 1.8e9, 5000), unit="s", utc=True)
                      .tz_convert("America/Chicago"))
    times = pd.concat([times, pd.Series(pd.to_datetime(["2024-12-30 01:00", "2027-01-01 23:00"])
                                        .tz_localize("America/Chicago"))], ignore_index=True)
    if period == "month":
        expected = times.dt.strftime("%Y-%m")
    else:  # ISO weeks: 2024-12-30 is in 2025-W01, 2027-01-01 in 2026-W53
        iso = times.dt.isocalendar()
        expected = iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2)
    codes, names = period_codes(times, period)
    assert [names[c] for c in codes] == expected.tolist()
    assert names == sorted(set(expected))
    if period == "week":
        assert names[codes[-2]] == "2025-W01" and names[codes[-1]] == "2026-W53"


def test_cell_polygons_are_h3_boundaries_vertex_for_vertex():
    # Hexagons, pentagons (5 vertices) and their neighbours bent over icosahedron edges (7 to 10 vertices).
    cells = [*h3.grid_disk(h3.latlng_to_cell(41.88, -87.63, 8), 4), *h3.get_pentagons(4),
             *h3.grid_disk(h3.get_pentagons(5)[0], 3)]
    got = cells_to_polygons(cells)
    assert list(got.index) == cells
    sizes = {len(h3.cell_to_boundary(c)) for c in cells}
    assert {5, 6}.issubset(sizes) and max(sizes) > 6
    for cell, polygon in zip(cells, got.values):
        expected = shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(cell)])
        assert shapely.to_wkb(polygon) == shapely.to_wkb(expected)
