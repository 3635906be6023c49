"""The published areas as the public layers take them: counts per cell, spread counts, the map's extent.

Every public layer (density, hot spots, Gi*, emerging categories: each stage's
``public.py``) is made from these and nothing about single incidents, so what it
returns is post-processing of numbers already published.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd

from ..drugs.definitions import PART_PREFIX
from ..hexes import (
    H3_CELL,
    cell_centres,
    cell_children,
    cell_edge_length_m,
    cell_ints,
    cell_parent,
    cell_resolution,
    cell_strs,
    cells_to_polygons,
)
from ..projection import project_points
from ..schema import OUTCOMES

__all__ = ["SPREAD_LEVELS", "cluster_resolution", "coarse_extent", "drug_part_columns", "period_columns",
           "spread_counts", "values_at"]

#: Finer H3 levels over which a published area's count is spread for the public density.
SPREAD_LEVELS = 2


def period_columns(table: pd.DataFrame) -> list[str]:
    """The month or week columns of an area table."""
    fixed = {H3_CELL, "h3_resolution", "merged", "n_fine_cells", "count", *OUTCOMES, "geometry"}
    return [c for c in table.columns if c not in fixed and not str(c).startswith(PART_PREFIX)]


def drug_part_columns(table: pd.DataFrame) -> list[str]:
    """The drug group columns of an area table (``drug_fentanyl``): overlapping parts of ``count``."""
    return [c for c in table.columns if str(c).startswith(PART_PREFIX)]


def values_at(kept: gpd.GeoDataFrame, cells_of: dict[str, list[int]], resolution: int) -> pd.Series:
    """Published counts per H3 cell at ``resolution``: spread evenly over finer cells, summed into coarser."""
    codes, values = _values_by_cell(kept, cells_of, resolution)
    return pd.Series(values, index=pd.Index(cell_strs(codes), name=H3_CELL), dtype=float)


def _values_by_cell(kept: gpd.GeoDataFrame, cells_of: dict[str, list[int]],
                    resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`values_at` as (cell integers in ascending order, values): no index strings."""
    out: dict[int, float] = {}
    for key, count in zip(kept[H3_CELL], kept["count"]):
        fine = cells_of[key]
        if resolution >= cell_resolution(fine[0]):
            targets = [c for cell in fine for c in cell_children(cell, resolution)]
        else:
            targets = [cell_parent(cell, resolution) for cell in fine]
        share = float(count) / len(targets)
        for c in targets:
            out[c] = out.get(c, 0.0) + share
    codes = sorted(out)
    return np.array(codes, dtype=np.uint64), np.array([out[c] for c in codes], dtype=float)


def spread_counts(kept: gpd.GeoDataFrame, cells_of: dict[str, list[int]], resolution: int, crs) -> pd.DataFrame:
    """Each published area's count over the centres of its cells' children (projected to ``crs``), as weights.

    ``resolution`` is the areas' fine resolution; the children are
    :data:`SPREAD_LEVELS` finer. ``attrs["spacing_m"]`` is their spacing.
    """
    res = resolution + SPREAD_LEVELS
    codes, values = _values_by_cell(kept, cells_of, res)
    lon, lat = cell_centres(codes) if len(codes) else (np.zeros(0), np.zeros(0))
    x, y, _ = project_points(lon, lat, crs)
    out = pd.DataFrame({"x": x, "y": y, "weight": values})
    out.attrs["spacing_m"] = math.sqrt(3.0) * cell_edge_length_m(res)
    return out


def coarse_extent(areas: gpd.GeoDataFrame, resolution: int) -> tuple[float, float, float, float] | None:
    """The box of the coarsest cells holding published areas: where the map opens, and no closer."""
    if not len(areas):
        return None
    codes = [int(c) for c in cell_ints(areas[H3_CELL])]
    parents = {cell_parent(c, resolution) if cell_resolution(c) >= resolution else c for c in codes}
    return tuple(cells_to_polygons(cell_strs(sorted(parents))).total_bounds)


def cluster_resolution(eps_m: float) -> int:
    """The finest H3 resolution whose cells are at least eps wide (edge >= eps)."""
    res = 0
    while res < 15 and cell_edge_length_m(res + 1) >= eps_m:
        res += 1
    return res


