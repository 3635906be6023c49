"""What each audience may see of the density: the public density and hot spots from the published areas alone."""

from __future__ import annotations

import math
from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd
from affine import Affine

from ..publish.public import PublicGate
from .hotspot_areas import HOTSPOT_COLUMNS, hotspot_polygons
from .kernel import DensityGrid, default_cell_size, kernel_density, nice_below

__all__ = ["area_density", "area_hotspots", "public_density"]

#: The public density of nothing: one empty cell on a 10 km lattice (never near an incident).
_EMPTY_SNAP_M = 10_000.0


def public_density(gate: PublicGate, analysis: DensityGrid, spread: pd.DataFrame) -> DensityGrid:
    """The public density of the spread published counts; a series keeps its first release's bandwidth and cells.

    They are chosen from the incidents' spread: a release whose rounded bandwidth
    moved would say that the spread did.

    Parameters
    ----------
    gate
        The public gate (its ledger, when the release is one of a series).
    analysis
        The restricted analysis' density: its CRS, kernel, bandwidth and cell size are the floor.
    spread
        :func:`odgeo.publish.areas.spread_counts` of the published areas (x, y in metres, weight).

    Returns
    -------
    DensityGrid
        Incidents per km², made from the published counts alone.
    """
    grid = area_density(analysis, spread)
    if grid.n_points == 0:
        return grid
    chosen = {"bandwidth_m": grid.bandwidth_m, "cell_size_m": grid.cell_size_m}
    fixed = gate.keep_first("public_density", chosen)
    if fixed == chosen:
        return grid
    return area_density(analysis, spread, bandwidth_m=fixed["bandwidth_m"], cell_size_m=fixed["cell_size_m"])


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
