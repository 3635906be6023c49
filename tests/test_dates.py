import zoneinfo

import pandas as pd
import pytest

from odgeo.dates import parse_datetimes


def test_formats_offsets_and_failures():
    text = pd.Series(["2024-07-04 09:15:00", "2024-07-04T13:15:00Z", "07/04/2024 9:15 AM", "not a date", None])
    out = parse_datetimes(text, "America/New_York")
    expected = pd.Timestamp("2024-07-04 09:15", tz="America/New_York")
    assert out.iloc[0] == expected and out.iloc[1] == expected and out.iloc[2] == expected
    assert out.iloc[3] is pd.NaT and out.iloc[4] is pd.NaT


def test_unknown_time_zone_raises():
    with pytest.raises(zoneinfo.ZoneInfoNotFoundError):
        parse_datetimes(pd.Series(["2024-01-01"]), "Mars/Olympus_Mons")
