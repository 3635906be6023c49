"""Emergency-department visits as a denominator: an ESSENCE Table Builder export of all ED visits.

Syndromic surveillance reports overdose visits per 10,000 ED visits, not per resident: the number of
visits moves with how many facilities send data, and a rate per visit absorbs it. The denominator is
read from the CSV ESSENCE's Table Builder writes (``tableBuilder/csv``), offline, as downloaded:

- row fields: ``timeResolution`` (daily), and optionally a facility (``hospital``, ``HospitalName``,
  ``C_Biosense_Facility_ID``) and a patient geography (``geographyregion``, ``patientLoc``, ``ZipCode``,
  ``C_Patient_County`` ...), or any other row fields (sex, age group), which are summed over;
- the visits: an ``... All Count`` column (a query with a percent parameter: the visits the percentage is
  of; the emergency class's when ``columnField=patientClass``), or one count column (``Data Count``,
  ``count``, ``visits``) of a query of all visits.

A facility that sends visits on fewer than 75% of a period's days makes the period incomplete
(Washington's county ED reports show only quarters with at least 75% of the county's EDs sending;
NSSP's data-quality checks use the same idea per facility).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputFileError
from ..incidents.tables import read_table
from ..schema import normalise_name

__all__ = ["COMPLETE_SHARE", "PER_VISITS", "EdVisits", "complete_facilities", "completeness", "period_visits",
           "read_ed_visits", "trend_visits", "with_ed_rates"]

#: A facility is complete in a period when it sent visits on at least this share of its days.
COMPLETE_SHARE = 0.75
#: Rates are per this many ED visits.
PER_VISITS = 10_000

_DATE_NAMES = ("timeresolution", "date", "visitdate", "cvisitdatetime", "day")
_FACILITY_NAMES = ("hospital", "hospitalname", "facility", "facilityname", "cbiosensefacilityid",
                   "hospitalgrouping")
_AREA_NAMES = ("patientloc", "cpatientcounty", "patientcounty", "county", "zipcode", "patientzip", "cpatientzip",
               "zip", "region", "hospitalregion")
_DAY = r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{4}|\d{1,2}[A-Za-z]{3}\d{4}"
_COUNT_NAMES = ("datacount", "count", "visits", "allcount", "edvisits", "allvisits")


@dataclass(frozen=True)
class EdVisits:
    """All ED visits per day (and facility and area when the export has them).

    Attributes
    ----------
    visits : DataFrame
        ``date`` (datetime64, a day), ``facility`` and ``area`` (text, "" when absent), ``visits`` (int).
    source : dict
        The file and the columns read, for run.json.
    """

    visits: pd.DataFrame
    source: dict

    @property
    def has_facilities(self) -> bool:
        """Whether the export names each row's facility (completeness needs it)."""
        return bool(self.source.get("facility_column"))

    @property
    def has_areas(self) -> bool:
        """Whether the export names each row's patient area (rates by area need it)."""
        return bool(self.source.get("area_column"))


def _find(columns: list[str], names: tuple[str, ...], *, prefix: str | None = None) -> str | None:
    by_name = {normalise_name(c): c for c in reversed(columns)}
    for name in names:
        if name in by_name:
            return by_name[name]
    if prefix:
        return next((c for c in columns if normalise_name(c).startswith(prefix)), None)
    return None


def _count_column(path: Path, columns: list[str]) -> str:
    every = [c for c in columns if normalise_name(c).endswith("allcount")]
    if every:  # a percent query: "<category> All Count" is what its percentage divides by
        return next((c for c in every if normalise_name(c).startswith("emergency")), every[0])
    found = _find(columns, _COUNT_NAMES)
    if found is None:
        raise InputFileError(f"{path}: `ed_visits` needs a column of visit counts ('... All Count' from a Table "
                             f"Builder query with a percent, or 'Data Count'/'count'); columns are "
                             f"{', '.join(columns)}")
    return found


def read_ed_visits(path: str | Path) -> EdVisits:
    """Read an ESSENCE Table Builder CSV of all ED visits (see the module's notes).

    Parameters
    ----------
    path
        The export, as downloaded.

    Returns
    -------
    EdVisits

    Raises
    ------
    InputFileError
        When a column is missing, a date is not a day, or a count is not a whole number of at least 0.
    """
    path = Path(path)
    data = read_table(path).data
    columns = [str(c) for c in data.columns]
    date_col = _find(columns, _DATE_NAMES)
    if date_col is None:
        raise InputFileError(f"{path}: `ed_visits` needs a date column (Table Builder's 'timeResolution', daily); "
                             f"columns are {', '.join(columns)}")
    count_col = _count_column(path, columns)
    area = _find(columns, _AREA_NAMES, prefix="geography")
    facility = _find(columns, _FACILITY_NAMES)
    text = data[date_col].astype(str).str.strip()
    dates = pd.to_datetime(text, errors="coerce", format="mixed")
    # A week ("2025-41") or month ("2025-10") label would read as its first day: a day has three parts.
    bad = dates.isna() | (dates != dates.dt.normalize()) | ~text.str.fullmatch(_DAY)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputFileError(f"{path}: row {row + 2}: {date_col} {text.iloc[row]!r} is not a day; export the Table "
                             "Builder with Time Resolution daily (weeks and months cannot be split into periods "
                             "or checked for completeness)")
    counts = pd.to_numeric(data[count_col].astype(str).str.replace(",", "").str.strip(), errors="coerce")
    bad = counts.isna() | (counts < 0) | (counts % 1 != 0)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputFileError(f"{path}: row {row + 2}: {count_col} {data[count_col].iloc[row]!r} is not a whole "
                             "number of visits")
    visits = pd.DataFrame({"date": dates.to_numpy(dtype="datetime64[ns]"),
                           "facility": data[facility].astype(str).str.strip() if facility else "",
                           "area": data[area].astype(str).str.strip() if area else "",
                           "visits": counts.to_numpy(dtype=np.int64)})
    visits = visits.groupby(["date", "facility", "area"], as_index=False, sort=True)["visits"].sum()
    source = {"file": path.name, "date_column": date_col, "count_column": count_col, "facility_column": facility,
              "area_column": area, "n_rows": len(data), "n_visits": int(visits["visits"].sum())}
    return EdVisits(visits, source)


def period_visits(ed: EdVisits, period: pd.Period, names: list[str]) -> pd.Series:
    """The period's ED visits by area name (compared without case) and in all (``"all"``).

    An area the export does not name gets NaN (no rate), not 0.
    """
    days = ed.visits[(ed.visits["date"] >= period.start_time) & (ed.visits["date"] <= period.end_time)]
    out = pd.Series(np.nan, index=[*names, "all"], dtype=float)
    out["all"] = float(days["visits"].sum())
    if ed.has_areas:
        by_area = days.groupby(days["area"].str.casefold())["visits"].sum()
        for name in names:
            if name.casefold() in by_area.index:
                out[name] = float(by_area[name.casefold()])
    return out


def with_ed_rates(table: pd.DataFrame, visits: np.ndarray) -> pd.DataFrame:
    """``table`` (a ``count`` column) with ``ed_visits`` (``visits``, one per row) and ``per_10k_ed_visits``.

    The rate is computed from the count as the table shows it, so a hidden count has no rate
    (a rate beside a hidden count and its denominator would give the count back).
    """
    out = table.copy()
    shown = pd.to_numeric(out["count"], errors="coerce").astype(float).to_numpy()
    denominator = np.asarray(visits, dtype=float)
    out["ed_visits"] = pd.array(np.where(np.isnan(denominator), pd.NA, denominator), dtype="Int64")
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(denominator > 0, shown / denominator * PER_VISITS, np.nan)
    out[f"per_{PER_VISITS // 1000}k_ed_visits"] = np.round(rate, 1)
    return out


def trend_visits(ed: EdVisits, trend: pd.DataFrame) -> np.ndarray:
    """Each trend row's ED visits, from its ``period_start`` and ``period_end`` days."""
    days = ed.visits.groupby("date")["visits"].sum()
    return np.array([float(days[(days.index >= pd.Timestamp(a)) & (days.index <= pd.Timestamp(b))].sum())
                     for a, b in zip(trend["period_start"], trend["period_end"])])


def complete_facilities(table: pd.DataFrame, periods: list[str]) -> list[str]:
    """Per period, "k of n" facilities complete ("" without facilities)."""
    out = []
    for period in periods:
        rows = table[table["period"] == period]
        out.append(f"{int(rows['complete'].sum())} of {len(rows)}" if len(rows) else "")
    return out


def completeness(ed: EdVisits, periods: list[pd.Period]) -> pd.DataFrame:
    """Each facility's days with visits in each period, and whether it reached :data:`COMPLETE_SHARE`.

    A facility's first day in the export starts its days: one that began sending in the period is
    judged on its days since (a new facility is not incomplete for the days before it existed).

    Returns
    -------
    DataFrame
        ``facility``, ``period``, ``days_with_visits``, ``days``, ``share``, ``complete``.
    """
    rows = []
    sending = ed.visits[ed.visits["visits"] > 0]
    first = sending.groupby("facility")["date"].min()
    for period in periods:
        start, end = period.start_time.normalize(), period.end_time.normalize()
        inside = sending[(sending["date"] >= start) & (sending["date"] <= end)]
        days_with = inside.groupby("facility")["date"].nunique()
        for facility, began in first.items():
            if began > end:
                continue
            days = int((end - max(start, began)).days) + 1
            n = int(days_with.get(facility, 0))
            rows.append({"facility": facility, "period": str(period), "days_with_visits": n, "days": days,
                         "share": round(n / days, 3), "complete": n / days >= COMPLETE_SHARE})
    return pd.DataFrame(rows, columns=["facility", "period", "days_with_visits", "days", "share", "complete"])
