"""DBSCAN equals scikit-learn; clusters and coordinate stacks on the sample."""

import json

import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import DBSCAN

from odgeo.clusters.dbscan import (
    cluster_polygons,
    convex_hull,
    coordinate_decimals,
    coordinate_stacks,
    dbscan,
    suspect_stacks,
)


def _scene(seed, n):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 4000, (8, 2))
    k = n // 2
    blobs = rng.normal(0, 1, (k, 2)) * rng.uniform(20, 150) + centres[rng.integers(0, 8, k)]
    pts = np.vstack([blobs, rng.uniform(0, 4000, (n - k, 2))])
    return np.round(pts, 1)  # rounding makes exact-eps distances and duplicates likely


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 1500), st.floats(10, 300), st.integers(1, 30))
def test_labels_equal_scikit_learn(seed, n, eps, min_samples):
    pts = _scene(seed, n)
    labels, core = dbscan(pts[:, 0], pts[:, 1], eps_m=eps, min_samples=min_samples)
    ref = DBSCAN(eps=eps, min_samples=min_samples).fit(pts)
    ref_core = np.zeros(n, dtype=bool)
    ref_core[ref.core_sample_indices_] = True
    assert np.array_equal(core, ref_core)
    assert np.array_equal(labels[core], ref.labels_[core])
    assert np.array_equal(labels, ref.labels_)


@pytest.mark.parametrize("seed", range(12))
def test_dense_cells_join_as_in_scikit_learn(seed):
    # Tight clumps of 40 points make cells that are all core; whether two clumps join turns
    # on their closest pair, often near eps and across cells that meet only at a corner
    # (grid_dbscan compares only the core points near the other cell's core box).
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 300, (60, 2))
    pts = np.round(np.repeat(centres, 40, axis=0) + rng.normal(0, 2.5, (2400, 2)), 2)
    labels, core = dbscan(pts[:, 0], pts[:, 1], eps_m=25.0, min_samples=10)
    ref = DBSCAN(eps=25.0, min_samples=10).fit(pts)
    assert core.sum() == len(ref.core_sample_indices_) and core[ref.core_sample_indices_].all()
    assert np.array_equal(labels, ref.labels_)
    assert 1 < labels.max() < 59  # some clumps joined, some not: the test is about the joins


def test_border_point_takes_the_lowest_cluster_within_eps():
    # Cluster 0 (first in input order) lies to the right of the border point, cluster 1 to
    # its left, each with one point exactly eps away: the point is cluster 0's, as in
    # scikit-learn, although cluster 1's cell comes first in grid order.
    right = 17 + 0.5 * np.arange(6)
    left = -3 - 0.5 * np.arange(6)
    x = np.r_[right, left, 7.0]
    labels, core = dbscan(x, np.zeros(len(x)), eps_m=10.0, min_samples=6)
    ref = DBSCAN(eps=10.0, min_samples=6).fit(np.c_[x, np.zeros(len(x))])
    assert not core[-1] and labels[-1] == 0
    assert np.array_equal(labels, ref.labels_)


def test_labels_stay_aligned_with_rows_when_rows_are_shuffled():
    pts = _scene(5, 800)
    labels, core = dbscan(pts[:, 0], pts[:, 1], eps_m=120, min_samples=8)
    perm = np.random.default_rng(0).permutation(len(pts))
    labels2, core2 = dbscan(pts[perm, 0], pts[perm, 1], eps_m=120, min_samples=8)
    assert np.array_equal(core2, core[perm])
    # Same partition of core points, whatever the numbering.
    pairs = set(zip(labels[perm][core2], labels2[core2]))
    assert len(pairs) == len(set(labels[core]))


def test_exact_eps_distance_counts_as_a_neighbour():
    x = np.array([0.0, 100.0])
    labels, core = dbscan(x, np.zeros(2), eps_m=100.0, min_samples=2)
    assert core.all() and (labels == 0).all()


def test_stacks_and_artefact_flag():
    lon = np.array([1.0] * 12 + [2.0, 3.0])
    lat = np.array([5.0] * 12 + [5.0, 5.0])
    stacks = coordinate_stacks(lon, lat)
    assert stacks.tolist() == [12] * 12 + [1, 1]
    suspect = suspect_stacks(lon, lat, stack_min=10)
    assert (suspect[:12] == "many at one point").all() and (suspect[12:] == "").all()
    x = np.r_[np.zeros(12), 10.0, 20.0]
    labels, core = dbscan(x, np.zeros(14), eps_m=50, min_samples=3)
    dates = pd.Series(pd.date_range("2024-01-01", periods=14, tz="UTC"))
    frame = cluster_polygons(x, np.zeros(14), labels, core, dates, crs=pyproj.CRS.from_epsg(32614),
                             eps_m=50, stacks=stacks, suspect=suspect)
    assert frame["possible_artefact"].tolist() == [True]
    assert frame["n_incidents"].tolist() == [14] and frame["max_stack"].tolist() == [12]
    assert frame["first_date"].iloc[0] == dates.iloc[0]
    # The polygon is buffered: no incident lies on its edge.
    assert not shapely.touches(frame.geometry.iloc[0], shapely.points(x, np.zeros(14))).any()


def test_round_coordinates_flag_smaller_stacks():
    # Tempe's "placed at center of city" records: 8 at -111.93, 33.39, among 4-decimal points.
    lon = np.array([-111.93] * 8 + [-111.9334] * 8 + [-111.95] * 2)
    lat = np.array([33.39] * 8 + [33.4297] * 8 + [33.41] * 2)
    suspect = suspect_stacks(lon, lat, stack_min=10)
    assert (suspect[:8] == "round coordinate").all()
    assert (suspect[8:] == "").all()  # 8 at a precise point, and only 2 at a round one
    assert coordinate_decimals(np.array([-111.93, -111.9334, 5.0, 38.123456])).tolist() == [2, 4, 0, 6]


def test_sample_cluster_and_pile_up(restricted_run, sample_run, truth):
    result, _ = restricted_run
    clusters = result.clusters.to_crs(4326)
    tight = clusters[clusters.contains(shapely.Point(truth["tight_cluster"]["centre"]))]
    assert len(tight) == 1
    assert tight["n_incidents"].iloc[0] >= 0.9 * truth["tight_cluster"]["n"]
    assert not tight["possible_artefact"].iloc[0]
    pile = clusters[clusters.intersects(shapely.Point(truth["centroid_pileup"]["location"]))]
    assert pile["possible_artefact"].tolist() == [True]
    assert pile["max_stack"].iloc[0] == truth["centroid_pileup"]["n"]
    assert result.record.sections["coordinate_stacks"][0]["n_incidents"] == truth["centroid_pileup"]["n"]
    # The public record says how many, not where or how big each stack is.
    public_stacks = json.loads((sample_run[1] / "run.json").read_text())["coordinate_stacks"]
    assert public_stacks["n_stacks"] >= 1 and public_stacks["n_incidents"] >= truth["centroid_pileup"]["n"]


@given(st.integers(1, 400), st.sampled_from(["normal", "grid", "line", "duplicates"]), st.integers(0, 10_000))
@settings(max_examples=150, deadline=None)
def test_convex_hull_is_geos_multipoint_hull_bit_for_bit(n, shape, seed):
    rng = np.random.default_rng(seed)
    if shape == "normal":
        xy = rng.normal(0, 300, (n, 2))
    elif shape == "grid":  # collinear runs on every hull edge
        xy = rng.integers(0, 6, (n, 2)).astype(float) * 25.0
    elif shape == "line":
        t = rng.uniform(0, 1, n)
        xy = np.c_[t * 100.0, t * 50.0 + 3.0]
    else:
        xy = np.repeat(rng.normal(0, 50, (max(1, n // 10), 2)), 10, axis=0)[:n]
    reference = shapely.multipoints(xy).convex_hull
    assert shapely.to_wkb(convex_hull(xy)) == shapely.to_wkb(reference)
