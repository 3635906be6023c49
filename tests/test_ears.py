"""EARS C1/C2/C3 against R's surveillance::earsC and a hand computation from the published formulas."""

from __future__ import annotations

import statistics

import numpy as np
import pandas as pd
import pytest

from odgeo.alerts.ears import EARS_METHODS, ears, first_day

from .conftest import SAMPLE
from .r_reference import r_earsc


def _synthetic(seed: int = 7, days: int = 240) -> np.ndarray:
    rng = np.random.default_rng(seed)
    series = [rng.poisson(lam, days) for lam in (0.2, 0.8, 3.0, 12.0)]
    spikes = rng.poisson(0.8, days)
    spikes[[60, 61, 150]] += [6, 4, 9]  # planted outbreaks
    zeros = np.zeros(days, dtype=int)
    zeros[100] = 1  # a week of zeros, then one: the zero-SD case
    return np.column_stack([*series, spikes, zeros])


def _sample_city_series() -> np.ndarray:
    """Daily counts per ZIP code of the bundled sample city, every day included."""
    frame = pd.read_csv(SAMPLE / "incidents.csv", dtype=str)
    day = pd.to_datetime(frame["occurred_at"], format="mixed", errors="coerce").dt.floor("D")
    table = pd.crosstab(day, frame["zip"].fillna(""))
    table = table.reindex(pd.date_range(table.index.min(), table.index.max(), freq="D"), fill_value=0)
    return table[[c for c in table.columns if c]].to_numpy()


@pytest.mark.parametrize("series", ["synthetic", "sample_city"])
@pytest.mark.parametrize("method", ["c1", "c2"])
@pytest.mark.parametrize("min_sd", [0.0, 0.5])
def test_c1_c2_equal_r_earsc(series, method, min_sd, tmp_path):
    counts = _synthetic() if series == "synthetic" else _sample_city_series()
    upper, alarm, z = r_earsc(counts, method, 3, min_sd, tmp_path)
    ours = ears(counts, method, z=z, min_sd=min_sd)
    start = first_day(method)
    assert upper.shape == ours.upper_bound[start:].shape
    np.testing.assert_allclose(ours.upper_bound[start:], upper, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(ours.alarm[start:], alarm)
    assert alarm.any() and not alarm.all()  # the comparison covers both outcomes
    assert z != 3 and abs(z - 3) < 1e-12


@pytest.mark.parametrize("min_sd", [0.5, 1.0])
def test_c3_parts_equal_r_earsc_and_alarm_follows_the_published_sum(min_sd, tmp_path):
    counts = _synthetic()
    upper_r, alarm_r, z = r_earsc(counts, "c3", 2, min_sd, tmp_path)
    ours = ears(counts, "c3", z=z, min_sd=min_sd)
    c2 = ears(counts, "c2", min_sd=min_sd)
    start = first_day("c3")
    y = counts[start:].astype(float)
    spread = np.maximum(c2.baseline_sd[start:], min_sd)
    # earsC's bound is y + s'(z - earlier parts), floored at 0: where unfloored it gives the earlier parts.
    earlier_r = z - (upper_r - y) / spread
    part_today = np.maximum(0, (y - c2.baseline_mean[start:]) / spread - 1)
    earlier_ours = ours.score[start:] - part_today
    unfloored = upper_r > 0
    np.testing.assert_allclose(earlier_ours[unfloored], earlier_r[unfloored], atol=1e-9)
    assert unfloored.mean() > 0.5
    # earsC alarms on the earlier parts alone (a day with no case never: its bound is floored at 0);
    # odgeo on the three days' sum, as published.
    np.testing.assert_array_equal(alarm_r, (earlier_ours > z) & (y > 0))
    np.testing.assert_array_equal(ours.alarm[start:], earlier_ours + part_today > z)


def test_one_day_spike_raises_c3_on_the_day_where_earsc_does_not(tmp_path):
    counts = np.array([1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 9, 1, 0, 1])
    ours = ears(counts, "c3", min_sd=0.5)
    _, alarm_r, _ = r_earsc(counts, "c3", 2, 0.5, tmp_path)
    spike = 14
    assert ours.alarm[spike]
    assert not alarm_r[spike - first_day("c3"), 0]
    assert alarm_r[spike + 1 - first_day("c3"), 0]  # earsC raises it the next day, whatever that day's count


def _by_hand(y: list[float], method: str, z: float, min_sd: float) -> list[tuple[float, float, bool]]:
    """(upper bound, score, alarm) per scored day, from the formulas with Python's statistics module."""
    lag = {"c1": 1, "c2": 3, "c3": 3}[method]

    def c2_parts(t):
        base = y[t - lag - 6: t - lag + 1]
        m, s = statistics.fmean(base), max(statistics.stdev(base), min_sd)
        return m, s, (0.0 if y[t] == m else (y[t] - m) / s)

    out = []
    for t in range(first_day(method), len(y)):
        m, s, score = c2_parts(t)
        if method != "c3":
            out.append((m + z * s, score, y[t] > m + z * s))
            continue
        earlier = sum(max(0.0, c2_parts(t - k)[2] - 1) for k in (1, 2))
        total = earlier + max(0.0, score - 1)
        out.append((m + s * (1 + z - earlier) if earlier <= z else float("nan"), total, total > z))
    return out


@pytest.mark.parametrize("method", EARS_METHODS)
def test_equal_hand_computation(method):
    y = _synthetic(seed=3, days=160)[:, 4].astype(float).tolist()
    ours = ears(np.array(y), method, min_sd=0.5)
    start = first_day(method)
    for t, (upper, score, alarm) in enumerate(_by_hand(y, method, 3 if method != "c3" else 2, 0.5), start=start):
        assert ours.upper_bound[t] == pytest.approx(upper, abs=1e-12, nan_ok=True)
        assert ours.score[t] == pytest.approx(score, abs=1e-12)
        assert bool(ours.alarm[t]) == alarm
    assert np.isnan(ours.upper_bound[:start]).all() and not ours.alarm[:start].any()


def test_zero_sd_baseline():
    """A week of zeros: with min_sd 0 one case alarms (bound 0); with 0.5 the bound is 1.5."""
    counts = np.array([0] * 9 + [1, 0, 2])
    strict = ears(counts, "c1", min_sd=0)
    assert strict.upper_bound[7] == 0 and strict.alarm[7] is np.False_  # 0 does not exceed 0
    assert strict.alarm[9] and strict.score[9] == np.inf and strict.score[8] == 0
    sparse = ears(counts, "c1", min_sd=0.5)
    assert sparse.upper_bound[9] == 1.5 and not sparse.alarm[9] and sparse.alarm[11]


def test_bad_arguments():
    with pytest.raises(ValueError, match="method"):
        ears(np.zeros(20), "c4")
    with pytest.raises(ValueError, match="min_sd"):
        ears(np.zeros(20), "c1", min_sd=-1)
