"""The report's tables: the period, counts by brute force, rates and changes against R, the trend table by hand."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from odgeo.report.tables import area_of_incidents, rate_table, report_period, trend_table

from .r_reference import r_numbers

PRINT = 'cat(sprintf("%.17g", out), sep = "\\n")\n'


def _areas() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": ["West", "East", "North"], "population": [40_000.0, 25_000.0, np.nan]},
                            geometry=[shapely.box(-97.5, 38.0, -97.4, 38.1), shapely.box(-97.4, 38.0, -97.3, 38.1),
                                      shapely.box(-97.5, 38.1, -97.3, 38.2)], crs="EPSG:4326")


def _incidents(seed=45, n=900) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    times = pd.Timestamp("2022-01-01", tz="America/Chicago") + pd.to_timedelta(rng.integers(0, 3 * 365 * 24, n),
                                                                                unit="h")
    lon, lat = rng.uniform(-97.55, -97.3, n), rng.uniform(38.0, 38.2, n)  # some outside every area
    return gpd.GeoDataFrame({"occurred_at": times, "outcome": rng.choice(["fatal", "nonfatal"], n, p=[0.2, 0.8])},
                            geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")


@pytest.mark.parametrize("length, as_of, current, earlier", [
    ("quarter", "2024-11-15", "2024Q3", "2023Q3"),
    ("quarter", "2024-09-30", "2024Q3", "2023Q3"),
    ("month", "2024-03-01", "2024-02", "2023-02"),
    ("year", "2024-12-30", "2023", "2022"),
])
def test_the_period_is_the_last_whole_one(length, as_of, current, earlier):
    period = report_period(_incidents()["occurred_at"], length, as_of)
    assert str(period.current) == current and str(period.earlier) == earlier


def test_counts_rates_and_changes_equal_brute_force_and_r(tmp_path):
    incidents, areas = _incidents(), _areas()
    period = report_period(incidents["occurred_at"], "quarter", "2024-10-01")
    table = rate_table(incidents, areas, period, where=area_of_incidents(incidents, areas),
                       min_count=10).set_index("area")
    local = incidents["occurred_at"].dt.tz_localize(None)
    for name, box in zip(areas["name"], areas.geometry):
        # by hand: the first area listed whose box holds the point (edges included), in the quarter's dates
        inside = np.array([box.intersects(p) and not any(
            b.intersects(p) for b in areas.geometry[: list(areas["name"]).index(name)]) for p in incidents.geometry])
        now = inside & ((local >= "2024-07-01") & (local < "2024-10-01")).to_numpy()
        before = inside & ((local >= "2023-07-01") & (local < "2023-10-01")).to_numpy()
        assert table.loc[name, "count"] == now.sum() and table.loc[name, "earlier_count"] == before.sum()
        assert table.loc[name, "fatal"] == (now & (incidents["outcome"] == "fatal").to_numpy()).sum()
    assert table.loc["all", "count"] == ((local >= "2024-07-01") & (local < "2024-10-01")).sum()
    assert np.isnan(table.loc["North", "rate"]) and table.loc["North", "reliability"] == "no population"
    assert np.isnan(table.loc["all", "population"])  # North's residents are unknown: no total rate
    west = table.loc["West"]
    code = (f"a <- poisson.test({west['count']}, 40000 * 0.25)$conf.int * 1e5\n"
            f"b <- poisson.test(c({west['count']}, {west['earlier_count']}), c(10000, 10000))\n"
            "out <- c(a, b$estimate, b$conf.int, b$p.value)\n") + PRINT
    low, high, ratio, ratio_low, ratio_high, p = r_numbers(code, tmp_path)
    assert west["rate"] == pytest.approx(west["count"] / 10_000 * 1e5, rel=1e-12)
    np.testing.assert_allclose(west[["rate_low", "rate_high", "rate_ratio", "ratio_low", "ratio_high", "change_p"]]
                               .to_numpy(dtype=float), [low, high, ratio, ratio_low, ratio_high, p], rtol=1e-9)


def test_an_incident_on_a_shared_edge_counts_once():
    areas = _areas()
    on_edge = gpd.GeoDataFrame(geometry=gpd.points_from_xy([-97.4, -97.45, -98.0], [38.05, 38.05, 38.0]),
                               crs="EPSG:4326")
    assert area_of_incidents(on_edge, areas).tolist() == [0, 0, -1]


def test_the_trend_table_by_hand():
    incidents = _incidents()
    period = report_period(incidents["occurred_at"], "quarter", "2024-10-01")
    table, trend = trend_table(incidents, period, population=65_000, provisional_months=6, as_of="2024-10-01")
    assert table["period"].iloc[0] == "2022 Q1" and table["period"].iloc[-1] == "2024 Q3"
    assert table["count"].sum() == (incidents["occurred_at"].dt.tz_localize(None) < "2024-10-01").sum()
    assert table["count_12_months_ending"].iloc[-1] == table["count"].iloc[-4:].sum()
    assert np.isnan(table["count_12_months_ending"].iloc[2])
    assert table["provisional"].tolist()[-3:] == [False, True, True]  # Q2 and Q3 end within 6 months
    assert trend is not None and trend.periods == len(table) - 2
    _, none = trend_table(incidents, period, population=np.nan, provisional_months=6)
    assert none is None
