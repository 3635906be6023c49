"""Incident dates and times: text to timezone-aware timestamps."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.tseries.api import guess_datetime_format

__all__ = ["parse_datetimes"]


def parse_datetimes(text: pd.Series, timezone: str) -> pd.Series:
    """Parse date strings to timezone-aware timestamps (NaT where unreadable).

    The format is guessed from the first value (month before day when
    ambiguous, as in US exports) and applied to all; values it does not fit are
    parsed one by one. Values without an offset are taken in ``timezone``;
    values with one are converted to it.
    """
    import zoneinfo

    zoneinfo.ZoneInfo(timezone)  # raises on an unknown name
    out = pd.Series(pd.NaT, index=text.index, dtype=f"datetime64[ns, {timezone}]")
    present = text.notna()
    if not present.any():
        return out
    values = text[present]
    fmt = guess_datetime_format(values.iloc[0])
    if fmt is not None:
        try:
            parsed = pd.to_datetime(values, format=fmt, errors="coerce", utc="%z" in fmt or "%Z" in fmt)
        except (ValueError, TypeError):
            parsed = pd.Series(pd.NaT, index=values.index)
        out.loc[parsed.index] = _to_zone(parsed, timezone)
    failed = out.isna() & present
    if failed.any():
        out.loc[failed] = [_parse_one(v, timezone) for v in text[failed]]
    return out


def _to_zone(parsed: pd.Series, timezone: str) -> pd.Series:
    # A local time that occurs twice (the autumn clock change) is read as the first
    # (daylight) one; a time skipped in spring moves forward to the first valid one.
    if parsed.dt.tz is None:
        first = np.ones(len(parsed), dtype=bool)
        return parsed.dt.tz_localize(timezone, ambiguous=first, nonexistent="shift_forward")
    return parsed.dt.tz_convert(timezone)


def _parse_one(value: str, timezone: str):
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        return pd.NaT
    if stamp is pd.NaT:
        return pd.NaT
    try:
        if stamp.tzinfo is None:
            return stamp.tz_localize(timezone, ambiguous=True, nonexistent="shift_forward")
        return stamp.tz_convert(timezone)
    except (ValueError, TypeError):
        return pd.NaT
