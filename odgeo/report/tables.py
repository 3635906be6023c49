"""The report's tables: the period reported, counts and rates per area beside the same period a year earlier, the trend.

Rates are per 100,000 residents per year: a quarter's count is divided by a quarter of a year of
person-time, so a quarter, a month and a year read on one scale (and a year-earlier period has the
same length, so the rate ratio is the count ratio when the population is the same). Changes are
year over year only (NCHS warns against comparing overlapping 12-month windows, and seasons make
adjacent quarters unlike). Periods ending within ``provisional_months`` of the report's date are
provisional: deaths are still being certified (NCHS's provisional counts average 83% complete at
six months).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from ..drugs.columns import DrugFlags, carried, flag_columns
from ..drugs.definitions import DrugTerms
from ..drugs.text import TextFlags, flag_text
from ..errors import NoDataError, ParameterError
from ..schema import OCCURRED_AT, OUTCOME, SUSPECTED_DRUG, WGS84, has_location, name_key
from ..vocabulary import REPORT_PERIODS
from .populations import AgeGroups
from .rates import Trend, age_adjusted_rate, annual_percent_change, crude_rates, rate_ratio, reliability

__all__ = [
    "RATE_COLUMNS",
    "REPORT_PERIODS",
    "TOTAL_AREA",
    "ReportPeriod",
    "age_adjusted_rates",
    "area_of_incidents",
    "area_of_names",
    "demographic_counts",
    "drug_counts",
    "in_period",
    "rate_table",
    "rates_of_counts",
    "report_period",
    "trend_table",
]

#: The name of the row of the whole input in rates.csv.
TOTAL_AREA = "all"
_FREQ = {"quarter": "Q", "month": "M", "year": "Y"}
_PENDING = r"(?i)\bpending\b"
_YEARS = {"quarter": 0.25, "month": 1 / 12, "year": 1.0}


@dataclass(frozen=True)
class ReportPeriod:
    """The period reported and the one it is compared with, as pandas Periods (dates, no times)."""

    length: str
    current: pd.Period
    earlier: pd.Period

    @property
    def years(self) -> float:
        """The period's length in years (the person-time of one resident)."""
        return _YEARS[self.length]

    def label(self, period: pd.Period | None = None) -> str:
        """A reader's name for a period: "2024 Q3", "March 2024", "2024"."""
        p = self.current if period is None else period
        if self.length == "quarter":
            return f"{p.year} Q{p.quarter}"
        return p.strftime("%B %Y") if self.length == "month" else str(p.year)


def report_period(times: pd.Series, length: str, as_of: pd.Timestamp | str | None = None) -> ReportPeriod:
    """The last whole period ending on or before ``as_of`` (default: the last incident's date).

    Parameters
    ----------
    times : Series
        The incidents' times (tz-aware or naive).
    length : str
        ``quarter``, ``month`` or ``year``.
    as_of : Timestamp or str, optional
        The date the report is made for; a period that has not ended by then is not reported.

    Returns
    -------
    ReportPeriod
    """
    if length not in REPORT_PERIODS:
        raise ParameterError(f"`period` must be one of {', '.join(REPORT_PERIODS)}, not {length!r}")
    dates = _dates(times).dropna()
    if dates.empty:
        raise NoDataError("no dated incidents to report")
    day = pd.Timestamp(as_of).tz_localize(None).normalize() if as_of is not None else dates.max()
    period = pd.Period(day, freq=_FREQ[length])
    if day < period.end_time.normalize():  # not over yet: the one before
        period -= 1
    if period.end_time < dates.min():
        raise NoDataError(f"no incidents before the end of the last whole {length} ({period}); the first is "
                          f"{dates.min():%Y-%m-%d}")
    return ReportPeriod(length, period, period - {"quarter": 4, "month": 12, "year": 1}[length])


def _dates(times: pd.Series) -> pd.Series:
    """Local calendar dates (naive midnight) of tz-aware or naive times."""
    t = pd.to_datetime(times)
    if getattr(t.dt, "tz", None) is not None:
        t = t.dt.tz_localize(None)
    return t.dt.normalize()


def area_of_incidents(incidents: gpd.GeoDataFrame, areas: gpd.GeoDataFrame) -> np.ndarray:
    """Each incident's area (index into ``areas``), -1 outside every area or without a place.

    An incident on a shared edge counts in the first area listed, so no incident counts twice.
    """
    out = np.full(len(incidents), -1, dtype=np.int64)
    placed = has_location(incidents.geometry)
    points = gpd.GeoDataFrame(geometry=incidents.geometry[placed].to_numpy(), crs=WGS84)
    hits = gpd.sjoin(points, areas.reset_index(drop=True)[[areas.geometry.name]].to_crs(WGS84), how="inner",
                     predicate="intersects")
    first = hits.groupby(level=0)["index_right"].min()
    out[np.flatnonzero(placed)[first.index.to_numpy()]] = first.to_numpy()
    return out


def area_of_names(names: pd.Series, areas: pd.DataFrame) -> np.ndarray:
    """Each incident's area (index into ``areas``) by the name it gives, -1 when it names none of them.

    Names are compared without case or surrounding space.
    """
    index = pd.Series(np.arange(len(areas)), index=name_key(areas["name"]).to_numpy())
    index = index[~index.index.duplicated()]
    found = pd.Series(index.reindex(name_key(names).to_numpy()).to_numpy())
    return found.fillna(-1).to_numpy(dtype=np.int64)


def rate_table(incidents: gpd.GeoDataFrame, areas: pd.DataFrame, period: ReportPeriod, *, where: np.ndarray,
               min_count: int, per: float = 100_000) -> pd.DataFrame:
    """One row per area and the whole input (``all``): the period's count, rate, interval, reliability and change.

    Parameters
    ----------
    incidents : GeoDataFrame
        The incidents used, with ``occurred_at`` and ``outcome``.
    areas : DataFrame
        Jurisdictions with ``name`` and ``population`` (NaN: counts and changes, no rate).
    period : ReportPeriod
        From :func:`report_period`.
    where : array of int
        Each incident's area (index into ``areas``; -1 in none), from :func:`area_of_incidents`
        or :func:`area_of_names`.
    min_count : int
        The smallest count published, for the reliability label (the gate hides what is under it).
    per : float, default 100,000

    Returns
    -------
    DataFrame
        ``area, period_start, period_end, count, fatal, population, rate, rate_low, rate_high,
        reliability, earlier_count, earlier_rate, rate_ratio, ratio_low, ratio_high, change_p,
        change``. Rates are per ``per`` residents per year.
    """
    dates = _dates(incidents[OCCURRED_AT])
    now = _in(dates, period.current)
    before = _in(dates, period.earlier)
    n = len(areas)
    fatal = (incidents[OUTCOME] == "fatal").to_numpy()
    count = np.append(np.bincount(where[now & (where >= 0)], minlength=n), now.sum())
    dead = np.append(np.bincount(where[now & fatal & (where >= 0)], minlength=n), (now & fatal).sum())
    earlier = np.append(np.bincount(where[before & (where >= 0)], minlength=n), before.sum())
    population = np.append(areas["population"].to_numpy(dtype=float), _total_population(areas))
    table = pd.DataFrame({
        "area": [*areas["name"].astype(str), TOTAL_AREA],
        "period_start": period.current.start_time.strftime("%Y-%m-%d"),
        "period_end": period.current.end_time.strftime("%Y-%m-%d"),
        "count": count, "fatal": dead, "population": population,
    })
    table["earlier_count"] = earlier
    return rates_of_counts(table, period.years, min_count=min_count, per=per)


#: The columns :func:`rates_of_counts` computes, in rates.csv's order.
RATE_COLUMNS = ["rate", "rate_low", "rate_high", "reliability", "earlier_rate", "rate_ratio", "ratio_low",
                "ratio_high", "change_p", "change"]


def rates_of_counts(table: pd.DataFrame, years: float, *, min_count: int, per: float = 100_000) -> pd.DataFrame:
    """The rates, intervals, reliability and change of a table's ``count``, ``earlier_count`` and ``population``.

    Parameters
    ----------
    table : DataFrame
        One row per area, with those three columns (and any others, kept in front).
    years : float
        The period's length in years.
    min_count : int
        The smallest count published, for the reliability label.
    per : float, default 100,000

    Returns
    -------
    DataFrame
        ``table`` with :data:`RATE_COLUMNS` (re)computed after ``population``'s and ``earlier_count``'s.
    """
    count = table["count"].to_numpy(dtype=np.int64)
    earlier = table["earlier_count"].to_numpy(dtype=np.int64)
    population = table["population"].to_numpy(dtype=float)
    rates = crude_rates(count, population * years, per=per)
    was = crude_rates(earlier, population * years, per=per)
    out = table.drop(columns=[c for c in RATE_COLUMNS if c in table.columns]).copy()
    at = out.columns.get_loc("population") + 1
    for k, column in enumerate(["rate", "rate_low", "rate_high"]):
        out.insert(at + k, column, rates[column].to_numpy())
    out.insert(at + 3, "reliability", np.where(np.isfinite(rates["rate"]), reliability(
        count, rates["rate"], rates["rate_low"], rates["rate_high"], min_count=min_count), "no population"))
    out = out[[c for c in out.columns if c != "earlier_count"]]
    out.insert(at + 4, "earlier_count", earlier)
    changes = [rate_ratio(c, p * years, e, p * years) if np.isfinite(p) and p > 0 else None
               for c, e, p in zip(count, earlier, population)]
    after = {"earlier_rate": was["rate"].to_numpy(),
             "rate_ratio": [c.ratio if c else np.nan for c in changes],
             "ratio_low": [c.low if c else np.nan for c in changes],
             "ratio_high": [c.high if c else np.nan for c in changes],
             "change_p": [c.p_value if c else np.nan for c in changes],
             "change": [c.in_words() if c else "no population" for c in changes]}
    for k, (column, values) in enumerate(after.items()):
        out.insert(at + 5 + k, column, values)
    return out


def _in(dates: pd.Series, period: pd.Period) -> np.ndarray:
    return ((dates >= period.start_time) & (dates <= period.end_time)).to_numpy()


def in_period(incidents: gpd.GeoDataFrame, period: pd.Period) -> np.ndarray:
    """Which incidents' local dates fall in ``period``."""
    return _in(_dates(incidents[OCCURRED_AT]), period)


def drug_counts(incidents: gpd.GeoDataFrame, period: pd.Period, terms: DrugTerms,
                columns: tuple[str, ...] = ()) -> dict | None:
    """The period's incidents per drug group (None when nothing says which drugs).

    Parameters
    ----------
    incidents : GeoDataFrame
        The incidents used; with ``columns``, carrying each as :func:`odgeo.drugs.columns.carried`.
    period : Period
    terms : DrugTerms
    columns : tuple of str
        The input's drug columns (``drug_columns``: cause-of-death text, yes/no drug columns, ICD-10
        codes); empty: the suspected-drug column.

    Returns
    -------
    dict or None
        ``groups`` (group: records, in :data:`odgeo.drugs.DRUG_GROUPS` order), ``records``,
        ``no_drug_recorded``, ``matching_no_term`` and ``pending`` (a cause still under
        investigation: "PENDING", "pending investigation", "pending tox").
    """
    now = in_period(incidents, period)
    read: DrugFlags | TextFlags
    if columns:
        frame = pd.DataFrame({c: incidents[carried(c)].to_numpy()[now] for c in columns})
        read = flag_columns(frame, list(columns), terms)
    elif SUSPECTED_DRUG in incidents.columns and not incidents[SUSPECTED_DRUG].isna().all():
        frame = pd.DataFrame({SUSPECTED_DRUG: incidents[SUSPECTED_DRUG].to_numpy()[now]})
        read = flag_text(frame[SUSPECTED_DRUG], terms)
    else:
        return None
    pending = np.zeros(len(frame), dtype=bool)
    for column in frame.columns:
        pending |= frame[column].fillna("").astype(str).str.contains(_PENDING).to_numpy()
    return {"groups": {g: int(read.flags[g].sum()) for g in terms.groups}, "records": int(now.sum()),
            "no_drug_recorded": int(read.empty), "matching_no_term": int(read.matched_none),
            "pending": int(pending.sum())}


def _total_population(areas: gpd.GeoDataFrame) -> float:
    """The areas' residents together, or NaN when one area's are unknown (a partial sum is not the whole's)."""
    pop = areas["population"].to_numpy(dtype=float)
    return float(pop.sum()) if len(pop) and np.isfinite(pop).all() else np.nan


def trend_table(incidents: gpd.GeoDataFrame, period: ReportPeriod, *, population: float,
                provisional_months: int, as_of: pd.Timestamp | None = None,
                per: float = 100_000) -> tuple[pd.DataFrame, Trend | None]:
    """Every period of the input up to the one reported, with 12-month-ending counts, and the trend.

    Parameters
    ----------
    incidents : GeoDataFrame
        The incidents used.
    period : ReportPeriod
        The period reported: the table ends with it.
    population : float
        Residents of the whole area (NaN: counts only, no rates or trend).
    provisional_months : int
        Periods ending within this many months of ``as_of`` are provisional.
    as_of : Timestamp, optional
        The report's date (default: the end of the period reported).
    per : float, default 100,000

    Returns
    -------
    table : DataFrame
        ``period, period_start, period_end, count, fatal, rate, rate_low, rate_high,
        count_12_months_ending, provisional``.
    trend : Trend or None
        The annual percent change over the periods that are not provisional, the period reported
        included when it is final (None with fewer than 3 such periods, no population, or no event).
    """
    dates = _dates(incidents[OCCURRED_AT])
    first = pd.Period(dates.min(), freq=_FREQ[period.length])
    periods = pd.period_range(first, period.current, freq=_FREQ[period.length])
    of = dates.dt.to_period(_FREQ[period.length])
    fatal = (incidents[OUTCOME] == "fatal").to_numpy()
    count = np.array([(of == p).sum() for p in periods], dtype=np.int64)
    dead = np.array([((of == p).to_numpy() & fatal).sum() for p in periods], dtype=np.int64)
    rates = crude_rates(count, np.full(len(periods), population * period.years), per=per)
    per_year = {"quarter": 4, "month": 12, "year": 1}[period.length]
    rolling = pd.Series(count).rolling(per_year).sum().to_numpy()
    reference = _dates(pd.Series([pd.Timestamp(as_of)])).iloc[0] if as_of is not None else period.current.end_time
    cut = reference - pd.DateOffset(months=provisional_months)
    provisional = np.array([p.end_time.normalize() > cut for p in periods])
    table = pd.DataFrame({
        "period": [period.label(p) for p in periods],
        "period_start": [p.start_time.strftime("%Y-%m-%d") for p in periods],
        "period_end": [p.end_time.strftime("%Y-%m-%d") for p in periods],
        "count": count, "fatal": dead, "rate": rates["rate"], "rate_low": rates["rate_low"],
        "rate_high": rates["rate_high"], "count_12_months_ending": rolling, "provisional": provisional,
    })
    final = ~provisional
    trend = None
    if np.isfinite(population) and population > 0 and final.sum() >= 3 and count[final].sum() > 0:
        middle = np.array([p.start_time.year + (p.start_time.day_of_year - 1) / 365.25 for p in periods])
        trend = annual_percent_change(count[final], np.full(final.sum(), population * period.years),
                                      middle[final] + period.years / 2)
    return table, trend


def age_adjusted_rates(ages: np.ndarray, where: np.ndarray, now: np.ndarray, by_age: pd.DataFrame,
                       groups: AgeGroups, areas: pd.DataFrame, period: ReportPeriod,
                       per: float = 100_000) -> pd.DataFrame:
    """Each area's and the whole's age-adjusted rate (US 2000 standard) for the period, with its interval.

    Parameters
    ----------
    ages : array of int
        Each incident's age group (index into ``groups``; -1 unknown), from :meth:`AgeGroups.of_ages`.
    where : array of int
        Each incident's area (index into ``areas``; -1 in none).
    now : array of bool
        The incidents of the period.
    by_age : DataFrame
        Residents per name and age group, from :func:`odgeo.report.populations.read_population_by_age`.
    groups : AgeGroups
    areas : DataFrame
        The jurisdictions (``name``), in the order of the rate table's rows.
    period : ReportPeriod
    per : float, default 100,000

    Returns
    -------
    DataFrame
        One row per area and then the whole: ``age_adjusted_rate``, ``age_adjusted_low``,
        ``age_adjusted_high`` (per ``per`` residents per year; NaN where the residents by age
        are not all known) and ``unknown_age`` (the period's incidents left out for want of an age).
    """
    k = len(groups.labels)
    rows = pd.Series(np.arange(len(by_age)), index=name_key(by_age["name"]).to_numpy())
    matched = rows.reindex(name_key(areas["name"]).to_numpy()).to_numpy()
    residents = by_age[list(groups.labels)].to_numpy(dtype=float)
    person_time = np.full((len(areas) + 1, k), np.nan)
    has = np.isfinite(matched)
    person_time[:-1][has] = residents[matched[has].astype(np.int64)] * period.years
    if has.all():
        person_time[-1] = person_time[:-1].sum(axis=0)
    known = now & (ages >= 0)
    counts = np.zeros((len(areas) + 1, k), dtype=np.int64)
    inside = known & (where >= 0)
    np.add.at(counts, (where[inside], ages[inside]), 1)
    counts[-1] = np.bincount(ages[known], minlength=k)
    unknown = now & (ages < 0)
    out: dict[str, list[float]] = {"age_adjusted_rate": [], "age_adjusted_low": [], "age_adjusted_high": []}
    for count, time in zip(counts, person_time):
        fine = np.isfinite(time).all() and (time > 0).all()
        got = age_adjusted_rate(count, time, standard=groups.weights, per=per) if fine else {}
        out["age_adjusted_rate"].append(got.get("adjusted_rate", np.nan))
        out["age_adjusted_low"].append(got.get("adjusted_low", np.nan))
        out["age_adjusted_high"].append(got.get("adjusted_high", np.nan))
    table = pd.DataFrame(out)
    table["unknown_age"] = np.append(np.bincount(where[unknown & (where >= 0)], minlength=len(areas)),
                                     unknown.sum())
    return table


def demographic_counts(ages: np.ndarray, sexes: pd.Series | None, now: np.ndarray,
                       groups: AgeGroups | None) -> pd.DataFrame:
    """The period's incidents by age group and by sex (each with its unknowns).

    Parameters
    ----------
    ages : array of int
        Each incident's age group (index into ``groups``; -1 unknown); ignored without ``groups``.
    sexes : Series, optional
        Each incident's sex as :func:`odgeo.schema.sex_of` reads it ("M", "F" or "").
    now : array of bool
        The incidents of the period.
    groups : AgeGroups, optional

    Returns
    -------
    DataFrame
        ``dimension`` ("age" or "sex"), ``group`` and ``count``; each dimension's counts add up to
        the period's incidents.
    """
    rows = []
    if groups is not None:
        counts = np.bincount(ages[now & (ages >= 0)], minlength=len(groups.labels))
        rows += [("age", label, int(n)) for label, n in zip(groups.labels, counts)]
        rows.append(("age", "unknown", int((now & (ages < 0)).sum())))
    if sexes is not None:
        s = sexes.to_numpy()[now]
        rows += [("sex", "female", int((s == "F").sum())), ("sex", "male", int((s == "M").sum())),
                 ("sex", "unknown", int(((s != "F") & (s != "M")).sum()))]
    return pd.DataFrame(rows, columns=["dimension", "group", "count"])
