"""Choosing Gi*'s scale from the data (``--method optimized``), with every decision written down.

The rules, in the spirit of Esri's Optimized Hot Spot Analysis:

1. Enough data: at least 30 located incidents, and counts that vary between
   cells; otherwise a message, not a meaningless map.
2. Locational outliers are set aside: incidents whose distance to the nearest
   other incident location is more than three standard deviations above the
   mean of those distances (a stray record far outside the city would
   otherwise stretch the study area).
3. Resolution: the H3 resolution (6 to 10) whose cell spacing is closest to the
   mean distance from each incident to its 10th nearest neighbour: cells then
   hold a few incidents where incidents are, so counts can contrast.
4. Distance: the first peak of incremental spatial autocorrelation, global
   Moran's I (binary weights, normality z-score) of the cell counts for 1, 2,
   ... 10 rings; the peak is the first ring count whose z-score is higher than
   both neighbours' and significant (z > 1.96). Without one, the mean
   distance from each incident to its k-th nearest neighbour, k = 5% of the
   incidents (at least 3, at most 30).
5. False discovery rate correction of the Gi* p-values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from ..errors import NoDataError
from .statistic import Neighbours, cell_spacing_m, neighbours, ring_distance_m, ring_for_distance, study_cells

__all__ = ["MIN_INCIDENTS", "Decisions", "locational_outliers", "morans_i_z", "optimized_scale"]

MIN_INCIDENTS = 30
RESOLUTIONS = range(6, 11)
MAX_RINGS = 10
_K_FOR_RESOLUTION = 10


@dataclass
class Decisions:
    """The choices made and the numbers behind them, in order."""

    steps: list[dict] = field(default_factory=list)

    def add(self, decision: str, **numbers) -> None:
        """Record a decision and the numbers behind it."""
        self.steps.append({"decision": decision, **numbers})

    def lines(self) -> list[str]:
        """The decisions as sentences."""
        return [s["decision"] for s in self.steps]


def locational_outliers(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, dict]:
    """Incidents far from every other incident location (mean + 3 SD of nearest-neighbour distance)."""
    xy = np.unique(np.c_[x, y], axis=0)
    if len(xy) < 3:
        return np.zeros(len(x), dtype=bool), {"threshold_m": None}
    dist, _ = cKDTree(xy).query(xy, k=2)
    nn = dist[:, 1]
    threshold = float(nn.mean() + 3 * nn.std())
    far = {tuple(p) for p in xy[nn > threshold]}
    flagged = np.array([(a, b) in far for a, b in zip(x, y)], dtype=bool) if far else np.zeros(len(x), bool)
    return flagged, {"threshold_m": round(threshold, 1), "mean_nn_m": round(float(nn.mean()), 1)}


def _mean_kth_distance(x: np.ndarray, y: np.ndarray, k: int) -> float:
    k = min(k, len(x) - 1)
    dist, _ = cKDTree(np.c_[x, y]).query(np.c_[x, y], k=k + 1)
    return float(dist[:, k].mean())


def morans_i_z(values: np.ndarray, nb: Neighbours) -> tuple[float, float]:
    """Global Moran's I with binary weights (self excluded) and its z-score under normality."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    w = nb.matrix.copy()
    w.setdiag(0)
    w.eliminate_zeros()
    z = x - x.mean()
    s0 = float(w.sum())
    if n < 3 or s0 == 0 or not (z @ z) > 0:
        return float("nan"), float("nan")
    moran = n / s0 * float(z @ (w @ z)) / float(z @ z)
    row = np.asarray(w.sum(axis=1)).ravel()
    col = np.asarray(w.sum(axis=0)).ravel()
    s1 = 0.5 * float(((w + w.T).multiply(w + w.T)).sum())
    s2 = float(((row + col) ** 2).sum())
    expected = -1.0 / (n - 1)
    variance = (n * n * s1 - n * s2 + 3 * s0 * s0) / ((n * n - 1) * s0 * s0) - expected**2
    return moran, (moran - expected) / math.sqrt(variance)


def optimized_scale(x: np.ndarray, y: np.ndarray, lon: np.ndarray, lat: np.ndarray,
                    decisions: Decisions) -> tuple[np.ndarray, int, int]:
    """Choose the Gi* scale as ArcGIS's Optimized Hot Spot Analysis does (rules 1-4).

    Parameters
    ----------
    x, y
        The incidents in metres (a metric CRS).
    lon, lat
        The same in degrees.
    decisions
        Where each rule's choice is written for the run record.

    Returns
    -------
    kept : numpy.ndarray
        Which incidents are kept (spatial outliers are set aside).
    resolution : int
        The H3 resolution of the analysis cells.
    rings : int
        The neighbourhood in rings of cells.
    """
    from ..hexes import points_to_cells

    n = len(x)
    if n < MIN_INCIDENTS:
        raise NoDataError(f"`method` optimized needs at least {MIN_INCIDENTS} located incidents, not {n}: "
                          "with fewer, hot spot statistics mean nothing")
    decisions.add(f"{n:,} located incidents: at least {MIN_INCIDENTS}, enough to analyse", n_incidents=n)
    outliers, numbers = locational_outliers(x, y)
    keep = ~outliers
    decisions.add(f"{int(outliers.sum())} locational outlier(s) set aside (nearest other incident farther "
                  f"than {numbers['threshold_m']} m)", n_outliers=int(outliers.sum()), **numbers)
    target = _mean_kth_distance(x[keep], y[keep], _K_FOR_RESOLUTION)
    resolution = min(RESOLUTIONS, key=lambda r: abs(cell_spacing_m(r) - target))
    decisions.add(f"H3 resolution {resolution} (cell spacing {cell_spacing_m(resolution):.0f} m, closest to the "
                  f"mean distance to the {_K_FOR_RESOLUTION}th nearest incident, {target:.0f} m)",
                  resolution=resolution, mean_distance_to_kth_m=round(target, 1), k=_K_FOR_RESOLUTION)
    cells = points_to_cells(lon[keep], lat[keep], resolution)
    occupied, counts = np.unique(cells, return_counts=True)
    rings = _incremental_autocorrelation(occupied, counts, resolution, decisions)
    if rings is None:
        k = int(np.clip(round(0.05 * keep.sum()), 3, 30))
        distance = _mean_kth_distance(x[keep], y[keep], k)
        rings = ring_for_distance(distance, resolution)
        decisions.add(f"no peak of spatial autocorrelation: distance band {ring_distance_m(rings, resolution):.0f} m "
                      f"({rings} ring(s)) from the mean distance to the {k}th nearest incident ({distance:.0f} m)",
                      rings=rings, fallback_k=k, fallback_distance_m=round(distance, 1))
    decisions.add("Benjamini-Hochberg false discovery rate correction of the Gi* p-values", correction="fdr")
    return keep, resolution, rings


def _incremental_autocorrelation(occupied, counts, resolution: int, decisions: Decisions) -> int | None:
    cells = study_cells(occupied, resolution, MAX_RINGS)
    x = np.zeros(len(cells))
    x[np.searchsorted(cells, occupied.astype(np.uint64))] = counts
    if x.std() == 0:
        raise NoDataError("every cell holds the same number of incidents: there is no contrast for hot spots")
    zs = []
    for rings in range(1, MAX_RINGS + 1):
        zs.append(morans_i_z(x, neighbours(cells, rings))[1])
    table = pd.DataFrame({"rings": range(1, MAX_RINGS + 1),
                          "distance_m": [round(ring_distance_m(k, resolution)) for k in range(1, MAX_RINGS + 1)],
                          "moran_z": np.round(zs, 3)})
    peak = None
    for i in range(1, len(zs) - 1):
        if zs[i] > zs[i - 1] and zs[i] >= zs[i + 1] and zs[i] > 1.96:
            peak = i + 1
            break
    if peak is None and len(zs) > 1 and zs[0] > zs[1] and zs[0] > 1.96:
        peak = 1  # strongest at the smallest distance: the first ring is the peak
    if peak is not None:
        decisions.add(f"distance band {ring_distance_m(peak, resolution):.0f} m ({peak} ring(s)): first peak of "
                      f"spatial autocorrelation (Moran's I z = {zs[peak - 1]:.2f})", rings=peak,
                      incremental_autocorrelation=table.to_dict(orient="records"))
    else:
        decisions.add("incremental spatial autocorrelation has no significant peak within "
                      f"{MAX_RINGS} rings", incremental_autocorrelation=table.to_dict(orient="records"))
    return peak
