"""DBSCAN clusters in metres (grid-bucketed), cluster polygons and coordinate stacks.

Labels equal scikit-learn's ``DBSCAN(eps, min_samples)`` on the same projected
points, border points included (a border point within reach of two clusters
joins the one scikit-learn discovers first). The work is bucketed on a grid of
cells eps/sqrt(2) wide: every point of a cell is within eps of every other, so
a cell holding min_samples points is all core without a distance computed, and
clusters are joined cell to cell rather than point to point. Memory stays
linear in the number of points, where scikit-learn keeps every neighbour list.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy.spatial import cKDTree

from .errors import ParameterError

__all__ = [
    "DEFAULT_EPS_M",
    "DEFAULT_MIN_SAMPLES",
    "DEFAULT_STACK_MIN",
    "dbscan",
    "cluster_polygons",
    "coordinate_stacks",
]

#: Search distance: a city block (about a 1-2 minute walk).
DEFAULT_EPS_M = 100.0
#: Minimum incidents within eps (the point itself included) for a core point.
DEFAULT_MIN_SAMPLES = 15
#: This many incidents at one exact coordinate are flagged as a possible
#: geocoding artefact (a city centroid or a default address), not a hot spot.
DEFAULT_STACK_MIN = 10

CLUSTER_COLUMNS = [
    "cluster_id", "n_incidents", "n_core", "first_date", "last_date", "max_stack",
    "possible_artefact", "geometry",
]


def dbscan(x: np.ndarray, y: np.ndarray, *, eps_m: float = DEFAULT_EPS_M,
           min_samples: int = DEFAULT_MIN_SAMPLES) -> tuple[np.ndarray, np.ndarray]:
    """DBSCAN labels of projected points.

    Parameters
    ----------
    x, y
        Coordinates in metres.
    eps_m
        Neighbourhood radius in metres (distance <= eps counts).
    min_samples
        Points within eps, the point itself included, that make a core point.

    Returns
    -------
    labels, is_core
        ``labels[i]`` is the cluster number (0, 1, ...) or -1 for noise;
        numbering and labels follow scikit-learn's DBSCAN.
    """
    if not (eps_m > 0 and math.isfinite(eps_m)):
        raise ParameterError(f"eps must be a positive number of metres, not {eps_m!r}")
    if int(min_samples) != min_samples or min_samples < 1:
        raise ParameterError(f"min_samples must be a whole number >= 1, not {min_samples!r}")
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = len(x)
    labels = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return labels, np.zeros(0, dtype=bool)
    grid = _Grid(x, y, eps_m / math.sqrt(2.0))
    tree = cKDTree(np.c_[x, y])
    is_core = grid.counts_of_point >= min_samples
    unsure = np.flatnonzero(~is_core)
    if len(unsure):
        counts = tree.query_ball_point(np.c_[x[unsure], y[unsure]], r=eps_m, return_length=True)
        is_core[unsure] = counts >= min_samples
    if not is_core.any():
        return labels, is_core
    component = _join_core_cells(grid, x, y, is_core, eps_m)
    # Number clusters by their lowest core point index, as scikit-learn discovers them.
    core_idx = np.flatnonzero(is_core)
    comp_of_core = component[grid.cell_of_point[core_idx]]
    first = pd.Series(core_idx).groupby(comp_of_core).min().sort_values()
    number = pd.Series(np.arange(len(first)), index=first.index)
    labels[core_idx] = number[comp_of_core].to_numpy()
    _label_border_points(labels, is_core, x, y, eps_m)
    return labels, is_core


class _Grid:
    """Points bucketed into square cells of side ``size`` (sorted by cell)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, size: float):
        ix = np.floor((x - x.min()) / size).astype(np.int64)
        iy = np.floor((y - y.min()) / size).astype(np.int64)
        self.height = int(iy.max()) + 3
        key = (ix + 1) * self.height + (iy + 1)
        self.order = np.argsort(key, kind="stable")
        sorted_keys = key[self.order]
        self.keys, self.start, counts = np.unique(sorted_keys, return_index=True, return_counts=True)
        self.end = self.start + counts
        self.cell_of_point = np.empty(len(x), dtype=np.int64)
        self.cell_of_point[self.order] = np.repeat(np.arange(len(self.keys)), counts)
        self.counts_of_point = counts[self.cell_of_point]

    def members(self, cell: int) -> np.ndarray:
        return self.order[self.start[cell]:self.end[cell]]

    def neighbour_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """Pairs (a, b), a < b, of occupied cells close enough to hold points within eps."""
        a_all, b_all = [], []
        for dx in range(-2, 3):
            for dy in range(-2, 3):
                if (dx, dy) <= (0, 0):
                    continue  # each unordered pair once, and no self pairs
                target = self.keys + dx * self.height + dy
                pos = np.searchsorted(self.keys, target)
                pos = np.minimum(pos, len(self.keys) - 1)
                found = self.keys[pos] == target
                a_all.append(np.flatnonzero(found))
                b_all.append(pos[found])
        return np.concatenate(a_all), np.concatenate(b_all)


def _join_core_cells(grid: _Grid, x, y, is_core, eps_m) -> np.ndarray:
    """Union-find over cells: two cells join when some core pair is within eps."""
    n_cells = len(grid.keys)
    parent = np.arange(n_cells)

    def find(i: int) -> int:
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return root

    core_points: dict[int, np.ndarray] = {}
    trees: dict[int, cKDTree] = {}

    def cores(cell: int) -> np.ndarray:
        if cell not in core_points:
            m = grid.members(cell)
            core_points[cell] = m[is_core[m]]
        return core_points[cell]

    has_core = np.zeros(n_cells, dtype=bool)
    has_core[np.unique(grid.cell_of_point[is_core])] = True
    a_cells, b_cells = grid.neighbour_pairs()
    keep = has_core[a_cells] & has_core[b_cells]
    for a, b in zip(a_cells[keep].tolist(), b_cells[keep].tolist()):
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        pa, pb = cores(a), cores(b)
        if len(pa) > len(pb):
            a, b, pa, pb = b, a, pb, pa
        if b not in trees:
            trees[b] = cKDTree(np.c_[x[pb], y[pb]])
        dist, _ = trees[b].query(np.c_[x[pa], y[pa]], k=1, distance_upper_bound=eps_m * (1 + 1e-12))
        if np.any(dist <= eps_m):
            parent[ra] = rb
    return np.array([find(i) for i in range(n_cells)])


def _label_border_points(labels, is_core, x, y, eps_m) -> None:
    """A non-core point within eps of core points joins the lowest-numbered cluster."""
    core_idx = np.flatnonzero(is_core)
    others = np.flatnonzero(~is_core)
    if not len(others):
        return
    core_tree = cKDTree(np.c_[x[core_idx], y[core_idx]])
    near = core_tree.query_ball_point(np.c_[x[others], y[others]], r=eps_m)
    core_labels = labels[core_idx]
    for point, hits in zip(others.tolist(), near):
        if hits:
            labels[point] = core_labels[hits].min()


def coordinate_stacks(lon: np.ndarray, lat: np.ndarray, *, stack_min: int = DEFAULT_STACK_MIN) -> np.ndarray:
    """Size of the stack each point belongs to: incidents at exactly its coordinate.

    Points with ``stack >= stack_min`` are possible geocoding artefacts (many
    records placed at a city centroid or a default address).
    """
    if len(lon) == 0:
        return np.zeros(0, dtype=np.int64)
    keys = pd.MultiIndex.from_arrays([np.asarray(lon), np.asarray(lat)])
    codes, uniques = pd.factorize(keys)
    sizes = np.bincount(codes)
    return sizes[codes]


def cluster_polygons(
    x: np.ndarray,
    y: np.ndarray,
    labels: np.ndarray,
    is_core: np.ndarray,
    dates: pd.Series,
    *,
    crs: pyproj.CRS,
    eps_m: float,
    stacks: np.ndarray,
    stack_min: int = DEFAULT_STACK_MIN,
) -> gpd.GeoDataFrame:
    """One row per cluster (a ClusterFrame), polygons in the metric CRS.

    The polygon is the convex hull of the members buffered by eps/2 and
    simplified, so its edges do not run through incident locations.
    ``possible_artefact`` is True when the cluster holds a stack of at least
    ``stack_min`` incidents at one exact coordinate.
    """
    rows = []
    dates = pd.Series(np.asarray(dates))
    for cluster in np.unique(labels[labels >= 0]):
        members = np.flatnonzero(labels == cluster)
        hull = shapely.multipoints(np.c_[x[members], y[members]]).convex_hull
        polygon = hull.buffer(eps_m / 2.0, quad_segs=4).simplify(eps_m / 10.0)
        member_dates = dates.iloc[members]
        max_stack = int(stacks[members].max())
        rows.append({
            "cluster_id": int(cluster) + 1,
            "n_incidents": len(members),
            "n_core": int(is_core[members].sum()),
            "first_date": member_dates.min(),
            "last_date": member_dates.max(),
            "max_stack": max_stack,
            "possible_artefact": bool(max_stack >= stack_min),
            "geometry": polygon,
        })
    if not rows:
        return gpd.GeoDataFrame(columns=CLUSTER_COLUMNS, geometry="geometry", crs=crs)
    return gpd.GeoDataFrame(rows, columns=CLUSTER_COLUMNS, geometry="geometry", crs=crs)
