"""The report's statistics against R: poisson.test, epitools::ageadjust.direct and glm (R is installed by .ci/run)."""

from __future__ import annotations

import numpy as np
import pytest

from odgeo.errors import ParameterError
from odgeo.report.rates import (
    US_2000_STANDARD,
    age_adjusted_rate,
    annual_percent_change,
    crude_rates,
    poisson_interval,
    rate_ratio,
    reliability,
)

from .r_reference import r_numbers

PRINT = 'cat(sprintf("%.17g", out), sep = "\\n")\n'


def test_exact_intervals_equal_poisson_test(tmp_path):
    counts = [0, 1, 2, 5, 7, 8, 9, 10, 20, 21, 100, 1234]
    listed = ", ".join(map(str, counts))
    code = f"out <- c()\nfor (x in c({listed})) out <- c(out, poisson.test(x, 25000)$conf.int * 1e5)\n" + PRINT
    expected = r_numbers(code, tmp_path).reshape(-1, 2)
    rates = crude_rates(counts, [25_000] * len(counts))
    np.testing.assert_allclose(rates[["rate_low", "rate_high"]].to_numpy(), expected, rtol=1e-10, atol=1e-12)
    low, high = poisson_interval(10)
    assert (round(float(low), 3), round(float(high), 3)) == (4.795, 18.390)  # the published reference values


AGE_CASES = [
    ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], [1000, 4000, 10000, 12000, 13000, 14000, 12000, 9000, 7000, 4000, 1500]),
    ([0, 0, 0, 3, 12, 25, 19, 6, 1, 0, 0], [5200, 21000, 52000, 60000, 58000, 52000, 50000, 41000, 30000, 15000, 5000]),
    ([0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0], [500, 2000, 5000, 6000, 6000, 5500, 5000, 4000, 3000, 1500, 400]),
    ([0, 0, 2, 40, 180, 210, 160, 70, 20, 3, 1], [80e3, 320e3, 800e3, 900e3, 950e3, 880e3, 840e3, 700e3, 500e3, 260e3,
                                                  90e3]),
]


@pytest.mark.parametrize("count, population", AGE_CASES)
def test_age_adjusted_rates_equal_epitools(tmp_path, count, population):
    code = (f"suppressPackageStartupMessages(library(epitools))\n"
            f"out <- ageadjust.direct(count = c({', '.join(map(str, count))}), "
            f"pop = c({', '.join(map(str, population))}), "
            f"stdpop = c({', '.join(map(str, US_2000_STANDARD.tolist()))})) * 1e5\n") + PRINT
    crude, adjusted, low, high = r_numbers(code, tmp_path)
    got = age_adjusted_rate(count, population)
    np.testing.assert_allclose([got["crude_rate"], got["adjusted_rate"], got["adjusted_low"], got["adjusted_high"]],
                               [crude, adjusted, low, high], rtol=1e-9)


def test_age_adjustment_refuses_mismatched_groups_in_one_line():
    with pytest.raises(ParameterError, match="`population_by_age`: 10 age groups of residents and 11 of counts"):
        age_adjusted_rate([1] * 11, [100] * 10)
    with pytest.raises(ParameterError, match="an age group has no residents"):
        age_adjusted_rate([1] * 11, [100] * 10 + [0])


RATIO_CASES = [(30, 1e5, 20, 1e5), (12, 52_000, 25, 51_000), (0, 1e4, 5, 1e4), (7, 3e4, 0, 3.1e4),
               (410, 2.1e6, 352, 2.08e6), (1, 1e3, 1, 1e3)]


@pytest.mark.parametrize("x1, t1, x2, t2", RATIO_CASES)
def test_rate_ratios_equal_two_sample_poisson_test(tmp_path, x1, t1, x2, t2):
    code = (f"r <- poisson.test(c({x1}, {x2}), c({t1}, {t2}))\n"
            "out <- c(r$estimate, r$conf.int, r$p.value)\n") + PRINT
    ratio, low, high, p = r_numbers(code, tmp_path)
    got = rate_ratio(x1, t1, x2, t2)
    np.testing.assert_allclose([got.ratio, got.low, got.high, got.p_value], [ratio, low, high, p], rtol=1e-9)


def test_a_change_is_said_in_words():
    assert rate_ratio(60, 1e5, 30, 1e5).in_words().startswith("up 100% (p = 0.00")
    assert rate_ratio(60, 1e5, 30, 1e5).in_words().endswith("more than chance alone would explain")
    assert rate_ratio(31, 1e5, 30, 1e5).in_words() == "up 3% (p = 1.000): within what chance alone could give"
    assert rate_ratio(0, 1e5, 0, 1e5).in_words() == "no comparison: no events in the earlier period"


TRENDS = {
    "steady rise, under-dispersed": ([50, 55, 61, 66, 74, 80, 88], "poisson"),
    "noisy, over-dispersed": ([40, 75, 52, 90, 61, 110, 70], "quasipoisson"),
    "falling": ([120, 101, 95, 80, 66, 60], "poisson"),
}


@pytest.mark.parametrize("name", list(TRENDS))
def test_annual_percent_change_equals_r_glm(tmp_path, name):
    counts, family = TRENDS[name]
    years = [2017 + k for k in range(len(counts))]
    pops = [250_000 + 1500 * k for k in range(len(counts))]
    code = (f"y <- c({', '.join(map(str, counts))}); t <- c({', '.join(map(str, years))}); "
            f"p <- c({', '.join(map(str, pops))})\n"
            f"f <- glm(y ~ t + offset(log(p)), family = {family})\n"
            "phi <- sum(residuals(f, type = 'pearson')^2) / df.residual(f)\n"
            "out <- c(100 * (exp(coef(f)[2]) - 1), 100 * (exp(confint.default(f)[2, ]) - 1), phi)\n") + PRINT
    apc, low, high, phi = r_numbers(code, tmp_path)
    got = annual_percent_change(counts, pops, years)
    assert (got.dispersion > 1) == (family == "quasipoisson")
    np.testing.assert_allclose([got.apc, got.low, got.high, got.dispersion], [apc, low, high, phi], rtol=1e-7)
    # the noisy series rises 8% a year, but its dispersion (6.5) widens the interval across 0
    assert got.direction == {"steady rise, under-dispersed": "rising", "noisy, over-dispersed": "stable",
                             "falling": "falling"}[name]


def test_a_flat_series_is_stable():
    trend = annual_percent_change([30, 33, 29, 31, 30, 32], [1e5] * 6, range(2018, 2024))
    assert trend.direction == "stable" and trend.low < 0 < trend.high


def test_reliability_labels_follow_the_published_cut_offs():
    counts = np.array([0, 5, 7, 8, 9, 10, 20, 21])
    rates = crude_rates(counts, [1e5] * len(counts))
    labels = reliability(counts, rates["rate"], rates["rate_low"], rates["rate_high"], min_count=1)
    # NCHS 2023: the exact interval's relative width is 165.8% at 7 and 153.9% at 8; WISQARS: 20 or fewer
    assert labels.tolist() == ["unstable", "unreliable", "unreliable", "unstable", "unstable", "unstable",
                               "unstable", "reliable"]
    widths = ((rates["rate_high"] - rates["rate_low"]) / rates["rate"]).to_numpy()
    assert round(widths[2] * 100, 1) == 165.8 and round(widths[3] * 100, 1) == 153.9
    public = reliability(counts, rates["rate"], rates["rate_low"], rates["rate_high"], min_count=10)
    assert public.tolist()[:6] == ["unstable", "suppressed", "suppressed", "suppressed", "suppressed", "unstable"]
