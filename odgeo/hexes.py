"""H3 hexagon counts (CellCounts); the only module that touches h3 (with :mod:`odgeo.h3_lattice`).

Point-to-cell assignment is vectorised and exact: h3-py has no vectorised
``latlng_to_cell``, so :mod:`odgeo.h3_lattice` finds each point's icosahedron
face and lattice point in compiled code and calls h3 once per occupied cell
(points too close to a cell edge to be sure go to h3 one by one). The result
equals per-point calls.
"""

from __future__ import annotations

import re

import geopandas as gpd
import h3
import h3.api.basic_int as h3i
import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike

from . import defaults
from .arrowtext import codes_in
from .errors import ParameterError
from .schema import OCCURRED_AT, OUTCOME, OUTCOMES, WGS84, has_location

__all__ = [
    "COMPILED_MODULES",
    "DEFAULT_RESOLUTION",
    "H3_CELL",
    "PERIOD_COLUMN",
    "cell_area_km2",
    "cell_centres",
    "cell_children",
    "cell_disks",
    "cell_edge_length_m",
    "cell_index",
    "cell_ints",
    "cell_of_point",
    "cell_parent",
    "cell_resolution",
    "cell_strs",
    "cells_area_km2",
    "cells_outline",
    "cells_to_polygons",
    "compiled_for",
    "count_cells",
    "count_points",
    "points_to_cells",
    "polygon_cells",
]

H3_CELL = "h3_cell"
#: Names of the per-period columns count_cells makes: "2024-05" (month) or "2024-W19" (ISO week).
PERIOD_COLUMN = re.compile(r"^\d{4}-(\d{2}|W\d{2})$")
DEFAULT_RESOLUTION = defaults.HEX_RESOLUTION.value

#: The compiled (numba) modules H3 counting runs: a first run builds them (odgeo.engine.compiled).
COMPILED_MODULES = ("odgeo.h3_lattice",)


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


def cells_area_km2(cells) -> np.ndarray:
    """The exact area of each H3 cell (index strings or integers), in km²."""
    return np.array([h3.cell_area(h3.int_to_str(c) if isinstance(c, (int, np.integer)) else str(c), unit="km^2")
                     for c in np.asarray(cells, dtype=object).tolist()], dtype=float)


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
    valid = np.isfinite(lon) & np.isfinite(lat)
    if valid.all():
        return _located_cells(lon.ravel(), lat.ravel(), resolution).reshape(lon.shape)
    out = np.zeros(lon.shape, dtype=np.uint64)
    out[valid] = _located_cells(lon[valid], lat[valid], resolution)
    return out


def compiled_for(n_points: int) -> tuple[str, ...]:
    """The compiled modules counting ``n_points`` points runs (none under :data:`FEW_POINTS`), for its note."""
    return COMPILED_MODULES if n_points >= FEW_POINTS else ()


#: Below this many points h3 itself finds their cells: a county's morning (2,000 points, a few
#: milliseconds) should not load the compiled lattice (numba and its cache: a third of a second).
FEW_POINTS = 20_000


def _located_cells(lon: np.ndarray, lat: np.ndarray, resolution: int) -> np.ndarray:
    """Each finite point's cell: h3 per point for a few, the compiled lattice (the same cells) for many."""
    if len(lon) < FEW_POINTS:
        return np.fromiter((h3i.latlng_to_cell(y, x, resolution) for x, y in zip(lon.tolist(), lat.tolist())),
                           dtype=np.uint64, count=len(lon))
    from .h3_lattice import points_to_cells_lattice

    return points_to_cells_lattice(lon, lat, resolution)


def cell_index(lon: np.ndarray, lat: np.ndarray, resolution: int = DEFAULT_RESOLUTION) -> tuple[np.ndarray, np.ndarray]:
    """The distinct H3 cells of the points (sorted integers) and each point's position among them.

    What ``np.unique(points_to_cells(lon, lat, resolution), return_inverse=True)`` gives
    (a missing coordinate is cell 0), without sorting the points.
    """
    resolution = _check_resolution(resolution)
    lon = np.asarray(lon, dtype=float).ravel()
    lat = np.asarray(lat, dtype=float).ravel()
    if len(lon) < FEW_POINTS or not (np.isfinite(lon).all() and np.isfinite(lat).all()):
        codes, index = np.unique(points_to_cells(lon, lat, resolution), return_inverse=True)
        return codes, index.reshape(-1)
    from .h3_lattice import cell_index as lattice_cell_index

    return lattice_cell_index(lon, lat, resolution)


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
                        frame[OUTCOME] if by_outcome else None,
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
    codes, cell_index_of = cell_index(lon, lat, resolution)
    labels = pd.Index([h3i.int_to_str(int(c)) for c in codes.tolist()], name=H3_CELL)
    table = pd.DataFrame({"count": np.bincount(cell_index_of, minlength=len(codes))}, index=labels)
    if by_outcome:
        assert outcomes is not None, "by_outcome needs the outcomes"
        outcome = codes_in(outcomes, OUTCOMES)
        if (outcome < 0).any():
            raise ParameterError(f"every outcome must be one of {', '.join(OUTCOMES)} (an IncidentFrame's)")
        table = table.join(_crosstab(cell_index_of, outcome, list(OUTCOMES), labels))
    if period is not None:
        # Undated incidents count in ``count`` and in no period column.
        assert times is not None, "a period needs the times"
        dated = times.notna().to_numpy()
        codes, names = period_codes(times[dated], period)
        table = table.join(_crosstab(cell_index_of[dated], codes, names, labels))
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
