"""Writers for odgeo's products: GeoJSON, GeoTIFF, CSV and JSON, all deterministic."""

from __future__ import annotations

import json
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .density import DensityGrid
from .schema import WGS84

__all__ = ["COORD_DECIMALS", "write_csv", "write_density_geotiff", "write_geojson", "write_json"]

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
    """Write ``frame`` as RFC 7946 GeoJSON (EPSG:4326, 6 decimals, stable key order)."""
    if frame.crs is not None and not frame.crs.equals(WGS84):
        frame = frame.to_crs(WGS84)
    geoms = shapely.transform(np.asarray(frame.geometry.values, dtype=object),
                              lambda c: np.round(c, COORD_DECIMALS))
    columns = [c for c in frame.columns if c != frame.geometry.name]
    features = []
    records = frame[columns].to_dict(orient="records") if columns else [{}] * len(frame)
    texts = shapely.to_geojson(geoms)  # one call for every geometry (None stays None)
    for props, text in zip(records, texts):
        features.append({
            "type": "Feature",
            "properties": {k: _jsonable(v) for k, v in props.items()},
            "geometry": json.loads(text) if text is not None else None,
        })
    doc = {"type": "FeatureCollection", "features": features}
    path.write_text(json.dumps(doc, separators=(",", ":"), ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def write_density_geotiff(grid: DensityGrid, path: Path) -> Path:
    """Write a DensityGrid as a tiled, compressed GeoTIFF with overviews.

    Float32 values in incidents per km², the grid's metric CRS, nodata set,
    and the kernel parameters in the metadata tags.
    """
    import rasterio
    from rasterio.enums import Resampling

    rows, cols = grid.values.shape
    profile = {
        "driver": "GTiff", "width": cols, "height": rows, "count": 1, "dtype": "float32",
        "crs": grid.crs.to_wkt(), "transform": grid.transform, "nodata": _NODATA,
        "compress": "deflate", "predictor": 3,
    }
    if rows >= 256 and cols >= 256:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    with rasterio.open(path, "w", **profile) as dst:
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
    return path


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Write a table as UTF-8 CSV with a header, no index, newline line ends."""
    frame.to_csv(path, index=False, lineterminator="\n")
    return path


def write_json(doc: dict, path: Path) -> Path:
    """Write ``doc`` as indented UTF-8 JSON with a trailing newline."""
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False, default=_jsonable) + "\n", encoding="utf-8")
    return path
