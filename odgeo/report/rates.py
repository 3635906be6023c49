"""Rates and their intervals, change between two periods, trend, and each rate's reliability label.

The formulas are the published ones, and the tests check each against R: the crude rate's exact
Poisson (Garwood) interval (``poisson.test``), the direct age-adjusted rate with Fay and Feuer's
gamma interval (``epitools::ageadjust.direct``), the rate ratio's exact conditional test
(``poisson.test`` on two counts and person-times) and the annual percent change of a log-linear
Poisson fit (``glm``). docs/report.md says where each rule comes from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special  # not scipy.stats: its import costs about a second on every run

from ..errors import ParameterError

__all__ = ["RELIABILITY", "US_2000_STANDARD", "Change", "Trend", "age_adjusted_rate", "annual_percent_change",
           "crude_rates", "poisson_interval", "rate_ratio", "reliability"]

#: The US 2000 standard population (NCHS, 11 age groups, per million), the weights of age-adjusted rates.
US_2000_STANDARD = pd.Series(
    [13_818, 55_317, 145_565, 138_646, 135_573, 162_613, 134_834, 87_247, 66_037, 44_842, 15_508],
    index=["0", "1-4", "5-14", "15-24", "25-34", "35-44", "45-54", "55-64", "65-74", "75-84", "85+"],
    name="standard_population")
#: Labels of a published rate, most serious first: suppressed (count under min_count, NCHS 1–9),
#: unreliable (95% interval wider than 160% of the rate, NCHS 2023), unstable (20 or fewer, WISQARS).
RELIABILITY = ("suppressed", "unreliable", "unstable", "reliable")
UNSTABLE_AT_MOST = 20
UNRELIABLE_WIDTH = 1.6


def poisson_interval(count, *, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """The exact (Garwood) interval of a Poisson count: chi-square quantiles of 2x and 2x + 2 degrees, halved.

    Parameters
    ----------
    count : int or array of int
        Observed counts (0 gives a lower bound of 0).
    confidence : float, default 0.95

    Returns
    -------
    (low, high) : arrays of float
        The interval of the expected count; divide by the person-time for a rate's.
    """
    x = np.asarray(count, dtype=float)
    alpha = 1 - confidence
    # chi2.ppf(q, 2k) / 2 is the inverse of the regularised incomplete gamma function of k at q
    low = np.where(x > 0, special.gammaincinv(np.maximum(x, 1e-300), alpha / 2), 0.0)
    high = special.gammaincinv(x + 1, 1 - alpha / 2)
    return low, high


def crude_rates(count, population, *, per: float = 100_000, confidence: float = 0.95) -> pd.DataFrame:
    """Crude rates per ``per`` people with their exact Poisson intervals.

    Parameters
    ----------
    count, population : arrays
        Events and residents (person-years for one year) of each area or period.
    per : float, default 100,000
    confidence : float, default 0.95

    Returns
    -------
    DataFrame
        ``count``, ``population``, ``rate``, ``rate_low``, ``rate_high``; rates are missing where the
        population is missing or not positive.
    """
    x = np.asarray(count, dtype=float)
    pop = np.asarray(population, dtype=float)
    known = np.isfinite(pop) & (pop > 0)
    scale = np.where(known, per / np.where(known, pop, 1), np.nan)
    low, high = poisson_interval(x, confidence=confidence)
    return pd.DataFrame({"count": x.astype(np.int64), "population": pop, "rate": x * scale,
                         "rate_low": low * scale, "rate_high": high * scale})


def age_adjusted_rate(count, population, *, standard: pd.Series | np.ndarray = US_2000_STANDARD,
                      per: float = 100_000, confidence: float = 0.95) -> dict[str, float]:
    """The direct age-adjusted rate with Fay and Feuer's gamma interval (``epitools::ageadjust.direct``).

    Parameters
    ----------
    count, population : arrays
        Events and residents of each age group, in the order of ``standard``.
    standard : Series or array, default the US 2000 standard population
        The standard population of each age group (only the proportions matter).
    per : float, default 100,000
    confidence : float, default 0.95

    Returns
    -------
    dict
        ``crude_rate``, ``adjusted_rate``, ``adjusted_low``, ``adjusted_high`` per ``per``.

    Raises
    ------
    ParameterError
        If the groups differ in number or an age group has no residents.
    """
    x = np.asarray(count, dtype=float)
    n = np.asarray(population, dtype=float)
    weights = np.asarray(standard, dtype=float)
    if not (len(x) == len(n) == len(weights)):
        raise ParameterError(f"`population_by_age`: {len(n)} age groups of residents and {len(x)} of counts, "
                             f"but the standard population has {len(weights)}")
    if (n <= 0).any() or not np.isfinite(n).all():
        raise ParameterError("`population_by_age`: an age group has no residents; merge it with its neighbour")
    w = weights / weights.sum()
    rate = float((w * x / n).sum())
    variance = float((w ** 2 * x / n ** 2).sum())
    w_max = float((w / n).max())
    alpha = 1 - confidence
    low = special.gammaincinv(rate ** 2 / variance, alpha / 2) * (variance / rate) if rate > 0 else 0.0
    shape_high = (rate + w_max) ** 2 / (variance + w_max ** 2)
    high = special.gammaincinv(shape_high, 1 - alpha / 2) * (variance + w_max ** 2) / (rate + w_max)
    return {"crude_rate": float(x.sum() / n.sum() * per), "adjusted_rate": rate * per,
            "adjusted_low": float(low) * per, "adjusted_high": float(high) * per}


@dataclass(frozen=True)
class Change:
    """A rate ratio between a period and the one it is compared with, and its exact conditional test."""

    ratio: float
    low: float
    high: float
    p_value: float
    percent_change: float

    def in_words(self, *, level: float = 0.05) -> str:
        """What a board member reads: "up 34% (p = 0.002): more than chance alone explains"."""
        if not np.isfinite(self.ratio):
            return "no comparison: no events in the earlier period"
        way = "up" if self.percent_change > 0 else "down" if self.percent_change < 0 else "unchanged"
        size = f"{way} {abs(self.percent_change):.0f}%" if way != "unchanged" else way
        p = "p < 0.001" if self.p_value < 0.001 else f"p = {self.p_value:.3f}"
        verdict = ("more than chance alone would explain" if self.p_value < level
                   else "within what chance alone could give")
        return f"{size} ({p}): {verdict}"


def rate_ratio(count: int, person_time: float, earlier: int, earlier_person_time: float,
               *, confidence: float = 0.95) -> Change:
    """The ratio of two Poisson rates with its exact conditional test and interval (R's two-sample ``poisson.test``).

    Given the two counts' sum, the later count is binomial with p = T₂ / (T₁ + T₂) when the rates
    are equal; the p-value is that binomial test's (two-sided, "minimum likelihood"), and the
    Clopper–Pearson interval of p gives the ratio's.

    Parameters
    ----------
    count, person_time : int, float
        Events and person-time (residents × years) of the period reported.
    earlier, earlier_person_time : int, float
        The same for the period compared with (the same months a year earlier).
    confidence : float, default 0.95

    Returns
    -------
    Change
    """
    x1, x2 = int(count), int(earlier)
    t1, t2 = float(person_time), float(earlier_person_time)
    if t1 <= 0 or t2 <= 0:
        raise ParameterError("`population`: a period's person-time is not positive")
    total = x1 + x2
    if total == 0:
        return Change(ratio=np.nan, low=np.nan, high=np.nan, p_value=1.0, percent_change=np.nan)
    p = t1 / (t1 + t2)
    alpha = 1 - confidence
    low = special.betaincinv(x1, total - x1 + 1, alpha / 2) if x1 > 0 else 0.0  # Clopper-Pearson
    high = special.betaincinv(x1 + 1, total - x1, 1 - alpha / 2) if x1 < total else 1.0
    ratio = (x1 / t1) / (x2 / t2) if x2 > 0 else np.inf
    return Change(ratio=ratio, low=_odds_to_ratio(low, t1, t2), high=_odds_to_ratio(high, t1, t2),
                  p_value=_binomial_two_sided(x1, total, p),
                  percent_change=100 * (ratio - 1) if np.isfinite(ratio) else np.nan)


def _binomial_pmf(k, n: int, p: float) -> np.ndarray:
    k = np.asarray(k, dtype=float)
    return np.exp(special.gammaln(n + 1) - special.gammaln(k + 1) - special.gammaln(n - k + 1)
                  + k * np.log(p) + (n - k) * np.log1p(-p))


def _binomial_two_sided(x: int, n: int, p: float) -> float:
    """The exact binomial test's two-sided p-value, as R's ``binom.test``: the outcomes no likelier than ``x``."""
    d = float(_binomial_pmf(x, n, p)) * (1 + 1e-7)  # R's relative tolerance for ties
    m = n * p
    if x == m:
        return 1.0
    if x < m:
        y = int((_binomial_pmf(np.arange(np.ceil(m), n + 1), n, p) <= d).sum())
        value = special.bdtr(x, n, p) + (special.bdtrc(n - y, n, p) if n - y >= 0 else 1.0)
    else:
        y = int((_binomial_pmf(np.arange(0, np.floor(m) + 1), n, p) <= d).sum())
        value = (special.bdtr(y - 1, n, p) if y >= 1 else 0.0) + special.bdtrc(x - 1, n, p)
    return float(min(1.0, value))


def _odds_to_ratio(p: float, t1: float, t2: float) -> float:
    """The rate ratio of a binomial proportion of the two counts: p / (1 − p) · T₂ / T₁."""
    return p / (1 - p) * t2 / t1 if p < 1 else np.inf


@dataclass(frozen=True)
class Trend:
    """The annual percent change of a log-linear Poisson fit, its interval, and the word for it."""

    apc: float
    low: float
    high: float
    dispersion: float  # Pearson chi-square / df; the interval is widened by its root when above 1
    periods: int

    @property
    def direction(self) -> str:
        """rising, falling or stable: the interval above, below or around 0 (State Cancer Profiles)."""
        if self.low > 0:
            return "rising"
        if self.high < 0:
            return "falling"
        return "stable"


def annual_percent_change(count, person_time, years, *, confidence: float = 0.95) -> Trend:
    """The annual percent change of the rate: ``log E[count] = b0 + b1·year + log(person_time)``, APC = 100(e^b1 − 1).

    Fitted by iteratively reweighted least squares; the interval is Wald's on b1. Overdose counts
    vary more than a Poisson's, so when the Pearson dispersion is above 1 the standard error is
    widened by its square root (quasi-Poisson, as R's ``glm(family = quasipoisson)``); never narrowed.

    Parameters
    ----------
    count, person_time : arrays
        Events and person-time of each period.
    years : array
        Each period's time in years (2021.0, 2021.25, ... for quarters).
    confidence : float, default 0.95

    Returns
    -------
    Trend
    """
    y = np.asarray(count, dtype=float)
    offset = np.log(np.asarray(person_time, dtype=float))
    t = np.asarray(years, dtype=float)
    if len(y) < 3:
        raise ParameterError("a trend needs 3 periods or more")
    if y.sum() == 0:
        raise ParameterError("a trend needs at least one event")
    design = np.column_stack([np.ones_like(t), t - t.mean()])
    beta = np.array([np.log(y.sum() / np.exp(offset).sum()), 0.0])
    for _ in range(100):
        mu = np.exp(design @ beta + offset)
        z = design @ beta + (y - mu) / mu
        weights = mu
        step = np.linalg.solve(design.T @ (weights[:, None] * design), design.T @ (weights * z))
        done = np.max(np.abs(step - beta)) < 1e-12
        beta = step
        if done:
            break
    mu = np.exp(design @ beta + offset)
    cov = np.linalg.inv(design.T @ (mu[:, None] * design))
    dispersion = float(((y - mu) ** 2 / mu).sum() / (len(y) - 2)) if len(y) > 2 else 1.0
    se = np.sqrt(cov[1, 1] * max(dispersion, 1.0))
    z = special.ndtri(1 - (1 - confidence) / 2)
    apc = 100 * (np.exp(beta[1] + np.array([0.0, -z * se, z * se])) - 1)
    return Trend(apc=float(apc[0]), low=float(apc[1]), high=float(apc[2]), dispersion=dispersion, periods=len(y))


def reliability(count, rate, low, high, *, min_count: int) -> np.ndarray:
    """Each rate's label (:data:`RELIABILITY`): suppressed, unreliable, unstable or reliable.

    Parameters
    ----------
    count, rate, low, high : arrays
        Counts and rates with their intervals.
    min_count : int
        The smallest count published (NCHS suppresses 1–9: min_count 10); a zero is shown.

    Returns
    -------
    numpy.ndarray of str
    """
    x = np.asarray(count, dtype=float)
    r, lo, hi = (np.asarray(a, dtype=float) for a in (rate, low, high))
    with np.errstate(divide="ignore", invalid="ignore"):
        wide = np.where(r > 0, (hi - lo) / r > UNRELIABLE_WIDTH, False)
    out = np.full(x.shape, "reliable", dtype=object)
    out[x <= UNSTABLE_AT_MOST] = "unstable"
    out[wide] = "unreliable"
    out[(x > 0) & (x < min_count)] = "suppressed"
    return out
