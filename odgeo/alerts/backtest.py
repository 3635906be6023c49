"""Replaying the alert methods day by day over the history, with synthetic spikes planted into it.

For every day of the daily series (as the job would have run at the end of
that day) each method's alarm is computed from the days before only; an
alert is *new* on a day in alarm after a day without. Reported per method:
new alerts per month on the real data (areas and ``all``), and, with seeded
synthetic spikes (``size`` extra incidents in one area over one or two days,
in days where the real series has no alarm of that method around them), the
share detected within ``horizon`` days of the spike's first day and the
median days to detection.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .ears import DEFAULT_MIN_SD, DEFAULT_Z, ears
from .spikes import ThresholdRule, thresholds

__all__ = ["DEFAULT_SPIKE_SIZES", "Backtest", "alarms", "backtest"]

DEFAULT_SPIKE_SIZES = (3, 5, 10)
#: A spike counts as detected when a method alarms within this many days of its first day.
DETECTION_HORIZON = 2
SPIKES_PER_SIZE = 200


@dataclass(frozen=True)
class Backtest:
    """The table (one row per method and spike size) and its settings."""

    table: pd.DataFrame
    settings: dict


def alarms(counts: np.ndarray, method: str, *, rule: ThresholdRule, fixed: int | None, ears_z: dict[str, float],
           min_sd: float) -> np.ndarray:
    """Each day's alarm (days x series) of ``method`` ("threshold" or "ears_c1" ...) from the days before."""
    if method == "threshold":
        limit = np.full(counts.shape, fixed) if fixed is not None else thresholds(counts, rule)
        out = counts >= limit
        out[: min(rule.baseline_days, len(counts)) if fixed is None else 0] = False  # no history yet
        return out
    name = method.removeprefix("ears_")
    return ears(counts, name, z=ears_z.get(name, DEFAULT_Z[name]), min_sd=min_sd).alarm


def backtest(counts: np.ndarray, n_areas: int, methods: tuple[str, ...], *, rule: ThresholdRule,
             fixed: int | None = None, ears_z: dict[str, float] | None = None, min_sd: float = DEFAULT_MIN_SD,
             sizes: tuple[int, ...] = DEFAULT_SPIKE_SIZES, n_spikes: int = SPIKES_PER_SIZE, seed: int = 0) -> Backtest:
    """Alerts per month and spike detection per method; ``counts`` is days x (areas + all)."""
    ears_z = ears_z or {}
    n_days = len(counts)
    months = n_days / (365.25 / 12)
    warmup = max(rule.baseline_days, 12) + 1
    rng = np.random.default_rng(seed)
    active = np.flatnonzero(counts[:, :n_areas].sum(axis=0) > 0)
    rows = []
    for method in methods:
        alarm = alarms(counts, method, rule=rule, fixed=fixed, ears_z=ears_z, min_sd=min_sd)
        new = alarm & ~np.vstack([np.zeros((1, alarm.shape[1]), bool), alarm[:-1]])
        per_month = new.sum() / months if months else 0.0
        per_area = new[:, :n_areas].sum(axis=0) / months if months else np.zeros(n_areas)
        for size in sizes:
            found, delays, skipped = _plant(counts, alarm, active, method, size, n_spikes, warmup, rng,
                                            rule=rule, fixed=fixed, ears_z=ears_z, min_sd=min_sd)
            rows.append({"method": method, "spike_size": size, "alerts_per_month": round(float(per_month), 2),
                         "alerts_per_month_all": round(float(new[:, n_areas].sum() / months), 2) if months else 0.0,
                         "alerts_per_area_month_max": round(float(per_area.max(initial=0)), 2),
                         "n_spikes": len(found),
                         "detected_share": round(float(np.mean(found)), 3) if found else None,
                         "median_days_to_detection": float(np.median(delays)) if delays else None,
                         "n_spikes_skipped": skipped})
    settings = {"n_days": n_days, "months": round(months, 1), "spike_sizes": list(sizes),
                "spikes_per_size": n_spikes, "detection_horizon_days": DETECTION_HORIZON, "seed": seed,
                "spike_days": "a spike's incidents fall on one day or two consecutive days (drawn)",
                "skipped": "planting days where the real series already alarms within the horizon"}
    return Backtest(pd.DataFrame(rows), settings)


def _plant(counts, alarm, active, method, size, n_spikes, warmup, rng, **kw):
    """Plant ``n_spikes`` spikes of ``size`` one at a time; (detected flags, days to detection, skipped)."""
    found: list[bool] = []
    delays: list[int] = []
    skipped = 0
    n_days = len(counts)
    if not len(active) or n_days <= warmup + DETECTION_HORIZON:
        return found, delays, 0
    tries = 0
    while len(found) < n_spikes and tries < 20 * n_spikes:
        tries += 1
        area = int(rng.choice(active))
        day = int(rng.integers(warmup, n_days - DETECTION_HORIZON))
        if alarm[day: day + DETECTION_HORIZON + 1, area].any():
            skipped += 1
            continue
        first = int(rng.integers(0, size + 1)) if rng.random() < 0.5 else size  # one day, or split over two
        lo = max(0, day - warmup)
        piece = counts[lo: day + DETECTION_HORIZON + 1, area].astype(np.int64).copy()
        piece[day - lo] += first
        piece[day - lo + 1] += size - first
        fired = alarms(piece[:, None], method, **kw)[day - lo:, 0]
        hit = np.flatnonzero(fired)
        found.append(bool(len(hit)))
        if len(hit):
            delays.append(int(hit[0]))
    return found, delays, skipped
