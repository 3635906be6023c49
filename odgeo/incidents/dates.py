"""Incident dates and times: text to timezone-aware timestamps.

The day/month order is decided from every value, and implausible dates are told apart from unreadable ones.
"""

from __future__ import annotations

import re
import warnings
import zoneinfo
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandas.tseries.api import guess_datetime_format

from ..arrowtext import distinct_stripped, extract_numbers, matches
from ..errors import DataError, ParameterError

__all__ = [
    "PLAUSIBLE_SINCE",
    "DateParse",
    "OrderEvidence",
    "calendar_day",
    "check_timezone",
    "decide_order",
    "default_window",
    "end_day",
    "is_day_start",
    "local_date",
    "option_time",
    "order_evidence",
    "order_name",
    "parse_datetimes",
    "shift_days",
    "wall_clock",
]

#: Dates before this are taken for placeholders (Excel's day 0 is 1900-01-00, many
#: exports write 1900-01-01 or 0001-01-01 for "unknown") unless accepted.
PLAUSIBLE_SINCE = pd.Timestamp("1990-01-01")
# What a datetime64[ns] column can hold (pandas' bounds, a day inside them).
_NS_MIN, _NS_MAX = pd.Timestamp("1677-09-22"), pd.Timestamp("2262-04-10")
# A date written with two numbers before the year: 03/04/2024, 3.4.24, 03-04-2024 09:15.
_NUMERIC_DMY = re.compile(r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})\b")
_NUMERIC_DMY_RE2 = r"^\s*(?P<first>\d{1,2})[/.\-](?P<second>\d{1,2})[/.\-](?:\d{2}|\d{4})\b"


@dataclass
class DateParse:
    """Parsed timestamps and what was decided on the way.

    Attributes
    ----------
    values
        Timezone-aware timestamps (``datetime64[ns, timezone]``), NaT where none.
    unreadable, out_of_range, implausible
        Boolean arrays: text that is no date; a date outside what can be held
        (before 1678 or after 2261); a date outside the plausible window.
    order
        How numeric dates such as 03/04/2024 were read: "month-first", "day-first",
        the format given, or "unambiguous" when no value needed the choice.
    """

    values: pd.Series
    unreadable: np.ndarray
    out_of_range: np.ndarray
    implausible: np.ndarray
    order: str
    evidence: dict = field(default_factory=dict)
    #: True for each row whose midnight with an offset ("2017/01/03 00:00:00+00") was read as that
    #: date (see :data:`MIDNIGHT_OFFSET_SHARE`), not converted to the time zone; None: no such row.
    read_as_dates: np.ndarray | None = None


def check_timezone(timezone: str) -> str:
    """``timezone`` when it is an IANA time zone name, else a ParameterError."""
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError) as err:
        raise ParameterError(f"`timezone` {timezone!r} is not a time zone name (e.g. America/Phoenix)") from err
    return timezone


def parse_datetimes(text: pd.Series, timezone: str, *, date_format: str | None = None,
                    day_first: bool | None = None, plausible: tuple[pd.Timestamp, pd.Timestamp] | None = None,
                    column: str = "date") -> DateParse:
    """Parse date strings to timestamps in ``timezone``.

    Parameters
    ----------
    text
        Date strings; None or "" where there is no date.
    timezone
        Time zone of values written without an offset (values with one are converted).
    date_format
        A strftime format that every value follows (``"%d/%m/%Y %H:%M"``); values
        it does not fit are unreadable.
    day_first
        Read numeric dates such as 03/04/2024 day first; default: decided from
        every value (a first number over 12 proves day-first, a second number
        over 12 month-first; a file proving both is refused), month first
        (US exports) when nothing decides.
    plausible
        (earliest, latest) window; dates outside it are flagged ``implausible``
        (default: 1990-01-01 to the end of today). Pass None to accept all.
    column
        The column's name, for messages.

    Returns
    -------
    DateParse
        The timestamps (NaT where unreadable or empty), which values were
        unreadable or implausible, and the day order used.

    Raises
    ------
    ParameterError
        If the time zone is unknown.
    DataError
        If the values prove both orders.
    """
    check_timezone(timezone)
    codes, uniques = _distinct_dates(text)
    as_dates = None
    if date_format is None:
        uniques, midnights = _midnight_offsets_as_dates(uniques, codes)
        as_dates = None if midnights is None else np.r_[midnights, False][np.where(codes >= 0, codes, -1)]
    evidence: dict = {}
    if date_format is not None:
        order = f"format {date_format}"
    else:
        if day_first is None:
            day_first, evidence = decide_order(_evidence(uniques, codes), column)
        else:
            evidence = {"ambiguous": True, "decided_by": "given"}
        order = order_name(day_first, evidence)
    utc_ns, bad, out_of_range = _parse_unique(uniques, timezone, date_format, bool(day_first))
    # One sentinel slot after the unique values stands for "no date" (code -1).
    utc_ns, bad, out_of_range = (np.r_[utc_ns, np.iinfo(np.int64).min], np.r_[bad, False], np.r_[out_of_range, False])
    codes = np.where(codes >= 0, codes, len(uniques))
    values = pd.Series(_utc(utc_ns[codes]), index=text.index).dt.tz_convert(timezone)
    unreadable, outside = bad[codes], out_of_range[codes]
    implausible = np.zeros(len(text), dtype=bool)
    if plausible is not None:  # decided per distinct value, as the parsing
        low, high = plausible
        local = _utc(utc_ns).tz_convert(timezone).tz_localize(None)
        implausible = np.asarray(local.notna() & ((local < low) | (local > high)))[codes]
    return DateParse(values, unreadable, outside, implausible, order, evidence, as_dates)


#: When most dated rows written with an offset (this share) are exactly midnight in it, the column
#: holds dates exported as midnight UTC (Tempe's "2017/01/03 00:00:00+00"): converting them to a
#: zone west of Greenwich would move almost every incident to the day before.
MIDNIGHT_OFFSET_SHARE = 0.5
#: ... and the months where nearly all are (this share) hold such dates; a month of real times
#: (Tempe's calls from July 2021, written to the hour in UTC) keeps its midnights as times.
MIDNIGHT_MONTH_SHARE = 0.9
_MIDNIGHT_OFFSET = re.compile(r"(?<=[ T])00:00(?::00(?:\.0+)?)?\s*(?:Z|UTC|[+-]00(?::?00)?)$", re.IGNORECASE)
# The same, for Arrow's RE2 (no look-behind: the separator is matched instead), case ignored.
_MIDNIGHT_OFFSET_RE2 = r"[ T]00:00(?::00(?:\.0+)?)?\s*(?:Z|UTC|[+-]00(?::?00)?)$"
_OFFSET_RE2 = r"\d\s*(?:Z|UTC|[+-]\d{2}(?::?\d{2})?)$"


def _midnight_offsets_as_dates(uniques: pd.Series, codes: np.ndarray) -> tuple[pd.Series, np.ndarray | None]:
    """The distinct values with UTC midnights written as bare dates, where they are dates.

    A column qualifies when most of its rows with an offset are midnights; within it, the
    midnights of a month are dates when nearly all of that month's rows with an offset are
    midnights. Returns the values to parse and which distinct values were so read (None: none).
    """
    if not len(uniques):
        return uniques, None
    text = uniques.astype(str)
    midnight = matches(text, _MIDNIGHT_OFFSET_RE2, ignore_case=True)
    offset = matches(text, _OFFSET_RE2, ignore_case=True)
    rows = np.bincount(codes[codes >= 0], minlength=len(uniques))
    if not midnight.any() or rows[midnight].sum() < MIDNIGHT_OFFSET_SHARE * rows[offset].sum():
        return uniques, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mixed formats: each value on its own, as the reader does later
        utc = pd.to_datetime(text.where(offset), utc=True, errors="coerce", format="mixed")
    month = utc.dt.strftime("%Y-%m").fillna("").to_numpy()
    by_month = pd.DataFrame({"month": month, "rows": rows, "midnight_rows": rows * midnight})[offset]
    totals = by_month.groupby("month")[["rows", "midnight_rows"]].sum()
    dated_months = set(totals.index[totals["midnight_rows"] >= MIDNIGHT_MONTH_SHARE * totals["rows"]]) - {""}
    midnight &= np.isin(month, list(dated_months))
    if not midnight.any():
        return uniques, None
    dates = text.str.replace(_MIDNIGHT_OFFSET, "", regex=True).str.strip()
    return uniques.where(~midnight, dates), midnight


def wall_clock(naive, tz) -> pd.DatetimeIndex:
    """Local wall-clock times (naive) as tz-aware ones.

    A repeated hour is read as standard time and a skipped one moves forward
    (the day ends a DST change lands on).
    """
    index = pd.DatetimeIndex(np.atleast_1d(np.asarray(naive, dtype="datetime64[ns]")))
    return index.tz_localize(tz, ambiguous=np.zeros(len(index), dtype=bool), nonexistent="shift_forward")


def calendar_day(stamp: pd.Timestamp, offset: int = 0) -> pd.Timestamp:
    """The start of the calendar day ``offset`` days after the one holding ``stamp``, in ``stamp``'s zone.

    Days are calendar days where the incidents happened: 23 or 25 hours long across a
    daylight-saving change, so hour arithmetic on a zoned time (``day - Timedelta(days=29)``)
    lands an hour off midnight there. A midnight the clocks skip starts the day at the first
    time that exists; a midnight they repeat, at its first occurrence.
    """
    naive = stamp.tz_localize(None).normalize() + pd.Timedelta(days=offset)
    if stamp.tzinfo is None:
        return naive
    return naive.tz_localize(stamp.tz, ambiguous=True, nonexistent="shift_forward")


def local_date(stamp: pd.Timestamp) -> pd.Timestamp:
    """``stamp``'s calendar date on the local wall clock, as a naive midnight.

    ``Timestamp.normalize`` on a zoned time fails where the zone skips midnight (Santiago,
    Havana); the wall-clock date never does.
    """
    return (stamp.tz_localize(None) if stamp.tzinfo is not None else stamp).normalize()


def is_day_start(stamp: pd.Timestamp) -> bool:
    """Whether ``stamp`` is the first instant of its calendar day (see :func:`calendar_day`)."""
    return bool(stamp == calendar_day(stamp))


def end_day(stamp) -> pd.Timestamp:
    """The calendar day a period ending at ``stamp`` ends on, as a naive midnight.

    odgeo's one convention for naming days: a window is named by the day it ends on, and a
    window ending at midnight ends on the day before (``--as-of 2025-12-30`` reads up to
    2025-12-31 00:00 and is "30 Dec" in every product).
    """
    stamp = pd.Timestamp(stamp)
    return local_date(stamp - pd.Timedelta(1, "ns") if is_day_start(stamp) else stamp)


_ISO_OPTION = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?")


def option_time(value, option: str) -> pd.Timestamp:
    """A date or time given as a setting (``since``, ``until``, ``as_of``): ISO 8601 only.

    Data files may write dates any way (:func:`parse_datetimes` decides their order from
    every value); a setting is one value, and "01/07/2021" is 7 January to some and
    1 July to others, so it is refused. Timestamps and datetimes pass as they are.
    """
    if not isinstance(value, str):
        stamp = pd.Timestamp(value)
    elif _ISO_OPTION.fullmatch(value.strip()):
        stamp = pd.Timestamp(value.strip())
    else:
        raise ParameterError(f"{option} {value!r} is not an ISO date; give YYYY-MM-DD or 'YYYY-MM-DD HH:MM' "
                             "(a date such as 01/07/2021 reads as January to some and July to others)")
    if pd.isna(stamp):
        raise ParameterError(f"{option} {value!r} is not a date; give YYYY-MM-DD or 'YYYY-MM-DD HH:MM'")
    return stamp


def shift_days(stamp: pd.Timestamp, days: int) -> pd.Timestamp:
    """The same wall-clock time ``days`` calendar days later (earlier when negative), in ``stamp``'s zone."""
    if stamp.tzinfo is None:
        return stamp + pd.Timedelta(days=days)
    return wall_clock(stamp.tz_localize(None) + pd.Timedelta(days=days), stamp.tz)[0]


def _utc(ns: np.ndarray) -> pd.DatetimeIndex:
    """UTC timestamps of nanoseconds since 1970 (int64 minimum: NaT), without a per-value conversion."""
    return pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC")


def _distinct_dates(text: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Each value's code (-1: no date) and the distinct stripped values, in order of first appearance."""
    return distinct_stripped(text)


def default_window(now: pd.Timestamp | None = None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """1990-01-01 to the end of today (a day of slack for time zones)."""
    now = now or pd.Timestamp.now(tz="UTC").tz_localize(None)
    return PLAUSIBLE_SINCE, now.normalize() + pd.Timedelta(days=2)


@dataclass(frozen=True)
class OrderEvidence:
    """What the numeric dates of a column say of their day/month order (see :func:`decide_order`).

    Attributes
    ----------
    ambiguous
        Some value is a numeric date such as 03/04/2024.
    day_first, month_first
        Values whose first (second) number is over 12, proving that order.
    day_first_row, month_first_row
        The 1-based row of the first such value (None without one).
    """

    ambiguous: bool = False
    day_first: int = 0
    month_first: int = 0
    day_first_row: int | None = None
    month_first_row: int | None = None

    def after(self, rows: int) -> OrderEvidence:
        """The same evidence with its rows moved ``rows`` on (a part of a larger input)."""
        return OrderEvidence(self.ambiguous, self.day_first, self.month_first,
                             None if self.day_first_row is None else self.day_first_row + rows,
                             None if self.month_first_row is None else self.month_first_row + rows)

    def __add__(self, later: OrderEvidence) -> OrderEvidence:
        """The evidence of two consecutive parts (``later`` with its rows already moved on)."""
        return OrderEvidence(self.ambiguous or later.ambiguous, self.day_first + later.day_first,
                             self.month_first + later.month_first,
                             self.day_first_row if self.day_first_row is not None else later.day_first_row,
                             self.month_first_row if self.month_first_row is not None else later.month_first_row)


def order_evidence(text: pd.Series) -> OrderEvidence:
    """The day/month evidence of every value of a date column."""
    codes, uniques = _distinct_dates(text)
    return _evidence(uniques, codes)


def _evidence(uniques: pd.Series, codes: np.ndarray) -> OrderEvidence:
    parts = extract_numbers(uniques.astype(str), _NUMERIC_DMY_RE2)
    if parts.empty or parts["first"].isna().all():
        return OrderEvidence()
    first = parts["first"].to_numpy()
    second = parts["second"].to_numpy()
    proves_day = np.isin(codes, np.flatnonzero(first > 12))
    proves_month = np.isin(codes, np.flatnonzero(second > 12))
    return OrderEvidence(True, int(proves_day.sum()), int(proves_month.sum()),
                         int(np.argmax(proves_day)) + 1 if proves_day.any() else None,
                         int(np.argmax(proves_month)) + 1 if proves_month.any() else None)


def decide_order(evidence: OrderEvidence, column: str) -> tuple[bool, dict]:
    """Day-first when some value proves it and none proves the opposite; the evidence for the run record.

    Raises
    ------
    DataError
        If the values prove both orders.
    """
    if not evidence.ambiguous:
        return False, {}
    if evidence.day_first and evidence.month_first:
        raise DataError(
            f"column {column!r} mixes day-first dates (row {evidence.day_first_row} has a first number over 12) "
            f"and month-first dates (row {evidence.month_first_row} has a second number over 12); give the "
            f"format with `date_format` (e.g. `date_format` '%m/%d/%Y %H:%M')")
    day_first = bool(evidence.day_first)
    return day_first, {
        "ambiguous": True, "values_proving_day_first": evidence.day_first,
        "values_proving_month_first": evidence.month_first,
        "decided_by": "a first number over 12" if day_first else (
            "a second number over 12" if evidence.month_first else "nothing decided: month first, as US exports")}


def order_name(day_first: bool, evidence: dict) -> str:
    """How the run record names the order read: day-first, month-first or unambiguous."""
    return ("day-first" if day_first else "month-first") if evidence.get("ambiguous") else "unambiguous"


def _parse_unique(uniques: pd.Series, timezone: str, fmt: str | None, day_first: bool
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per distinct value: UTC nanoseconds, unreadable, out of range.

    One format (given, or guessed from the first value) parses the bulk at once;
    each value it does not fit is parsed on its own (unless the format was given).
    """
    n = len(uniques)
    result = _Parsed(n, timezone)
    if not n:
        return result.ns, result.bad, result.outside
    guess = fmt or guess_datetime_format(uniques.iloc[0], dayfirst=day_first)
    done = np.zeros(n, dtype=bool)
    if guess is not None:
        utc = "%z" in guess or "%Z" in guess
        try:
            bulk = pd.to_datetime(uniques, format=guess, errors="coerce", utc=utc)
        except (ValueError, TypeError, OverflowError):
            bulk = None  # a format pandas guessed but cannot apply: every value on its own
        if bulk is not None:
            done = bulk.notna().to_numpy()
            result.store(np.flatnonzero(done), pd.DatetimeIndex(bulk[done]))
    for i in np.flatnonzero(~done):
        result.store_one(int(i), _one(uniques.iloc[i], fmt=fmt, day_first=day_first))
    return result.ns, result.bad, result.outside


class _Parsed:
    """UTC nanoseconds of parsed values, with the bounds check pandas 3 no longer does for us."""

    def __init__(self, n: int, timezone: str):
        self.timezone = timezone
        self.ns = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
        self.bad = np.ones(n, dtype=bool)
        self.outside = np.zeros(n, dtype=bool)

    def store(self, idx: np.ndarray, stamps: pd.DatetimeIndex) -> None:
        wall = stamps.tz_convert("UTC").tz_localize(None) if stamps.tz is not None else stamps
        inside = np.asarray((wall >= _NS_MIN) & (wall <= _NS_MAX))
        self.bad[idx] = False
        self.outside[idx[~inside]] = True
        idx, stamps = idx[inside], stamps[inside].as_unit("ns")
        if stamps.tz is None:
            # A local time that occurs twice (the autumn clock change) is read as the first
            # (daylight) one; a time skipped in spring moves forward to the first valid one.
            first = np.ones(len(stamps), dtype=bool)
            stamps = stamps.tz_localize(self.timezone, ambiguous=first, nonexistent="shift_forward")
        self.ns[idx] = stamps.tz_convert("UTC").asi8

    def store_one(self, i: int, stamp) -> None:
        if stamp == "out_of_range":
            self.bad[i], self.outside[i] = False, True
        elif isinstance(stamp, pd.Timestamp):
            self.store(np.array([i]), pd.DatetimeIndex([stamp]))


def _one(value: str, *, fmt: str | None = None, day_first: bool = False):
    """One value as a Timestamp (naive, or tz-aware when it has an offset), "out_of_range", or None."""
    try:
        if fmt is not None:
            stamp = pd.to_datetime(value, format=fmt, utc="%z" in fmt or "%Z" in fmt)
        else:
            stamp = pd.to_datetime(value, dayfirst=day_first)
    except pd.errors.OutOfBoundsDatetime:
        return "out_of_range"
    except (ValueError, TypeError, OverflowError):
        return _year_out_of_range(value)
    return None if stamp is pd.NaT else stamp


def _year_out_of_range(value: str):
    """A date pandas cannot hold in nanoseconds (year 0001, 9999), told apart from text that is no date."""
    match = re.match(r"^\s*(\d{4})[-/]\d{1,2}[-/]\d{1,2}\b", value) or re.match(
        r"^\s*\d{1,2}[/.\-]\d{1,2}[/.\-](\d{4})\b", value)
    if match and not 1678 <= int(match.group(1)) <= 2261:
        return "out_of_range"
    return None
