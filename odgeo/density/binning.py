"""The density's compiled step: bilinear binning of points onto grid nodes (numba, ``cache=True``).

Its own module so that importing :mod:`odgeo.density.kernel` (the maps do, for its types) does not
load numba; :func:`odgeo.density.kernel._linear_binning` imports it when it bins.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["bin_corners"]


@numba.njit(cache=True)
def bin_corners(x, y, w, x0, y0, step, n_cols, n_rows, row_room, grid):  # pragma: no cover - compiled
    """Add each point's weight to the four nodes of its cell, bilinearly, into ``grid`` (rows ``row_room`` long).

    Per cell touched (its lower-left node), four sums in point order, one per corner; a node's
    value gathers its corner of each cell around it. One random write per point, not four.
    """
    slot_of = np.full(n_rows * n_cols, -1, dtype=np.int32)  # at most 40M nodes (_MAX_FINE_CELLS)
    most = min(len(x), n_rows * n_cols)
    sums = np.zeros((most, 4))
    n_slots = 0
    max_col = n_cols - 2 if n_cols > 1 else 0
    max_row = n_rows - 2 if n_rows > 1 else 0
    for p in range(len(x)):
        fx = (x[p] - x0) / step
        fy = (y[p] - y0) / step
        ix = min(max(int(np.floor(fx)), 0), max_col)
        iy = min(max(int(np.floor(fy)), 0), max_row)
        tx = min(max(fx - ix, 0.0), 1.0)
        ty = min(max(fy - iy, 0.0), 1.0)
        cell = iy * n_cols + ix
        s = slot_of[cell]
        if s < 0:
            s = n_slots
            slot_of[cell] = np.int32(s)
            n_slots += 1
        sums[s, 0] += w[p] * (1.0 - tx) * (1.0 - ty)
        sums[s, 1] += w[p] * tx * (1.0 - ty)
        sums[s, 2] += w[p] * (1.0 - tx) * ty
        sums[s, 3] += w[p] * tx * ty
    for node_row in range(n_rows):  # every node in memory order: slot_of is read as a stream
        for node_col in range(n_cols):
            total = 0.0
            for source in range(4):  # the cell whose corner ``source`` is this node, if any
                src_row = node_row - source // 2 if n_rows > 1 else node_row
                src_col = node_col - source % 2 if n_cols > 1 else node_col
                part = 0.0
                if 0 <= src_row <= max_row and 0 <= src_col <= max_col:
                    t = slot_of[src_row * n_cols + src_col]
                    if t >= 0:
                        part = sums[t, source]
                total += part
            grid[node_row * row_room + node_col] = total
