"""Spike alerts for one reference time: daily series per area, ODMAP-style count thresholds, EARS.

The days are 24-hour periods ending at the reference time ``as_of`` and every
whole day before it (wall-clock time of the incidents' time zone), so the last
day is exactly the alert window. An incident without a time of day (stored at
midnight) is placed at noon of its date: it counts in the day holding that
noon, and when ``as_of`` is not a midnight it is left out of the 24-hour
window, which it may or may not belong to.

**Threshold alerts** (ODMAP's spike alert): the incidents of an area in the
window reach the area's threshold. The recommended threshold is the highest
daily count of the 90 days before the window, never below 3
(:class:`ThresholdRule`; ODMAP describes its own as a daily count reached about
three times in the last 30 days, which the backtest on the real data found to
fire 2 to 4 times as often for the same spikes detected: docs/alerts.md). **Neighbour alerts** go to the
areas next to one in threshold alert. **EARS** C1/C2/C3 (:mod:`odgeo.alerts.ears`)
alarm on the last day's count.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from ..incidents.dates import shift_days, wall_clock
from .areas import ALL_AREAS, AlertAreas
from .ears import DEFAULT_MIN_SD, DEFAULT_Z, ears

__all__ = ["ALERT_COLUMNS", "ALERT_KINDS", "DailySeries", "ThresholdRule", "alert_row", "current_alerts",
           "daily_series", "thresholds"]

ALERT_KINDS = ("threshold", "neighbour", "ears", "scan")


@dataclass(frozen=True)
class ThresholdRule:
    """The recommended threshold: the ``rank``-th highest daily count of the ``baseline_days`` before, >= ``floor``.

    The defaults were chosen with ``odgeo alerts --backtest`` on the real data (docs/alerts.md).
    """

    rank: int = 1
    baseline_days: int = 90
    floor: int = 3

    def describe(self) -> str:
        """The rule in words."""
        which = "the highest" if self.rank == 1 else f"the {_ordinal(self.rank)} highest"
        return (f"{which} daily count of the {self.baseline_days} days before the window, and never below "
                f"{self.floor}: the window must match the area's worst day of the period")


@dataclass
class DailySeries:
    """Daily counts per area, oldest day first; the last day is the 24-hour window ending at ``as_of``."""

    counts: np.ndarray  # (days, areas + 1): every area, then "all"
    names: list[str]
    day_ends: pd.DatetimeIndex  # tz-aware end of each day
    window: np.ndarray  # incidents in the 24-hour window per series (without times of day when as_of is not midnight)
    n_without_time_in_window: int  # incidents without a time of day left out of the window

    @property
    def days(self) -> list[str]:
        """Each day as a date: the day its 24 hours end in (midnight ends count for the day before)."""
        return [d.strftime("%Y-%m-%d") for d in (self.day_ends - pd.Timedelta(1, "ns"))]


def daily_series(times: pd.Series, areas: AlertAreas, as_of: pd.Timestamp, *, window_hours: float = 24
                 ) -> DailySeries:
    """Count the incidents per area and day, the last day being the window ending at ``as_of``.

    Incidents without a time of day count in the window only when it is the day
    ending at a midnight ``as_of``.

    Parameters
    ----------
    times
        The incidents' times (tz-aware), all at or before ``as_of``, in the order of
        ``areas.members``' incident index.
    areas
        The watched areas and which incidents each holds.
    as_of
        The end of the last window (tz-aware).
    window_hours
        The length of the alert window in hours (24: the day ending at ``as_of``).

    Returns
    -------
    DailySeries
        Counts (days x areas, then "all"), the days' ends and the window's counts.
    """
    local = times.dt.tz_localize(None)
    end = as_of.tz_localize(None)
    date_only = (local == local.dt.normalize()).to_numpy()
    placed = local + pd.to_timedelta(np.where(date_only, 12, 0), unit="h")
    back = np.floor((end - placed).to_numpy(dtype="timedelta64[ns]") / np.timedelta64(1, "D")).astype(np.int64)
    back = np.maximum(back, 0)  # a date-only incident of as_of's own date, after a non-midnight as_of
    n_days = int(back.max(initial=0)) + 1
    day = n_days - 1 - back
    n_areas = len(areas.names)
    counts = np.zeros((n_days, n_areas + 1), dtype=np.int64)
    who, where = areas.members
    np.add.at(counts, (day[who], where), 1)
    counts[:, n_areas] = np.bincount(day, minlength=n_days)
    age = (end - local).to_numpy(dtype="timedelta64[ns]")
    in_window = (age >= np.timedelta64(0)) & (age < np.timedelta64(int(window_hours * 3600e9), "ns"))
    if window_hours == 24 and end == end.normalize():
        in_window = (back == 0) | (in_window & ~date_only)
        left_out = np.zeros_like(in_window)
    else:
        left_out = (back == 0) & date_only
        in_window = in_window & ~date_only
    window = np.zeros(n_areas + 1, dtype=np.int64)
    np.add.at(window, where[in_window[who]], 1)
    window[n_areas] = int(in_window.sum())
    ends = wall_clock(end - pd.to_timedelta(np.arange(n_days - 1, -1, -1), unit="D"), as_of.tz)
    return DailySeries(counts, [*areas.names, ALL_AREAS], ends, window, int(left_out.sum()))


def thresholds(counts: np.ndarray, rule: ThresholdRule) -> np.ndarray:
    """The recommended threshold of every day and series, from the days before each day.

    Parameters
    ----------
    counts
        Daily counts, (days x series).
    rule
        The rank, baseline days and floor of the threshold.

    Returns
    -------
    numpy.ndarray
        (days x series) thresholds, each at least ``rule.floor``.
    """
    n = len(counts)
    out = np.full(counts.shape, rule.floor, dtype=np.int64)
    if n <= 1:
        return out
    days = min(rule.baseline_days, n - 1)
    rank = min(rule.rank, days)
    windows = sliding_window_view(counts[:-1], days, axis=0)  # windows[i]: days i .. i+days-1, for day i+days
    kth = np.partition(windows, days - rank, axis=-1)[..., days - rank]
    out[days:] = np.maximum(rule.floor, kth)
    for t in range(1, days):  # the first days, with a shorter history
        rank_t = min(rule.rank, t)
        out[t] = np.maximum(rule.floor, np.sort(counts[:t], axis=0)[t - rank_t])
    return out


def current_alerts(series: DailySeries, areas: AlertAreas, *, rule: ThresholdRule | None, fixed: int | None,
                   methods: tuple[str, ...], ears_z: dict[str, float] | None = None,
                   min_sd: float = DEFAULT_MIN_SD) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """The alerts of the last day, each area's threshold and its derivation, and every EARS score.

    Parameters
    ----------
    series
        From :func:`daily_series`.
    areas
        The watched areas (their neighbours give the ``neighbour`` alerts).
    rule
        The recommended threshold's rule (None when ``fixed`` is given).
    fixed
        One threshold for every area instead of ``rule`` (None: use ``rule``).
    methods
        EARS methods to run ("c1", "c2", "c3"; empty: none).
    ears_z
        The z threshold per method (default: CDC's, :data:`DEFAULT_Z`).
    min_sd
        The smallest standard deviation EARS divides by (counts of overdoses are small).

    Returns
    -------
    alerts : pandas.DataFrame
        One row per alert: ``area``, ``kind``, ``window_start``, ``window_end``, ``count``,
        ``threshold_or_expected``, ``related_areas``.
    thresholds : dict
        Each series' threshold and how it was derived.
    ears : pandas.DataFrame
        Every series' EARS score, upper bound and alarm for every day.
    """
    counts = series.counts
    n_areas = len(areas.names)
    if fixed is not None:
        limit = np.full(counts.shape[1], int(fixed), dtype=np.int64)
        derivation = {name: {"threshold": int(fixed), "rule": "given (--threshold)"} for name in series.names}
    else:
        assert rule is not None
        limit = thresholds(counts, rule)[-1]
        derivation = _derivations(counts, series.names, limit, rule)
    rows: list[dict] = []
    end = series.day_ends[-1]
    start = shift_days(end, -1)
    in_alert = np.flatnonzero(series.window >= limit).tolist()
    for s in in_alert:
        rows.append(alert_row(series.names[s], "threshold", start, end, series.window[s], float(limit[s])))
    alerted = {int(s) for s in in_alert if s < n_areas}
    sources: dict[int, list[str]] = {}
    for s in sorted(alerted):
        for nb in areas.neighbours.get(s, set()):
            if nb not in alerted:
                sources.setdefault(nb, []).append(series.names[s])
    for nb, names in sorted(sources.items()):
        rows.append(alert_row(series.names[nb], "neighbour", start, end, series.window[nb], float(limit[nb]),
                         related=", ".join(names)))
    tables = []
    alarms: dict[int, list[tuple[str, float]]] = {}  # series -> (method, upper bound) of each alarm
    for method in methods:
        z = (ears_z or {}).get(method, DEFAULT_Z[method])
        result = ears(counts, method, z=z, min_sd=min_sd)
        for s in np.flatnonzero(result.alarm[-1]).tolist():
            alarms.setdefault(s, []).append((method.upper(), float(result.upper_bound[-1, s])))
        tables.append(_ears_table(series, method, result))
    rows.extend(_ears_alert(series.names[s], found, start, end, counts[-1, s]) for s, found in sorted(alarms.items()))
    alerts = pd.DataFrame(rows, columns=ALERT_COLUMNS)
    return alerts, derivation, (pd.concat(tables, ignore_index=True) if tables else _ears_table(series, "c1", None))


#: The columns of an alerts table before the history adds its id, status and dates.
ALERT_COLUMNS = ["area", "kind", "methods", "window_start", "window_end", "count", "threshold_or_expected",
                 "related_areas"]


def alert_row(area: str, kind: str, start, end, count, limit: float | None, related: str = "",
              methods: str = "") -> dict:
    """One row of an alerts table (before the history gives it an id and a status)."""
    return {"area": area, "kind": kind, "methods": methods, "window_start": start, "window_end": end,
            "count": int(count), "threshold_or_expected": limit, "related_areas": related}


def _ears_alert(area: str, found: list[tuple[str, float]], start, end, count) -> dict:
    """One ``ears`` alert for an area and day, however many methods alarmed.

    Its bound is the lowest the day's count exceeded (a C3 with no bound, which any count
    raises, leaves the others'; empty when C3 alone alarmed so).
    """
    bounds = [b for _, b in found if np.isfinite(b)]
    return alert_row(area, "ears", start, end, count, round(min(bounds), 3) if bounds else None,
                     methods=", ".join(m for m, _ in found))


def _derivations(counts: np.ndarray, names: list[str], limit: np.ndarray, rule: ThresholdRule) -> dict:
    """Per series: the threshold and the figures it came from (for run.json)."""
    days = min(rule.baseline_days, len(counts) - 1)
    history = counts[len(counts) - 1 - days: len(counts) - 1]
    out = {}
    for s, name in enumerate(names):
        ranked = np.sort(history[:, s])[::-1]
        kth = int(ranked[min(rule.rank, days) - 1]) if days else 0
        out[name] = {"threshold": int(limit[s]), "rule": "recommended", "baseline_days": int(days),
                     "kth_highest_daily_count": kth, "rank": rule.rank, "floor": rule.floor,
                     "days_reaching_threshold": int((history[:, s] >= limit[s]).sum())}
    return out


def _ears_table(series: DailySeries, method: str, result) -> pd.DataFrame:
    """ears.csv rows: every series and scored day."""
    columns = ["area", "date", "count", "method", "baseline_mean", "baseline_sd", "upper_bound", "alarm"]
    if result is None:
        return pd.DataFrame(columns=columns)
    days = np.asarray(series.days)
    scored = np.flatnonzero(~np.isnan(result.baseline_mean[:, 0]))
    n_series = len(series.names)
    return pd.DataFrame({
        "area": np.tile(series.names, len(scored)),
        "date": np.repeat(days[scored], n_series),
        "count": series.counts[scored].ravel(),
        "method": method.upper(),
        "baseline_mean": np.round(result.baseline_mean[scored].ravel(), 6),
        "baseline_sd": np.round(result.baseline_sd[scored].ravel(), 6),
        "upper_bound": np.round(result.upper_bound[scored].ravel(), 6),
        "alarm": result.alarm[scored].ravel(),
    }, columns=columns)


def rule_record(rule: ThresholdRule) -> dict:
    """The rule's settings for run.json."""
    return {**asdict(rule), "in_words": rule.describe()}


def _ordinal(n: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(n, f"{n}th")
