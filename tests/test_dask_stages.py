"""The main job's stages as map-reduce over parts on a real LocalCluster, against the in-memory functions.

H3 counts must be equal, the density equal to floating-point error, the DBSCAN labels and
core flags equal (clusters numbered by their first core point in input order on both sides);
and DBSCAN's labels equal scikit-learn's up to renumbering, as the issue asks.
"""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import DBSCAN

from odgeo.clusters.grid import grid_dbscan
from odgeo.clusters.on_parts import _strip_cuts, dbscan_parts
from odgeo.density.kernel import kernel_density
from odgeo.density.on_parts import kernel_density_parts
from odgeo.engine.stages import count_cells_parts, points_of, project_parts
from odgeo.hexes import count_cells
from odgeo.incidents.read import read_incidents
from odgeo.projection import lonlat_of, project_points
from odgeo.schema import located

from .conftest import SAMPLE, SAMPLE_TZ


@pytest.fixture
def client(dask_cluster_client):
    return dask_cluster_client


@pytest.fixture(scope="module")
def sample_incidents():
    return located(read_incidents(SAMPLE / "incidents.csv", timezone=SAMPLE_TZ).incidents).reset_index(drop=True)


def _synthetic(n: int, seed: int) -> gpd.GeoDataFrame:
    """Hot spots on a background, over ~20 km, some points repeated exactly (geocoding fallbacks)."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-8000, 8000, (12, 2))
    k = n // 2
    xy = np.vstack([centres[rng.integers(0, 12, k)] + rng.normal(0, 300, (k, 2)), rng.normal(0, 5000, (n - k, 2))])
    xy[::50] = xy[0]
    lat = 41.8 + xy[:, 1] / 111_195.0
    lon = -87.7 + xy[:, 0] / (111_195.0 * np.cos(np.radians(41.8)))
    days = rng.integers(0, 400, n)
    frame = pd.DataFrame({"occurred_at": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(days, "D"),
                          "outcome": np.where(rng.random(n) < 0.1, "fatal", "nonfatal")})
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")


def _scatter(client, frame: gpd.GeoDataFrame, n_parts: int) -> list:
    bounds = np.linspace(0, len(frame), n_parts + 1).astype(int)
    return client.scatter([points_of(frame.iloc[a:b]) for a, b in itertools.pairwise(bounds)])


@pytest.mark.parametrize("period", [None, "month", "week"])
def test_counts_of_parts_equal_counts_of_the_whole(client, sample_incidents, period):
    parts = _scatter(client, sample_incidents, 5)
    together = count_cells_parts(client, parts, resolution=9, period=period)
    pd.testing.assert_frame_equal(together, count_cells(sample_incidents, resolution=9, period=period))
    assert together["count"].sum() == len(sample_incidents) and len(together) > 100


@pytest.mark.parametrize("kernel", ["quartic", "gaussian"])
def test_density_of_parts_equals_density_of_the_whole(client, kernel):
    frame = _synthetic(40_000, seed=3)
    lon, lat = lonlat_of(frame.geometry)
    x, y, crs = project_points(lon, lat)
    whole = kernel_density(x, y, crs=crs, bandwidth_m=400, cell_size_m=100, kernel=kernel)
    parts = kernel_density_parts(client, _scatter(client, frame, 7), crs=crs, bandwidth_m=400, cell_size_m=100,
                                 kernel=kernel)
    assert parts.transform == whole.transform and parts.shape == whole.shape and parts.n_points == len(frame)
    np.testing.assert_allclose(parts.values, whole.values, rtol=1e-9, atol=1e-9 * whole.values.max())
    assert whole.values.max() > 0


@pytest.mark.parametrize(("eps", "min_samples", "n_strips"), [(100.0, 15, 4), (250.0, 5, 7), (400.0, 30, 3)])
def test_dbscan_in_strips_equals_dbscan_of_the_whole(client, eps, min_samples, n_strips):
    frame = _synthetic(30_000, seed=int(eps))
    lon, lat = lonlat_of(frame.geometry)
    x, y, crs = project_points(lon, lat)
    parts = _scatter(client, frame, 5)
    labels, core = dbscan_parts(client, parts, crs=crs, eps_m=eps, min_samples=min_samples, n_strips=n_strips)
    whole_labels, whole_core = grid_dbscan(x, y, eps, min_samples)
    cuts = _strip_cuts(client, project_parts(client, parts, crs), eps, n_strips)
    assert len(cuts) == n_strips - 1
    across = [c for c in range(labels.max() + 1) if any(x[labels == c].min() < cut <= x[labels == c].max()
                                                         for cut in cuts)]
    assert across  # some clusters were joined across a cut
    np.testing.assert_array_equal(core, whole_core)
    np.testing.assert_array_equal(labels, whole_labels)
    assert labels.max() >= 5  # clusters were found, and some meet across the strips' edges
    reference = DBSCAN(eps=eps, min_samples=min_samples).fit(np.c_[x, y])
    np.testing.assert_array_equal(reference.labels_, labels)  # scikit-learn numbers them in the same order
    np.testing.assert_array_equal(np.isin(np.arange(len(x)), reference.core_sample_indices_), core)


def test_dbscan_of_the_sample_city_in_strips(client, sample_incidents):
    lon, lat = lonlat_of(sample_incidents.geometry)
    x, y, crs = project_points(lon, lat)
    labels, core = dbscan_parts(client, _scatter(client, sample_incidents, 4), crs=crs, eps_m=100, min_samples=15,
                                n_strips=6)
    whole_labels, whole_core = grid_dbscan(x, y, 100, 15)
    np.testing.assert_array_equal(labels, whole_labels)
    np.testing.assert_array_equal(core, whole_core)


def test_stages_on_parts_read_from_disk(client, sample_incidents):
    """From the CSV, in 11 parts that never leave the workers, to the counts, density and clusters."""
    from odgeo.engine.dask_read import read_parts_dask

    parts = read_parts_dask(SAMPLE / "incidents.csv", client, blocksize=64 * 1024, timezone=SAMPLE_TZ)
    assert len(parts.reads) == 11 and parts.n_input == 5045
    located_parts = parts.located()
    pd.testing.assert_frame_equal(count_cells_parts(client, located_parts, resolution=8, period="month"),
                                  count_cells(sample_incidents, resolution=8, period="month"))
    lon, lat = lonlat_of(sample_incidents.geometry)
    x, y, crs = project_points(lon, lat)
    grid = kernel_density_parts(client, located_parts, crs=crs, bandwidth_m=300, cell_size_m=50)
    whole = kernel_density(x, y, crs=crs, bandwidth_m=300, cell_size_m=50)
    np.testing.assert_allclose(grid.values, whole.values, rtol=1e-9, atol=1e-9 * whole.values.max())
    labels, _ = dbscan_parts(client, located_parts, crs=crs, eps_m=100, min_samples=15)
    np.testing.assert_array_equal(labels, grid_dbscan(x, y, 100, 15)[0])
