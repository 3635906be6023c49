"""Kulldorff's space-time permutation scan statistic (the model of SaTScan), prospective or retrospective.

Cases are (location, day) pairs over a study window of ``n_days`` days. A
cylinder is a circle around a location (the zone: every location within a
radius) times a run of days (ending on the last day when prospective). Its
expected count comes from the margins alone, no population needed::

    expected = (cases in the zone, all days) x (cases on the days, all locations) / (all cases)

and its evidence is the Poisson generalised likelihood ratio (Kulldorff et al.
2005, PLoS Medicine 2(3): e59)::

    LLR = c ln(c / e) + (N - c) ln((N - c) / (N - e)),  for c > e

The most likely cluster maximises the LLR; its p-value is its rank among the
maxima of ``permutations`` data sets in which the case days are shuffled over
the cases (locations kept), ``p = rank / (permutations + 1)``. Secondary
clusters are the best cylinders of other centres that share no location with
an earlier one, judged against the same maxima (as SaTScan does).

The search (:func:`_centre_best`): each centre's neighbours are sorted by
distance once; growing the circle adds one neighbour's counts per time window,
and only when a tie group of equal distances closes is a zone evaluated. A
zone whose counts did not change since the last evaluation is skipped: with
the same observed count and a larger expected count its LLR can only be lower.
The Monte Carlo maxima are computed replication by replication in parallel
threads (numba), from permutations drawn in advance with one seeded
generator, so results do not depend on the number of threads.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numba
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from .. import defaults
from ..errors import ParameterError

__all__ = [
    "DEFAULT_SCAN",
    "ScanResult",
    "ScanSettings",
    "Zones",
    "build_zones",
    "expected_count",
    "poisson_llr",
    "scan",
    "time_windows",
]

#: SaTScan's largest spatial cluster: half the cases (the "population at risk" of this model).
MAX_SHARE = 0.5
#: The columns of :attr:`ScanResult.clusters` (after ``cluster_id``) and their types.
CLUSTER_DTYPES = {"centre": "int64", "end": "int64", "first_day": "int64", "last_day": "int64",
                  "n_locations": "int64", "radius_m": "float64", "observed": "int64", "expected": "float64",
                  "zone_cases": "int64", "llr": "float64", "p_value": "float64",
                  "recurrence_interval_days": "float64"}
#: The largest (locations x time windows) count table one permutation may fill (8 bytes each, per thread).
MAX_TABLE = 50_000_000
#: Permutations drawn per batch: bounds the memory of the Monte Carlo, not its result.
BATCH = 64


@dataclass(frozen=True)
class ScanSettings:
    """The scan's settings (defaults: Baltimore's Project SOON, 0.75 mile = 1,207 m).

    window_days: the study window; max_days: the longest cluster; max_radius_m:
    the largest circle; min_cases: the fewest cases a cluster may have;
    permutations / seed: the Monte Carlo; report_p: the largest p-value reported;
    retrospective: clusters may end on any day (default: on the last day).
    """

    window_days: int = defaults.WINDOW_DAYS.value
    max_days: int = defaults.MAX_DAYS.value
    max_radius_m: float = defaults.MAX_RADIUS_M.value
    min_cases: int = defaults.MIN_CASES.value
    permutations: int = defaults.SCAN_PERMUTATIONS.value
    seed: int = defaults.SEED.value
    report_p: float = defaults.REPORT_P.value
    retrospective: bool = False

    def check(self) -> ScanSettings:
        """Self, or a ParameterError naming the setting out of range."""
        if self.window_days < 2:
            raise ParameterError(f"`window_days` must be at least 2, not {self.window_days}")
        if not 1 <= self.max_days <= self.window_days:
            raise ParameterError(f"`max_days` must be between 1 and `window_days` ({self.window_days}), "
                                 f"not {self.max_days}")
        if not (self.max_radius_m > 0 and math.isfinite(self.max_radius_m)):
            raise ParameterError(f"`max_radius_m` must be a positive number of metres, not {self.max_radius_m}")
        if self.min_cases < 1:
            raise ParameterError(f"`min_cases` must be at least 1, not {self.min_cases}")
        if self.permutations < 9:
            raise ParameterError(f"`permutations` must be at least 9 (999 is usual), not {self.permutations}")
        if not 0 < self.report_p <= 1:
            raise ParameterError(f"`report_p` must be in (0, 1], not {self.report_p}")
        return self


DEFAULT_SCAN = ScanSettings()


@dataclass(frozen=True)
class Zones:
    """Every centre's circles: neighbours by distance (CSR), where tie groups close, cases inside.

    ``start[i]:start[i+1]`` indexes centre i's neighbours ``members`` (itself
    first) at ``distance``; ``closes[p]`` is True where the next neighbour is
    farther (a circle can stop there); ``cases[p]`` is the number of cases of
    the whole window in the circle through neighbour p.
    """

    start: np.ndarray
    members: np.ndarray
    distance: np.ndarray
    closes: np.ndarray
    cases: np.ndarray

    def members_of(self, centre: int, end: int) -> np.ndarray:
        """The locations of centre's circle that ends at position ``end``."""
        return self.members[self.start[centre]:end + 1]


def build_zones(x: np.ndarray, y: np.ndarray, location_cases: np.ndarray, max_radius_m: float,
                z: np.ndarray | None = None) -> Zones:
    """The circles around every location up to ``max_radius_m`` (x, y and, on a sphere, z in metres)."""
    xy = np.column_stack([x, y] if z is None else [x, y, z])
    lists = cKDTree(xy).query_ball_point(xy, r=max_radius_m)
    sizes = np.fromiter((len(v) for v in lists), dtype=np.int64, count=len(lists))
    start = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum(sizes, out=start[1:])
    members = np.fromiter((j for v in lists for j in v), dtype=np.int64, count=int(start[-1]))
    centre = np.repeat(np.arange(len(lists)), sizes)
    distance = np.sqrt(((xy[members] - xy[centre]) ** 2).sum(axis=1))
    order = np.lexsort((members, distance, centre))  # by centre, then distance (ties by index)
    members, distance = members[order], distance[order]
    closes = np.ones(len(members), dtype=bool)
    same_centre = centre[1:] == centre[:-1]
    closes[:-1] = ~(same_centre & (distance[1:] == distance[:-1]))
    cum = np.cumsum(location_cases[members])
    cases = cum - np.repeat(np.r_[0, cum][start[:-1]], sizes)
    return Zones(start, members, distance, closes, cases.astype(np.int64))


def time_windows(n_days: int, max_days: int, retrospective: bool) -> tuple[np.ndarray, np.ndarray]:
    """First and last day (inclusive indices) of every time window scanned."""
    if not retrospective:
        lengths = np.arange(1, max_days + 1)
        return n_days - lengths, np.full(max_days, n_days - 1)
    pairs = [(s, e) for e in range(n_days) for s in range(max(0, e - max_days + 1), e + 1)]
    first, last = np.array(pairs, dtype=np.int64).T
    return first, last


def expected_count(zone_cases: float, window_cases: float, n_cases: float) -> float:
    """Expected cases in a cylinder under the space-time permutation null."""
    return zone_cases * window_cases / n_cases


def poisson_llr(observed: float, expected: float, n_cases: float) -> float:
    """Kulldorff's log likelihood ratio of a cylinder with more cases than expected (else 0)."""
    return float(_llr(float(observed), float(expected), float(n_cases)))


@numba.njit(cache=True)
def _llr(c, e, n):  # pragma: no cover - compiled
    if c <= e:
        return 0.0
    out = c * math.log(c / e)
    if n - c > 0:
        out += (n - c) * math.log((n - c) / (n - e))
    return out


@numba.njit(cache=True)
def _window_counts(case_location, case_day, n_locations, first, last):  # pragma: no cover - compiled
    """Cases per location and time window, and whether a location has any in some window."""
    n_days = 0
    for d in case_day:
        n_days = max(n_days, d + 1)
    n_days = max(n_days, last.max() + 1)
    per_day = np.zeros((n_locations, n_days + 1), dtype=np.int64)
    for k in range(len(case_location)):
        per_day[case_location[k], case_day[k] + 1] += 1
    for j in range(n_locations):
        for d in range(n_days):
            per_day[j, d + 1] += per_day[j, d]
    counts = np.zeros((n_locations, len(first)), dtype=np.int64)
    active = np.zeros(n_locations, dtype=np.bool_)
    for j in range(n_locations):
        for w in range(len(first)):
            v = per_day[j, last[w] + 1] - per_day[j, first[w]]
            counts[j, w] = v
            if v > 0:
                active[j] = True
    return counts, active


@numba.njit(cache=True)
def _centre_best(i, start, members, closes, zone_cases, counts, active, window_cases, n_cases, min_cases,
                 max_zone_cases):  # pragma: no cover - compiled
    """Centre i's best cylinder: (llr, position where its circle ends, window, observed)."""
    n_windows = counts.shape[1]
    acc = np.zeros(n_windows, dtype=np.int64)
    seen = np.full(n_windows, -1, dtype=np.int64)
    best, best_end, best_window, best_obs = 0.0, -1, -1, 0
    changed = False
    for p in range(start[i], start[i + 1]):
        if zone_cases[p] > max_zone_cases:
            break
        j = members[p]
        if active[j]:
            for w in range(n_windows):
                acc[w] += counts[j, w]
            changed = True
        if not (closes[p] and changed):
            continue
        changed = False
        for w in range(n_windows):
            c = acc[w]
            if c < min_cases or c == seen[w]:
                continue  # too few, or as many as in a smaller circle (which had a lower expected count)
            seen[w] = c
            e = zone_cases[p] * window_cases[w] / n_cases
            if c > e:
                llr = _llr(float(c), e, float(n_cases))
                if llr > best:
                    best, best_end, best_window, best_obs = llr, p, w, c
    return best, best_end, best_window, best_obs


@numba.njit(cache=True)
def _all_centres(start, members, closes, zone_cases, counts, active, window_cases, n_cases, min_cases,
                 max_zone_cases):  # pragma: no cover - compiled
    n = len(start) - 1
    llr = np.zeros(n)
    end = np.full(n, -1, dtype=np.int64)
    window = np.full(n, -1, dtype=np.int64)
    observed = np.zeros(n, dtype=np.int64)
    for i in range(n):
        llr[i], end[i], window[i], observed[i] = _centre_best(i, start, members, closes, zone_cases, counts,
                                                              active, window_cases, n_cases, min_cases,
                                                              max_zone_cases)
    return llr, end, window, observed


@numba.njit(cache=True, parallel=True)
def _replication_maxima(days, case_location, n_locations, first, last, start, members, closes, zone_cases,
                        window_cases, n_cases, min_cases, max_zone_cases):  # pragma: no cover - compiled
    """The largest LLR of each permuted data set (one row of ``days`` each)."""
    out = np.zeros(days.shape[0])
    for r in numba.prange(days.shape[0]):
        counts, active = _window_counts(case_location, days[r], n_locations, first, last)
        top = 0.0
        for i in range(len(start) - 1):
            llr = _centre_best(i, start, members, closes, zone_cases, counts, active, window_cases, n_cases,
                               min_cases, max_zone_cases)[0]
            top = max(top, llr)
        out[r] = top
    return out


@dataclass
class ScanResult:
    """The clusters (most likely first) and what judged them.

    ``clusters``: cluster_id, centre (location index), end (position in
    ``zones``), first_day, last_day (day indices), n_locations, radius_m,
    observed, expected, llr, p_value, recurrence_interval_days.
    ``most_likely``: the best cylinder's row, reported or not (None when no
    cylinder has ``min_cases`` cases above expectation).
    """

    clusters: pd.DataFrame
    most_likely: dict | None
    null_maxima: np.ndarray
    zones: Zones
    settings: dict


def scan(case_location: np.ndarray, case_day: np.ndarray, x: np.ndarray, y: np.ndarray, n_days: int,
         settings: ScanSettings = DEFAULT_SCAN, *, z: np.ndarray | None = None) -> ScanResult:
    """Kulldorff's space-time permutation scan of cases at locations (x, y in metres) on days 0..n_days-1.

    Parameters
    ----------
    case_location, case_day
        Per case: the index of its location in ``x``/``y``, and its day (0 is the
        first day of the study window, ``n_days - 1`` the last).
    x, y, z
        Location coordinates in metres: a local projected CRS (``z`` None), or 3-D on a
        sphere as SaTScan places latitude/longitude (:func:`odgeo.scan.cases.satscan_xyz`),
        so that every circle holds the locations SaTScan's does.
    n_days
        The study window's length.
    settings
        See :class:`ScanSettings` (``window_days`` is not used here: ``n_days`` is the window).

    Returns
    -------
    ScanResult
        The clusters (most likely first) with observed and expected cases, LLR, p-value
        and recurrence interval in days, and the settings.
    """
    settings.check()
    loc = np.ascontiguousarray(case_location, dtype=np.int64)
    day = np.ascontiguousarray(case_day, dtype=np.int64)
    n_locations, n_cases = len(x), len(loc)
    if n_cases and (day.min() < 0 or day.max() >= n_days or loc.min() < 0 or loc.max() >= n_locations):
        raise ValueError("case days must lie in 0..n_days-1 and case locations index x/y")  # a caller's bug
    first, last = time_windows(n_days, settings.max_days, settings.retrospective)
    if len(first) * n_locations > MAX_TABLE:
        raise ParameterError(f"{len(first):,} time windows x {n_locations:,} locations is too large a table for "
                             "each permutation; lower `max_days` (or `window_days` with `retrospective`), or use "
                             "`locations` h3")
    zones = build_zones(np.asarray(x, float), np.asarray(y, float), np.bincount(loc, minlength=n_locations),
                        settings.max_radius_m, None if z is None else np.asarray(z, float))
    per_day = np.bincount(day, minlength=n_days)
    cum = np.r_[0, np.cumsum(per_day)]
    window_cases = (cum[last + 1] - cum[first]).astype(float)
    limit = MAX_SHARE * n_cases
    args = (zones.start, zones.members, zones.closes, zones.cases)
    counts, active = _window_counts(loc, day, n_locations, first, last)
    llr, end, window, observed = _all_centres(*args, counts, active, window_cases, n_cases, settings.min_cases,
                                              limit)
    rng = np.random.default_rng(settings.seed)
    maxima = np.zeros(settings.permutations)
    for b in range(0, settings.permutations, BATCH):
        size = min(BATCH, settings.permutations - b)
        days = rng.permuted(np.broadcast_to(day, (size, n_cases)), axis=1) if n_cases else np.zeros((size, 0),
                                                                                                    np.int64)
        maxima[b:b + size] = _replication_maxima(np.ascontiguousarray(days), loc, n_locations, first, last,
                                                 *args, window_cases, n_cases, settings.min_cases, limit)
    table = _clusters(llr, end, window, observed, zones, first, last, window_cases, n_cases, maxima,
                      settings, np.asarray(x, float), np.asarray(y, float))
    record = {**asdict(settings), "n_cases": int(n_cases), "n_locations": int(n_locations),
              "n_days": int(n_days), "n_time_windows": len(first), "n_zones": int(zones.closes.sum()),
              "max_share_of_cases": MAX_SHARE}
    best = _most_likely(llr, end, window, observed, zones, first, last, window_cases, n_cases, maxima)
    return ScanResult(table, best, maxima, zones, record)


def _p_value(llr: float, maxima: np.ndarray) -> float:
    return float((1 + np.count_nonzero(maxima >= llr - 1e-9 * max(1.0, llr))) / (len(maxima) + 1))


def _row(i, llr, end, window, observed, zones, first, last, window_cases, n_cases, maxima) -> dict:
    p = _p_value(llr[i], maxima)
    zone = zones.members_of(i, end[i])
    e = expected_count(zones.cases[end[i]], window_cases[window[i]], n_cases)
    return {"centre": int(i), "end": int(end[i]), "first_day": int(first[window[i]]),
            "last_day": int(last[window[i]]), "n_locations": len(zone), "radius_m": float(zones.distance[end[i]]),
            "observed": int(observed[i]), "expected": float(e), "zone_cases": int(zones.cases[end[i]]),
            "llr": float(llr[i]), "p_value": p, "recurrence_interval_days": 1.0 / p}


def _most_likely(llr, end, window, observed, zones, first, last, window_cases, n_cases, maxima) -> dict | None:
    if not len(llr) or llr.max() <= 0:
        return None
    i = int(np.argmax(llr))
    return _row(i, llr, end, window, observed, zones, first, last, window_cases, n_cases, maxima)


def _clusters(llr, end, window, observed, zones, first, last, window_cases, n_cases, maxima, settings,
              x, y) -> pd.DataFrame:
    """The most likely cluster and the secondary ones sharing no location with a better one, p <= report_p."""
    used = np.zeros(len(llr), dtype=bool)
    rows = []
    for i in np.argsort(-llr, kind="stable"):
        if llr[i] <= 0 or _p_value(llr[i], maxima) > settings.report_p:
            break
        zone = zones.members_of(i, end[i])
        if used[zone].any():
            continue
        used[zone] = True
        rows.append(_row(i, llr, end, window, observed, zones, first, last, window_cases, n_cases, maxima))
    table = pd.DataFrame(rows, columns=list(CLUSTER_DTYPES)).astype(CLUSTER_DTYPES)  # typed when empty too
    table.insert(0, "cluster_id", np.arange(1, len(table) + 1))
    return table
