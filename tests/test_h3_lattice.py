"""The face-and-lattice assignment equals h3.latlng_to_cell on every point, where it is hardest too."""

from __future__ import annotations

import h3.api.basic_int as h3i
import numpy as np
import pytest

from odgeo.h3_lattice import _keys, points_to_cells_lattice


def _reference(lon, lat, res):
    return np.array([h3i.latlng_to_cell(b, a, res) for a, b in zip(lon.tolist(), lat.tolist())], dtype=np.uint64)


def _sphere(n, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(-180, 180, n), np.degrees(np.arcsin(rng.uniform(-1, 1, n)))


@pytest.mark.parametrize("res", range(16))
def test_points_all_over_the_world(res):
    lon, lat = _sphere(40_000, res)
    assert np.array_equal(points_to_cells_lattice(lon, lat, res), _reference(lon, lat, res))


def _hard_points(res, rng):
    """Cell vertices and edge midpoints nudged by 1e-12 to 1e-6 degrees, and points near face centres,
    pentagons, the poles and the antimeridian."""
    seeds = [h3i.latlng_to_cell(lat, lon, res) for lon, lat in zip(*_sphere(60, res))]
    pentagons = h3i.get_pentagons(res)
    centres = [h3i.cell_to_latlng(c) for c in h3i.get_res0_cells() if len(h3i.get_icosahedron_faces(c)) == 1]
    seeds += [h3i.latlng_to_cell(lat, lon, res) for lat, lon in centres]
    seeds += pentagons + [h3i.latlng_to_cell(89.99, 10.0, res), h3i.latlng_to_cell(-89.99, 10.0, res),
                          h3i.latlng_to_cell(0.0, 179.999, res)]
    corners = []
    for cell in seeds:
        boundary = np.array(h3i.cell_to_boundary(cell))
        corners += boundary.tolist() + ((boundary + np.roll(boundary, -1, axis=0)) / 2).tolist()
        corners.append(list(h3i.cell_to_latlng(cell)))
    corners = np.array(corners)  # (lat, lng)
    nudges = 10.0 ** rng.uniform(-12, -6, (20, 1, 2)) * rng.choice([-1, 1], (20, 1, 2))
    points = (corners[None, :, :] + nudges).reshape(-1, 2)
    lat = np.clip(points[:, 0], -90, 90)
    lon = (points[:, 1] + 180) % 360 - 180
    return lon, lat


@pytest.mark.parametrize("res", [2, 5, 8, 9, 12, 15])
def test_points_on_and_beside_cell_edges_vertices_face_centres_and_pentagons(res):
    lon, lat = _hard_points(res, np.random.default_rng(res))
    assert np.array_equal(points_to_cells_lattice(lon, lat, res), _reference(lon, lat, res))


@pytest.mark.parametrize("res", [8, 9])
def test_a_city_is_decided_by_lattice_keys(res):
    """A city's points are decided without h3 per point (the dense table of keys), and equal to it."""
    rng = np.random.default_rng(4)
    lon, lat = -97.4 + rng.normal(0, 0.05, 50_000), 38.2 + rng.normal(0, 0.05, 50_000)
    keys = _keys(lon, lat, res)
    assert (keys >= 0).mean() > 0.999
    assert np.array_equal(points_to_cells_lattice(lon, lat, res), _reference(lon, lat, res))


def test_low_resolutions_and_nothing():
    lon, lat = _sphere(500, 3)
    for res in (0, 1):
        assert np.array_equal(points_to_cells_lattice(lon, lat, res), _reference(lon, lat, res))
    assert points_to_cells_lattice(np.zeros(0), np.zeros(0), 8).shape == (0,)


@pytest.mark.parametrize("where", ["city", "world", "with-missing"])
def test_cell_index_is_numpys_unique_of_the_cells(where):
    from odgeo.hexes import cell_index, points_to_cells

    rng = np.random.default_rng(6)
    if where == "city":
        lon, lat = -97.4 + rng.normal(0, 0.05, 30_000), 38.2 + rng.normal(0, 0.05, 30_000)
    else:
        lon, lat = _sphere(30_000, 6)
    if where == "with-missing":
        lon[::7] = np.nan
    codes, index = cell_index(lon, lat, 8)
    ref_codes, ref_index = np.unique(points_to_cells(lon, lat, 8), return_inverse=True)
    assert np.array_equal(codes, ref_codes) and np.array_equal(index, ref_index.reshape(-1))
    assert np.array_equal(codes[index][np.isfinite(lon)], _reference(lon[np.isfinite(lon)], lat[np.isfinite(lon)], 8))


def test_few_points_take_h3_and_many_the_lattice_with_the_same_cells():
    """A county's morning (under FEW_POINTS) asks h3 itself; the cells are the lattice's, both sides of the line."""
    from odgeo.hexes import FEW_POINTS, cell_index, points_to_cells

    lon, lat = _sphere(FEW_POINTS, 9)
    few = points_to_cells(lon[:-1], lat[:-1], 9)
    assert np.array_equal(few, points_to_cells_lattice(lon[:-1], lat[:-1], 9))
    assert np.array_equal(points_to_cells(lon, lat, 9)[:-1], few)
    codes, index = cell_index(lon[:-1], lat[:-1], 9)
    assert np.array_equal(codes[index], few)
