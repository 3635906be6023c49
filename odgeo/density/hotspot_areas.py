"""Hot spot polygons: the densest cells of a DensityGrid, dissolved into areas."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from rasterio import features
from scipy import ndimage

from .. import defaults
from ..errors import ParameterError
from .kernel import DensityGrid

__all__ = ["DEFAULT_PERCENTILE", "density_threshold", "hotspot_polygons"]

#: Cells above this percentile of the non-zero density form hot spots: the top 5%
#: of the area where incidents have any influence. A common convention in crime
#: and overdose mapping; change it with ``percentile``.
DEFAULT_PERCENTILE = defaults.PERCENTILE.value

HOTSPOT_COLUMNS = ["hotspot_id", "area_km2", "n_incidents", "peak_density", "mean_density", "geometry"]


def density_threshold(grid: DensityGrid, percentile: float = DEFAULT_PERCENTILE) -> float:
    """The density value at ``percentile`` of the grid's non-zero cells."""
    if not 0 < percentile < 100:
        raise ParameterError(f"hot spot percentile must be between 0 and 100, not {percentile!r}")
    nonzero = grid.values[grid.values > 0]
    if nonzero.size == 0:
        return float("inf")
    return float(np.percentile(nonzero, percentile))


def hotspot_polygons(
    grid: DensityGrid,
    x: np.ndarray,
    y: np.ndarray,
    *,
    percentile: float = DEFAULT_PERCENTILE,
    weights: np.ndarray | None = None,
) -> gpd.GeoDataFrame:
    """Dissolve the cells above the density threshold into hot spot polygons.

    Parameters
    ----------
    grid
        The density surface.
    x, y
        The incidents' projected coordinates (same CRS as the grid), to count
        the incidents inside each polygon.
    percentile
        Threshold percentile of the non-zero density (default 95).
    weights
        Incidents each point stands for (default 1); ``n_incidents`` is then rounded.

    Returns
    -------
    geopandas.GeoDataFrame
        In the grid's CRS, one row per connected area (edge-connected cells),
        sorted by peak density, with ``hotspot_id`` (1 = densest), ``area_km2``,
        ``n_incidents``, ``peak_density`` and ``mean_density`` (per km²).
    """
    threshold = density_threshold(grid, percentile)
    mask = grid.values >= threshold
    if not np.isfinite(threshold) or not mask.any():
        return gpd.GeoDataFrame(columns=HOTSPOT_COLUMNS, geometry="geometry", crs=grid.crs)
    labels, _ = ndimage.label(mask)  # edge (4-) connectivity, as the polygons
    shapes = features.shapes(labels.astype(np.int32), mask=mask, transform=grid.transform, connectivity=4)
    parts: dict[int, list] = {}
    for geom, value in shapes:
        parts.setdefault(int(value), []).append(shapely.geometry.shape(geom))
    region_ids = sorted(parts)
    polygons = [shapely.union_all(parts[r]) for r in region_ids]
    flat = labels.ravel()
    vals = grid.values.ravel()
    peak = pd.Series(vals).groupby(flat).max()
    mean = pd.Series(vals).groupby(flat).mean()
    per_label = _incidents_per_label(grid, labels, x, y, weights)
    cell_km2 = (grid.cell_size_m / 1000.0) ** 2
    area = pd.Series(flat).value_counts()
    frame = gpd.GeoDataFrame(
        {
            "area_km2": [round(float(area[r]) * cell_km2, 4) for r in region_ids],
            "n_incidents": [round(per_label[r]) for r in region_ids],
            "peak_density": [float(peak[r]) for r in region_ids],
            "mean_density": [float(mean[r]) for r in region_ids],
        },
        geometry=polygons,
        crs=grid.crs,
    )
    frame = frame.sort_values(["peak_density", "area_km2"], ascending=False, kind="stable")
    frame.insert(0, "hotspot_id", np.arange(1, len(frame) + 1))
    return frame.reset_index(drop=True)[HOTSPOT_COLUMNS]


def _incidents_per_label(grid: DensityGrid, labels: np.ndarray, x, y, weights=None) -> np.ndarray:
    """Incidents per region label, read off the label raster.

    A polygon is exactly the union of its cells, so an incident is inside when its cell is (one pass).
    """
    rows, cols = labels.shape
    col = np.floor((np.asarray(x) - grid.transform.c) / grid.transform.a).astype(np.int64)
    row = np.floor((np.asarray(y) - grid.transform.f) / grid.transform.e).astype(np.int64)
    ok = (row >= 0) & (row < rows) & (col >= 0) & (col < cols)
    region = labels[row[ok], col[ok]]
    w = None if weights is None else np.asarray(weights, dtype=float)[ok]
    return np.bincount(region, weights=w, minlength=int(labels.max()) + 1)
