"""DBSCAN on a grid, compiled: the labels and core points of scikit-learn's DBSCAN in linear memory.

Points are bucketed into square cells of side eps/sqrt(2), so two points of one cell are
within eps of each other: a cell holding min_samples points or more is all core points and
all one cluster, with no distance computed. Only points of sparser cells count their
neighbours, in the 5 x 5 cells around them (farther cells are more than eps away). Cells
with core points are joined by a union-find when some pair of their core points is within
eps, skipping pairs of cells already joined. Clusters are numbered by their lowest core
point in input order, and a non-core point within eps of core points takes the lowest of
their cluster numbers: scikit-learn's labels exactly (tests/test_clusters.py checks them).

The neighbour counts and border labels run in one thread: numba 0.59 crashed (SIGSEGV) loading
their parallel versions from the cache in a new process. :mod:`odgeo.clusters.st_dbscan` is the same
design with time as a third axis and shares :func:`find_root`, :func:`near`, :func:`neighbour_cells` and
:func:`border_labels`.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["border_labels", "find_root", "grid_dbscan", "near", "neighbour_cells", "relabel_borders"]

#: Offsets of the cells that can hold points within eps of a cell of side eps/sqrt(2) (a 5 x 5 block).
_REACH = 2


def grid_dbscan(x: np.ndarray, y: np.ndarray, eps_m: float, min_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """DBSCAN of points in metres, on a grid of eps-sized cells (the same labels as scikit-learn's).

    Parameters
    ----------
    x, y
        Coordinates in metres (a metric CRS).
    eps_m
        The neighbourhood radius in metres (checked by the caller).
    min_samples
        Points within ``eps_m`` (the point included) that make a core point.

    Returns
    -------
    labels : numpy.ndarray
        The cluster of each point (-1: noise).
    core : numpy.ndarray
        True for core points.
    """
    order, starts, cell_keys, height = _cells(x, y, eps_m)
    xs, ys = np.ascontiguousarray(x[order]), np.ascontiguousarray(y[order])  # cell order: contiguous reads
    labels, core = _cluster(xs, ys, order.astype(np.int64), starts, cell_keys, np.int64(height),
                            float(eps_m) ** 2, int(min_samples))
    return labels, core


def relabel_borders(x: np.ndarray, y: np.ndarray, core: np.ndarray, labels: np.ndarray, eps_m: float) -> np.ndarray:
    """``labels`` with each non-core point given the lowest label of the core points within eps (-1: none).

    What :func:`grid_dbscan` does after numbering its clusters, for labels numbered
    elsewhere (:mod:`odgeo.engine.stages` numbers clusters over the whole input).
    """
    n = len(x)
    if n == 0:
        return labels.copy()
    order, starts, cell_keys, height = _cells(x, y, eps_m)
    offsets = np.array([dx * height - _REACH for dx in range(-_REACH, _REACH + 1)], dtype=np.int64)
    nb_start, nb = neighbour_cells(cell_keys, offsets, 2 * _REACH)
    xs, ys = np.ascontiguousarray(x[order]), np.ascontiguousarray(y[order])
    ordered = border_labels(xs, ys, np.zeros(n), starts, nb_start, nb, np.ascontiguousarray(core[order]),
                            np.ascontiguousarray(labels[order]).astype(np.int64), float(eps_m) ** 2, 0.0)
    out = np.empty(n, dtype=np.int64)
    out[order] = ordered
    return out


def _cells(x: np.ndarray, y: np.ndarray, eps_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Points bucketed into cells of side eps/sqrt(2): their order by cell, each cell's start, its key, the height."""
    n = len(x)
    size = eps_m / math.sqrt(2.0)
    ix = np.floor((x - x.min()) / size).astype(np.int64) + _REACH
    iy = np.floor((y - y.min()) / size).astype(np.int64) + _REACH
    height = int(iy.max()) + _REACH + 1
    key = ix * height + iy
    order = np.argsort(key, kind="stable")
    cell_keys, starts = np.unique(key[order], return_index=True)
    return order, np.r_[starts, n].astype(np.int64), cell_keys, height


@numba.njit(cache=True)
def find_root(parent: np.ndarray, i: int) -> int:  # pragma: no cover - compiled
    """Union-find: the root of ``i`` in ``parent``, compressing the path on the way."""
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:
        parent[i], i = root, parent[i]
    return root


@numba.njit(cache=True)
def neighbour_cells(cell_keys, offsets, width):  # pragma: no cover - compiled
    """CSR of each occupied cell's occupied neighbours: for each offset, the keys key + offset ... + width.

    Keys are laid out so that a run of neighbours is a run of consecutive keys (one
    binary search each): a row of the 5 x 5 block here, a row of three time steps in
    :mod:`odgeo.clusters.st_dbscan`.
    """
    n = len(cell_keys)
    start = np.zeros(n + 1, dtype=np.int64)
    out = np.empty(n * len(offsets) * (width + 1), dtype=np.int64)
    m = 0
    for c in range(n):
        for o in offsets:
            low = cell_keys[c] + o
            pos = np.searchsorted(cell_keys, low)
            while pos < n and cell_keys[pos] <= low + width:
                out[m] = pos
                m += 1
                pos += 1
        start[c + 1] = m
    return start, out[:m]


@numba.njit(cache=True)
def _core_points(x, y, starts, nb_start, nb, eps2, min_samples):  # pragma: no cover - compiled
    """Core flags: every point of a cell with min_samples points; else counted, stopping at min_samples."""
    core = np.zeros(len(x), dtype=np.bool_)
    for c in range(len(starts) - 1):
        if starts[c + 1] - starts[c] >= min_samples:
            core[starts[c]:starts[c + 1]] = True
            continue
        for i in range(starts[c], starts[c + 1]):
            k = 0
            for e in range(nb_start[c], nb_start[c + 1]):
                d = nb[e]
                for j in range(starts[d], starts[d + 1]):
                    dx, dy = x[i] - x[j], y[i] - y[j]
                    if dx * dx + dy * dy <= eps2:
                        k += 1
                if k >= min_samples:
                    break
            core[i] = k >= min_samples
    return core


@numba.njit(cache=True)
def _core_boxes(x, y, core, starts):  # pragma: no cover - compiled
    """Each cell's bounding box of its core points (min x, min y, max x, max y; empty: inf, inf, -inf, -inf)."""
    n_cells = len(starts) - 1
    box = np.empty((n_cells, 4))
    for c in range(n_cells):
        box[c, 0], box[c, 1], box[c, 2], box[c, 3] = np.inf, np.inf, -np.inf, -np.inf
        for i in range(starts[c], starts[c + 1]):
            if core[i]:
                box[c, 0], box[c, 1] = min(box[c, 0], x[i]), min(box[c, 1], y[i])
                box[c, 2], box[c, 3] = max(box[c, 2], x[i]), max(box[c, 3], y[i])
    return box


@numba.njit(cache=True)
def _near_box(i, c, x, y, core, box, eps2):  # pragma: no cover - compiled
    """Whether point i is a core point within eps of cell c's box of core points."""
    if not core[i]:
        return False
    dx = max(box[c, 0] - x[i], 0.0, x[i] - box[c, 2])
    dy = max(box[c, 1] - y[i], 0.0, y[i] - box[c, 3])
    return dx * dx + dy * dy <= eps2


@numba.njit(cache=True)
def _cells_touch(a, b, x, y, core, starts, eps2, box, near_a, near_b):  # pragma: no cover - compiled
    """Whether some core point of cell a is within eps of some core point of cell b.

    Only the core points within eps of the other cell's box of core points can be, so
    the pairs are tried among those (in ``near_a``, ``near_b``: buffers as long as the
    largest cell): without this, two dense cells that touch only at a corner compared
    every pair, and the time grew with the square of the density.
    """
    m = 0
    for i in range(starts[a], starts[a + 1]):
        if _near_box(i, b, x, y, core, box, eps2):
            near_a[m] = i
            m += 1
    if m == 0:
        return False
    k = 0
    for j in range(starts[b], starts[b + 1]):
        if _near_box(j, a, x, y, core, box, eps2):
            near_b[k] = j
            k += 1
    for p in range(m):
        i = near_a[p]
        for q in range(k):
            j = near_b[q]
            dx, dy = x[i] - x[j], y[i] - y[j]
            if dx * dx + dy * dy <= eps2:
                return True
    return False


@numba.njit(cache=True)
def _join_cells(x, y, core, starts, nb_start, nb, eps2):  # pragma: no cover - compiled
    """Union-find over cells: a cell's core points are one component; touching cells join."""
    n_cells = len(starts) - 1
    box = _core_boxes(x, y, core, starts)
    has_core = box[:, 0] <= box[:, 2]
    largest = 0
    for c in range(n_cells):
        largest = max(largest, starts[c + 1] - starts[c])
    near_a, near_b = np.empty(largest, dtype=np.int64), np.empty(largest, dtype=np.int64)
    parent = np.arange(n_cells)
    for a in range(n_cells):
        if not has_core[a]:
            continue
        for e in range(nb_start[a], nb_start[a + 1]):
            b = nb[e]
            if b <= a or not has_core[b]:
                continue
            ra, rb = find_root(parent, a), find_root(parent, b)
            if ra != rb and _cells_touch(a, b, x, y, core, starts, eps2, box, near_a, near_b):
                parent[max(ra, rb)] = min(ra, rb)
    return parent


@numba.njit(cache=True)
def near(i, j, x, y, t, eps2, eps_days):  # pragma: no cover - compiled
    """Points i and j within eps in space and eps_days in time (t all 0 for plain DBSCAN)."""
    dx, dy = x[i] - x[j], y[i] - y[j]
    return dx * dx + dy * dy <= eps2 and abs(t[i] - t[j]) <= eps_days


@numba.njit(cache=True)
def border_labels(x, y, t, starts, nb_start, nb, core, labels, eps2, eps_days):  # pragma: no cover - compiled
    """A non-core point within reach of core points takes the lowest of their cluster numbers.

    Points are in cell order; ``nb_start``/``nb`` list each cell's neighbour cells (CSR).
    A cell whose lowest core label cannot lower the best found is skipped, and a cell's
    scan stops at its lowest label: without this, each non-core point among dense cells (in a strip's
    margin, :mod:`odgeo.engine.stages`) compared itself with every point around.
    """
    n_cells = len(starts) - 1
    lowest = np.full(n_cells, -1, dtype=np.int64)  # each cell's lowest core label (-1: no core point)
    for c in range(n_cells):
        for i in range(starts[c], starts[c + 1]):
            if core[i] and (lowest[c] < 0 or labels[i] < lowest[c]):
                lowest[c] = labels[i]
    out = labels.copy()
    for c in range(n_cells):
        for i in range(starts[c], starts[c + 1]):
            if core[i]:
                continue
            best = -1
            for e in range(nb_start[c], nb_start[c + 1]):
                d = nb[e]
                if lowest[d] < 0 or (best >= 0 and lowest[d] >= best):
                    continue
                for j in range(starts[d], starts[d + 1]):
                    if core[j] and (best < 0 or labels[j] < best) and near(i, j, x, y, t, eps2, eps_days):
                        best = labels[j]
                        if best == lowest[d]:
                            break
            out[i] = best
    return out


@numba.njit(cache=True)
def _cluster(x, y, order, starts, cell_keys, height, eps2, min_samples):  # pragma: no cover - compiled
    """Labels and core flags, given points in cell order (``order`` maps them back to the input's)."""
    n = len(x)
    rows = np.array([dx * height - _REACH for dx in range(-_REACH, _REACH + 1)], dtype=np.int64)
    nb_start, nb = neighbour_cells(cell_keys, rows, 2 * _REACH)
    core = _core_points(x, y, starts, nb_start, nb, eps2, min_samples)
    parent = _join_cells(x, y, core, starts, nb_start, nb, eps2)
    cell_of = np.empty(n, dtype=np.int64)
    for c in range(len(starts) - 1):
        cell_of[starts[c]:starts[c + 1]] = c
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    labels = np.full(n, -1, dtype=np.int64)
    number = np.full(len(starts) - 1, -1, dtype=np.int64)
    next_label = 0
    for k in range(n):  # in input order: numbered by lowest core point, as scikit-learn discovers clusters
        i = position[k]
        if core[i]:
            root = find_root(parent, cell_of[i])
            if number[root] < 0:
                number[root] = next_label
                next_label += 1
            labels[i] = number[root]
    labels = border_labels(x, y, np.zeros(n), starts, nb_start, nb, core, labels, eps2, 0.0)
    out_labels = np.empty(n, dtype=np.int64)
    out_core = np.empty(n, dtype=np.bool_)
    out_labels[order] = labels
    out_core[order] = core
    return out_labels, out_core
