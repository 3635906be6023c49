"""CDC's Early Aberration Reporting System (EARS) C1, C2 and C3 on daily counts.

Every series is a column of a (days x series) array of counts, every day
included (days without incidents are zeros). For day t:

- **C1**: baseline = the ``baseline`` (7) days t-7 .. t-1;
- **C2**: the same number of days after a 2-day guard band, t-9 .. t-3;
- both: mean m and sample standard deviation s (n - 1) of the baseline,
  s' = max(s, ``min_sd``), score = (y_t - m) / s', upper bound = m + z s',
  alarm when y_t exceeds the upper bound (default z = 3);
- **C3**: the sum of max(0, C2 score - 1) over t-2, t-1 and t, alarm when the
  sum exceeds z (default 2). Its upper bound is the smallest count of day t
  that would alarm given the two days before: m + s' (1 + z - earlier parts);
  when the two days before alone exceed z it is empty (NaN): any count alarms.

A zero-SD baseline with ``min_sd`` 0 gives upper bound = m: any count above the
baseline's constant value alarms (score +inf), a count equal to it scores 0.

C1 and C2 equal R's ``surveillance::earsC`` (``alpha = 1 - pnorm(z)``,
``minSigma = min_sd``). earsC's C3 differs: its alarm compares only the two
earlier days' parts with z and ignores day t itself (its upper bound is
``y_t + s' (z - earlier parts)``), so a one-day spike never raises its C3 on the
spike day; odgeo follows the published definition above (docs/alerts.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .. import defaults
from ..vocabulary import EARS_METHODS

__all__ = ["BASELINE_DAYS", "DEFAULT_MIN_SD", "DEFAULT_Z", "EARS_METHODS", "EarsResult", "ears", "first_day"]

BASELINE_DAYS = 7
#: CDC's thresholds: 3 standard deviations for C1 and C2, a C3 sum of 2.
DEFAULT_Z = {"c1": defaults.EARS_Z.value, "c2": defaults.EARS_Z.value, "c3": 2.0}
DEFAULT_MIN_SD = defaults.EARS_MIN_SD.value
_GUARD = {"c1": 0, "c2": 2, "c3": 2}


@dataclass(frozen=True)
class EarsResult:
    """Per day and series (NaN before the first day the method can be computed)."""

    method: str
    baseline_mean: np.ndarray
    baseline_sd: np.ndarray  # the sample SD itself (before min_sd)
    upper_bound: np.ndarray
    score: np.ndarray  # C1/C2: (y - m) / s'; C3: the sum of the three days' parts
    alarm: np.ndarray  # bool; False where not computed


def first_day(method: str, baseline: int = BASELINE_DAYS) -> int:
    """The first day index a method can score (R's earsC range starts here too, 1-based + 1)."""
    return baseline + _GUARD[method] + (2 if method == "c3" else 0)


def ears(counts: np.ndarray, method: str, *, z: float | None = None, min_sd: float = DEFAULT_MIN_SD,
         baseline: int = BASELINE_DAYS) -> EarsResult:
    """EARS ``method`` ("c1", "c2", "c3") on ``counts`` (days x series, or one series)."""
    if method not in EARS_METHODS:
        raise ValueError(f"method must be one of {EARS_METHODS}, not {method!r}")
    if baseline < 3:
        raise ValueError("the EARS baseline needs at least 3 days")
    if min_sd < 0:
        raise ValueError("min_sd must be at least 0")
    y = np.asarray(counts, dtype=float)
    single = y.ndim == 1
    y = y.reshape(len(y), -1)
    z = DEFAULT_Z[method] if z is None else float(z)
    mean, sd = _baseline(y, baseline, _GUARD[method])
    spread = np.maximum(sd, min_sd)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(y == mean, 0.0, (y - mean) / spread)
    if method == "c3":
        part = np.maximum(0.0, score - 1.0)
        earlier = np.full_like(part, np.nan)
        earlier[2:] = part[:-2] + part[1:-1]
        total = earlier + part
        with np.errstate(invalid="ignore"):  # an infinite earlier part (zero SD) times a zero spread
            upper = np.where(earlier <= z, mean + spread * (1.0 + z - earlier), np.nan)
        alarm = total > z
        score = total
    else:
        upper = mean + z * spread
        alarm = y > upper
    start = min(first_day(method, baseline), len(y))
    for values in (mean, sd, upper, score):
        values[:start] = np.nan
    alarm = np.where(np.isnan(score), False, alarm)
    alarm[:start] = False
    if single:
        mean, sd, upper, score, alarm = (a[:, 0] for a in (mean, sd, upper, score, alarm))
    return EarsResult(method, mean, sd, upper, score, alarm)


def _baseline(y: np.ndarray, days: int, guard: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample SD of the ``days`` days ending ``guard + 1`` days before each day (NaN where short)."""
    n = len(y)
    mean = np.full(y.shape, np.nan)
    sd = np.full(y.shape, np.nan)
    lag = days + guard  # the window for day t is t - lag .. t - guard - 1
    if n > lag:
        windows = sliding_window_view(y[: n - guard - 1], days, axis=0)  # windows[i] = y[i : i + days]
        mean[lag:] = windows.mean(axis=-1)
        sd[lag:] = windows.std(axis=-1, ddof=1)
    return mean, sd
