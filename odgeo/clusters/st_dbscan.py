"""ST-DBSCAN: DBSCAN where neighbours are close in space and in time (Birant and Kut 2007).

Two incidents are neighbours when they are within ``eps_m`` metres **and**
``eps_days`` days of each other; core points, clusters and noise then follow
DBSCAN. The labels equal scikit-learn's ``DBSCAN(eps=1, metric="precomputed")``
on the distance ``max(d_space / eps_m, d_time / eps_days)`` for core and noise
points; a border point within reach of two clusters joins the lowest-numbered
(scikit-learn takes the one its expansion reaches first).

Points are bucketed into cells of (just over) ``eps_m`` x ``eps_m`` x ``eps_days``, so a
point's neighbours lie in the 27 cells around its own, and memory stays linear
in the number of points (scikit-learn's matrix is quadratic). Duplicates (the
same address on the same day) are neighbours at distance zero, as they must be.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .. import defaults
from ..errors import ParameterError
from .grid import border_labels, find_root, near, neighbour_cells

__all__ = ["DEFAULT_EPS_DAYS", "st_dbscan"]

#: Time distance of odgeo hotspots --cluster-method st-dbscan: a bad batch spreads within days.
DEFAULT_EPS_DAYS = defaults.EPS_DAYS.value


def st_dbscan(x: np.ndarray, y: np.ndarray, t: np.ndarray, *, eps_m: float, eps_days: float,
              min_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """ST-DBSCAN labels of projected, dated points.

    Parameters
    ----------
    x, y
        Coordinates in metres.
    t
        Times in days (decimals allowed: 0.5 is noon); NaN for undated points,
        which are noise (they cannot be close in time to anything).
    eps_m, eps_days
        The space and time distances (inclusive) within which points are neighbours.
    min_samples
        Neighbours, the point itself included, that make a core point.

    Returns
    -------
    labels, is_core
        ``labels[i]`` is the cluster number (0, 1, ... in the order of each
        cluster's lowest core point, as scikit-learn numbers them) or -1 for noise.
    """
    for name, value in (("eps", eps_m), ("eps-days", eps_days)):
        if not (value > 0 and math.isfinite(value)):
            raise ParameterError(f"--{name} must be a positive number, not {value!r}")
    if int(min_samples) != min_samples or min_samples < 1:
        raise ParameterError(f"min_samples must be a whole number >= 1, not {min_samples!r}")
    x, y, t = (np.ascontiguousarray(v, dtype=float) for v in (x, y, t))
    labels = np.full(len(x), -1, dtype=np.int64)
    dated = np.flatnonzero(np.isfinite(t) & np.isfinite(x) & np.isfinite(y))
    is_core = np.zeros(len(x), dtype=bool)
    if not len(dated):
        return labels, is_core
    order, starts, cell_keys, span = _buckets(x[dated], y[dated], t[dated], eps_m, eps_days)
    xs, ys, ts = (np.ascontiguousarray(v[dated][order]) for v in (x, y, t))  # in cell order: contiguous reads
    sub_labels, sub_core = _cluster(xs, ys, ts, order, starts, cell_keys, span,
                                    float(eps_m) ** 2, float(eps_days), int(min_samples))
    labels[dated], is_core[dated] = sub_labels, sub_core
    return labels, is_core


def _buckets(x, y, t, eps_m, eps_days):
    """Points sorted by cell (cells eps x eps x eps_days): order, cell starts, cell keys, key strides."""
    # Cells a hair wider than eps: two points exactly eps apart, one rounded down across a cell
    # boundary, would otherwise be two cells apart and never compared.
    size_m, size_days = eps_m * (1 + 1e-6), eps_days * (1 + 1e-6)
    ix = np.floor((x - x.min()) / size_m).astype(np.int64) + 1
    iy = np.floor((y - y.min()) / size_m).astype(np.int64) + 1
    it = np.floor((t - t.min()) / size_days).astype(np.int64) + 1
    span = np.array([iy.max() + 2, it.max() + 2], dtype=np.int64)
    key = (ix * span[0] + iy) * span[1] + it
    order = np.argsort(key, kind="stable")
    cell_keys, starts = np.unique(key[order], return_index=True)
    starts = np.r_[starts, len(order)].astype(np.int64)
    return order.astype(np.int64), starts, cell_keys, span


@numba.njit(cache=True, parallel=True)
def _neighbour_counts(x, y, t, starts, nb_start, nb, eps2, eps_days):  # pragma: no cover - compiled
    """Neighbours of every point (itself included), cell by cell in parallel (points in cell order)."""
    counts = np.zeros(len(x), dtype=np.int64)
    for c in numba.prange(len(starts) - 1):
        for i in range(starts[c], starts[c + 1]):
            k = 0
            for e in range(nb_start[c], nb_start[c + 1]):
                d = nb[e]
                for j in range(starts[d], starts[d + 1]):
                    if near(i, j, x, y, t, eps2, eps_days):
                        k += 1
            counts[i] = k
    return counts


@numba.njit(cache=True)
def _cluster(x, y, t, order, starts, cell_keys, span, eps2, eps_days, min_samples):  # pragma: no cover - compiled
    """Labels and core flags of points given in cell order (``order`` maps them back to the input's)."""
    n = len(x)
    # For a given (dx, dy) the three time offsets are consecutive keys: 9 runs of 3 cells.
    rows = np.array([(dx * span[0] + dy) * span[1] - 1 for dx in (-1, 0, 1) for dy in (-1, 0, 1)], dtype=np.int64)
    nb_start, nb = neighbour_cells(cell_keys, rows, 2)
    core = _neighbour_counts(x, y, t, starts, nb_start, nb, eps2, eps_days) >= min_samples
    parent = np.arange(n)
    for c in range(len(starts) - 1):
        for i in range(starts[c], starts[c + 1]):
            if not core[i]:
                continue
            for e in range(nb_start[c], nb_start[c + 1]):
                d = nb[e]
                for j in range(max(starts[d], i + 1), starts[d + 1]):
                    if core[j] and near(i, j, x, y, t, eps2, eps_days):
                        a, b = find_root(parent, i), find_root(parent, j)
                        if a != b:
                            parent[max(a, b)] = min(a, b)
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    labels = np.full(n, -1, dtype=np.int64)
    number = np.full(n, -1, dtype=np.int64)
    next_label = 0
    for k in range(n):  # in input order: numbered by lowest core point, as scikit-learn discovers clusters
        i = position[k]
        if core[i]:
            root = find_root(parent, i)
            if number[root] < 0:
                number[root] = next_label
                next_label += 1
            labels[i] = number[root]
    labels = border_labels(x, y, t, starts, nb_start, nb, core, labels, eps2, eps_days)
    out_labels = np.empty(n, dtype=np.int64)
    out_core = np.empty(n, dtype=np.bool_)
    out_labels[order] = labels
    out_core[order] = core
    return out_labels, out_core
