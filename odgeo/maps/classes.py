"""Class breaks for choropleth maps, as mapclassify (PySAL's classification library) makes them.

Quantiles (the default) give each class about as many areas; natural breaks
(Fisher-Jenks, as ArcGIS's default "Natural Breaks (Jenks)") minimise the
variance within classes. Counts are whole numbers, so classes are labelled
as ranges of whole numbers ("10-24").
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..hexes import cells_area_km2
from ..vocabulary import CLASSIFIERS

__all__ = ["CLASSIFIERS", "DEFAULT_CLASSES", "HexMeasure", "class_breaks", "class_labels", "hex_measure",
           "quantile_bins"]

DEFAULT_CLASSES = 5
#: Fisher-Jenks is exact but quadratic in pure Python; above this many values it runs
#: on a fixed-seed sample (mapclassify's FisherJenksSampled).
_JENKS_EXACT_MAX = 1500


def class_breaks(values: np.ndarray, method: str = "quantiles", k: int = DEFAULT_CLASSES) -> list[float]:
    """Upper bounds of up to ``k`` classes (the last is the maximum); fewer when values repeat."""
    if method not in CLASSIFIERS:
        raise ValueError(f"classes must be one of {', '.join(CLASSIFIERS)}, not {method!r}")
    y = np.asarray(values, dtype=float)
    y = y[np.isfinite(y)]
    if y.size == 0:
        return [1.0]
    distinct = np.unique(y)
    if len(distinct) <= k:
        return [float(v) for v in distinct]
    if method == "quantiles":
        return [float(b) for b in quantile_bins(y, k)]
    import mapclassify  # only here: importing it compiles numba code, over a second at every run

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "not enough unique values"
        if len(y) <= _JENKS_EXACT_MAX:
            bins = mapclassify.FisherJenks(y, k=k).bins
        else:
            state = np.random.get_state()
            np.random.seed(0)  # FisherJenksSampled samples with numpy's global generator
            try:
                bins = mapclassify.FisherJenksSampled(y, k=k, pct=_JENKS_EXACT_MAX / len(y)).bins
            finally:
                np.random.set_state(state)
    return [float(b) for b in np.unique(bins)]


def quantile_bins(y: np.ndarray, k: int) -> np.ndarray:
    """Mapclassify's ``Quantiles(y, k).bins``, computed as it does, without importing it.

    The upper bound of each of ``k`` equal-count classes (scipy's ``scoreatpercentile``
    at 100/k, 200/k ... 100, its arithmetic repeated here: scipy.stats takes a second
    to import), repeated bounds collapsed.
    """
    w = 100.0 / k
    p = np.arange(w, 100 + w, w)
    if p[-1] > 100.0:
        p[-1] = 100.0
    ordered = np.sort(np.asarray(y))
    return np.unique(np.array([_score_at_percentile(ordered, pct) for pct in p]))


def _score_at_percentile(ordered: np.ndarray, per: float) -> float:
    """scipy.stats.scoreatpercentile of sorted values, interpolation "fraction", as scipy computes it."""
    if ordered.size == 0:
        return np.nan
    idx = per / 100.0 * (ordered.shape[0] - 1)
    i = int(idx)
    if i == idx:
        return np.add.reduce(ordered[i : i + 1] * np.array(1)) / 1.0
    weights = np.array([(i + 1 - idx), (idx - i)], float)
    return np.add.reduce(ordered[i : i + 2] * weights) / weights.sum()


def class_labels(values: np.ndarray, breaks: list[float], *, whole: bool = True) -> list[str]:
    """"a-b" per class (the first class starts at the smallest value).

    ``whole``: counts, labelled as ranges of whole numbers ("10-24"); else rates, with two
    significant decimals under 1 ("0.04-2.5", each class from the bound of the one before).
    """
    y = np.asarray(values, dtype=float)
    y = y[np.isfinite(y)]
    low = float(y.min()) if y.size else 0.0
    labels = []
    if not whole:
        for upper in breaks:
            labels.append(f"{_rate(low)}–{_rate(upper)}")
            low = upper
        return labels
    for upper in breaks:
        lo, hi = int(np.ceil(low)), int(np.floor(upper))
        labels.append(f"{lo:,}" if lo >= hi else f"{lo:,}–{hi:,}")
        low = np.floor(upper) + 1
    return labels


def _rate(value: float) -> str:
    return f"{value:.2f}" if value < 1 else f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


@dataclass(frozen=True)
class HexMeasure:
    """What a hexagon map colours: the count, or the count per km² where areas differ in size.

    A public map merges small hexagons into coarser ones (an H3 parent is 7 times its child):
    drawn by count, a merged area of 15 in 36 km² would look as bad as a block of 15 in 0.7 km².
    """

    per_km2: np.ndarray | None  # each area's km², or None: counts as they are
    unit: str  # the legend's words
    whole: bool  # counts (whole numbers) or rates

    def of(self, counts: np.ndarray) -> np.ndarray:
        """The values drawn for ``counts`` (one per area, or areas x periods)."""
        counts = np.asarray(counts, dtype=float)
        if self.per_km2 is None:
            return counts
        return counts / (self.per_km2 if counts.ndim == 1 else self.per_km2[:, None])


def hex_measure(hexes) -> HexMeasure:
    """:class:`HexMeasure` of a hexagon layer: per km² when its areas are of more than one H3 resolution."""
    sizes = hexes.get("h3_resolution")
    if sizes is None or sizes.nunique() <= 1:
        return HexMeasure(None, "Overdoses per area", True)
    return HexMeasure(cells_area_km2(hexes["h3_cell"]), "Overdoses per km² (areas of several sizes)", False)
