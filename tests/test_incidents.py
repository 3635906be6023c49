"""Every row ends up used, unlocated or rejected with a reason; the counts add up."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from odgeo.errors import ColumnError, DataError, ParameterError
from odgeo.incidents.read import read_incidents
from odgeo.incidents.selection import filter_incidents
from odgeo.schema import validate_incident_frame


def _write(tmp_path, rows, header="incident_id,occurred_at,outcome,longitude,latitude,address"):
    path = tmp_path / "in.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_sample_bad_rows_are_rejected_with_their_reasons(sample_dir, truth):
    read = read_incidents(sample_dir / "incidents.csv", timezone="America/Chicago")
    got = sorted(zip(read.rejects["row"], read.rejects["code"]))
    assert got == sorted((b["row"], b["code"]) for b in truth["bad_rows"])
    assert read.n_unlocated == truth["n_unlocated"]
    assert read.n_input == truth["n_rows"]
    assert read.n_located + read.n_unlocated + read.n_rejected == read.n_input
    validate_incident_frame(read.incidents)


def test_reasons_never_quote_values(sample_dir):
    read = read_incidents(sample_dir / "incidents.csv", timezone="America/Chicago")
    assert not read.rejects["reason"].str.contains("95.2|N/A|not recorded|SMP-").any()


def test_dates_in_two_formats_and_time_zones(tmp_path):
    path = _write(tmp_path, [
        "1,2024-03-10 02:30:00,fatal,-97.4,38.2,",  # skipped by the spring clock change
        "2,2024-11-03 01:30:00,nonfatal,-97.4,38.2,",  # happens twice in autumn
        "3,05/17/2024 2:05 PM,nonfatal,-97.4,38.2,",
        "4,2024-05-17T19:05:00+00:00,nonfatal,-97.4,38.2,",
    ])
    read = read_incidents(path, timezone="America/Chicago")
    assert read.n_rejected == 0
    times = read.incidents.set_index("incident_id")["occurred_at"]
    assert str(times.dt.tz) == "America/Chicago"
    assert times["3"] == pd.Timestamp("2024-05-17 14:05", tz="America/Chicago")
    assert times["3"] == times["4"]


def test_swapped_and_out_of_range_coordinates(tmp_path):
    rows = [f"{i},2024-01-0{1 + i % 5},nonfatal,{-97.4 + i * 0.001},{38.2 + i * 0.001}," for i in range(10)]
    rows += ["s,2024-01-02,fatal,38.2,-97.4,", "r,2024-01-02,fatal,-97.4,95.3,", "z,2024-01-02,fatal,0,0,",
             "p,2024-01-02,fatal,-97.4,,12 Oak St", "n,2024-01-02,fatal,,,", "u,2024-01-02,fatal,,,12 Oak St"]
    read = read_incidents(_write(tmp_path, rows))
    codes = dict(zip(read.rejects["incident_id"], read.rejects["code"]))
    assert codes == {"s": "swapped_coordinates", "r": "coordinate_out_of_range", "z": "zero_coordinates",
                     "p": "partial_coordinates", "n": "no_location"}
    assert read.n_unlocated == 1 and read.n_located == 10


def test_projected_coordinates_need_a_crs(tmp_path):
    rows = [f"{i},2024-01-01,fatal,{630000 + i * 10},{4229000 + i * 10}," for i in range(5)]
    path = _write(tmp_path, rows)
    with pytest.raises(DataError, match="not degrees.*`crs`"):
        read_incidents(path)
    read = read_incidents(path, crs="EPSG:32614")
    assert read.n_located == 5
    assert abs(read.incidents.geometry.x.iloc[0] - (-97.52)) < 0.05


def test_missing_date_column_is_one_clear_error(tmp_path):
    path = _write(tmp_path, ["1,-97.4,38.2"], header="id,lon,lat")
    with pytest.raises(ColumnError, match=r'no date column.*`columns\["occurred_at"\]`'):
        read_incidents(path)


def test_all_column_problems_are_reported_together(tmp_path):
    path = _write(tmp_path, ["1,x,38.2"], header="id,note,lat")
    with pytest.raises(ColumnError, match=r'no date column.*; and found a latitude column.*`columns\["longitude"\]`'):
        read_incidents(path)


def test_outcomes_and_doses_are_normalised(tmp_path):
    path = _write(tmp_path, ["1,2024-01-01,Fatal,-97.4,38.2,2", "2,2024-01-01,Non-Fatal,-97.4,38.2,no",
                             "3,2024-01-01,weird,-97.4,38.2,yes", "4,2024-01-01,,-97.4,38.2,-1"],
                  header="incident_id,date,outcome,lon,lat,naloxone_doses")
    read = read_incidents(path)
    frame = read.incidents.set_index("incident_id")
    assert frame["outcome"].to_dict() == {"1": "fatal", "2": "nonfatal", "3": "unknown", "4": "unknown"}
    assert frame["naloxone_doses"].tolist()[:2] == [2, 0]
    assert frame["naloxone_doses"].isna().tolist()[2:] == [True, True]
    assert read.notes == {"outcome_unrecognised_as_unknown": 1, "naloxone_yes_without_dose_count": 1,
                          "naloxone_doses_unreadable": 1}


def test_filters_send_rows_to_rejects(sample_dir):
    read = read_incidents(sample_dir / "incidents.csv", timezone="America/Chicago")
    kept = filter_incidents(read, since="2025-01-01", until="2025-06-30", outcomes=["fatal"])
    times = kept.incidents["occurred_at"]
    assert times.min() >= pd.Timestamp("2025-01-01", tz="America/Chicago")
    assert times.max() < pd.Timestamp("2025-07-01", tz="America/Chicago")
    assert set(kept.incidents["outcome"]) == {"fatal"}
    assert len(kept.incidents) + kept.n_rejected == len(read.incidents) + read.n_rejected
    assert {"before_since", "after_until", "outcome_filtered"} <= set(kept.rejects["code"])
    with pytest.raises(ParameterError, match="`until`"):
        filter_incidents(read, since="2025-01-01", until="2024-01-01")


_cell = st.sampled_from(["", "x", "2024-02-30", "2024-05-01 10:00", "-97.4", "38.2", "95", "0", "abc"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["1", "2", "3", ""]), _cell, _cell, _cell, _cell), max_size=25))
def test_counts_always_add_up(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("prop") / "in.csv"
    lines = ["incident_id,occurred_at,longitude,latitude,address"] + [",".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    try:
        read = read_incidents(path)
    except DataError:
        return  # a file whose coordinates are mostly not degrees is refused as a whole
    assert read.n_located + read.n_unlocated + read.n_rejected == read.n_input
    assert read.incidents["incident_id"].is_unique
    assert read.rejects["row"].is_unique
    assert np.all(read.rejects["reason"].str.len() > 0)


def test_location_text_column_socrata_and_wkt(tmp_path):
    path = _write(tmp_path, ['1,2024-01-01,"CT\n(41.30, -72.92)"', "2,2024-01-02,POINT (-72.93 41.31)",
                             "3,2024-01-03,Hospital", "4,2024-01-04,"],
                  header="id,date,geo_location")
    read = read_incidents(path, columns={"location": "geo_location"})
    assert read.n_located == 2
    assert read.incidents.geometry.x.round(2).tolist() == [-72.92, -72.93]
    assert dict(zip(read.rejects["row"], read.rejects["code"])) == {3: "bad_coordinate", 4: "no_location"}


def test_a_location_column_of_words_is_ignored_not_rejected(tmp_path):
    # Connecticut's "Location" says where the death occurred (Residence, Hospital).
    path = _write(tmp_path, ["1,2024-01-01,Residence,-72.9,41.3,", "2,2024-01-02,Hospital,,,12 Oak St"],
                  header="id,date,Location,lon,lat,address")
    read = read_incidents(path)
    assert read.columns["location"] is None
    assert (read.n_located, read.n_unlocated, read.n_rejected) == (1, 1, 0)


def test_address_only_file_rejects_rows_without_address(tmp_path):
    path = _write(tmp_path, ["1,2024-01-01,12 Oak St", "2,2024-01-02,"], header="id,date,address")
    read = read_incidents(path)
    assert (read.n_unlocated, read.n_rejected) == (1, 1)
    assert read.rejects["code"].tolist() == ["no_location"]


def test_a_location_column_of_words_is_ignored_when_overrides_are_none(tmp_path):
    """The command line passes every column option, most of them None: that is no override."""
    from odgeo.errors import ColumnError

    path = tmp_path / "deaths.csv"
    path.write_text("ID,Date,Location,DeathCityGeo\n1,2014-06-28,Residence,\"HARTFORD, CT\n(41.76, -72.68)\"\n")
    columns = {"longitude": None, "latitude": None, "location": None, "occurred_at": None}
    with pytest.raises(ColumnError, match=r'`columns\["location"\]`'):
        read_incidents(path, columns=columns)
    read = read_incidents(path, columns={**columns, "location": "DeathCityGeo"})
    assert read.n_located == 1


def test_a_file_without_an_id_column_gets_row_ids(tmp_path):
    path = tmp_path / "noid.csv"
    path.write_text("occurred_at,longitude,latitude\n2025-01-01,-97.4,38.2\n2025-01-02,-97.41,38.21\n")
    read = read_incidents(path)
    assert read.incidents["incident_id"].tolist() == ["odgeo-row-1", "odgeo-row-2"]


_NUMBER_TEXT = ["-87.623177", "41.881832", "1e5", "+5", ".5", "5.", "1E-3", "-0",
                "0.1000000000000000055511151231257827", "inf", "-Infinity", "NaN", "1_000", "0x10", "１２", "12a",
                "1e", "e5", "- 5", "5e1000", "1e-400", "00012"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_NUMBER_TEXT), st.text("0123456789.eE+-infatyINFATY_x,", max_size=8),
                          st.floats(allow_nan=False).map(repr)), min_size=1, max_size=30))
def test_coordinate_text_reads_as_pandas_decides_and_python_rounds(values):
    from odgeo.arrowtext import to_float

    text = pd.Series(values, dtype=object)
    got = to_float(text)
    # Which texts are numbers: as pandas.to_numeric says (a decimal comma read as a point);
    # their values: as Python's float, correctly rounded (pandas 2's parser is not, on 17 digits).
    def expected(value):
        for candidate in (value, value.replace(",", ".") if "," in value else None):
            if candidate is not None and not np.isnan(pd.to_numeric(pd.Series([candidate]), errors="coerce")[0]):
                return float(candidate)
        return np.nan

    def overflows(value):  # pandas 2 calls "5e1000" not a number, pandas 3 infinite: rejected either way
        try:
            return any(c.isdigit() for c in value) and math.isinf(float(value))
        except ValueError:
            return False

    want = np.array([expected(v) for v in values])
    huge = np.array([overflows(v) for v in values])
    assert np.array_equal(got[~huge], want[~huge], equal_nan=True)
    assert np.isinf(got[huge]).all()


def test_repeated_and_generated_ids(tmp_path):
    path = _write(tmp_path, [
        "A,2024-05-01,fatal,-97.4,38.2,",
        "B,2024-05-01,fatal,999,38.2,",  # rejected for its longitude, after the ids are checked
        "B,2024-05-02,fatal,-97.4,38.2,",
        ",2024-05-02,fatal,-97.4,38.2,",
        "A,2024-05-03,fatal,-97.4,38.2,",
    ])
    read = read_incidents(path)
    assert list(read.incidents["incident_id"]) == ["A", "odgeo-row-4"]
    rejects = read.rejects.set_index("row")
    assert rejects.loc[2, "code"] == "coordinate_out_of_range"
    assert rejects.loc[3, "reason"] == "duplicate incident id (first seen at row 2)"
    assert rejects.loc[5, "reason"] == "duplicate incident id (first seen at row 1)"
    assert list(rejects["incident_id"]) == ["B", "B", "A"]
    assert read.notes["incident_id_generated"] == 1


def test_the_raw_text_is_let_go_before_the_points_are_made(sample_dir, monkeypatch):
    """read_incidents hands the raw table to validation, which keeps only the text its last checks read.

    (The raw text of 1M rows was ~150 MB alive while their points were made.)
    """
    import gc
    import weakref

    import odgeo.incidents.read as incidents

    raw_data, alive_at_finish = [], []
    read_table, finish = incidents.read_table, incidents.PartValidation.finish

    def reading(*args, **kwargs):
        table = read_table(*args, **kwargs)
        raw_data.append(weakref.ref(table.data))
        return table

    def finishing(part, reference):
        gc.collect()
        alive_at_finish.append(raw_data[0]() is not None)
        return finish(part, reference)

    monkeypatch.setattr(incidents, "read_table", reading)
    monkeypatch.setattr(incidents.PartValidation, "finish", finishing)
    read = incidents.read_incidents(sample_dir / "incidents.csv", timezone="America/Chicago")
    assert alive_at_finish == [False]
    assert read.n_located == 3984
