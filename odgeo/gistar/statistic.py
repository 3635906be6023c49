"""Getis-Ord Gi* hot spot statistics on H3 cells, with false discovery rate correction.

Which cells take part: every cell with incidents and every empty cell of the
study area (the cells of a boundary polygon, or of the convex hull of the
cells with incidents; see :func:`study_cells` for why not buffered). Empty
cells matter: a count of 40 is a hot spot among zeros and not among 50s.

Neighbours: the cell itself and the cells within ``k`` H3 rings (binary
weights, "fixed distance band"). A distance band of ``d`` metres becomes
``k = max(1, round(d / spacing))`` rings, where ``spacing = sqrt(3) * edge``
is the distance between neighbouring cell centres at that resolution.

Gi* of cell i with binary weights (Getis and Ord 1992; Ord and Getis 1995),
over the n cells taking part, x the counts, W_i the number of neighbours
(itself included), x̄ and s the mean and standard deviation of x::

    z_i = (sum_j w_ij x_j - x̄ W_i) / (s * sqrt((n W_i - W_i²) / (n - 1)))

The p-value is two-sided from the normal distribution, or (with
permutations) a folded pseudo p-value from conditional permutations, as
PySAL's esda computes it. ``gi_bin`` follows ArcGIS: ±3, ±2, ±1 for 99, 95
and 90% confidence, decided after the multiple-testing correction
(Benjamini-Hochberg false discovery rate by default), 0 otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse, special

from ..errors import ParameterError
from ..hexes import (
    H3_CELL,
    cell_centres,
    cell_disks,
    cell_edge_length_m,
    cell_ints,
    cell_strs,
    cells_to_polygons,
    polygon_cells,
)
from ..schema import WGS84
from ..vocabulary import CORRECTIONS

__all__ = [
    "CORRECTIONS",
    "GiPlan",
    "GiStar",
    "Neighbours",
    "cell_spacing_m",
    "confidence_bins",
    "gi_star_cells",
    "gi_star_z",
    "neighbours",
    "permutation_p",
    "ring_distance_m",
    "ring_for_distance",
    "study_cells",
]

#: Confidence levels of gi_bin 3, 2 and 1.
LEVELS = ((3, 0.01), (2, 0.05), (1, 0.10))


def cell_spacing_m(resolution: int) -> float:
    """Distance between the centres of neighbouring cells (sqrt(3) times the edge)."""
    return math.sqrt(3.0) * cell_edge_length_m(resolution)


def ring_for_distance(distance_m: float, resolution: int) -> int:
    """H3 rings that best match a distance band in metres (at least 1)."""
    if not (distance_m > 0 and math.isfinite(distance_m)):
        raise ParameterError(f"the Gi* distance band must be a positive number of metres, not {distance_m!r}")
    return max(1, round(distance_m / cell_spacing_m(resolution)))


def ring_distance_m(rings: int, resolution: int) -> float:
    """The distance band that ``rings`` rings stand for."""
    return rings * cell_spacing_m(resolution)


def study_cells(occupied: np.ndarray, resolution: int, rings: int,
                boundary: shapely.Geometry | None = None) -> np.ndarray:
    """Sorted H3 cells (int) that take part: occupied cells plus empty cells of the study area.

    The study area is ``boundary`` (EPSG:4326) when given (occupied cells outside
    it take no part), else the convex hull of the occupied cells' centres. Not
    the hull buffered by the neighbourhood distance: that margin holds empty cells where no incident could have been
    recorded, and against it the whole data extent looks hot (on complete
    spatial randomness in a rectangle, 15% of cells came out significant after
    FDR with the buffer, 0.2% with the true rectangle). ``rings`` is kept for
    callers that widen the area themselves.
    """
    occupied = np.unique(np.asarray(occupied, dtype=np.uint64))
    if boundary is None:
        lon, lat = cell_centres(occupied)
        hull = shapely.multipoints(np.c_[lon, lat]).convex_hull
        if hull.geom_type != "Polygon":  # one or two cells, or cells in a line
            return occupied
        boundary = hull
        _check_cell_budget(boundary, resolution)
        return np.union1d(occupied, polygon_cells(boundary, resolution))
    # A given study area is the whole analysis: incidents outside it take no part.
    _check_cell_budget(boundary, resolution)
    return np.unique(polygon_cells(boundary, resolution))


#: The most cells a study area may take, and the most (cell, neighbour) pairs: beyond them a
#: run takes minutes and gigabytes (a resolution of 13-15 over a city, hundreds of rings).
MAX_STUDY_CELLS = 2_000_000
MAX_NEIGHBOUR_PAIRS = 60_000_000
#: The most random draws a permutation test may take (cells x permutations x neighbours).
MAX_PERMUTATION_DRAWS = 3_000_000_000


def _check_cell_budget(area, resolution: int) -> None:
    import pyproj

    from ..hexes import cell_area_km2

    km2 = abs(pyproj.Geod(ellps="WGS84").geometry_area_perimeter(area)[0]) / 1e6
    estimate = km2 / cell_area_km2(resolution)
    if estimate > MAX_STUDY_CELLS:
        raise ParameterError(f"Gi* at H3 resolution {resolution} would take about {estimate:,.0f} cells over the "
                             f"study area ({km2:,.0f} km², at most {MAX_STUDY_CELLS:,}); choose a coarser "
                             "`gi_resolution` (or `resolution`)")


@dataclass(frozen=True)
class Neighbours:
    """Binary neighbours (the cell itself included) as a CSR matrix over ``cells``."""

    cells: np.ndarray  # sorted H3 ints
    matrix: sparse.csr_matrix
    rings: int

    @property
    def cardinality(self) -> np.ndarray:
        """Neighbours of each cell, itself included."""
        return np.diff(self.matrix.indptr)


def neighbours(cells: np.ndarray, rings: int) -> Neighbours:
    """Each cell's neighbours among ``cells``: itself and the cells within ``rings`` rings."""
    cells = np.asarray(cells, dtype=np.uint64)
    disk = 3 * rings * (rings + 1) + 1
    if len(cells) * disk > MAX_NEIGHBOUR_PAIRS:
        raise ParameterError(f"{rings} ring(s) give each of the {len(cells):,} cells {disk:,} neighbours "
                             f"({len(cells) * disk:,} pairs, at most {MAX_NEIGHBOUR_PAIRS:,}); choose fewer "
                             "`gi_rings`, a shorter `gi_distance_m` or a coarser resolution")
    disks = cell_disks(cells, rings)
    sizes = np.array([len(d) for d in disks])
    flat = np.fromiter((c for d in disks for c in d), dtype=np.uint64, count=int(sizes.sum()))
    rows = np.repeat(np.arange(len(cells)), sizes)
    pos = np.searchsorted(cells, flat)
    pos = np.minimum(pos, len(cells) - 1)
    keep = cells[pos] == flat
    matrix = sparse.csr_matrix((np.ones(int(keep.sum())), (rows[keep], pos[keep])), shape=(len(cells),) * 2)
    return Neighbours(cells, matrix, rings)


def gi_star_z(values: np.ndarray, nb: Neighbours) -> np.ndarray:
    """Gi* z-scores (analytic), equal to esda's ``G_Local(star=True, transform="B")``."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    w = nb.cardinality.astype(float)
    mean = x.mean()
    s = math.sqrt(max((x**2).mean() - mean**2, 0.0))
    if n < 2 or s == 0:
        return np.zeros(n)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (nb.matrix @ x - mean * w) / (s * np.sqrt((n * w - w**2) / (n - 1)))
    return np.where(np.isfinite(z), z, 0.0)


def permutation_p(values: np.ndarray, nb: Neighbours, permutations: int, seed: int = 0) -> np.ndarray:
    """Folded pseudo p-values from conditional permutations (as esda's p_sim).

    For each cell, its value is held and its W_i - 1 neighbours are drawn at
    random from the other cells, ``permutations`` times; p = (m + 1) / (P + 1)
    where m counts the draws at least as extreme, on the side of the observed sum.
    """
    x = np.asarray(values, dtype=float)
    n = len(x)
    card = nb.cardinality
    draws_needed = float(n) * permutations * max(int(card.max()) - 1, 1)
    if draws_needed > MAX_PERMUTATION_DRAWS:
        raise ParameterError(f"{permutations:,} permutations over {n:,} cells would take {draws_needed:,.0f} "
                             f"random draws (at most {MAX_PERMUTATION_DRAWS:,}); 999 permutations are the usual "
                             "choice")
    rng = np.random.default_rng(seed)
    k = int(card.max()) - 1
    draws = None
    if k > 0 and n > 1:  # the same k distinct draws serve every cell of a permutation, as in esda
        draws = np.stack([rng.choice(n - 1, size=min(k, n - 1), replace=False) for _ in range(permutations)])
    observed = nb.matrix @ x
    larger = np.zeros(n)
    for c in np.unique(card):
        idx = np.flatnonzero(card == c)
        for chunk in np.array_split(idx, max(1, len(idx) * permutations * max(int(c) - 1, 1) // 8_000_000 + 1)):
            if c <= 1 or draws is None:
                sims = np.repeat(x[chunk][:, None], permutations, axis=1)
            else:
                ids = draws[None, :, : c - 1]
                ids = ids + (ids >= chunk[:, None, None])  # skip the cell itself
                sims = x[ids].sum(axis=2) + x[chunk][:, None]
            larger[chunk] = (sims >= observed[chunk][:, None]).sum(axis=1)
    below = (permutations - larger) < larger
    larger[below] = permutations - larger[below]
    return (larger + 1) / (permutations + 1)


def confidence_bins(z: np.ndarray, p: np.ndarray, correction: str = "fdr") -> np.ndarray:
    """gi_bin: ±3/±2/±1 at 99/95/90% confidence after the correction, 0 otherwise."""
    if correction not in CORRECTIONS:
        raise ParameterError(f"`correction` must be one of {', '.join(CORRECTIONS)}, not {correction!r}")
    p = np.asarray(p, dtype=float)
    bins = np.zeros(len(p), dtype=np.int64)
    for level, alpha in reversed(LEVELS):  # weakest first, so stronger levels overwrite
        significant = p <= _critical_p(p, alpha, correction)
        bins[significant] = level
    return bins * np.sign(z).astype(np.int64)


def _critical_p(p: np.ndarray, alpha: float, correction: str) -> float:
    m = len(p)
    if m == 0:
        return 0.0
    if correction == "none":
        return alpha
    if correction == "bonferroni":
        return alpha / m
    ranked = np.sort(p)
    passing = np.flatnonzero(ranked <= alpha * np.arange(1, m + 1) / m)
    return float(ranked[passing[-1]]) if len(passing) else -1.0


@dataclass(frozen=True, eq=False)
class GiPlan:
    """Every choice behind the main job's Gi*, made before it runs.

    Attributes
    ----------
    method
        "fixed" or "optimized".
    resolution, rings
        H3 resolution of the Gi* cells and the neighbourhood in rings.
    correction, permutations, seed
        Multiple-testing correction; permutations for pseudo p-values (0: analytic) and their seed.
    boundary
        The study area polygon (EPSG:4326), or None for the hull of the cells with incidents.
    keep
        Incidents taking part (optimized mode sets locational outliers aside); None: all.
    """

    method: str
    resolution: int
    rings: int
    correction: str
    permutations: int
    seed: int
    boundary: shapely.Geometry | None = None
    keep: np.ndarray | None = None


@dataclass
class GiStar:
    """Gi* per cell and how it was computed (for run.json)."""

    frame: gpd.GeoDataFrame  # h3_cell, count, gi_z, gi_p, gi_bin (+ gi_p_sim), EPSG:4326
    settings: dict = field(default_factory=dict)


def gi_star_cells(counts: pd.Series, *, resolution: int, distance_m: float | None = None,
                  rings: int | None = None, boundary=None, correction: str = "fdr",
                  permutations: int = 0, seed: int = 0) -> GiStar:
    """Gi* of incident counts per H3 cell.

    Parameters
    ----------
    counts
        Counts indexed by H3 cell strings (cells without incidents may be absent).
    resolution
        Their H3 resolution.
    distance_m, rings
        The neighbourhood: a distance band in metres, or a number of rings (default 1).
    boundary
        Study area polygon (EPSG:4326); default the convex hull of the cells with incidents.
    correction
        "fdr" (Benjamini-Hochberg, default), "bonferroni" or "none".
    permutations, seed
        With permutations > 0, pseudo p-values from conditional permutations decide the bins.

    Returns
    -------
    GiStar
        Per study-area cell: ``count``, ``gi_z``, ``gi_p``, ``gi_bin`` (-3..3: cold or hot
        at 99, 95, 90% confidence after the correction), and the settings.
    """
    if rings is None:
        rings = ring_for_distance(distance_m, resolution) if distance_m is not None else 1
    occupied = cell_ints(counts.index)
    cells = study_cells(occupied, resolution, rings, boundary)
    if not len(cells):
        raise ParameterError("the study area holds no H3 cell at the Gi* resolution; give a larger "
                             "`study_area` or a finer `gi_resolution`")
    values = counts.to_numpy(dtype=float)
    pos = np.minimum(np.searchsorted(cells, occupied), len(cells) - 1)
    inside = cells[pos] == occupied
    x = np.zeros(len(cells))
    x[pos[inside]] = values[inside]
    nb = neighbours(cells, rings)
    z = gi_star_z(x, nb)
    p = 2.0 * special.ndtr(-np.abs(z))  # the normal's upper tail, as scipy.stats.norm.sf computes it
    columns = {H3_CELL: cell_strs(cells), "count": x.astype(np.int64),
               "gi_z": z, "gi_p": p}
    decide = p
    if permutations:
        decide = permutation_p(x, nb, int(permutations), seed)
        columns["gi_p_sim"] = decide
    columns["gi_bin"] = confidence_bins(z, decide, correction)
    frame = gpd.GeoDataFrame(pd.DataFrame(columns), geometry=cells_to_polygons(columns[H3_CELL]).values,
                             crs=WGS84)
    settings = {
        "resolution": resolution, "rings": rings, "distance_m": round(ring_distance_m(rings, resolution), 1),
        "neighbours": f"the cell and the cells within {rings} H3 ring(s) (binary weights)",
        "n_cells": len(cells), "n_cells_with_incidents": int((x > 0).sum()),
        "n_incidents_outside_study_area": round(values[~inside].sum()),
        "study_area": "boundary file" if boundary is not None else "convex hull of the cells with incidents",
        "inference": f"{permutations} conditional permutations (seed {seed})" if permutations else "analytic (normal)",
        "correction": correction, "bins": "±3/±2/±1 = 99/95/90% confidence after the correction",
        "n_hot": {f"{lv}": int((frame['gi_bin'] == lv).sum()) for lv in (1, 2, 3)},
        "n_cold": {f"{lv}": int((frame['gi_bin'] == -lv).sum()) for lv in (1, 2, 3)},
    }
    return GiStar(frame, settings)
