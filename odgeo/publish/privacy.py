"""Small-count protection for public products.

H3 coarsening and complementary suppression.

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

What is made from these areas (the density surface, Gi*, hot spots) is made
by :mod:`odgeo.publish.restricted` from the published counts alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import defaults
from ..errors import ParameterError
from ..hexes import H3_CELL, cell_children, cell_ints, cell_parent, cell_resolution, cell_strs, cells_outline
from ..schema import WGS84

__all__ = [
    "COARSEN_LEVELS",
    "DEFAULT_MIN_COUNT",
    "LOG_MASK",
    "MIN_COUNT_SOURCE",
    "Area",
    "areas_frame",
    "check_min_count",
    "coarsen_cells",
    "hidden_counts",
    "log_numbers",
    "masked_log",
    "partition_cells",
    "shown_count",
    "suppress_breakdowns",
    "suppress_parts",
]

#: Counts below this are never published for the public audience.
DEFAULT_MIN_COUNT = defaults.MIN_COUNT.value
MIN_COUNT_SOURCE = defaults.MIN_COUNT.reason
#: How many H3 levels a small cell may be merged upwards (res 8 -> res 5, ~250 km²).
COARSEN_LEVELS = 3


def check_min_count(min_count) -> int:
    """``min_count`` as a whole number >= 1, or a ParameterError."""
    try:
        value = int(min_count)
    except (TypeError, ValueError):
        value = 0
    if value < 1 or value != min_count:
        raise ParameterError(f"`min_count` must be a whole number >= 1, not {min_count!r}")
    return value


def shown_count(n: int, min_count: int) -> str:
    """A total for a sentence: ``"fewer than 10"`` when it is small but not zero."""
    return f"fewer than {min_count}" if 0 < n < min_count else f"{n:,}"


@dataclass
class Area:
    """A candidate published area: a set of fine cells under ``key`` (an H3 cell)."""

    key: int  # H3 cell (int) whose fine descendants, minus other areas, make the area
    level: int
    occupied: list[int]  # fine cells with incidents
    count: int
    region: set[int] | None = None  # fine cells covered; None = just ``key`` itself
    merged: bool = False

    def cells(self) -> set[int]:
        """The fine cells the area covers."""
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
    areas = partition_cells(counts, min_count=min_count, levels=levels)
    resolution = cell_resolution(int(cell_ints(counts.index)[0])) if len(counts) else 8
    report = CoarsenReport(min_count, resolution, max(0, resolution - int(levels)), n_cells_in=len(counts))
    kept = [a for a in areas if a.count >= min_count]
    dropped = [a for a in areas if a.count < min_count]
    report.n_published = len(kept)
    report.n_published_fine = sum(not a.merged for a in kept)
    report.n_merged_areas = sum(a.merged for a in kept)
    report.n_cells_merged = sum(len(a.occupied) for a in kept if a.merged)
    report.n_areas_suppressed = len(dropped)
    report.n_cells_suppressed = sum(len(a.occupied) for a in dropped)
    report.n_incidents_suppressed = sum(a.count for a in dropped)
    return areas_frame(kept, counts), report


def partition_cells(counts: pd.DataFrame, *, min_count: int = DEFAULT_MIN_COUNT, levels: int = COARSEN_LEVELS,
                    taken: frozenset[int] | set[int] = frozenset()) -> list[Area]:
    """Every area coarsening makes of ``counts``, those still under ``min_count`` included.

    ``taken`` are fine cells that belong to areas made earlier (a release
    ledger's): a merged area's region never includes them.
    """
    min_count = check_min_count(min_count)
    codes = [int(c) for c in cell_ints(counts.index)]
    resolution = cell_resolution(codes[0]) if len(codes) else 8
    coarsest = max(0, resolution - int(levels))
    areas = [Area(c, resolution, [c], int(n)) for c, n in zip(codes, counts["count"].to_numpy())]
    for level in range(resolution, coarsest, -1):
        if all(a.count >= min_count for a in areas):
            break
        areas = _merge_level(areas, level - 1, resolution, min_count, taken)
    return areas


def _merge_level(areas: list[Area], parent_level: int, resolution: int, min_count: int,
                 taken: frozenset[int] | set[int]) -> list[Area]:
    """One step up: under each parent, pool the small areas (plus the smallest big one if needed)."""
    by_parent: dict[int, list[Area]] = {}
    for area in areas:
        by_parent.setdefault(cell_parent(area.occupied[0], parent_level), []).append(area)
    out: list[Area] = []
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
        region = set(cell_children(parent, resolution)) - others - set(taken)
        occupied = [c for a in pooled for c in a.occupied]
        out.extend(big)
        out.append(Area(parent, parent_level, occupied, sum(a.count for a in pooled),
                        region=region, merged=True))
    return out


def areas_frame(areas: list[Area], counts: pd.DataFrame) -> gpd.GeoDataFrame:
    """One row per area: its key cell, resolution, shape and the sums of ``counts`` over its occupied cells."""
    value_cols = list(counts.columns)
    ordered = sorted(areas, key=lambda a: (a.level, a.key))
    # Every occupied cell tagged with its area, then one grouped sum (cells absent from counts add nothing).
    occupied = [cell for area in ordered for cell in cell_strs(area.occupied)]
    area_of = np.repeat(np.arange(len(ordered)), [len(area.occupied) for area in ordered])
    present = pd.Index(occupied).isin(counts.index)
    values = counts.loc[np.asarray(occupied, dtype=object)[present], value_cols].to_numpy(dtype=np.int64)
    sums = np.zeros((len(ordered), len(value_cols)), dtype=np.int64)
    np.add.at(sums, area_of[present], values)
    table = pd.DataFrame({H3_CELL: cell_strs([area.key for area in ordered]),
                          "h3_resolution": [area.level for area in ordered],
                          "merged": [area.merged for area in ordered],
                          "n_fine_cells": [len(area.cells()) for area in ordered],
                          **{c: sums[:, j] for j, c in enumerate(value_cols)}})
    geoms = [cells_outline(area.cells()) for area in ordered]
    return gpd.GeoDataFrame(table, geometry=geoms, crs=WGS84)


def suppress_breakdowns(table: pd.DataFrame, groups: dict[str, list[str]], *,
                        min_count: int = DEFAULT_MIN_COUNT) -> tuple[pd.DataFrame, dict]:
    """Hide small values of each row's breakdowns, with complementary suppression.

    ``groups`` maps a name ("outcome", "month") to columns whose values add up
    to the row's published ``count`` (at least ``min_count``: rows are published areas).
    A value under ``min_count``, zero included, is hidden (None): a zero shown beside
    hidden values would say that each hidden one is at least 1. Then, while a row's
    hidden values are a single positive one or add up to 1 to ``min_count`` - 1, its
    smallest shown value is hidden too. Returns the table (hidden values as pandas NA)
    and counts per group (``hidden`` counts the positive ones, ``hidden_zeros`` the zeros).
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
        n_protecting = int(hidden.sum()) - n_primary
        zeros = values == 0
        hidden |= zeros
        report[name] = {"hidden": n_primary, "hidden_to_protect_others": n_protecting,
                        "hidden_zeros": int(zeros.sum())}
        for j, col in enumerate(columns):
            out[col] = pd.array(np.where(hidden[:, j], 0, values[:, j]), dtype="Int64")
            out.loc[hidden[:, j], col] = pd.NA
    return out, report


def suppress_parts(table: pd.DataFrame, columns: list[str], *, parents: dict[str, str] | None = None,
                   min_count: int = DEFAULT_MIN_COUNT) -> tuple[pd.DataFrame, dict]:
    """Hide each row's overlapping parts of its ``count`` (drug groups) that are, or leave, a small number.

    Unlike :func:`suppress_breakdowns`' groups, parts need not add up (an overdose may involve
    fentanyl and xylazine), so each is judged alone: hidden when under ``min_count`` (zero included,
    as a breakdown's), or when what it leaves of the count (``count`` minus it) is 1 to ``min_count`` - 1:
    "12 overdoses, 10 involving fentanyl" says 2 did not. A part nested in another (``parents``:
    fentanyl in any opioid) is hidden too when it leaves 1 to ``min_count`` - 1 of its parent.
    Returns the table (hidden values as pandas NA) and how many values were hidden, as
    :func:`suppress_breakdowns` counts them (small, zero, and hidden for what they leave).
    """
    out = table.copy()
    total = table["count"].to_numpy(dtype=np.int64)
    report = {"hidden": 0, "hidden_to_protect_others": 0, "hidden_zeros": 0}
    for column in [c for c in columns if c in table.columns]:
        values = table[column].to_numpy(dtype=np.int64)
        small = values < min_count
        rest = total - values
        leaves = (rest > 0) & (rest < min_count)
        parent = (parents or {}).get(column)
        if parent in table.columns:
            left = table[parent].to_numpy(dtype=np.int64) - values
            leaves |= (left > 0) & (left < min_count)
        report["hidden"] += int((small & (values > 0)).sum())
        report["hidden_zeros"] += int((values == 0).sum())
        report["hidden_to_protect_others"] += int((leaves & ~small).sum())
        out[column] = pd.array(np.where(small | leaves, pd.NA, values), dtype="Int64")
    return out, report


def hidden_counts(values: np.ndarray, *, min_count: int = DEFAULT_MIN_COUNT,
                  force: np.ndarray | None = None) -> np.ndarray:
    """Which of a set of counts to hide when their total is published (True = hide).

    Values in (0, min_count) and those in ``force``, plus the smallest others
    until the hidden ones are not a single one and add up to 0 or at least
    ``min_count`` (as :func:`suppress_breakdowns` does within a row).
    """
    values = np.asarray(values, dtype=np.int64)
    hidden = (values > 0) & (values < min_count)
    if force is not None:
        hidden |= np.asarray(force, dtype=bool)
    if hidden.any():
        _complete_row(values, hidden, min_count)
    return hidden


def _complete_row(values: np.ndarray, hidden: np.ndarray, min_count: int) -> None:
    while hidden.sum() == 1 or 0 < values[hidden].sum() < min_count:
        shown = np.flatnonzero(~hidden & (values > 0))
        if not len(shown):
            return
        hidden[shown[np.argmin(values[shown])]] = True


#: A number in a message, or a date or time, or a CRS code (the last three are kept as they are).
_LOG_TOKEN = re.compile(r"(\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?|\d{1,2}:\d{2}|EPSG:\d+|[A-Za-z_]\w*)"
                        r"|(-?\d[\d,]*(?:\.\d+)?)")
#: What a number of a public log message is replaced by.
LOG_MASK = "[n]"


def log_numbers(text: str) -> list[str]:
    """The numbers of a log text that are not part of a date, a time, a CRS code or a name (col2, res7)."""
    return [m.group(2) for m in _LOG_TOKEN.finditer(text) if m.group(2)]


def masked_log(text: str) -> str:
    """A log text with every number of :func:`log_numbers` replaced by :data:`LOG_MASK`.

    A warning's counts are exact (rows rejected, incidents on shared coordinates, values
    unrecognised): in a public series two mornings' logs would difference to one day's rows.
    What happened stays readable; how many is in the restricted run's log.txt.
    """
    return _LOG_TOKEN.sub(lambda m: m.group(1) or LOG_MASK, text)
