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
import numba
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
    "cluster_polygons",
    "coordinate_decimals",
    "coordinate_stacks",
    "dbscan",
    "find_root",
    "suspect_stacks",
]

#: Search distance: a city block (about a 1-2 minute walk).
DEFAULT_EPS_M = 100.0
#: The largest search distance: beyond a few kilometres every incident of a city is one cluster.
MAX_EPS_M = 20_000.0
#: Minimum incidents within eps (the point itself included) for a core point.
DEFAULT_MIN_SAMPLES = 15
#: This many incidents at one exact coordinate are flagged as a possible
#: geocoding artefact (a city centroid or a default address), not a hot spot.
DEFAULT_STACK_MIN = 10
#: Fewer suffice when the coordinate is round (a centroid typed by hand).
ROUND_STACK_MIN = 3
ROUND_DECIMALS = 2

CLUSTER_COLUMNS = [
    "cluster_id", "n_incidents", "n_core", "radius_m", "first_date", "last_date", "duration_days", "max_stack",
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
    if eps_m > MAX_EPS_M:
        raise ParameterError(f"--eps {eps_m:g} m is more than {MAX_EPS_M:,.0f} m: DBSCAN's search distance is a "
                             "neighbourhood's size (100-500 m is usual), not a region's")
    if int(min_samples) != min_samples or min_samples < 1:
        raise ParameterError(f"min_samples must be a whole number >= 1, not {min_samples!r}")
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = len(x)
    labels = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return labels, np.zeros(0, dtype=bool)
    grid = _Grid(x, y, eps_m / math.sqrt(2.0))
    is_core = grid.counts_of_point >= min_samples
    unsure = np.flatnonzero(~is_core)
    if len(unsure):
        tree = cKDTree(np.column_stack([x, y]))
        counts = tree.query_ball_point(np.column_stack([x[unsure], y[unsure]]), r=eps_m,
                                        return_length=True, workers=-1)
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
    _label_border_points(labels, is_core, x, y, eps_m, min_samples)
    return labels, is_core


class _Grid:
    """Points bucketed into square cells of side ``size`` (sorted by cell)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, size: float):
        self.x0, self.y0, self.size = float(x.min()), float(y.min()), size
        ix = np.floor((x - self.x0) / size).astype(np.int64)
        iy = np.floor((y - self.y0) / size).astype(np.int64)
        self.height = int(iy.max()) + 3
        key = (ix + 1) * self.height + (iy + 1)
        self.order = np.argsort(key, kind="stable")
        sorted_keys = key[self.order]
        self.keys, counts = np.unique(sorted_keys, return_counts=True)
        self.cell_of_point = np.empty(len(x), dtype=np.int64)
        self.cell_of_point[self.order] = np.repeat(np.arange(len(self.keys)), counts)
        self.counts_of_point = counts[self.cell_of_point]

    def centres(self, cells: np.ndarray) -> np.ndarray:
        """(x, y) of the centres of ``cells``, an (n, 2) array."""
        keys = self.keys[cells]
        ix, iy = keys // self.height - 1, keys % self.height - 1
        return np.column_stack([self.x0 + (ix + 0.5) * self.size, self.y0 + (iy + 0.5) * self.size])

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


# Cells with at most this many core points are joined in one vectorised pass.
_SMALL_CELL = 12
_PAIR_CHUNK = 20_000


def _join_core_cells(grid: _Grid, x, y, is_core, eps_m) -> np.ndarray:
    """Connected cells: two cells join when some pair of their core points is within eps.

    Pairs of cells with few core points are tested all at once in NumPy; the
    rest go through a union-find that skips pairs already joined.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n_cells = len(grid.keys)
    # Core points grouped by cell: core_order[core_start[c]:core_end[c]].
    core_pos = np.flatnonzero(is_core[grid.order])
    core_order = grid.order[core_pos]
    core_cell = grid.cell_of_point[core_order]
    n_core = np.bincount(core_cell, minlength=n_cells)
    core_start = np.concatenate([[0], np.cumsum(n_core)[:-1]])
    a_cells, b_cells = grid.neighbour_pairs()
    keep = (n_core[a_cells] > 0) & (n_core[b_cells] > 0)
    a_cells, b_cells = a_cells[keep], b_cells[keep]
    xy = np.column_stack([x, y])
    # A sufficient test first: the two cells' core points nearest their centres.
    rep = _central_core_point(grid, core_order, core_cell, xy, n_cells)
    close = ((xy[rep[a_cells]] - xy[rep[b_cells]]) ** 2).sum(axis=1) <= eps_m * eps_m
    a_cells, b_cells, edges_a, edges_b = a_cells[~close], b_cells[~close], a_cells[close], b_cells[close]
    small = (n_core[a_cells] <= _SMALL_CELL) & (n_core[b_cells] <= _SMALL_CELL)
    joined = _small_pairs_within(a_cells[small], b_cells[small], core_order, core_start, n_core, xy, eps_m)
    edges_a = np.concatenate([edges_a, a_cells[small][joined]])
    edges_b = np.concatenate([edges_b, b_cells[small][joined]])
    big_a, big_b = a_cells[~small], b_cells[~small]
    graph = coo_matrix((np.ones(len(edges_a)), (edges_a, edges_b)), shape=(n_cells, n_cells))
    _, parent = connected_components(graph, directed=False)
    parent = parent.astype(np.int64)
    root_of = np.full(parent.max() + 1, -1)
    for cell in range(n_cells - 1, -1, -1):
        root_of[parent[cell]] = cell
    parent = root_of[parent]  # each component points at one of its cells

    def find(i: int) -> int:
        return int(find_root(parent, i))

    eps2 = eps_m * eps_m
    trees: dict[int, cKDTree] = {}
    for a, b in zip(big_a.tolist(), big_b.tolist()):
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        pa = core_order[core_start[a]:core_start[a] + n_core[a]]
        pb = core_order[core_start[b]:core_start[b] + n_core[b]]
        if len(pa) > len(pb):
            a, b, pa, pb = b, a, pb, pa
        if len(pa) * len(pb) <= 50_000:
            d2 = ((xy[pa, None, :] - xy[None, pb, :]) ** 2).sum(axis=2)
            near = bool((d2 <= eps2).any())
        else:
            if b not in trees:
                trees[b] = cKDTree(xy[pb])
            dist, _ = trees[b].query(xy[pa], k=1, distance_upper_bound=eps_m * (1 + 1e-9))
            near = bool(np.any(dist <= eps_m))
        if near:
            parent[ra] = rb
    return np.array([find(i) for i in range(n_cells)])


def _radius(x: np.ndarray, y: np.ndarray) -> float:
    """The farthest point from the points' mean, rounded to 10 m."""
    return round(float(np.hypot(x - x.mean(), y - y.mean()).max()), -1)


@numba.njit(cache=True)
def find_root(parent: np.ndarray, i: int) -> int:  # pragma: no cover - compiled
    """Union-find: the root of ``i`` in ``parent``, compressing the path on the way."""
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:
        parent[i], i = root, parent[i]
    return root


def _central_core_point(grid: _Grid, core_order, core_cell, xy, n_cells) -> np.ndarray:
    """Per cell, the index of its core point nearest the cell centre (-1 if none)."""
    centre = grid.centres(core_cell)
    d2 = ((xy[core_order] - centre) ** 2).sum(axis=1)
    order = np.lexsort((d2, core_cell))
    first = np.ones(len(order), dtype=bool)
    first[1:] = core_cell[order][1:] != core_cell[order][:-1]
    rep = np.full(n_cells, -1, dtype=np.int64)
    rep[core_cell[order][first]] = core_order[order][first]
    return rep


def _small_pairs_within(a, b, core_order, core_start, n_core, xy, eps_m) -> np.ndarray:
    """For cell pairs with few core points each, whether some core pair is within eps."""
    out = np.zeros(len(a), dtype=bool)
    slots = np.arange(_SMALL_CELL)
    for lo in range(0, len(a), _PAIR_CHUNK):
        ca, cb = a[lo:lo + _PAIR_CHUNK], b[lo:lo + _PAIR_CHUNK]
        pa = _padded(ca, slots, core_order, core_start, n_core, xy)
        pb = _padded(cb, slots, core_order, core_start, n_core, xy)
        d2 = ((pa[:, :, None, :] - pb[:, None, :, :]) ** 2).sum(axis=3)
        out[lo:lo + _PAIR_CHUNK] = (d2 <= eps_m * eps_m).any(axis=(1, 2))
    return out


def _padded(cells, slots, core_order, core_start, n_core, xy) -> np.ndarray:
    """Core point coordinates of each cell in a (cells, slots, 2) array, NaN-padded."""
    valid = slots[None, :] < n_core[cells][:, None]
    idx = np.where(valid, core_start[cells][:, None] + slots[None, :], 0)
    pts = xy[core_order[idx]]
    pts[~valid] = np.nan
    return pts


def _label_border_points(labels, is_core, x, y, eps_m, min_samples) -> None:
    """A non-core point within eps of core points joins the lowest-numbered cluster.

    A non-core point has fewer than min_samples neighbours in all, so its
    min_samples - 1 nearest core points include every core point within eps.
    """
    core_idx = np.flatnonzero(is_core)
    others = np.flatnonzero(~is_core)
    if not len(others):
        return
    k = max(1, min(int(min_samples) - 1, len(core_idx)))
    core_tree = cKDTree(np.column_stack([x[core_idx], y[core_idx]]))
    dist, hit = core_tree.query(np.column_stack([x[others], y[others]]), k=k,
                                distance_upper_bound=eps_m * (1 + 1e-9), workers=-1)
    dist, hit = dist.reshape(len(others), k), hit.reshape(len(others), k)
    within = dist <= eps_m
    hit_labels = np.where(within, labels[core_idx][np.minimum(hit, len(core_idx) - 1)], np.iinfo(np.int64).max)
    best = hit_labels.min(axis=1)
    found = within.any(axis=1)
    labels[others[found]] = best[found]


def coordinate_stacks(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Size of the stack each point belongs to: incidents at exactly its coordinate.

    Parameters
    ----------
    lon, lat
        Coordinates in degrees.

    Returns
    -------
    numpy.ndarray
        Per point, how many points share its exact coordinate (itself included).
    """
    if len(lon) == 0:
        return np.zeros(0, dtype=np.int64)
    # One complex number per coordinate pair: hashed in a single pass.
    codes, _ = pd.factorize(np.asarray(lon, dtype=float) + 1j * np.asarray(lat, dtype=float))
    return np.bincount(codes)[codes]


def coordinate_decimals(values: np.ndarray, max_decimals: int = 7) -> np.ndarray:
    """Decimal places each coordinate really carries (-97.4 has 1, -97.4123 has 4)."""
    values = np.asarray(values, dtype=float)
    out = np.full(values.shape, max_decimals, dtype=np.int64)
    for k in range(max_decimals - 1, -1, -1):
        exact = np.abs(np.round(values, k) - values) < 1e-9
        out[exact] = k
    return out


def suspect_stacks(lon: np.ndarray, lat: np.ndarray, *, stack_min: int = DEFAULT_STACK_MIN,
                   stacks: np.ndarray | None = None) -> np.ndarray:
    """Per point, why its coordinate looks like a geocoding fallback ("" if it does not).

    Two signs, either enough: ``stack_min`` or more incidents at exactly one
    coordinate; or at least ``ROUND_STACK_MIN`` at one coordinate written with
    ``ROUND_DECIMALS`` decimals or fewer (about a kilometre: a city or ZIP
    centroid, as Tempe's "placed at center of city" records at -111.93, 33.39).
    """
    if stacks is None:
        stacks = coordinate_stacks(lon, lat)
    reason = np.full(len(stacks), "", dtype=object)
    candidates = np.flatnonzero(stacks >= ROUND_STACK_MIN)
    decimals = np.maximum(coordinate_decimals(np.asarray(lon)[candidates]),
                          coordinate_decimals(np.asarray(lat)[candidates]))
    reason[candidates[decimals <= ROUND_DECIMALS]] = "round coordinate"
    reason[stacks >= stack_min] = "many at one point"
    return reason


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
    suspect: np.ndarray,
    probability: np.ndarray | None = None,
    persistence: np.ndarray | None = None,
) -> gpd.GeoDataFrame:
    """One row per cluster (a ClusterFrame), polygons in the metric CRS.

    The polygon is the convex hull of the members buffered by eps/2 and
    simplified, so its edges do not run through incident locations.
    ``max_stack`` is the most incidents at one exact coordinate in the cluster;
    ``possible_artefact`` is True when a member's coordinate is a suspect stack
    (see :func:`suspect_stacks`, whose per-point reasons ``suspect`` holds).

    Parameters
    ----------
    x, y
        Projected coordinates in metres.
    labels, is_core
        From :func:`dbscan`.
    dates
        Each point's timestamp (NaT for undated incidents).
    crs
        The CRS of ``x`` and ``y``.
    eps_m
        The DBSCAN search distance (the buffer is half of it).
    stacks, suspect
        From :func:`coordinate_stacks` and :func:`suspect_stacks`.
    probability, persistence
        HDBSCAN's membership strength per point and persistence per cluster (by
        label): add ``mean_probability`` and ``persistence``.

    Returns
    -------
    geopandas.GeoDataFrame
        ``cluster_id, n_incidents, n_core, radius_m (the farthest member from the
        members' mean, to 10 m), first_date, last_date, duration_days (days from
        the first to the last incident, decimals kept), max_stack,
        possible_artefact`` (and ``mean_probability, persistence``) and the polygon, in ``crs``.
    """
    rows = []
    dates = pd.Series(np.asarray(dates))
    in_cluster = np.flatnonzero(labels >= 0)
    order = in_cluster[np.argsort(labels[in_cluster], kind="stable")]
    ids, starts = np.unique(labels[order], return_index=True)
    for cluster, members in zip(ids, np.split(order, starts[1:])):
        hull = shapely.multipoints(np.c_[x[members], y[members]]).convex_hull
        polygon = hull.buffer(eps_m / 2.0, quad_segs=4).simplify(eps_m / 10.0)
        member_dates = dates.iloc[members]
        max_stack = int(stacks[members].max())
        first, last = member_dates.min(), member_dates.max()
        row = {
            "cluster_id": int(cluster) + 1,
            "n_incidents": len(members),
            "n_core": int(is_core[members].sum()),
            "radius_m": _radius(x[members], y[members]),
            "first_date": first,
            "last_date": last,
            "duration_days": round((last - first) / pd.Timedelta(days=1), 2) if pd.notna(first) else None,
            "max_stack": max_stack,
            "possible_artefact": bool((suspect[members] != "").any()),
            "geometry": polygon,
        }
        if probability is not None:
            row["mean_probability"] = round(float(np.mean(probability[members])), 3)
        if persistence is not None:
            row["persistence"] = round(float(persistence[cluster]), 3)
        rows.append(row)
    extra = [name for name, given in (("mean_probability", probability), ("persistence", persistence))
             if given is not None]
    columns = [*CLUSTER_COLUMNS[:-1], *extra, "geometry"]
    if not rows:
        return gpd.GeoDataFrame(columns=columns, geometry="geometry", crs=crs)
    return gpd.GeoDataFrame(rows, columns=columns, geometry="geometry", crs=crs)
