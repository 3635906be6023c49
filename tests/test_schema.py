import pytest

from odgeo.errors import ColumnError
from odgeo.schema import ROLE_ALIASES, detect_columns, normalise_name


def test_normalise_name_drops_case_and_punctuation():
    assert normalise_name(" Incident_Date ") == "incidentdate"
    assert normalise_name("X") == "x"


@pytest.mark.parametrize(
    "columns, role, expected",
    [
        (["X", "Y", "Incident_Date"], "longitude", "X"),
        (["X", "Y", "Incident_Date"], "occurred_at", "Incident_Date"),
        (["lng", "lat", "datetime"], "longitude", "lng"),
        (["Longitude", "Lat", "x"], "longitude", "Longitude"),  # best alias wins
        (["OBJECTID", "Case Number"], "incident_id", "Case Number"),
    ],
)
def test_detect_columns_by_alias(columns, role, expected):
    assert detect_columns(columns)[role] == expected


def test_one_column_never_serves_two_roles():
    roles = detect_columns(["date", "x", "y"], {"occurred_at": "date"})
    assert list(roles.values()).count("date") == 1


def test_override_wins_and_bad_override_names_the_column():
    assert detect_columns(["a", "b", "x"], {"longitude": "a"})["longitude"] == "a"
    with pytest.raises(ColumnError, match="'lon_typo'.*not in the input"):
        detect_columns(["lon", "lat"], {"longitude": "lon_typo"})


def test_every_role_has_aliases():
    assert all(ROLE_ALIASES[r] for r in ROLE_ALIASES)


def test_shapefile_truncated_names_are_recognised():
    roles = detect_columns(["incident_i", "occurred_a", "outcome"])
    assert roles["incident_id"] == "incident_i" and roles["occurred_at"] == "occurred_a"


def test_frames_that_break_the_contract_are_refused_where_they_enter(tmp_path):
    import geopandas as gpd
    import pandas as pd
    import pytest
    import shapely

    from odgeo.errors import DataError
    from odgeo.incidents.read import IncidentRead
    from odgeo.jobs.common import JobSettings, select_incidents
    from odgeo.runrecord import RunRecord
    from odgeo.schema import INCIDENT_COLUMNS

    frame = pd.DataFrame({c: [None, None] for c in INCIDENT_COLUMNS})
    frame["incident_id"] = ["A", "A"]
    frame["occurred_at"] = pd.to_datetime(["2024-01-01", "2024-01-02"]).tz_localize("UTC")
    frame["outcome"] = "fatal"
    incidents = gpd.GeoDataFrame(frame, geometry=[shapely.Point(-97.4, 38.2)] * 2, crs="EPSG:4326")
    read = IncidentRead(incidents, pd.DataFrame(columns=["row", "incident_id", "code", "column", "reason"]), 2, {})
    with pytest.raises(DataError, match="duplicate incident_id"):
        select_incidents(read, JobSettings(), RunRecord("test"))


def test_an_incident_frame_with_a_polygon_is_refused_and_empty_points_are_not():
    import geopandas as gpd
    import pandas as pd
    import shapely

    from odgeo.errors import DataError
    from odgeo.schema import INCIDENT_COLUMNS, validate_incident_frame

    n = 3
    frame = gpd.GeoDataFrame({c: [None] * n for c in INCIDENT_COLUMNS}, geometry=[
        shapely.Point(1, 2), shapely.Point(), None], crs="EPSG:4326")
    frame["incident_id"] = ["a", "b", "c"]
    frame["occurred_at"] = pd.to_datetime(["2024-01-01"] * n).tz_localize("UTC")
    frame["outcome"] = "fatal"
    assert validate_incident_frame(frame) is frame
    frame.loc[2, "geometry"] = shapely.box(0, 0, 1, 1)
    with pytest.raises(DataError, match=r"must be points, not \['Point', 'Polygon'\]"):
        validate_incident_frame(frame)


@pytest.mark.parametrize("ids, repeated", [
    (["a", "b", "c"], False), (["a", "b", "a"], True),            # text: Arrow's hash set
    ([1, 2, 3], False), ([1, 2, 1], True),                        # a notebook's numbers: pandas'
    (["a", 1, "1"], False), (["a", None, None], True),            # mixed; two missing ids are repeats
])
def test_repeated_incident_ids_are_found_whatever_their_type(ids, repeated):
    import geopandas as gpd
    import pandas as pd
    import shapely

    from odgeo.errors import DataError
    from odgeo.schema import INCIDENT_COLUMNS, validate_incident_frame

    n = len(ids)
    frame = gpd.GeoDataFrame({c: [None] * n for c in INCIDENT_COLUMNS}, geometry=[shapely.Point(1, 2)] * n,
                             crs="EPSG:4326")
    frame["incident_id"] = pd.Series(ids, dtype=object)
    frame["occurred_at"] = pd.to_datetime(["2024-01-01"] * n).tz_localize("UTC")
    frame["outcome"] = "fatal"
    if repeated:
        with pytest.raises(DataError, match="duplicate incident_id"):
            validate_incident_frame(frame)
    else:
        assert validate_incident_frame(frame) is frame
