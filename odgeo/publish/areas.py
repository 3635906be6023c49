"""Public layers made from the published areas alone: density, hot spots, Gi*, emerging categories.

Each function takes published areas (their counts and cells) and nothing
about single incidents, so what it returns is post-processing of numbers
already published. Cluster shapes and the map's extent are generalised here too.
"""

from __future__ import annotations

import math
from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from affine import Affine
from scipy import sparse

from ..density.hotspot_areas import HOTSPOT_COLUMNS, hotspot_polygons
from ..density.kernel import DensityGrid, default_cell_size, kernel_density, nice_below
from ..gistar.emerging import emerging_hot_spots
from ..gistar.statistic import GiPlan, Neighbours, gi_star_cells
from ..hexes import (
    H3_CELL,
    cell_centres,
    cell_children,
    cell_disks,
    cell_edge_length_m,
    cell_ints,
    cell_of_point,
    cell_parent,
    cell_resolution,
    cell_strs,
    cells_outline,
    cells_to_polygons,
    polygon_cells,
)
from ..projection import project_points
from ..schema import OUTCOMES, WGS84
from .privacy import partition_cells

__all__ = [
    "SPREAD_LEVELS",
    "area_density",
    "area_emerging",
    "area_gistar",
    "area_hotspots",
    "cluster_resolution",
    "coarse_extent",
    "generalised_clusters",
    "period_columns",
    "spread_counts",
]

#: Finer H3 levels over which a published area's count is spread for the public density.
SPREAD_LEVELS = 2
#: The public density of nothing: one empty cell on a 10 km lattice (never near an incident).
_EMPTY_SNAP_M = 10_000.0


def period_columns(table: pd.DataFrame) -> list[str]:
    """The month or week columns of an area table."""
    fixed = {H3_CELL, "h3_resolution", "merged", "n_fine_cells", "count", *OUTCOMES, "geometry"}
    return [c for c in table.columns if c not in fixed]


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


def area_density(analysis: DensityGrid, spread: pd.DataFrame, *, bandwidth_m: float | None = None,
                 cell_size_m: float | None = None) -> DensityGrid:
    """The density of the spread published counts, in the analysis grid's CRS and kernel.

    The bandwidth is at least twice the spread points' spacing and the cell
    size at least the analysis cell (each stands for a cell, not a place),
    unless given (a ledger keeps those of a series' first release).
    """
    method = {"made_from": "published area counts spread evenly over their cells"}
    if spread.empty or spread["weight"].sum() <= 0:
        west = math.floor(analysis.transform.c / _EMPTY_SNAP_M) * _EMPTY_SNAP_M
        north = math.ceil(analysis.transform.f / _EMPTY_SNAP_M) * _EMPTY_SNAP_M
        lattice = Affine(analysis.cell_size_m, 0, west, 0, -analysis.cell_size_m, north)
        return DensityGrid(values=np.zeros((1, 1)), transform=lattice, crs=analysis.crs,
                           bandwidth_m=analysis.bandwidth_m, cell_size_m=analysis.cell_size_m,
                           kernel=analysis.kernel, n_points=0, method=method)
    x, y = spread["x"].to_numpy(), spread["y"].to_numpy()
    bandwidth = bandwidth_m or max(analysis.bandwidth_m, 2.0 * float(spread.attrs["spacing_m"]))
    cell = cell_size_m or max(analysis.cell_size_m, nice_below(default_cell_size(x, y, bandwidth)[0]))
    grid = kernel_density(x, y, crs=analysis.crs, bandwidth_m=bandwidth, cell_size_m=cell, kernel=analysis.kernel,
                          weights=spread["weight"].to_numpy())
    return replace(grid, method={**grid.method, **method})


def area_hotspots(grid: DensityGrid, spread: pd.DataFrame, percentile: float, min_count: int) -> gpd.GeoDataFrame:
    """Hot spots of the public density holding at least ``min_count`` incidents (by the spread counts)."""
    if spread.empty:
        return gpd.GeoDataFrame(columns=HOTSPOT_COLUMNS, geometry="geometry", crs=grid.crs)
    spots = hotspot_polygons(grid, spread["x"].to_numpy(), spread["y"].to_numpy(), percentile=percentile,
                             weights=spread["weight"].to_numpy())
    spots = spots[spots["n_incidents"] >= min_count].copy()
    spots["hotspot_id"] = np.arange(1, len(spots) + 1)
    return spots.reset_index(drop=True)


def area_gistar(kept: gpd.GeoDataFrame, cells_of: dict[str, list[int]],
                plan: GiPlan) -> tuple[gpd.GeoDataFrame | None, dict]:
    """Gi* of the published counts (spread evenly over each area) over a footprint made of public facts.

    The study area is the plan's ``--study-area``, else the convex hull of the
    published areas: never the cells that hold incidents.
    """
    boundary = plan.boundary
    study = "the --study-area file" if boundary is not None else "the convex hull of the published areas"
    if boundary is None and not kept.empty:
        boundary = shapely.union_all(kept.geometry.values).convex_hull
    if boundary is None or boundary.geom_type not in ("Polygon", "MultiPolygon") \
            or not len(polygon_cells(boundary, plan.resolution)):
        return None, {"made_from": "nothing published, or no cell at the Gi* resolution in the study area"}
    values = values_at(kept, cells_of, plan.resolution)
    result = gi_star_cells(values, resolution=plan.resolution, rings=plan.rings, boundary=boundary,
                           correction=plan.correction, permutations=plan.permutations, seed=plan.seed)
    frame = result.frame[[H3_CELL, "gi_bin", result.frame.geometry.name]].copy()
    settings = {"made_from": "the published area counts spread evenly over each area's cells",
                "study_area": study,
                **{k: result.settings[k] for k in ("resolution", "rings", "distance_m", "n_cells", "correction",
                                                   "inference", "n_hot", "n_cold")},
                "published": "gi_bin only (z-scores of overlapping neighbourhoods can be solved back to counts)"}
    return frame, settings


def area_emerging(cells: gpd.GeoDataFrame, cube: np.ndarray, steps: list[str], settings: dict,
                  min_count: int) -> tuple[gpd.GeoDataFrame, dict]:
    """Emerging categories per published area (cells with incidents merged until each holds ``min_count``).

    ``cube`` is (steps x cells) over ``cells``. Each area's category comes from
    its own series and those of the areas touching it; only the category is
    published (trend statistics are rank statistics of a series that give it back).
    """
    names = list(cells[H3_CELL])
    totals = pd.DataFrame({"count": cube.sum(axis=0).astype(np.int64)}, index=pd.Index(names, name=H3_CELL))
    areas = [a for a in partition_cells(totals[totals["count"] > 0], min_count=min_count) if a.count >= min_count]
    if settings.get("study_area_given"):  # nothing outside the study area is published
        inside = {int(c) for c in cell_ints(names)}
        for a in areas:
            a.region = a.cells() & inside
    report = {"made_from": f"H3 res {settings['resolution']} cells with incidents merged upwards until each area "
                           f"holds {min_count}; each area's {settings['step']}ly counts and those of the areas "
                           "touching it",
              "n_areas": len(areas), "step": settings["step"], "n_steps": len(steps), "first_step": steps[0],
              "last_step": steps[-1], "time_window": settings["time_window"], "correction": settings["correction"],
              "published": "category only (trend statistics are rank statistics that give the series back)"}
    columns: dict[str, list] = {H3_CELL: [], "h3_resolution": [], "merged": [], "n_fine_cells": [], "category": []}
    if not areas:
        return gpd.GeoDataFrame(columns, geometry=[], crs=WGS84), report
    index = {n: i for i, n in enumerate(names)}
    owner: dict[int, int] = {}
    area_cube = np.zeros((cube.shape[0], len(areas)))
    for k, area in enumerate(areas):
        for name in cell_strs(area.occupied):
            area_cube[:, k] += cube[:, index[name]]
        for cell in area.cells():
            owner[int(cell)] = k
    rows: list[int] = []
    cols: list[int] = []
    for k, area in enumerate(areas):
        touching = {owner[int(n)] for c in area.cells() for n in cell_disks([c], 1)[0] if int(n) in owner}
        rows += [k] * len(touching)
        cols += sorted(touching)
    matrix = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(areas), len(areas)))
    keys = cell_strs([a.key for a in areas])
    result = emerging_hot_spots(area_cube, keys, steps, Neighbours(np.arange(len(areas), dtype=np.uint64), matrix, 1),
                                time_window=settings["time_window"], correction=settings["correction"])
    report["categories"] = result.settings["categories"]
    frame = gpd.GeoDataFrame({H3_CELL: keys, "h3_resolution": [a.level for a in areas],
                              "merged": [a.merged for a in areas], "n_fine_cells": [len(a.cells()) for a in areas],
                              "category": result.table["category"].to_numpy()},
                             geometry=[cells_outline(a.cells()) for a in areas], crs=WGS84)
    return frame, report


def coarse_extent(areas: gpd.GeoDataFrame, resolution: int) -> tuple[float, float, float, float] | None:
    """The box of the coarsest cells holding published areas: where the map opens, and no closer."""
    if not len(areas):
        return None
    codes = [int(c) for c in cell_ints(areas[H3_CELL])]
    parents = {cell_parent(c, resolution) if cell_resolution(c) >= resolution else c for c in codes}
    return tuple(cells_to_polygons(cell_strs(sorted(parents))).total_bounds)


def _month(value) -> str | None:
    """"2024-05", or None for a cluster whose incidents are all undated."""
    return None if pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m")


def cluster_resolution(eps_m: float) -> int:
    """The finest H3 resolution whose cells are at least eps wide (edge >= eps)."""
    res = 0
    while res < 15 and cell_edge_length_m(res + 1) >= eps_m:
        res += 1
    return res


def generalised_clusters(clusters: gpd.GeoDataFrame, eps_m: float) -> gpd.GeoDataFrame:
    """Cluster shapes as unions of H3 cells covering the buffered hull, months for dates.

    A buffered hull has arcs centred on its outermost incidents, so its
    vertices would locate them; H3 cells' vertices depend on no incident.
    """
    res = cluster_resolution(eps_m)
    geoms = []
    for polygon in clusters.to_crs(WGS84).geometry:
        cells = polygon_cells(polygon, res)
        if not len(cells):
            centre = polygon.representative_point()
            cells = np.array([cell_of_point(centre.x, centre.y, res)], dtype=np.uint64)
        geoms.append(cells_outline(cells))
    out = pd.DataFrame({
        "cluster_id": clusters["cluster_id"].to_numpy(),
        "n_incidents": clusters["n_incidents"].to_numpy(),
        "first_month": [_month(v) for v in clusters["first_date"]],
        "last_month": [_month(v) for v in clusters["last_date"]],
        "possible_artefact": clusters["possible_artefact"].to_numpy(dtype=bool),
    })
    return gpd.GeoDataFrame(out, geometry=geoms, crs=WGS84)
