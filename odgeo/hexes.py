"""H3 hexagon counts (CellCounts); the only module that touches h3.

Point-to-cell assignment is vectorised and exact. h3-py has no vectorised
``latlng_to_cell``, so instead of one call per point we call h3 once per
occupied block of 3/4 of an edge and once per candidate cell, then decide
each point with a point-in-hexagon test done in NumPy. A point is decided only
when it lies inside a candidate hexagon by a safety margin (about a metre, more
for coarse cells) that covers the difference between an H3 edge (a great-circle
arc) and its straight chord; the few points within that margin of an edge, and
cells with more than six vertices (pentagons, icosahedron-edge cells), are
sent to ``h3.latlng_to_cell`` itself. The result equals per-point calls.
"""

from __future__ import annotations

import logging
import re

import geopandas as gpd
import h3
import h3.api.basic_int as h3i
import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike

from .errors import ParameterError
from .schema import OCCURRED_AT, OUTCOME, OUTCOMES, WGS84, has_location

__all__ = [
    "DEFAULT_RESOLUTION",
    "H3_CELL",
    "PERIOD_COLUMN",
    "cell_area_km2",
    "cell_centres",
    "cell_children",
    "cell_disks",
    "cell_edge_length_m",
    "cell_ints",
    "cell_of_point",
    "cell_parent",
    "cell_resolution",
    "cell_strs",
    "cells_outline",
    "cells_to_polygons",
    "count_cells",
    "count_points",
    "points_to_cells",
    "polygon_cells",
]

log = logging.getLogger(__name__)

H3_CELL = "h3_cell"
#: Names of the per-period columns count_cells makes: "2024-05" (month) or "2024-W19" (ISO week).
PERIOD_COLUMN = re.compile(r"^\d{4}-(\d{2}|W\d{2})$")
DEFAULT_RESOLUTION = 8

_EARTH_R = 6371008.8
_M_PER_DEG = np.pi * _EARTH_R / 180.0
_FAST_MAX_ABS_LAT = 80.0
# Below this many points, one h3 call per point is as quick as the block machinery.
_FAST_MIN_POINTS = 20_000


def _check_resolution(resolution: int) -> int:
    if not isinstance(resolution, (int, np.integer)) or not 0 <= int(resolution) <= 15:
        raise ParameterError(f"resolution must be an integer from 0 to 15, not {resolution!r}")
    return int(resolution)


def cell_edge_length_m(resolution: int) -> float:
    """Average H3 hexagon edge length at ``resolution``, in metres."""
    return float(h3.average_hexagon_edge_length(_check_resolution(resolution), unit="m"))


def cell_area_km2(resolution: int) -> float:
    """Average H3 hexagon area at ``resolution``, in km²."""
    return float(h3.average_hexagon_area(_check_resolution(resolution), unit="km^2"))


def points_to_cells(lon: np.ndarray, lat: np.ndarray, resolution: int = DEFAULT_RESOLUTION) -> np.ndarray:
    """H3 cell (as a 64-bit integer) of each point; 0 where a coordinate is missing.

    Parameters
    ----------
    lon, lat
        Coordinates in degrees (x = longitude, y = latitude).
    resolution
        H3 resolution, 0 to 15.

    Returns
    -------
    numpy.ndarray of uint64
        Identical to calling ``h3.latlng_to_cell`` on each point.
    """
    resolution = _check_resolution(resolution)
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    out = np.zeros(lon.shape, dtype=np.uint64)
    valid = np.isfinite(lon) & np.isfinite(lat)
    fast = valid & (np.abs(lat) < _FAST_MAX_ABS_LAT)
    if fast.sum() >= _FAST_MIN_POINTS:
        decided = _assign_fast(lon[fast], lat[fast], resolution)
        sub = out[fast]
        sub[:] = decided
        out[fast] = sub
    slow = valid & (out == 0)
    for i in np.flatnonzero(slow):
        out[i] = h3i.latlng_to_cell(lat[i], lon[i], resolution)
    if slow.any():
        log.debug("h3: %d of %d points assigned one by one", int(slow.sum()), int(valid.sum()))
    return out


def _wrap_degrees(delta: np.ndarray) -> np.ndarray:
    """Longitude differences folded into [-180, 180) (cells across the antimeridian)."""
    return (delta + 180.0) % 360.0 - 180.0


class _CellTable:
    """Inward edge normals of candidate hexagons in a local metric frame per cell."""

    def __init__(self, cells: np.ndarray, resolution: int):
        self.cells = cells
        n = len(cells)
        centres = np.array([h3i.cell_to_latlng(c) for c in cells.tolist()]).reshape(n, 2)
        self.lat0, self.lon0 = centres[:, 0].copy(), centres[:, 1].copy()
        self.normals = np.zeros((6, 2, n))
        self.offsets = np.full((6, n), np.inf)  # inf: nothing is ever inside
        boundaries = [h3i.cell_to_boundary(c) for c in cells.tolist()]
        # Pentagons and cells bent over an icosahedron edge have more than six
        # vertices: their points are left to h3 itself.
        hexagon = np.array([len(b) == 6 for b in boundaries], dtype=bool)
        if not hexagon.any():
            return
        verts = np.array([b for b, ok in zip(boundaries, hexagon) if ok])  # (m, 6, 2) lat, lng
        lat0, lon0 = self.lat0[hexagon, None], self.lon0[hexagon, None]
        coslat = np.cos(np.radians(lat0))
        xy = np.stack([_wrap_degrees(verts[:, :, 1] - lon0) * coslat, verts[:, :, 0] - lat0], axis=2) * _M_PER_DEG
        nxt = np.roll(xy, -1, axis=1)
        area2 = np.sum(xy[:, :, 0] * nxt[:, :, 1] - nxt[:, :, 0] * xy[:, :, 1], axis=1)
        xy = np.where(area2[:, None, None] < 0, xy[:, ::-1, :], xy)  # counter-clockwise
        e = np.roll(xy, -1, axis=1) - xy
        length = np.hypot(e[:, :, 0], e[:, :, 1])
        normal = np.stack([-e[:, :, 1], e[:, :, 0]], axis=2) / length[:, :, None]  # inward
        # Margin: a metre for rounding plus a bound on how far a great-circle edge
        # strays from its chord in this frame (grows with edge length and latitude).
        edge = cell_edge_length_m(resolution)
        tan_lat = np.abs(np.tan(np.radians(lat0[:, 0])))
        margin = 1.0 + 4.0 * edge**2 * (1.0 + tan_lat) / _EARTH_R
        self.normals[:, :, hexagon] = normal.transpose(1, 2, 0)
        self.offsets[:, hexagon] = (np.sum(normal * xy, axis=2) + margin[:, None]).T

    def inside(self, idx: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """True where point j is inside cell ``idx[j]`` by more than the margin."""
        coslat = np.cos(np.radians(self.lat0[idx]))
        x = _wrap_degrees(lon - self.lon0[idx]) * coslat * _M_PER_DEG
        y = (lat - self.lat0[idx]) * _M_PER_DEG
        ok = np.ones(len(idx), dtype=bool)
        for i in range(6):
            ok &= self.normals[i, 0][idx] * x + self.normals[i, 1][idx] * y > self.offsets[i][idx]
        return ok


def _occupied(key: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct keys in [0, size) and each element's position among them."""
    if size <= 4 * len(key) + 1_000_000:  # dense: no sort needed
        occupied = np.flatnonzero(np.bincount(key, minlength=size))
        lookup = np.full(size, -1, dtype=np.int64)
        lookup[occupied] = np.arange(len(occupied))
        return occupied, lookup[key]
    return np.unique(key, return_inverse=True)


def _assign_fast(lon: np.ndarray, lat: np.ndarray, resolution: int) -> np.ndarray:
    """Cells of points decided by hexagon tests; 0 where undecided.

    Two nested grids: coarse blocks (3/4 of an edge) get their centre's cell and its
    six neighbours from h3; fine blocks (a fraction of a coarse block) are decided
    wholesale when their four corners lie inside the nearest of those seven
    hexagons; points in the remaining fine blocks are tested one by one in NumPy.
    """
    n = len(lon)
    # Coarse blocks of 3/4 edge: a point is then within about half an edge of its
    # block's centre, so its cell is almost always in the centre cell's ring (a point
    # that is not goes to h3 itself, so this affects speed, never the result).
    step = 0.75 * cell_edge_length_m(resolution) / _M_PER_DEG
    coslat = max(np.cos(np.radians(np.abs(lat).max())), 0.05)
    lon_min, lat_min = lon.min(), lat.min()
    # The finest grid whose occupied fine blocks stay under n / 2.
    for fine in (8, 4, 2, 1):
        fstep, fstep_lon = step / fine, step / fine / coslat
        ix = np.floor(lon / fstep_lon).astype(np.int64)
        iy = np.floor(lat / fstep).astype(np.int64)
        fx0, fy0 = int(np.floor(lon_min / fstep_lon)), int(np.floor(lat_min / fstep))
        fh = int(iy.max()) - fy0 + 1
        fw = int(ix.max()) - fx0 + 1
        key = ix
        key -= fx0
        key *= fh
        key += iy
        key -= fy0
        blocks, block_of_point = _occupied(key, fw * fh)
        if len(blocks) <= n / 2:
            break
    block_x, block_y = blocks // fh + fx0, blocks % fh + fy0
    # Coarse blocks (fine x fine fine blocks) get their centre's cell from h3.
    cx, cy = block_x // fine, block_y // fine
    cx0, cy0 = cx.min(), cy.min()
    ch = cy.max() - cy0 + 1
    coarse, coarse_of_block = _occupied((cx - cx0) * ch + (cy - cy0), int((cx.max() - cx0 + 1) * ch))
    if len(coarse) > n / 8:  # points too sparse for blocks to pay off
        return np.zeros(n, dtype=np.uint64)
    coarse_x, coarse_y = coarse // ch + cx0, coarse % ch + cy0
    centre = [h3i.latlng_to_cell((y + 0.5) * step, (x + 0.5) * step / coslat, resolution)
              for x, y in zip(coarse_x.tolist(), coarse_y.tolist())]
    candidates, cand_of_coarse = np.unique(np.asarray(centre, dtype=np.uint64), return_inverse=True)
    rings = np.array([_ring7(c) for c in candidates.tolist()], dtype=np.uint64)
    table_cells = np.unique(rings)
    table = _CellTable(table_cells, resolution)
    ring_idx = np.searchsorted(table_cells, rings)[cand_of_coarse]
    block_ring = ring_idx[coarse_of_block]
    west, south = block_x * fstep_lon, block_y * fstep
    own = _nearest_centre(table, block_ring, west + fstep_lon / 2, south + fstep / 2)
    whole = np.ones(len(blocks), dtype=bool)
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        whole &= table.inside(own, west + dx * fstep_lon, south + dy * fstep)
    out = np.where(whole, table_cells[own], 0).astype(np.uint64)[block_of_point]
    todo = np.flatnonzero(out == 0)
    slots = block_ring[block_of_point[todo]]
    for slot in range(7):
        if not len(todo):
            break
        idx = slots[:, slot]
        hit = table.inside(idx, lon[todo], lat[todo])
        out[todo[hit]] = table_cells[idx[hit]]
        todo, slots = todo[~hit], slots[~hit]
    return out


def _ring7(cell: int) -> list[int]:
    """The cell and its neighbours, padded to seven (a pentagon has five neighbours)."""
    ring = h3i.grid_disk(cell, 1)
    return (ring + [cell] * 7)[:7]


def _nearest_centre(table: _CellTable, ring: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Per block, the table index of the ring cell whose centre is nearest."""
    best = ring[:, 0].copy()
    best_d = np.full(len(lon), np.inf)
    coslat = np.cos(np.radians(lat))
    for slot in range(7):
        idx = ring[:, slot]
        d = (_wrap_degrees(lon - table.lon0[idx]) * coslat) ** 2 + (lat - table.lat0[idx]) ** 2
        closer = d < best_d
        best[closer], best_d[closer] = idx[closer], d[closer]
    return best


def count_cells(
    incidents: gpd.GeoDataFrame,
    *,
    resolution: int = DEFAULT_RESOLUTION,
    by_outcome: bool = True,
    period: str | None = None,
) -> pd.DataFrame:
    """Count located incidents per H3 cell (a CellCounts table).

    Parameters
    ----------
    incidents
        IncidentFrame; unlocated incidents are ignored.
    resolution
        H3 resolution (8, about 0.74 km² per cell, suits a city; 7 a county).
    by_outcome
        Add ``fatal``, ``nonfatal`` and ``unknown`` columns.
    period
        ``"month"`` or ``"week"`` adds one column per period (``"2024-05"`` or
        ``"2024-W19"``, ISO weeks) holding that period's count; incidents without
        a date count in ``count`` only.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``h3_cell`` (H3 index strings, sorted), integer column
        ``count`` first. ``count`` sums to the number of located incidents.
    """
    frame = incidents[has_location(incidents.geometry)]
    geoms = np.asarray(frame.geometry.values, dtype=object)
    return count_points(shapely.get_x(geoms), shapely.get_y(geoms),
                        frame[OUTCOME].to_numpy() if by_outcome else None,
                        frame[OCCURRED_AT] if period is not None else None,
                        resolution=resolution, by_outcome=by_outcome, period=period)


def count_points(
    lon: np.ndarray,
    lat: np.ndarray,
    outcomes: ArrayLike | None,
    times: pd.Series | None,
    *,
    resolution: int = DEFAULT_RESOLUTION,
    by_outcome: bool = True,
    period: str | None = None,
) -> pd.DataFrame:
    """:func:`count_cells` of located points given as arrays (degrees; outcomes and times one per point).

    The form the Dask stages count their parts in, without shapely points. ``outcomes``
    may be None without ``by_outcome``, ``times`` None without ``period``.
    """
    if period not in (None, "month", "week"):
        raise ParameterError(f"period must be 'month', 'week' or None, not {period!r}")
    cells = points_to_cells(lon, lat, resolution)
    codes, cell_index = np.unique(cells, return_inverse=True)
    labels = pd.Index([h3i.int_to_str(int(c)) for c in codes.tolist()], name=H3_CELL)
    table = pd.DataFrame({"count": np.bincount(cell_index, minlength=len(codes))}, index=labels)
    if by_outcome:
        assert outcomes is not None, "by_outcome needs the outcomes"
        outcome = pd.Categorical(outcomes, categories=list(OUTCOMES))
        table = table.join(_crosstab(cell_index, outcome.codes, list(OUTCOMES), labels))
    if period is not None:
        # Undated incidents count in ``count`` and in no period column.
        assert times is not None, "a period needs the times"
        dated = times.notna().to_numpy()
        codes, names = period_codes(times[dated], period)
        table = table.join(_crosstab(cell_index[dated], codes, names, labels))
    return table.sort_index()


def period_codes(times: pd.Series, period: str) -> tuple[np.ndarray, list[str]]:
    """Each time's period as a code into the sorted period names ("2024-05", or ISO weeks "2024-W19").

    Computed on integers and formatted once per period: ``strftime`` on a million
    timestamps takes seconds.
    """
    if period == "month":
        year, step = times.dt.year.to_numpy(dtype=np.int64), times.dt.month.to_numpy(dtype=np.int64)
    else:
        iso = times.dt.isocalendar()
        year, step = iso["year"].to_numpy(dtype=np.int64), iso["week"].to_numpy(dtype=np.int64)
    keys, codes = np.unique(year * 100 + step, return_inverse=True)
    form = "{}-{:02d}" if period == "month" else "{}-W{:02d}"
    return codes.reshape(-1), [form.format(int(k) // 100, int(k) % 100) for k in keys]


def _crosstab(rows: np.ndarray, cols: np.ndarray, names: list[str], index: pd.Index) -> pd.DataFrame:
    flat = np.bincount(rows * len(names) + cols, minlength=len(index) * len(names))
    return pd.DataFrame(flat.reshape(len(index), len(names)), index=index, columns=names)


def cells_to_polygons(cells: pd.Index | list[str]) -> gpd.GeoSeries:
    """Hexagon polygons (EPSG:4326) of H3 index strings, in the given order.

    Parameters
    ----------
    cells
        H3 index strings.

    Returns
    -------
    geopandas.GeoSeries
        One polygon per cell, indexed by ``h3_cell``.
    """
    boundaries = [h3.cell_to_boundary(cell) for cell in cells]  # ((lat, lng), ...): 6 vertices, or 5 to 10
    polygons = np.empty(len(boundaries), dtype=object)
    sizes = np.array([len(b) for b in boundaries], dtype=np.int64)
    for size in np.unique(sizes).tolist():  # one shapely call per vertex count (it closes each ring)
        where = np.flatnonzero(sizes == size)
        latlng = np.array([boundaries[i] for i in where.tolist()], dtype=float).reshape(len(where), size, 2)
        polygons[where] = shapely.polygons(latlng[:, :, ::-1])
    return gpd.GeoSeries(polygons, index=pd.Index(cells, name=H3_CELL), crs=WGS84)


# --- Cell helpers: every other module reaches h3 through these (integers inside, strings in files). ---

def cell_ints(cells) -> np.ndarray:
    """H3 index strings to 64-bit integers."""
    return np.array([h3i.str_to_int(str(c)) for c in cells], dtype=np.uint64)


def cell_strs(cells) -> list[str]:
    """64-bit H3 integers to index strings."""
    return [h3i.int_to_str(int(c)) for c in np.asarray(cells, dtype=np.uint64).tolist()]


def cell_resolution(cell: int) -> int:
    """The resolution of an H3 cell (integer)."""
    return int(h3i.get_resolution(int(cell)))


def cell_parent(cell: int, resolution: int) -> int:
    """The cell's ancestor at ``resolution``."""
    return int(h3i.cell_to_parent(int(cell), resolution))


def cell_children(cell: int, resolution: int) -> list[int]:
    """The cell's descendants at ``resolution``."""
    return [int(c) for c in h3i.cell_to_children(int(cell), resolution)]


def cell_centres(cells) -> tuple[np.ndarray, np.ndarray]:
    """(lon, lat) of the centres of H3 cells (integers)."""
    ll = np.array([h3i.cell_to_latlng(int(c)) for c in np.asarray(cells, dtype=np.uint64).tolist()]).reshape(-1, 2)
    return ll[:, 1].copy(), ll[:, 0].copy()


def cell_of_point(lon: float, lat: float, resolution: int) -> int:
    """The H3 cell (integer) holding one point."""
    return int(h3i.latlng_to_cell(lat, lon, resolution))


def polygon_cells(polygon, resolution: int) -> np.ndarray:
    """H3 cells (integers) whose centres lie in a shapely polygon (EPSG:4326)."""
    return np.array(h3i.geo_to_cells(polygon.__geo_interface__, resolution), dtype=np.uint64)


def cell_disks(cells, rings: int) -> list[list[int]]:
    """For each cell, itself and the cells within ``rings`` rings."""
    return [h3i.grid_disk(int(c), rings) for c in np.asarray(cells, dtype=np.uint64).tolist()]


def cells_outline(cells):
    """The union of H3 cells (integers) as one shapely (Multi)Polygon in EPSG:4326."""
    return shapely.geometry.shape(h3i.cells_to_h3shape(sorted(int(c) for c in cells)).__geo_interface__)
