import numpy as np
import pandas as pd
import pytest

from odgeo.errors import DataError, ParameterError
from odgeo.incidents.dates import default_window, parse_datetimes


def test_formats_offsets_and_failures():
    text = pd.Series(["2024-07-04 09:15:00", "2024-07-04T13:15:00Z", "07/04/2024 9:15 AM", "not a date", None])
    out = parse_datetimes(text, "America/New_York")
    expected = pd.Timestamp("2024-07-04 09:15", tz="America/New_York")
    assert (out.values.iloc[:3] == expected).all()
    assert out.values.iloc[3] is pd.NaT and out.values.iloc[4] is pd.NaT
    assert out.unreadable.tolist() == [False, False, False, True, False]


def test_unknown_time_zone_is_a_parameter_error():
    with pytest.raises(ParameterError, match="`timezone` 'Mars/Olympus_Mons' is not a time zone"):
        parse_datetimes(pd.Series(["2024-01-01"]), "Mars/Olympus_Mons")


def test_empty_dates_and_offsets_as_a_real_medical_examiner_export():
    # 2014/12/01 06:00:00+00 with empty values among them: pandas 3 used to fail on assignment.
    text = pd.Series(["2014/12/01 06:00:00+00", "", None, "2015/01/02 07:00:00+00"] * 50)
    out = parse_datetimes(text, "UTC")
    assert out.values.isna().sum() == 100 and not out.unreadable.any()
    assert out.values.iloc[0] == pd.Timestamp("2014-12-01 06:00", tz="UTC")
    assert str(out.values.dtype) == "datetime64[ns, UTC]"


@pytest.mark.parametrize("placeholder", ["9999-12-31", "0001-01-01", "2262-04-12", "1677-09-21"])
def test_placeholder_dates_out_of_range_are_flagged_not_fatal(placeholder):
    text = pd.Series(["2024-03-01 10:00"] * 400 + [placeholder])
    out = parse_datetimes(text, "America/Chicago")
    assert out.out_of_range.tolist() == [False] * 400 + [True]
    assert out.values.iloc[:400].notna().all() and out.values.iloc[400] is pd.NaT


def test_implausible_window():
    text = pd.Series(["1900-01-01", "2024-05-05", "2100-01-01"])
    out = parse_datetimes(text, "UTC", plausible=default_window(pd.Timestamp("2026-12-01")))
    assert out.implausible.tolist() == [True, False, True]
    assert not parse_datetimes(text, "UTC").implausible.any()  # no window: accepted


def test_day_first_is_decided_by_all_values_not_the_first():
    # The first value is ambiguous; a later one proves day-first: 02/03/2024 is 2 March.
    out = parse_datetimes(pd.Series(["02/03/2024", "05/06/2024", "13/01/2024"]), "UTC")
    assert out.order == "day-first"
    assert out.values.iloc[0] == pd.Timestamp("2024-03-02", tz="UTC")
    # A first value over 12 does not make a file day-first when others prove month-first... it is refused.
    with pytest.raises(DataError, match="mixes day-first dates .*row 1.* month-first dates .*row 2"):
        parse_datetimes(pd.Series(["13/01/2024", "01/13/2024"]), "UTC")
    # Nothing decides: month first, as US exports.
    out = parse_datetimes(pd.Series(["02/03/2024", "05/06/2024"]), "UTC")
    assert out.order == "month-first" and out.values.iloc[0] == pd.Timestamp("2024-02-03", tz="UTC")
    assert parse_datetimes(pd.Series(["2024-02-03"]), "UTC").order == "unambiguous"


def test_a_given_format_settles_it():
    out = parse_datetimes(pd.Series(["13/01/2024 10:00", "01/13/2024 10:00"]), "UTC", date_format="%d/%m/%Y %H:%M")
    assert out.values.iloc[0] == pd.Timestamp("2024-01-13 10:00", tz="UTC")
    assert out.unreadable.tolist() == [False, True]
    assert out.order == "format %d/%m/%Y %H:%M"


def test_same_answer_as_one_by_one_parsing():
    rng = np.random.default_rng(3)
    stamps = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 5 * 365 * 86400, 300), unit="s")
    text = pd.Series([s.strftime("%Y-%m-%d %H:%M:%S") for s in stamps])
    out = parse_datetimes(text, "America/Phoenix")  # no daylight saving: every wall time exists once
    assert (out.values == pd.Series(stamps).dt.tz_localize("America/Phoenix")).all()
