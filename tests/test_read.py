"""Reading every supported format, delimiter and encoding into the same rows."""

import hashlib

import geopandas as gpd
import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given

from odgeo.errors import InputFileError
from odgeo.incidents.read import read_incidents
from odgeo.incidents.tables import read_table

ROWS = [
    ("A1", "2024-05-01 10:00", "fatal", "-97.40", "38.20", "Café Ñandú, 12 Oak St"),
    ("A2", "2024-05-02 11:30", "nonfatal", "-97.41", "38.21", "34 Elm St"),
    ("A3", "2024-05-03 12:45", "nonfatal", "-97.42", "38.22", "56 Pine St"),
]
HEADER = ["incident_id", "occurred_at", "outcome", "longitude", "latitude", "address"]


def _csv_text(delimiter: str) -> str:
    quoted = [[f'"{v}"' if delimiter in v or "," in v else v for v in r] for r in ROWS]
    lines = [delimiter.join(HEADER)] + [delimiter.join(r) for r in quoted]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1252"])
def test_csv_any_delimiter_and_encoding(tmp_path, delimiter, encoding):
    path = tmp_path / "in.csv"
    path.write_bytes(_csv_text(delimiter).encode(encoding))
    table = read_table(path)
    assert list(table.data.columns) == HEADER
    assert table.delimiter == delimiter
    assert table.data["address"].iloc[0] == "Café Ñandú, 12 Oak St"
    read = read_incidents(path)
    assert read.n_located == 3 and read.n_rejected == 0


def _frame():
    df = pd.DataFrame(ROWS, columns=HEADER)
    geom = shapely.points(df["longitude"].astype(float), df["latitude"].astype(float))
    return gpd.GeoDataFrame(df.drop(columns=["longitude", "latitude"]), geometry=geom, crs="EPSG:4326")


@pytest.mark.parametrize("suffix, writer", [
    (".geojson", lambda f, p: f.to_file(p, driver="GeoJSON")),
    (".gpkg", lambda f, p: f.to_file(p, driver="GPKG")),
    (".shp", lambda f, p: f.to_file(p)),
    (".parquet", lambda f, p: f.to_parquet(p)),
])
def test_vector_formats_give_the_same_incidents(tmp_path, suffix, writer):
    path = tmp_path / f"in{suffix}"
    writer(_frame(), path)
    read = read_incidents(path)
    assert read.n_located == 3 and read.n_rejected == 0
    got = sorted(zip(read.incidents["incident_id"], read.incidents.geometry.x.round(6)))
    assert got == [("A1", -97.40), ("A2", -97.41), ("A3", -97.42)]
    assert read.source["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_vector_in_projected_crs_is_reprojected(tmp_path):
    path = tmp_path / "utm.gpkg"
    _frame().to_crs("EPSG:32614").to_file(path, driver="GPKG")
    read = read_incidents(path)
    assert read.incidents.geometry.x.round(6).tolist() == [-97.40, -97.41, -97.42]


def test_polygon_geometry_is_rejected_with_reason(tmp_path):
    frame = _frame()
    frame.loc[1, "geometry"] = shapely.box(-97.4, 38.2, -97.39, 38.21)
    path = tmp_path / "mixed.gpkg"
    frame.to_file(path, driver="GPKG")
    read = read_incidents(path)
    assert read.n_located == 2
    assert read.rejects["code"].tolist() == ["bad_geometry"]
    assert "Polygon" in read.rejects["reason"].iloc[0]


@pytest.mark.parametrize("content, message", [(None, "no such file"), (b"", "empty")])
def test_missing_or_empty_file(tmp_path, content, message):
    path = tmp_path / "x.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputFileError, match=message):
        read_table(path)


def test_binary_file_is_refused(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"\x00\x01\x02PK" * 100)
    with pytest.raises(InputFileError, match="binary"):
        read_table(path)


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=200))
def test_vector_coordinates_as_text_read_back_to_the_same_floats(values):
    from odgeo.arrowtext import to_float
    from odgeo.incidents.tables import _float_text

    array = np.array(values, dtype=float)
    text = _float_text(array)
    finite = np.isfinite(array)
    assert (text[~finite] == "").all()
    np.testing.assert_array_equal(to_float(pd.Series(text))[finite], array[finite])


@given(st.lists(st.text(alphabet='ab ,;"\r\n\t', max_size=8), min_size=1, max_size=5),
       st.sampled_from([",", ";"]), st.sampled_from(["\n", "\r\n", "\r", ""]))
def test_header_is_the_first_record_as_csv_reads_it_from_the_whole_text(fields, delimiter, newline):
    import csv
    import io

    from odgeo.incidents.tables import _header

    text = delimiter.join(fields) + newline + "x,y\n1,2\n"
    try:
        expected = next(csv.reader(io.StringIO(text), delimiter=delimiter, skipinitialspace=True))
    except (StopIteration, csv.Error) as err:
        expected = err
    try:
        got = _header(text, delimiter, "f.csv")
    except InputFileError:  # no header, or an unreadable one: what the whole-text reader saw too
        assert isinstance(expected, Exception) or not any(h.strip() for h in expected)
        return
    assert got == [h.strip() for h in expected]


@given(st.lists(st.one_of(st.none(), st.sampled_from(["fatal", "nonfatal", "unknown", "Fatal", "", "x"])),
                max_size=50), st.sampled_from(["object", "str", "category"]))
def test_codes_in_a_vocabulary_are_categorical_codes(values, dtype):
    from odgeo.arrowtext import codes_in

    vocabulary = ["fatal", "nonfatal", "unknown"]
    series = pd.Series(values, dtype=dtype)
    expected = [vocabulary.index(v) if v in vocabulary else -1 for v in values]
    np.testing.assert_array_equal(codes_in(series, vocabulary), expected)
    np.testing.assert_array_equal(codes_in(series.array, vocabulary), expected)


def test_an_input_is_told_apart_once_and_read_as_resolved(tmp_path):
    from odgeo.engine.choose import choose_engine
    from odgeo.errors import ParameterError
    from odgeo.incidents.read import read_source
    from odgeo.incidents.source import InputSource, ReadOptions

    from .conftest import SAMPLE, SAMPLE_TZ

    csv = SAMPLE / "incidents.csv"
    assert InputSource.of(csv).kind == "file"
    assert InputSource.of(SAMPLE).kind == "parts"
    assert InputSource.of(str(SAMPLE / "*.csv")).kind == "parts"
    url = "postgresql://odgeo@localhost:5432/ems"
    assert InputSource.of(url, table="calls").kind == "database"
    with pytest.raises(ParameterError, match="`table` and `sql` apply to a database source"):
        InputSource.of(csv, table="calls")
    # The engine follows the kind: a database is read by the database, files in parts by Dask.
    assert choose_engine("auto", url).engine == "memory"
    with pytest.raises(ParameterError, match="a database source is read by the database"):
        choose_engine("dask", url)
    with pytest.raises(ParameterError, match="read with `engine` dask"):
        choose_engine("memory", SAMPLE)
    with pytest.raises(ParameterError, match="read with `engine` dask"):
        read_incidents(SAMPLE)
    # One resolved value reads as the keyword form does.
    source = InputSource.of(csv, read=ReadOptions(timezone=SAMPLE_TZ))
    by_source, by_keywords = read_source(source), read_incidents(csv, timezone=SAMPLE_TZ)
    pd.testing.assert_frame_equal(by_source.incidents.drop(columns="geometry"),
                                  by_keywords.incidents.drop(columns="geometry"))
    assert by_source.source == by_keywords.source and len(by_source.rejects) == len(by_keywords.rejects)
