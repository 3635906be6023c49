"""Small-count protection for public products.

H3 coarsening, complementary suppression, and a density surface that cannot
single out an incident.

The rules (see docs/privacy.md):

- No published area holds fewer than ``min_count`` incidents. A small H3 cell is
  merged with its small siblings into "the rest of the parent cell" (every
  fine cell of the parent not published on its own, empty ones included, so
  the shape does not reveal which cells are occupied). When those together are
  still too few, the smallest publishable sibling is absorbed too; what is
  still too few after ``levels`` steps up is suppressed (not drawn at all).
  Published areas never overlap, so no count can be recovered by subtracting
  one published area from another.
- Within a published area, a breakdown (by outcome, by month) shows a value
  only if it is 0 or at least ``min_count``. Hidden values are never alone and
  never add up to a small number: the smallest shown values are hidden too
  (complementary suppression) until the hidden total is at least ``min_count``.
- The density surface is shown only where at least ``min_count`` incidents lie
  within the bandwidth, and in steps of one incident's peak contribution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
from affine import Affine
from scipy.signal import fftconvolve

from .density import DensityGrid, kernel_values
from .errors import ParameterError
from .hexes import H3_CELL, cell_children, cell_ints, cell_parent, cell_resolution, cell_strs, cells_outline
from .schema import WGS84

__all__ = [
    "COARSEN_LEVELS",
    "DEFAULT_MIN_COUNT",
    "MIN_COUNT_SOURCE",
    "check_min_count",
    "coarsen_cells",
    "hidden_counts",
    "public_density",
    "shown_count",
    "suppress_breakdowns",
]

#: Counts below this are never published for the public audience.
DEFAULT_MIN_COUNT = 10
MIN_COUNT_SOURCE = ("CDC WONDER suppresses counts of 1-9 (and rates from them); "
                    "Washington DOH small-numbers guideline")
_EMPTY_SNAP_M = 10_000.0
#: How many H3 levels a small cell may be merged upwards (res 8 -> res 5, ~250 km²).
COARSEN_LEVELS = 3


def check_min_count(min_count) -> int:
    """``min_count`` as a whole number >= 1, or a ParameterError."""
    try:
        value = int(min_count)
    except (TypeError, ValueError):
        value = 0
    if value < 1 or value != min_count:
        raise ParameterError(f"--min-count must be a whole number >= 1, not {min_count!r}")
    return value


def shown_count(n: int, min_count: int) -> str:
    """A total for a sentence: ``"fewer than 10"`` when it is small but not zero."""
    return f"fewer than {min_count}" if 0 < n < min_count else f"{n:,}"


@dataclass
class _Area:
    """A candidate published area: a set of fine cells under ``key`` (an H3 cell)."""

    key: int  # H3 cell (int) whose fine descendants, minus other areas, make the area
    level: int
    occupied: list[int]  # fine cells with incidents
    count: int
    region: set[int] | None = None  # fine cells covered; None = just ``key`` itself
    merged: bool = False

    def cells(self) -> set[int]:
        return self.region if self.region is not None else {self.key}


@dataclass
class CoarsenReport:
    """What coarsening did, as numbers for run.json."""

    min_count: int
    resolution: int
    coarsest_resolution: int
    n_cells_in: int = 0
    n_published: int = 0
    n_published_fine: int = 0
    n_merged_areas: int = 0
    n_cells_merged: int = 0
    n_areas_suppressed: int = 0
    n_cells_suppressed: int = 0
    n_incidents_suppressed: int = 0
    breakdowns: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def coarsen_cells(counts: pd.DataFrame, *, min_count: int = DEFAULT_MIN_COUNT,
                  levels: int = COARSEN_LEVELS) -> tuple[gpd.GeoDataFrame, CoarsenReport]:
    """Merge small H3 cells upwards until every published area holds ``min_count``.

    Parameters
    ----------
    counts
        A CellCounts table (index ``h3_cell`` at one resolution, integer
        ``count`` and any other count columns, summed when cells merge).
    min_count
        The smallest count that may be published.
    levels
        How many resolutions a cell may be merged upwards.

    Returns
    -------
    areas, report
        ``areas`` (EPSG:4326) has ``h3_cell`` (the cell itself, or for a merged
        area the parent cell it lies in), ``h3_resolution``, ``merged``,
        ``n_fine_cells``, then the columns of ``counts``; suppressed areas are
        left out and counted in ``report``.
    """
    min_count = check_min_count(min_count)
    codes = [int(c) for c in cell_ints(counts.index)]
    resolution = cell_resolution(codes[0]) if len(codes) else 8
    coarsest = max(0, resolution - int(levels))
    report = CoarsenReport(min_count, resolution, coarsest, n_cells_in=len(codes))
    areas = [_Area(c, resolution, [c], int(n)) for c, n in zip(codes, counts["count"].to_numpy())]
    for level in range(resolution, coarsest, -1):
        if all(a.count >= min_count for a in areas):
            break
        areas = _merge_level(areas, level - 1, resolution, min_count)
    kept = [a for a in areas if a.count >= min_count]
    dropped = [a for a in areas if a.count < min_count]
    report.n_published = len(kept)
    report.n_published_fine = sum(not a.merged for a in kept)
    report.n_merged_areas = sum(a.merged for a in kept)
    report.n_cells_merged = sum(len(a.occupied) for a in kept if a.merged)
    report.n_areas_suppressed = len(dropped)
    report.n_cells_suppressed = sum(len(a.occupied) for a in dropped)
    report.n_incidents_suppressed = sum(a.count for a in dropped)
    return _areas_frame(kept, counts), report


def _merge_level(areas: list[_Area], parent_level: int, resolution: int, min_count: int) -> list[_Area]:
    """One step up: under each parent, pool the small areas (plus the smallest big one if needed)."""
    by_parent: dict[int, list[_Area]] = {}
    for area in areas:
        by_parent.setdefault(cell_parent(area.occupied[0], parent_level), []).append(area)
    out: list[_Area] = []
    for parent, group in by_parent.items():
        small = [a for a in group if a.count < min_count]
        big = sorted((a for a in group if a.count >= min_count), key=lambda a: (a.count, a.key))
        if not small:
            out.extend(group)
            continue
        pooled = small
        if sum(a.count for a in small) < min_count and big:
            pooled = small + [big.pop(0)]
        others: set[int] = set().union(*(a.cells() for a in big)) if big else set()
        region = set(cell_children(parent, resolution)) - others
        occupied = [c for a in pooled for c in a.occupied]
        out.extend(big)
        out.append(_Area(parent, parent_level, occupied, sum(a.count for a in pooled),
                         region=region, merged=True))
    return out


def _areas_frame(areas: list[_Area], counts: pd.DataFrame) -> gpd.GeoDataFrame:
    value_cols = list(counts.columns)
    rows, geoms = [], []
    for area in sorted(areas, key=lambda a: (a.level, a.key)):
        sums = counts.loc[cell_strs(area.occupied), value_cols].sum()
        rows.append({H3_CELL: cell_strs([area.key])[0], "h3_resolution": area.level,
                     "merged": area.merged, "n_fine_cells": len(area.cells()),
                     **{c: int(sums[c]) for c in value_cols}})
        geoms.append(_region_polygon(area))
    columns = [H3_CELL, "h3_resolution", "merged", "n_fine_cells", *value_cols]
    return gpd.GeoDataFrame(pd.DataFrame(rows, columns=columns), geometry=geoms, crs=WGS84)


def _region_polygon(area: _Area):
    return cells_outline(area.cells())


def suppress_breakdowns(table: pd.DataFrame, groups: dict[str, list[str]], *,
                        min_count: int = DEFAULT_MIN_COUNT) -> tuple[pd.DataFrame, dict]:
    """Hide small values of each row's breakdowns, with complementary suppression.

    ``groups`` maps a name ("outcome", "month") to columns whose values add up
    to the row's published ``count`` (at least ``min_count``: rows are published areas).
    A value in (0, min_count) is hidden
    (None); then, while a row's hidden values are a single one or add up to
    less than ``min_count``, its smallest shown positive value is hidden too.
    Returns the table (hidden values as pandas NA) and counts per group.
    """
    out = table.copy()
    report = {}
    for name, columns in groups.items():
        columns = [c for c in columns if c in table.columns]
        if not columns:
            continue
        values = table[columns].to_numpy(dtype=np.int64)
        hidden = (values > 0) & (values < min_count)
        n_primary = int(hidden.sum())
        for i in np.flatnonzero(hidden.any(axis=1)):
            _complete_row(values[i], hidden[i], min_count)
        report[name] = {"hidden": n_primary, "hidden_to_protect_others": int(hidden.sum()) - n_primary}
        for j, col in enumerate(columns):
            out[col] = pd.array(np.where(hidden[:, j], 0, values[:, j]), dtype="Int64")
            out.loc[hidden[:, j], col] = pd.NA
    return out, report


def hidden_counts(values: np.ndarray, *, min_count: int = DEFAULT_MIN_COUNT) -> np.ndarray:
    """Which of a set of counts to hide when their total is published (True = hide).

    Values in (0, min_count), plus the smallest others until the hidden ones are
    not a single one and add up to 0 or at least ``min_count`` (as
    :func:`suppress_breakdowns` does within a row).
    """
    values = np.asarray(values, dtype=np.int64)
    hidden = (values > 0) & (values < min_count)
    if hidden.any():
        _complete_row(values, hidden, min_count)
    return hidden


def _complete_row(values: np.ndarray, hidden: np.ndarray, min_count: int) -> None:
    while hidden.sum() == 1 or 0 < values[hidden].sum() < min_count:
        shown = np.flatnonzero(~hidden & (values > 0))
        if not len(shown):
            return
        hidden[shown[np.argmin(values[shown])]] = True


def public_density(grid: DensityGrid, x: np.ndarray, y: np.ndarray, *,
                   min_count: int = DEFAULT_MIN_COUNT) -> tuple[DensityGrid, dict]:
    """The density surface safe to publish, and what was done to it.

    A cell is kept only where at least ``min_count`` incidents lie within the
    bandwidth of its centre (counted conservatively: only incidents in grid
    cells wholly inside that circle count), values are rounded to steps of one
    incident's peak contribution, and the grid is cropped to the kept cells.
    """
    min_count = check_min_count(min_count)
    support = _support_lower_bound(grid, x, y)
    step = float(kernel_values(np.zeros(1), grid.bandwidth_m, grid.kernel)[0])
    values = np.where(support >= min_count, np.round(grid.values / step) * step, 0.0)
    kept = values > 0
    report = {"min_support": min_count, "rounding_step_per_km2": round(step, 6),
              "support": f"incidents within {grid.bandwidth_m:g} m (the bandwidth) of a cell's centre",
              "n_cells": int(grid.values.size), "n_cells_shown": int(kept.sum()),
              "n_cells_hidden": int(((grid.values > 0) & ~kept).sum())}
    if not kept.any():
        # One empty cell on a 10 km lattice: the grid's own origin would tell where the
        # westmost and northmost incidents are, to a cell.
        west = math.floor(grid.transform.c / _EMPTY_SNAP_M) * _EMPTY_SNAP_M
        north = math.ceil(grid.transform.f / _EMPTY_SNAP_M) * _EMPTY_SNAP_M
        lattice = Affine(grid.cell_size_m, 0, west, 0, -grid.cell_size_m, north)
        return _with_values(grid, np.zeros((1, 1)), lattice), report
    rows, cols = np.flatnonzero(kept.any(axis=1)), np.flatnonzero(kept.any(axis=0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    transform = grid.transform @ Affine.translation(c0, r0)
    return _with_values(grid, values[r0:r1, c0:c1], transform), report


def _with_values(grid: DensityGrid, values: np.ndarray, transform) -> DensityGrid:
    return DensityGrid(values=values, transform=transform, crs=grid.crs, bandwidth_m=grid.bandwidth_m,
                       cell_size_m=grid.cell_size_m, kernel=grid.kernel, n_points=grid.n_points,
                       method={**grid.method, "published": "masked to supported cells, rounded"})


def _support_lower_bound(grid: DensityGrid, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per cell, incidents in the grid cells lying wholly within the bandwidth of its centre."""
    rows, cols = grid.values.shape
    size = grid.cell_size_m
    col = np.floor((np.asarray(x) - grid.transform.c) / size).astype(np.int64)
    row = np.floor((grid.transform.f - np.asarray(y)) / size).astype(np.int64)
    ok = (row >= 0) & (row < rows) & (col >= 0) & (col < cols)
    binned = np.bincount(row[ok] * cols + col[ok], minlength=rows * cols).reshape(rows, cols).astype(float)
    # Cell (i, j) lies wholly within radius h of a centre when its farthest corner does.
    half = math.floor(grid.bandwidth_m / size)
    offsets = np.arange(-half, half + 1) * size
    dx, dy = np.meshgrid(offsets, offsets)
    far = np.hypot(np.abs(dx) + size / 2, np.abs(dy) + size / 2)
    disk = (far <= grid.bandwidth_m).astype(float)
    if not disk.any():
        return np.zeros_like(binned)
    return np.rint(fftconvolve(binned, disk, mode="same"))
