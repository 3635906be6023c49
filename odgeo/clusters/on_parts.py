"""DBSCAN of incidents held in parts on a Dask cluster (``--engine dask``).

DBSCAN runs in strips of the map, each with the points within 2 eps of it; clusters that meet
across strips are joined over their shared core points and numbered by their first core point
in input order: :func:`odgeo.clusters.grid.grid_dbscan`'s labels exactly. Only one strip's
points and labels travel at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyproj

from ..engine.stages import extent_of, project_parts
from .grid import grid_dbscan, relabel_borders

__all__ = ["dbscan_parts"]


@dataclass
class _Strip:
    """The points of one strip of the map and its margins, with their DBSCAN in the strip."""

    index: np.ndarray  # position of each point in the whole input (its order)
    x: np.ndarray
    y: np.ndarray
    inside: np.ndarray  # the strip's own points (each point is inside exactly one strip)
    exact: np.ndarray  # within eps of the strip: every neighbour is here, so the core flag is right
    labels: np.ndarray  # DBSCAN of the strip's points (input order), clusters numbered here
    core: np.ndarray
    low: float  # the strip's bounds (x, metres)
    high: float


def dbscan_parts(client, parts: list, *, crs: pyproj.CRS, eps_m: float, min_samples: int,
                 n_strips: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`odgeo.clusters.grid.grid_dbscan` of the parts' located incidents together.

    The map is cut into ``n_strips`` strips of equal counts along x (default: two per
    worker, each at least 4 eps wide); each strip clusters its points and those within
    2 eps of it, so every point within eps of the strip has all its neighbours there.

    Parameters
    ----------
    client
        A ``distributed.Client``.
    parts
        Futures of the located parts.
    crs
        The metric CRS the coordinates are projected to.
    eps_m, min_samples
        As in :func:`~odgeo.clusters.grid.grid_dbscan`.
    n_strips
        How many strips (None: two per worker).

    Returns
    -------
    labels : numpy.ndarray
        The cluster of each incident, in the parts' order (-1: noise).
    core : numpy.ndarray
        True for core points.
    """
    projected = project_parts(client, parts, crs)
    sizes = client.gather(client.map(_n_located, projected, pure=False))
    offsets = np.r_[0, np.cumsum(sizes)].astype(np.int64)
    if offsets[-1] == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=bool)
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    cuts = _strip_cuts(client, projected, eps_m, n_strips or 2 * workers)
    pieces = client.map(_pieces, projected, list(offsets[:-1]), cuts=cuts, margin=2 * eps_m, pure=False)
    strips = [client.submit(_strip, [client.submit(_item, p, k, pure=False) for p in pieces], k, cuts, eps_m,
                            min_samples, pure=False) for k in range(len(cuts) + 1)]
    records = client.gather(client.map(_strip_record, strips, eps_m=eps_m, pure=False))
    del projected, pieces  # the strips hold their points now: the workers may let these go
    numbers = _global_numbers(records)
    final = client.gather([client.submit(_inside_labels, s, numbers[k], eps_m, pure=False)
                           for k, s in enumerate(strips)])
    n = int(offsets[-1])
    labels = np.full(n, -1, dtype=np.int64)
    core = np.zeros(n, dtype=bool)
    for index, strip_labels, strip_core in final:
        labels[index], core[index] = strip_labels, strip_core
    return labels, core


def _n_located(xy: tuple[np.ndarray, np.ndarray]) -> int:
    return len(xy[0])


def _strip_cuts(client, projected: list, eps_m: float, n_strips: int) -> list[float]:
    """The cuts (x, metres) of the projected parts' map into strips of about equal counts, each at least 4 eps wide."""
    extents = client.gather(client.map(extent_of, projected, pure=False))
    low, high = min(e[1] for e in extents), max(e[3] for e in extents)
    if n_strips <= 1 or not high - low > 8 * eps_m:
        return []
    edges = np.linspace(low, high, 1025)
    counts = sum(client.gather(client.map(_histogram, projected, edges=edges, pure=False)))
    share = np.cumsum(counts) / max(1, counts.sum())
    cuts: list[float] = []
    for q in np.arange(1, n_strips) / n_strips:
        cut = float(edges[1 + int(np.searchsorted(share, q))])
        if cut - (cuts[-1] if cuts else low) >= 4 * eps_m and high - cut >= 4 * eps_m:
            cuts.append(cut)
    return cuts


def _histogram(xy: tuple[np.ndarray, np.ndarray], edges) -> np.ndarray:
    return np.histogram(xy[0], bins=edges)[0]


def _pieces(xy: tuple[np.ndarray, np.ndarray], offset: int, cuts: list[float],
            margin: float) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The part's points for each strip: those inside it or within ``margin`` of it."""
    x, y = xy
    index = offset + np.arange(len(x), dtype=np.int64)
    bounds = [-math.inf, *cuts, math.inf]
    out = []
    for k in range(len(bounds) - 1):
        pick = (x >= bounds[k] - margin) & (x < bounds[k + 1] + margin)
        out.append((index[pick], x[pick], y[pick]))
    return out


def _item(pieces: list, k: int):
    return pieces[k]


def _strip(pieces: list, k: int, cuts: list[float], eps_m: float, min_samples: int) -> _Strip:
    index = np.concatenate([p[0] for p in pieces])
    x, y = np.concatenate([p[1] for p in pieces]), np.concatenate([p[2] for p in pieces])
    order = np.argsort(index, kind="stable")  # the input's order: clusters are numbered in it
    index, x, y = index[order], x[order], y[order]
    bounds = [-math.inf, *cuts, math.inf]
    low, high = bounds[k], bounds[k + 1]
    inside = (x >= low) & (x < high)
    exact = (x >= low - eps_m) & (x < high + eps_m)
    if len(x):
        labels, core = grid_dbscan(x, y, eps_m, min_samples)
    else:
        labels, core = np.empty(0, dtype=np.int64), np.empty(0, dtype=bool)
    return _Strip(index, x, y, inside, exact, labels, core, low, high)


@dataclass
class _StripRecord:
    """What the merge of the strips needs of one: its clusters' first core points and its core points near a cut."""

    first_core: np.ndarray  # per cluster of the strip: the input position of its first core point (exact ones)
    index: np.ndarray  # the core points within eps of a cut (seen exactly by two strips): input positions
    labels: np.ndarray  # and their clusters in this strip


def _strip_record(strip: _Strip, eps_m: float) -> _StripRecord:
    """The strip's clusters, told by the core points whose flag is right here (within eps of the strip)."""
    pick = strip.exact & strip.core
    index, labels = strip.index[pick], strip.labels[pick]
    first_core = np.full(int(labels.max()) + 1 if len(labels) else 0, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first_core, labels, index)
    x = strip.x[pick]
    near_cut = (x < strip.low + eps_m) | (x >= strip.high - eps_m)
    return _StripRecord(first_core, index[near_cut], labels[near_cut])


def _global_numbers(records: list[_StripRecord]) -> list[np.ndarray]:
    """For each strip, its clusters' numbers over the whole input (by their first core point in input order).

    A core point near a cut is seen exactly by the strips on both sides: it joins their
    clusters there (scipy's connected components over strip-cluster nodes).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    first_node = np.cumsum([0] + [len(r.first_core) for r in records])
    n_nodes = int(first_node[-1])
    if n_nodes == 0:
        return [np.empty(0, dtype=np.int64) for _ in records]
    index = np.concatenate([r.index for r in records])
    node = np.concatenate([first_node[k] + r.labels for k, r in enumerate(records)])
    order = np.argsort(index, kind="stable")
    index, node = index[order], node[order]
    same = index[1:] == index[:-1]  # one point seen in two strips: its clusters there are one
    graph = coo_matrix((np.ones(int(same.sum())), (node[:-1][same], node[1:][same])), shape=(n_nodes, n_nodes))
    _, component = connected_components(graph, directed=False)
    first_core = np.full(component.max() + 1, np.iinfo(np.int64).max)
    np.minimum.at(first_core, component, np.concatenate([r.first_core for r in records]))
    rank = np.empty(len(first_core), dtype=np.int64)
    rank[np.argsort(first_core, kind="stable")] = np.arange(len(first_core))
    number = rank[component]
    return [number[first_node[k]:first_node[k + 1]] for k in range(len(records))]


def _inside_labels(strip: _Strip, numbers: np.ndarray, eps_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The strip's own points: cluster numbers of the whole input, borders given the lowest within eps."""
    core = strip.core & strip.exact
    labels = np.full(len(core), -1, dtype=np.int64)
    labels[core] = numbers[strip.labels[core]]
    labels = relabel_borders(strip.x, strip.y, core, labels, eps_m)
    inside = strip.inside
    return strip.index[inside], labels[inside], core[inside]
