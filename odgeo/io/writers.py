"""Writers for odgeo's products: GeoJSON, GeoTIFF, CSV and JSON, all deterministic."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..schema import WGS84

if TYPE_CHECKING:  # the writer reads a grid's attributes only: io stays below the stages
    from ..density.kernel import DensityGrid
from .geojson_text import geometry_texts

__all__ = ["COORD_DECIMALS", "write_csv", "write_density_geotiff", "write_geojson", "write_json", "write_text"]

#: Decimals of longitude/latitude written (6 decimals is about 0.1 m).
COORD_DECIMALS = 6
_NODATA = -9999.0


def _jsonable(value):
    if value is None:
        return None
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else round(float(value), 6)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def write_geojson(frame: gpd.GeoDataFrame, path: Path) -> Path:
    """Write ``frame`` as RFC 7946 GeoJSON (EPSG:4326, 6 decimals, stable key order).

    Parameters
    ----------
    frame
        Features in any CRS (reprojected to EPSG:4326).
    path
        Where to write it.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    if frame.crs is not None and not frame.crs.equals(WGS84):
        frame = frame.to_crs(WGS84)
    columns = [c for c in frame.columns if c != frame.geometry.name]
    values = [_json_column(frame[c]) for c in columns]
    properties = [dict(zip(columns, row)) for row in zip(*values)] if columns else [{}] * len(frame)
    text = _feature_collection_text(properties, np.asarray(frame.geometry.values, dtype=object))
    path.write_text(text + "\n", encoding="utf-8")
    return path


def _json_column(column: pd.Series) -> list:
    """A column's values as json writes them (what :func:`_jsonable` makes of each), typed columns at once."""
    numpy_typed = isinstance(column.dtype, np.dtype)  # nullable pandas types hold pd.NA: value by value
    if numpy_typed and column.dtype.kind in "biu":
        return column.to_numpy().tolist()
    if numpy_typed and column.dtype.kind == "f":
        return [round(v, 6) if math.isfinite(v) else None for v in column.to_numpy().tolist()]
    return [_jsonable(v) for v in column.tolist()]


# Stands in for each geometry while json writes the rest; its written form is then replaced by the
# geometry's text. A property holding the same characters makes the counts disagree: the json route.
_GEOMETRY_MARK = "\x00odgeo-geometry\x00"


def _feature_collection_text(properties: list[dict], geoms: np.ndarray) -> str:
    """The FeatureCollection as ``json.dumps`` writes it, its geometries' text made by Arrow when it can."""
    texts = geometry_texts(geoms, decimals=COORD_DECIMALS)
    if texts is not None:
        doc = _collection(properties, [_GEOMETRY_MARK] * len(texts))
        pieces = _dumps(doc).split(_dumps(_GEOMETRY_MARK))
        if len(pieces) == len(texts) + 1:
            return "".join(piece for pair in zip(pieces, texts + [""]) for piece in pair)
    # GEOS writes some coordinates with 17 digits (38.288137999999996): parsed back, Python writes the
    # shortest text of the same double. One parse of every geometry, not one per feature.
    rounded = shapely.transform(geoms, lambda c: np.round(c, COORD_DECIMALS))
    geos = shapely.to_geojson(rounded)
    geometries = json.loads("[" + ",".join("null" if t is None else t for t in geos) + "]")
    return _dumps(_collection(properties, geometries))


def _collection(properties: list[dict], geometries: list) -> dict:
    features = [{"type": "Feature", "properties": props, "geometry": geometry}
                for props, geometry in zip(properties, geometries)]
    return {"type": "FeatureCollection", "features": features}


def _dumps(doc) -> str:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def write_density_geotiff(grid: DensityGrid, path: Path) -> Path:
    """Write a DensityGrid as a tiled, compressed GeoTIFF with overviews.

    Float32 values in incidents per km², the grid's metric CRS, nodata set,
    and the kernel parameters in the metadata tags.

    Parameters
    ----------
    grid
        The density surface.
    path
        Where to write it.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    from rasterio.enums import Resampling
    from rasterio.io import MemoryFile

    rows, cols = grid.values.shape
    profile = {
        "driver": "GTiff", "width": cols, "height": rows, "count": 1, "dtype": "float32",
        "crs": grid.crs.to_wkt(), "transform": grid.transform, "nodata": _NODATA,
        "compress": "deflate", "predictor": 3,
    }
    if rows >= 256 and cols >= 256:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    # Made in memory, then written by Python: GDAL writing to a full disk crashed the process
    # (a segmentation fault in build_overviews) where Python raises ENOSPC, which OutputFolder reports.
    with MemoryFile() as memory:
        with memory.open(**profile) as dst:
            dst.write(grid.values.astype(np.float32), 1)
            dst.update_tags(
                units=grid.units, kernel=grid.kernel, bandwidth_m=f"{grid.bandwidth_m:.3f}",
                cell_size_m=f"{grid.cell_size_m:.3f}", software="odgeo",
            )
            dst.set_band_description(1, f"kernel density ({grid.units})")
            factors = [f for f in (2, 4, 8, 16) if min(rows, cols) // f >= 64]
            if factors:
                dst.build_overviews(factors, Resampling.average)
                dst.update_tags(ns="rio_overview", resampling="average")
        Path(path).write_bytes(memory.read())
    return path


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Write a table as UTF-8 CSV with a header, no index, newline line ends.

    Parameters
    ----------
    frame
        The table.
    path
        Where to write it.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    frame.to_csv(path, index=False, lineterminator="\n")
    return path


def write_json(doc: dict, path: Path) -> Path:
    """Write ``doc`` as indented UTF-8 JSON with a trailing newline.

    Parameters
    ----------
    doc
        The document.
    path
        Where to write it.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False, default=_jsonable) + "\n", encoding="utf-8")
    return path


def write_text(text: str, path: Path) -> Path:
    """Write ``text`` as UTF-8 with newline line ends (log.txt); return ``path``."""
    path.write_text(text, encoding="utf-8", newline="\n")
    return path
