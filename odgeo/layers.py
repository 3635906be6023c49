"""Polygon layers that give context to incidents: population (for rates and geomasking)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from .errors import ColumnError, InputFileError
from .read import read_vector_layer
from .schema import normalise_name

__all__ = ["POPULATION_ALIASES", "read_population"]

#: Population column names recognised without --population-col (census and common exports).
POPULATION_ALIASES = ("population", "pop", "pop_total", "total_pop", "totpop", "pop100", "p1_001n",
                      "b01003_001e", "residents")


def read_population(path: str | Path, *, column: str | None = None, layer: str | None = None) -> tuple[
        gpd.GeoDataFrame, str]:
    """Polygons with a population column; returns the layer (EPSG:4326) and the column used.

    Non-numeric or negative populations and non-polygon geometries are errors
    naming the file and the first bad feature, since a rate or a k-anonymity
    estimate built on them would be silently wrong.
    """
    path = Path(path)
    frame = read_vector_layer(path, layer=layer)
    if column is None:
        by_norm = {normalise_name(c): c for c in frame.columns if c != frame.geometry.name}
        column = next((by_norm[a] for a in POPULATION_ALIASES if a in by_norm), None)
        if column is None:
            raise ColumnError(f"{path}: no population column found (looked for {', '.join(POPULATION_ALIASES)}); "
                              f"name it with --population-col")
    elif column not in frame.columns:
        raise ColumnError(f"{path}: no column {column!r}; columns are {', '.join(map(str, frame.columns))}")
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~(values >= 0))
    if len(bad):
        raise InputFileError(f"{path}: feature {bad[0] + 1} has population {frame[column].iloc[bad[0]]!r} "
                             f"in column {column!r}; expected a number >= 0 ({len(bad)} such features)")
    kinds = frame.geometry.geom_type.to_numpy()
    not_polygon = np.flatnonzero(~np.isin(kinds, ["Polygon", "MultiPolygon"]))
    if len(not_polygon):
        raise InputFileError(f"{path}: feature {not_polygon[0] + 1} is a {kinds[not_polygon[0]]}; "
                             f"a population layer needs polygons")
    frame = frame.assign(**{column: values})
    return frame.reset_index(drop=True), column
