"""Emerging hot spots: space-time Gi*, a Mann-Kendall trend per cell, and the 17 categories.

The space-time cube has one bin per H3 cell and time step (week or month).
A bin's neighbours are the cells within ``rings`` rings (itself included) in
the same step and in the ``time_window`` steps before it; Gi* (as in
:mod:`odgeo.gistar.statistic`, mean and deviation over the whole cube) gives each bin a
z-score and p-value, and the Benjamini-Hochberg correction over all bins
decides which bins are hot or cold at 90% confidence. Each cell's z-scores over
time get a Mann-Kendall trend test (significant at p < 0.05).

The categories, as ArcGIS's Emerging Hot Spot Analysis defines them (in our
words; "hot" below reads "cold" for the cold categories, with the trend
reversed):

- new: hot in the final step and never before;
- consecutive: a single run of at least two hot steps ending with the final
  step, never hot before the run, and hot in less than 90% of steps;
- intensifying: hot in at least 90% of steps including the final one, z-scores
  rising significantly;
- persistent: hot in at least 90% of steps including the final one, no
  significant trend;
- diminishing: hot in at least 90% of steps including the final one, z-scores
  falling significantly;
- sporadic: hot in the final step, in less than 90% of steps, on and off, never cold;
- oscillating: hot in the final step, in less than 90% of steps, cold in some earlier step;
- historical: not hot in the final step, but hot in at least 90% of steps;
- no pattern detected: none of these.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import special

from .statistic import Neighbours, confidence_bins

__all__ = [
    "CATEGORIES",
    "MIN_STEPS",
    "EmergingResult",
    "categorise",
    "emerging_hot_spots",
    "mann_kendall",
    "space_time_gi_star",
]

MIN_STEPS = 10
HOT_SHARE = 0.9
TREND_P = 0.05
CATEGORIES = tuple(f"{kind} {side} spot" for side in ("hot", "cold") for kind in (
    "new", "consecutive", "intensifying", "persistent", "diminishing", "sporadic", "oscillating",
    "historical")) + ("no pattern detected",)


def mann_kendall(series: np.ndarray) -> dict[str, np.ndarray]:
    """Mann-Kendall trend test of each row of ``series`` (cells x steps).

    S = sum over pairs i < j of sign(x_j - x_i); its variance corrected for ties;
    z with a continuity correction; two-sided p; tau = S / (n (n - 1) / 2).
    """
    x = np.asarray(series, dtype=float)
    cells, n = x.shape
    upper = np.triu_indices(n, k=1)
    s = np.zeros(cells)
    for lo in range(0, cells, 2000):
        block = x[lo:lo + 2000]
        s[lo:lo + 2000] = np.sign(block[:, upper[1]] - block[:, upper[0]]).sum(axis=1)
    ties = np.zeros(cells)
    rounded = np.round(x, 10)
    for i in range(cells):
        _, t = np.unique(rounded[i], return_counts=True)
        t = t[t > 1]
        ties[i] = (t * (t - 1) * (2 * t + 5)).sum()
    var = (n * (n - 1) * (2 * n + 5) - ties) / 18.0
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(var > 0, (s - np.sign(s)) / np.sqrt(var), 0.0)
    return {"s": s, "z": z, "p": 2 * special.ndtr(-np.abs(z)), "tau": s / (n * (n - 1) / 2)}  # ndtr(-z): norm.sf(z)


def space_time_gi_star(counts: np.ndarray, nb: Neighbours, time_window: int = 1) -> np.ndarray:
    """Gi* z-score of every bin of a (steps x cells) cube; neighbours as in the module docstring."""
    x = np.asarray(counts, dtype=float)
    steps, cells = x.shape
    spatial = np.asarray((nb.matrix @ x.T).T)  # (steps, cells): sum over each cell's neighbours
    cum = np.vstack([np.zeros((1, cells)), np.cumsum(spatial, axis=0)])
    t = np.arange(steps)
    start = np.maximum(t - time_window, 0)
    window = cum[t + 1] - cum[start]
    w = (t - start + 1)[:, None] * nb.cardinality[None, :].astype(float)
    n = x.size
    mean = x.mean()
    s = np.sqrt(max((x**2).mean() - mean**2, 0.0))
    if s == 0:
        return np.zeros_like(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (window - mean * w) / (s * np.sqrt((n * w - w**2) / (n - 1)))
    return np.where(np.isfinite(z), z, 0.0)


def categorise(hot: np.ndarray, cold: np.ndarray, trend_z: np.ndarray, trend_p: np.ndarray) -> np.ndarray:
    """Category per cell from its hot/cold steps (steps x cells booleans) and z-score trend."""
    steps, cells = hot.shape
    out = np.full(cells, "no pattern detected", dtype=object)
    up = (trend_p < TREND_P) & (trend_z > 0)
    down = (trend_p < TREND_P) & (trend_z < 0)
    for side, mine, other, rising, falling in (("hot", hot, cold, up, down), ("cold", cold, hot, down, up)):
        final = mine[-1]
        share = mine.mean(axis=0)
        n_mine = mine.sum(axis=0)
        # Length of the run of significant steps that ends with the final step.
        run = np.zeros(cells, dtype=np.int64)
        still = np.ones(cells, dtype=bool)
        for t in range(steps - 1, -1, -1):
            still &= mine[t]
            run += still
        ever_other = other.any(axis=0)
        mostly = share >= HOT_SHARE
        rules = [
            ("new", final & (n_mine == 1)),
            ("consecutive", final & (run >= 2) & (n_mine == run) & ~mostly),
            ("intensifying", final & mostly & rising),
            ("diminishing", final & mostly & falling),
            ("persistent", final & mostly),
            ("sporadic", final & ~mostly & ~ever_other),
            ("oscillating", final & ~mostly & ever_other),
            ("historical", ~final & mostly & ~other[-1]),
        ]
        undecided = out == "no pattern detected"
        for name, rule in rules:
            pick = undecided & rule
            out[pick] = f"{name} {side} spot"
            undecided &= ~pick
    return out


@dataclass
class EmergingResult:
    """Per cell: category, trend and counts of hot and cold steps; and the settings used."""

    table: pd.DataFrame  # h3_cell, category, mk_tau, mk_p, n_steps_hot, n_steps_cold
    z: np.ndarray  # steps x cells
    steps: list[str]
    settings: dict = field(default_factory=dict)


def emerging_hot_spots(cube: np.ndarray, cells: list[str], steps: list[str], nb: Neighbours, *,
                       time_window: int = 1, correction: str = "fdr") -> EmergingResult:
    """Space-time Gi*, Mann-Kendall and categories for a cube of counts.

    Parameters
    ----------
    cube
        Counts, (steps x cells).
    cells
        The cells' H3 indexes.
    steps
        The steps' labels ("2024-05" or "2024-W19").
    nb
        The cells' spatial neighbours.
    time_window
        How many steps before and after each one are its neighbours in time.
    correction
        "fdr" (default), "bonferroni" or "none", over the cells of each step.

    Returns
    -------
    EmergingResult
        Per cell: category, trend (Mann-Kendall tau and p) and counts of hot and cold steps.
    """
    z = space_time_gi_star(cube, nb, time_window)
    p = 2 * special.ndtr(-np.abs(z))  # the normal upper tail, as stats.norm.sf computes it
    bins = confidence_bins(z.ravel(), p.ravel(), correction).reshape(z.shape)
    hot, cold = bins >= 1, bins <= -1
    trend = mann_kendall(z.T)
    category = categorise(hot, cold, trend["z"], trend["p"])
    table = pd.DataFrame({"h3_cell": cells, "category": category, "mk_tau": np.round(trend["tau"], 4),
                          "mk_p": np.round(trend["p"], 6), "n_steps_hot": hot.sum(axis=0),
                          "n_steps_cold": cold.sum(axis=0)})
    counts = table["category"].value_counts()
    settings = {"n_steps": len(steps), "first_step": steps[0], "last_step": steps[-1],
                "time_window": time_window, "correction": correction,
                "significance": "bins hot or cold at 90% confidence after the correction over all bins",
                "trend": f"Mann-Kendall on each cell's z-scores, significant at p < {TREND_P}",
                "categories": {c: int(counts.get(c, 0)) for c in CATEGORIES if counts.get(c, 0)}}
    return EmergingResult(table, z, steps, settings)
