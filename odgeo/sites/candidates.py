"""Candidate and existing naloxone sites: read from CSV (longitude/latitude) or any vector file."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import ColumnError, InputFileError
from ..incidents.tables import GEOMETRY_LAT, GEOMETRY_LON, read_table
from ..schema import ROLE_ALIASES, WGS84, find_column

__all__ = ["CAPACITY_ALIASES", "SITE_ID_ALIASES", "SITE_NAME_ALIASES", "read_sites"]

SITE_ID_ALIASES = ("siteid", "site", "id", "objectid", "fid", "facilityid", "locationid")
SITE_NAME_ALIASES = ("name", "sitename", "facilityname", "facility", "location", "label")
CAPACITY_ALIASES = ("capacitypermonth", "capacity", "kitspermonth", "kits")


def read_sites(path: str | Path, *, id_col: str | None = None, name_col: str | None = None,
               capacity_col: str | None = None, require_capacity: bool = False,
               what: str = "candidate sites") -> gpd.GeoDataFrame:
    """Sites as points (EPSG:4326) with ``site_id`` (kept as given), ``name`` and, if any, ``capacity``.

    Rows without usable coordinates, duplicate ids and non-numeric capacities are
    errors naming the file, the row and the column: a site silently dropped would
    change the answer.

    Parameters
    ----------
    path
        A CSV with coordinates, or a point file.
    id_col, name_col, capacity_col
        The columns (None: detected; capacity: none).
    require_capacity
        Refuse sites without a capacity.
    what
        How messages name the file.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per site.
    """
    table = read_table(path)
    data = table.data
    columns = list(data.columns)
    if data.empty and what == "candidate sites":
        raise InputFileError(f"{table.path}: the file holds no candidate sites (a header and no rows); "
                             "give at least one candidate")
    if GEOMETRY_LON in columns:
        lon_col, lat_col = GEOMETRY_LON, GEOMETRY_LAT
    else:
        found_lon = find_column(columns, ROLE_ALIASES["longitude"])
        found_lat = find_column(columns, ROLE_ALIASES["latitude"])
        if found_lon is None or found_lat is None:
            raise ColumnError(f"{table.path}: no longitude/latitude columns; columns are {', '.join(columns)}")
        lon_col, lat_col = found_lon, found_lat
    id_col = find_column(columns, SITE_ID_ALIASES, id_col, path=table.path, option="`id_col`")
    name_col = find_column(columns, SITE_NAME_ALIASES, name_col, path=table.path, option="`name_col`")
    capacity_col = find_column(columns, CAPACITY_ALIASES, capacity_col, path=table.path, option="`capacity_col`")
    lon = pd.to_numeric(data[lon_col], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(data[lat_col], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~(np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)))
    if len(bad):
        raise InputFileError(f"{table.path}: row {bad[0] + 1} has no usable coordinates in {lon_col}/{lat_col} "
                             f"({len(bad)} such rows); every site needs a location")
    ids = data[id_col].astype(str).str.strip() if id_col else pd.Series([f"site-{i + 1}" for i in range(len(data))])
    dup = ids[ids.duplicated()].unique()
    if len(dup):
        raise InputFileError(f"{table.path}: site id {dup[0]!r} appears more than once in {id_col}; ids must be unique")
    out = pd.DataFrame({"site_id": ids.to_numpy(),
                        "name": data[name_col].astype(str).to_numpy() if name_col else ids.to_numpy()})
    if capacity_col:
        capacity = pd.to_numeric(data[capacity_col], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~(capacity >= 0))
        if len(bad):
            raise InputFileError(f"{table.path}: row {bad[0] + 1} has capacity {data[capacity_col].iloc[bad[0]]!r} in "
                                 f"{capacity_col}; expected a number of kits per month >= 0")
        out["capacity"] = capacity
    elif require_capacity:
        raise ColumnError(f"{table.path}: no capacity column (looked for {', '.join(CAPACITY_ALIASES)}); "
                          f"name it with `capacity_col`")
    return gpd.GeoDataFrame(out, geometry=gpd.points_from_xy(lon, lat), crs=WGS84)
