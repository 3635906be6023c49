"""Polygon layers that give context to incidents: population (for rates and geomasking)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import ColumnError, InputFileError
from ..incidents.tables import read_vector_layer
from ..schema import find_column

__all__ = ["POPULATION_ALIASES", "checked_population", "read_population", "require_polygons"]

#: Population column names recognised without --population-col (census and common exports).
POPULATION_ALIASES = ("population", "pop", "pop_total", "total_pop", "totpop", "pop100", "p1_001n",
                      "b01003_001e", "residents")


def read_population(path: str | Path, *, column: str | None = None, layer: str | None = None) -> tuple[
        gpd.GeoDataFrame, str]:
    """Polygons with a population column.

    Parameters
    ----------
    path
        A polygon file.
    column
        The population column (None: detected from its name).
    layer
        The layer of a multi-layer file.

    Returns
    -------
    layer : geopandas.GeoDataFrame
        The polygons, in EPSG:4326.
    column : str
        The population column used.
    """
    path = Path(path)
    return checked_population(read_vector_layer(path, layer=layer), path, column)


def checked_population(frame: gpd.GeoDataFrame, path, column: str | None = None) -> tuple[gpd.GeoDataFrame, str]:
    """``frame`` with its population column as numbers, and that column's name.

    Non-numeric or negative populations and non-polygon geometries are errors
    naming the file and the first bad feature, since a rate or a k-anonymity
    estimate built on them would be silently wrong.
    """
    columns = [c for c in frame.columns if c != frame.geometry.name]
    found = find_column(columns, POPULATION_ALIASES, column, path=path, option="`population_col`")
    if found is None:
        raise ColumnError(f"{path}: no population column found (looked for {', '.join(POPULATION_ALIASES)}); "
                          f"name it with `population_col`")
    values = pd.to_numeric(frame[found], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~(values >= 0))
    if len(bad):
        raise InputFileError(f"{path}: feature {bad[0] + 1} has population {frame[found].iloc[bad[0]]!r} "
                             f"in column {found!r}; expected a number >= 0 ({len(bad)} such features)")
    require_polygons(frame, path, "a population layer")
    return frame.assign(**{found: values}).reset_index(drop=True), found


def require_polygons(frame: gpd.GeoDataFrame, path, what: str) -> None:
    """An error naming the first feature that is not a polygon."""
    geometry = frame.geometry
    kinds = geometry.geom_type.to_numpy()
    missing = (geometry.isna() | geometry.is_empty).to_numpy()
    not_polygon = np.flatnonzero(missing | ~np.isin(kinds, ["Polygon", "MultiPolygon"]))
    if len(not_polygon):
        first = not_polygon[0]
        kind = "has no geometry" if geometry.iloc[first] is None else (
            "is an empty polygon" if missing[first] else f"is a {kinds[first]}")
        raise InputFileError(f"{path}: feature {first + 1} {kind}; {what} needs polygons "
                             f"({len(not_polygon)} such feature(s))")
