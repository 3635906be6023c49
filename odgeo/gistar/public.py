"""What each audience may see of Gi* and emerging hot spots: bins and categories of the published areas."""

from __future__ import annotations

from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse

from ..hexes import H3_CELL, cell_disks, cell_ints, cell_strs, cells_outline, polygon_cells
from ..publish.areas import values_at
from ..publish.gate import Gate
from ..publish.privacy import partition_cells
from ..publish.public import PublicGate
from ..schema import WGS84
from .emerging import emerging_hot_spots
from .statistic import GiPlan, Neighbours, gi_star_cells

__all__ = ["area_emerging", "area_gistar", "emerging_layer", "public_gi_plan"]


def public_gi_plan(gate: PublicGate, plan: GiPlan) -> GiPlan:
    """The Gi* scale of a public release; a series keeps its first release's (``--method optimized`` picks it).

    run.json's ``gistar`` section (measured on the incidents) is replaced by a pointer to
    ``privacy.gistar``, which describes the Gi* of the published counts.
    """
    gate.view_section("gistar", lambda _: "the public Gi* is described under privacy.gistar")
    chosen = {"resolution": plan.resolution, "rings": plan.rings}
    fixed = gate.keep_first("public_gistar", chosen)
    if fixed == chosen:
        return plan
    return replace(plan, resolution=int(fixed["resolution"]), rings=int(fixed["rings"]))


def emerging_layer(gate: Gate, cells: gpd.GeoDataFrame, cube: np.ndarray, steps: list[str],
                   settings: dict) -> gpd.GeoDataFrame:
    """The emerging hot spot layer for the gate's audience.

    Parameters
    ----------
    gate
        Restricted: every cell with its counts and trend statistics. Public:
        categories per published area only (:func:`area_emerging`), whose settings
        replace run.json's ``emerging`` section.
    cells
        The analysed H3 cells (EPSG:4326) with their statistics.
    cube
        Counts, (steps x cells) over ``cells``.
    steps
        The time steps' labels ("2024-05" or "2024-W19").
    settings
        ``resolution``, ``step``, ``time_window``, ``correction`` and ``study_area_given``.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per cell (restricted) or per published area (public).
    """
    if not isinstance(gate, PublicGate):
        return cells
    frame, shown = area_emerging(cells, cube, steps, settings, gate.limit)
    gate.view_section("emerging", lambda _: shown)
    return frame


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
