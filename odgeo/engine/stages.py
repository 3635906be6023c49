"""The parts of the located incidents on a Dask cluster, as the stages take them, and their H3 counts.

The stages' own map-reduce steps live with each stage (:mod:`odgeo.density.on_parts`,
:mod:`odgeo.clusters.on_parts`). Each takes futures of parts of the located incidents in their compact form
(:func:`points_of`: date, outcome, longitude and latitude, 25 bytes an incident, where a
GeoDataFrame's points take several times that) and returns what the in-memory
function returns for the parts put one after the other:

- :func:`count_cells_parts`: H3 counts per part (from the coordinates, no shapely points), added up:
  :func:`odgeo.hexes.count_cells`'s table exactly;
- :func:`odgeo.density.on_parts.kernel_density_parts`: each part binned onto one grid (the whole
  extent's), the grids added up, one FFT;
- :func:`odgeo.clusters.on_parts.dbscan_parts`: DBSCAN in strips of the map.

Only per-part summaries (extents, counts, binned grids, one strip's labels) travel.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj

from ..hexes import count_points
from ..projection import lonlat_of, project_points
from ..schema import OCCURRED_AT, OUTCOME, has_location
from ..vocabulary import OUTCOMES

__all__ = ["LAT", "LON", "count_cells_parts", "extent_of", "located_points", "points_of", "project_parts"]

#: Coordinate columns of the stages' parts (degrees, EPSG:4326).
LON, LAT = "lon", "lat"


def count_cells_parts(client, parts: list, *, resolution: int, by_outcome: bool = True,
                      period: str | None = None) -> pd.DataFrame:
    """:func:`odgeo.hexes.count_cells` of the parts' incidents together.

    Parameters
    ----------
    client
        A ``distributed.Client``.
    parts
        Futures of the located parts.
    resolution
        The H3 resolution.
    by_outcome
        Also count fatal and non-fatal incidents.
    period
        Also count by "month" or "week" (None: totals only).

    Returns
    -------
    pandas.DataFrame
        CellCounts: one row per occupied cell, as in memory.
    """
    tables = client.gather(client.map(_counts, parts, resolution=resolution, by_outcome=by_outcome, period=period,
                                      pure=False))
    tables = [t for t in tables if len(t)] or tables[:1]
    total = tables[0]
    for table in tables[1:]:
        total = total.add(table, fill_value=0)
    columns = list(tables[0].columns[:4 if by_outcome else 1])
    periods = sorted(c for c in total.columns if c not in columns)
    return total[columns + periods].fillna(0).astype(np.int64).sort_index()


def points_of(incidents: gpd.GeoDataFrame) -> pd.DataFrame:
    """The located incidents of an IncidentFrame as the stages take them (see :func:`located_points`)."""
    frame = incidents[has_location(incidents.geometry)]
    lon, lat = lonlat_of(frame.geometry)
    return located_points(frame[OCCURRED_AT], frame[OUTCOME].to_numpy(), lon, lat)


def located_points(occurred: pd.Series, outcome, lon: np.ndarray, lat: np.ndarray) -> pd.DataFrame:
    """Incidents as the stages take them (date, outcome as a categorical, lon, lat): those with both coordinates."""
    located = np.isfinite(lon) & np.isfinite(lat)
    return pd.DataFrame({OCCURRED_AT: occurred.array[located],
                         OUTCOME: pd.Categorical(np.asarray(outcome, dtype=object)[located], categories=list(OUTCOMES)),
                         LON: lon[located], LAT: lat[located]})


def _counts(part: pd.DataFrame, **kwargs) -> pd.DataFrame:
    return count_points(part[LON].to_numpy(), part[LAT].to_numpy(), part[OUTCOME].array, part[OCCURRED_AT],
                        **kwargs)


def project_parts(client, parts: list, crs: pyproj.CRS) -> list:
    """Futures of each part's points projected to ``crs`` (x, y in metres: 16 bytes a point), made on its worker.

    A stage projects once and reads the projected parts as often as it needs.
    """
    return client.map(_projected, parts, crs=crs, pure=False)


def _projected(part: pd.DataFrame, crs: pyproj.CRS) -> tuple[np.ndarray, np.ndarray]:
    x, y, _ = project_points(part[LON].to_numpy(), part[LAT].to_numpy(), crs)
    return x, y


def extent_of(xy: tuple[np.ndarray, np.ndarray]) -> tuple[int, float, float, float, float]:
    """The number of projected points and their bounds (NaN bounds when a coordinate is not finite)."""
    x, y = xy
    if not len(x):
        return 0, math.inf, math.inf, -math.inf, -math.inf
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        return len(x), math.nan, math.nan, math.nan, math.nan
    return len(x), float(x.min()), float(y.min()), float(x.max()), float(y.max())
