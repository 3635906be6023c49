"""The offline geocoder: parsing, the ladder and its scores against the sample city's truth,
bad input, the cache, the command and the main job's --reference."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from odgeo_cli.main import cli

from odgeo.geocode.addresses import parse_address
from odgeo.geocode.index import load_index
from odgeo.geocode.matcher import geocode_frame

from .conftest import SAMPLE, SAMPLE_TZ

REFERENCES = [SAMPLE / "address_points.csv", SAMPLE / "streets.geojson"]


@pytest.fixture(scope="module")
def index():
    built, how = load_index(REFERENCES)
    assert how["built"]
    loaded, how = load_index(REFERENCES)
    assert not how["built"]  # the second run reads the cache
    assert loaded.n_points == built.n_points and loaded.street_keys == built.street_keys
    return loaded


@pytest.mark.parametrize("text, kind, number, high, street, unit", [
    ("290-92 e cypress str apt 5", "range", 290, 292, "E CYPRESS ST", "APT 5"),
    ("1234-1240 Main", "range", 1234, 1240, "MAIN", ""),
    ("900 BLOCK OF N 10th Ave", "block", 900, 999, "N 10TH AVE", ""),
    ("9XX N Main St APT 3", "block", 900, 999, "N MAIN ST", "APT 3"),
    ("349 West Cypress Street", "address", 349, None, "W CYPRESS ST", ""),
    ("1234 N First Avenue", "address", 1234, None, "N 1ST AVE", ""),
    ("406 E Laurel St #4", "address", 406, None, "E LAUREL ST", "#4"),
    ("35 E Juniper Ave STE 100", "address", 35, None, "E JUNIPER AVE", "STE 100"),
    ("2753 SAWYER", "address", 2753, None, "SAWYER", ""),
    ("821 N 3rd ST.", "address", 821, None, "N 3RD ST", ""),
    ("12 Rear Main St Rear", "place", None, None, "", ""),
])
def test_parsing(text, kind, number, high, street, unit):
    address = parse_address(text)
    assert (address.kind, address.number, address.number_high) == (kind, number, high)
    if kind != "place":
        assert (address.street, address.unit) == (street, unit)


# Notes, units and landmarks as typed into death investigation and EMS records (issue 14's examples
# and the injury-place words of Connecticut's medical examiner export): split off before matching.
@pytest.mark.parametrize("text, number, street, unit, note, city, zip_code", [
    ("3127 West Taylor (Vacant Lot)", 3127, "W TAYLOR", "", "VACANT LOT", "", ""),
    ("641 N. CLARK ST(WALGREENS)", 641, "N CLARK ST", "", "WALGREENS", "", ""),
    ("6131 NORTH SHERIDAN, TOWN HSE B", 6131, "N SHERIDAN", "TOWN HSE B", "", "", ""),
    ("5330 W Harrison, 2 S", 5330, "W HARRISON", "2 S", "", "", ""),
    ("3720 W. McLean #2C/Rear Building", 3720, "W MCLEAN", "#2C/REAR BUILDING", "", "", ""),
    ("4849 W Irving Park Road, hotel room 221", 4849, "W IRVING PARK RD", "HOTEL ROOM 221", "", "", ""),
    ("3700 w. Congress, UnitT 1306", 3700, "W CONGRESS", "UNITT 1306", "", "", ""),
    ("3173 WEST HARRISON, ALLEY", 3173, "W HARRISON", "", "ALLEY", "", ""),
    ("5615 N Cumberland, 607", 5615, "N CUMBERLAND", "607", "", "", ""),
    ("8017 South Langley, Apt.1", 8017, "S LANGLEY", "APT1", "", "", ""),
    ("8017 South Langley Apt.1", 8017, "S LANGLEY", "APT1", "", "", ""),
    ("426 S CLARK ST BSMT", 426, "S CLARK ST", "BSMT", "", "", ""),
    ("123 1/2 Main St", 123, "MAIN ST", "", "", "", ""),
    ("123\u00bd Main St", 123, "MAIN ST", "", "", "", ""),
    ("12 Main St, Friend's Residence", 12, "MAIN ST", "", "FRIEND S RESIDENCE", "", ""),
    ("40 Elm St, Hotel or Motel", 40, "ELM ST", "", "HOTEL OR MOTEL", "", ""),
    ("7 Oak Ave, In Vehicle", 7, "OAK AVE", "", "IN VEHICLE", "", ""),
    ("88 Pine St (parking lot), Sampleton, KS 67401", 88, "PINE ST", "", "PARKING LOT", "SAMPLETON", "67401"),
    ("5 Oak, Apt 2, Sampleton, KS 67401", 5, "OAK", "APT 2", "", "SAMPLETON", "67401"),
    ("123 Main St, IL 62704", 123, "MAIN ST", "", "", "", "62704"),
    ("123 Main St, 62704", 123, "MAIN ST", "", "", "", "62704"),
    ("100 United Way", 100, "UNITED WAY", "", "", "", ""),
    ("55 Flower St", 55, "FLOWER ST", "", "", "", ""),
    ("12 Lotus Ave", 12, "LOTUS AVE", "", "", "", ""),
])
def test_notes_and_units_are_split_off(text, number, street, unit, note, city, zip_code):
    address = parse_address(text)
    assert (address.kind, address.number, address.street) == ("address", number, street)
    assert (address.unit, address.note, address.city, address.zip) == (unit, note, city, zip_code)


@pytest.mark.parametrize("text, low, high, street", [
    ("1200 BLK W MADISON", 1200, 1299, "W MADISON"), ("1200-BL W Madison St", 1200, 1299, "W MADISON ST"),
    ("1200 block of W Madison", 1200, 1299, "W MADISON"),
])
def test_block_abbreviations(text, low, high, street):
    address = parse_address(text)
    assert (address.kind, address.number, address.number_high, address.street) == ("block", low, high, street)


@pytest.mark.parametrize("text, kind", [
    ("MAIN ST & 3RD AVE", "intersection"), ("5th and Oak", "intersection"), ("Main / Elm", "intersection"),
    ("PO Box 123", "po_box"), ("City Hall", "place"), ("", "empty"), ("67401", "zip_only"),
    ("x" * 10_000, "too_long"), ("'; DROP TABLE incidents; --", "place"), ("<script>alert(1)</script>", "place"),
])
def test_what_cannot_be_matched_says_so(text, kind):
    address = parse_address(text)
    assert address.kind == kind
    if kind in ("po_box", "place", "empty", "zip_only", "too_long"):
        assert address.reason


def test_one_line_addresses_are_split():
    address = parse_address("123 Main St, Springfield, IL 62704")
    assert (address.number, address.street, address.city, address.zip) == (123, "MAIN ST", "SPRINGFIELD", "62704")


def _sample_unlocated():
    truth = {u["incident_id"]: u for u in json.loads((SAMPLE / "truth.json").read_text())["unlocated_truth"]}
    rows = pd.read_csv(SAMPLE / "incidents.csv", dtype=str, keep_default_na=False)
    rows = rows[rows["incident_id"].isin(truth)].reset_index(drop=True)
    facts = pd.DataFrame([truth[i] for i in rows["incident_id"]])
    return rows, facts


def _error_m(out, facts):
    return np.hypot((out["longitude"] - facts["longitude"]) * 111_320 * np.cos(np.radians(38.2)),
                    (out["latitude"] - facts["latitude"]) * 110_540).to_numpy()


def test_scores_mean_what_the_docs_say_on_the_sample_city(index):
    rows, facts = _sample_unlocated()
    out = geocode_frame(index, rows["address"], rows["city"], rows["zip"])
    error = _error_m(out, facts)
    high = out["geocode_score"].to_numpy() >= 0.8
    assert high.sum() > 0.7 * len(out)
    assert (error[high] <= 100).mean() >= 0.98  # the calibration target
    clean = (facts["address_style"] == "clean") & facts["in_address_points"]
    assert ((out["geocode_status"][clean] == "exact") & (error[clean] <= 5)).mean() >= 0.995
    messy = facts["address_style"] != "clean"
    street_or_better = out["geocode_status"].isin(["exact", "interpolated", "range", "intersection", "street"])
    assert street_or_better[messy].mean() >= 0.97 and np.nanmedian(error[messy]) <= 25
    off_points = ~facts["in_address_points"]
    assert off_points.sum() == 60 and np.nanmedian(error[off_points]) <= 40


def test_a_wrong_zip_in_a_tenth_of_rows_still_finds_the_address_point(index):
    rows, facts = _sample_unlocated()
    clean = ((facts["address_style"] == "clean") & facts["in_address_points"]).to_numpy()
    rows, facts = rows[clean].reset_index(drop=True), facts[clean].reset_index(drop=True)
    zips = ["67401", "67402", "67403", "67404"]
    wrong = (np.arange(len(rows)) % 10 == 3) & rows["zip"].isin(zips).to_numpy()
    given = rows["zip"].where(~wrong, [zips[(zips.index(z) + 1) % 4] if z in zips else z for z in rows["zip"]])
    assert (given[wrong] != rows["zip"][wrong]).all() and wrong.sum() >= 20
    out = geocode_frame(index, rows["address"], rows["city"], given)
    right = geocode_frame(index, rows["address"], rows["city"], rows["zip"])
    error = _error_m(out, facts)
    # The number found on the street in another ZIP, exactly: the point is right, the score 0.05 lower.
    moved = wrong & (out["geocode_status"] == "exact").to_numpy()
    assert moved.sum() == wrong.sum()  # before: 2 of the 30 fell to the centre of the street in the given ZIP
    assert (error[moved] <= 5).all()
    assert np.allclose(out["geocode_score"][moved], right["geocode_score"][moved] - 0.05)
    assert (out["geocode_reason"][moved] == [f"ZIP {g} disagreed: found in {z}"
                                              for g, z in zip(given[moved], rows["zip"][moved])]).all()
    pd.testing.assert_frame_equal(out[~wrong], right[~wrong])


def test_bad_input_keeps_every_row_in_order(index, tmp_path):
    texts = ["", "67401", "x" * 10_000, "12\x00 Main\x07 St", "'; DROP TABLE x; --", "<img src=x onerror=alert(1)>",
             "PO Box 7", "562 W Locust St", "Café Olé"]
    path = tmp_path / "bad.csv"
    frame = pd.DataFrame({"id": range(len(texts)), "address": texts, "zip": ["67402"] * len(texts)})
    path.write_bytes(frame.to_csv(index=False).encode("cp1252", errors="replace"))
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(cli, ["geocode", str(path), "--reference", str(REFERENCES[0]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    written = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert written["id"].tolist() == [str(i) for i in range(len(texts))]
    assert (written["geocode_status"] != "").all()
    unmatched = written[written["geocode_status"] == "unmatched"]
    assert (unmatched["geocode_reason"] != "").all()
    assert written.loc[7, "geocode_status"] == "exact"


@pytest.mark.parametrize("suffix", [".gpkg", ".parquet"])
def test_vector_outputs(tmp_path, suffix):
    out = tmp_path / f"g{suffix}"
    result = CliRunner().invoke(cli, ["geocode", str(SAMPLE / "incidents.csv"), "--reference", str(REFERENCES[0]),
                                      "--reference", str(REFERENCES[1]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "exact" in result.output and "median score" in result.output
    frame = gpd.read_parquet(out) if suffix == ".parquet" else gpd.read_file(out)
    assert len(frame) == 5045 and {"geocode_status", "geocode_score", "matched_address"} <= set(frame.columns)


def test_main_job_geocodes_pending_rows(tmp_path):
    out = tmp_path / "r"
    result = CliRunner().invoke(cli, ["hotspots", str(SAMPLE / "incidents.csv"), "--timezone", SAMPLE_TZ,
                                      "--out", str(out), "--reference", str(REFERENCES[0]),
                                      "--reference", str(REFERENCES[1]), "--audience", "restricted"])
    assert result.exit_code == 0, result.output
    record = json.loads((out / "run.json").read_text())
    counts, geocoding = record["counts"], record["geocoding"]
    assert counts["n_unlocated"] == 0 and geocoding["n"] == 1053
    assert counts["n_used"] + counts["n_rejected"] == counts["n_input"]
    assert geocoding["n_located"] + geocoding["n_left_out"] == 1053
    rejects = pd.read_csv(out / "rejects.csv")
    assert (rejects["code"] == "not_geocoded").sum() == geocoding["n_left_out"]
    assert "Geocoded 1053 addresses offline" in result.output


@pytest.mark.parametrize("command, extra", [
    ("emerging", []),
    ("sites", ["--candidates", str(SAMPLE / "candidate_sites.csv"), "--n-sites", "2"]),
])
def test_other_commands_geocode_too(tmp_path, command, extra):
    out = tmp_path / command
    result = CliRunner().invoke(cli, [command, str(SAMPLE / "incidents.csv"), "--timezone", SAMPLE_TZ,
                                      "--out", str(out),
                                      "--reference", str(REFERENCES[0]), "--reference", str(REFERENCES[1]), *extra])
    assert result.exit_code == 0, result.output
    record = json.loads((out / "run.json").read_text())
    assert record["geocoding"]["n"] == 1053 and record["counts"]["n_unlocated"] == 0


def _tiger_addrfeat_zip(tmp_path, change=None):
    """The sample streets as a TIGER/Line ADDRFEAT download: a zipped shapefile, the real column names.

    House numbers are text (as TIGER's), ranges on LFROMHN/LTOHN/RFROMHN/RTOHN, a ZIP per side.
    """
    import zipfile

    streets = gpd.read_file(SAMPLE / "streets.geojson")
    addrfeat = gpd.GeoDataFrame({
        "TLID": streets["TLID"], "TFIDL": 0, "TFIDR": 0, "ARIDL": "", "ARIDR": "", "LINEARID": "110" + streets["TLID"]
        .astype(str), "FULLNAME": streets["FULLNAME"], "LFROMHN": streets["LFROMADD"].astype("Int64").astype(str),
        "LTOHN": streets["LTOADD"].astype("Int64").astype(str), "RFROMHN": streets["RFROMADD"].astype("Int64")
        .astype(str), "RTOHN": streets["RTOADD"].astype("Int64").astype(str), "ZIPL": streets["ZIPL"],
        "ZIPR": streets["ZIPR"], "EDGE_MTFCC": "S1400", "ROAD_MTFCC": "S1400", "PARITYL": "O", "PARITYR": "E",
        "PLUS4L": "", "PLUS4R": "", "LFROMTYP": "", "LTOTYP": "", "RFROMTYP": "", "RTOTYP": "", "OFFSETL": "N",
        "OFFSETR": "N"}, geometry=list(streets.geometry), crs="EPSG:4269")  # TIGER is in NAD83
    if change is not None:
        addrfeat = change(addrfeat)
    folder = tmp_path / "tl_2024_20169_addrfeat"
    folder.mkdir()
    addrfeat.to_file(folder / "tl_2024_20169_addrfeat.shp", engine="pyogrio")
    archive = tmp_path / "tl_2024_20169_addrfeat.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for part in folder.iterdir():
            z.write(part, part.name)
    return archive


def test_tiger_addrfeat_zip_as_downloaded_gives_the_same_ranges(tmp_path, monkeypatch):
    monkeypatch.setenv("ODGEO_CACHE", str(tmp_path / "cache"))
    rows, _ = _sample_unlocated()
    tiger, _ = load_index([_tiger_addrfeat_zip(tmp_path)])  # centerlines only: every number from a range
    geojson, _ = load_index([SAMPLE / "streets.geojson"])
    got = geocode_frame(tiger, rows["address"], rows["city"], rows["zip"])
    want = geocode_frame(geojson, rows["address"], rows["city"], rows["zip"])
    assert (got["geocode_status"] == "range").mean() >= 0.9
    pd.testing.assert_frame_equal(got, want, atol=1e-6)


def test_tiger_sides_are_keyed_by_their_own_zip(tmp_path, monkeypatch):
    monkeypatch.setenv("ODGEO_CACHE", str(tmp_path / "cache"))
    streets = gpd.read_file(SAMPLE / "streets.geojson")
    first = streets.iloc[0]  # W Oak St 1101-1199 left, 1100-1198 right, both in 67403
    archive = _tiger_addrfeat_zip(tmp_path, lambda f: f.assign(ZIPR=np.where(f["TLID"] == first["TLID"], "67499",
                                                                               f["ZIPR"])))
    index, _ = load_index([archive])
    out = geocode_frame(index, pd.Series(["1150 W Oak St", "1151 W Oak St"]), zips=pd.Series(["67499", "67403"]))
    assert list(out["geocode_status"]) == ["range", "range"]
    assert list(out["geocode_reason"]) == ["", ""]  # each side found in the ZIP given for it
    assert list(out["matched_address"]) == ["1150 W OAK ST 67499", "1151 W OAK ST 67403"]


def test_openaddresses_geojson_is_read_as_its_csv(tmp_path, monkeypatch):
    monkeypatch.setenv("ODGEO_CACHE", str(tmp_path / "cache"))
    table = pd.read_csv(SAMPLE / "address_points.csv", dtype=str, keep_default_na=False)
    frame = gpd.GeoDataFrame({c.lower(): table[c] for c in table.columns if c not in ("LON", "LAT")},
                             geometry=gpd.points_from_xy(table["LON"].astype(float), table["LAT"].astype(float)),
                             crs="EPSG:4326")
    path = tmp_path / "source.geojson"
    frame.to_file(path, driver="GeoJSON", engine="pyogrio")
    from_geojson, _ = load_index([path])
    from_csv, _ = load_index([SAMPLE / "address_points.csv"])
    rows, _ = _sample_unlocated()
    got = geocode_frame(from_geojson, rows["address"], rows["city"], rows["zip"])
    pd.testing.assert_frame_equal(got, geocode_frame(from_csv, rows["address"], rows["city"], rows["zip"]),
                                  atol=1e-6)


def _county_layer(tmp_path):
    """The sample address points as a county keeps them: NENA-style split street fields, a GeoPackage."""
    from odgeo.geocode.addresses import normalise_street

    table = pd.read_csv(SAMPLE / "address_points.csv", dtype=str, keep_default_na=False)
    parts = [normalise_street(s) for s in table["STREET"]]
    frame = gpd.GeoDataFrame({"ADD_NUMBER": table["NUMBER"], "ST_PREDIR": [p[0] for p in parts],
                              "ST_NAME": [p[1] for p in parts], "ST_POSTYP": [p[2] for p in parts],
                              "POST_CODE": table["POSTCODE"], "MSAG_COMM": table["CITY"]},
                             geometry=gpd.points_from_xy(table["LON"].astype(float), table["LAT"].astype(float)),
                             crs="EPSG:4326")
    path = tmp_path / "county_address_points.gpkg"
    frame.to_file(path, driver="GPKG", engine="pyogrio")
    return path


def test_a_county_layer_with_a_column_mapping(tmp_path, monkeypatch):
    monkeypatch.setenv("ODGEO_CACHE", str(tmp_path / "cache"))
    county = _county_layer(tmp_path)
    rows, facts = _sample_unlocated()
    clean = ((facts["address_style"] == "clean") & facts["in_address_points"]).to_numpy()
    mapping = {"number": ("ADD_NUMBER",), "street": ("ST_PREDIR", "ST_NAME", "ST_POSTYP"), "zip": ("POST_CODE",)}
    mapped, _ = load_index([county], columns=mapping)
    detected, _ = load_index([county])  # ST_NAME alone: no directions or types
    reference, _ = load_index([SAMPLE / "address_points.csv"])
    args = rows["address"][clean], rows["city"][clean], rows["zip"][clean]
    got = geocode_frame(mapped, *args)
    pd.testing.assert_frame_equal(got, geocode_frame(reference, *args), atol=1e-6)
    assert (got["geocode_status"] == "exact").all()
    assert (geocode_frame(detected, *args)["geocode_score"] < got["geocode_score"]).mean() > 0.5


def test_reference_columns_on_the_command_line(tmp_path, monkeypatch):
    monkeypatch.setenv("ODGEO_CACHE", str(tmp_path / "cache"))
    county = _county_layer(tmp_path)
    runner = CliRunner()
    base = ["geocode", str(SAMPLE / "incidents.csv"), "--reference", str(county), "--out", str(tmp_path / "g.csv")]
    done = runner.invoke(cli, [*base, "--reference-columns",
                               "number=ADD_NUMBER,street=ST_PREDIR+ST_NAME+ST_POSTYP,zip=POST_CODE"])
    assert done.exit_code == 0, done.output
    out = pd.read_csv(tmp_path / "g.csv", dtype=str, keep_default_na=False)
    assert (out["geocode_status"] == "exact").sum() >= 800
    for value, says in [("number=ADD_NUM", "number=ADD_NUM: no reference file has this column"),
                        ("house=ADD_NUMBER", "'house' is not one of number, street"),
                        ("number", "'number' is not ROLE=COLUMN")]:
        bad = runner.invoke(cli, [*base, "--overwrite", "--reference-columns", value])
        assert bad.exit_code == 2 and says in bad.output and "Traceback" not in bad.output


@pytest.mark.parametrize("share", [0.4, 0.8])
def test_numbers_missing_from_sparse_points_are_placed_from_the_named_street(tmp_path, monkeypatch, share):
    monkeypatch.setenv("ODGEO_CACHE", str(tmp_path / "cache"))
    points = pd.read_csv(SAMPLE / "address_points.csv", dtype=str, keep_default_na=False)
    held = np.random.default_rng(5).random(len(points)) < share
    points[~held].to_csv(tmp_path / "kept.csv", index=False)
    index, _ = load_index([tmp_path / "kept.csv"])  # no centerlines: only what the points know
    test = points[held].reset_index(drop=True)
    out = geocode_frame(index, test["NUMBER"] + " " + test["STREET"], test["CITY"], test["POSTCODE"])
    error = np.hypot((out["longitude"] - test["LON"].astype(float)) * 111_320 * np.cos(np.radians(38.2)),
                     (out["latitude"] - test["LAT"].astype(float)) * 110_540).to_numpy()
    high = (out["geocode_score"] >= 0.8).to_numpy()
    assert (error[high] <= 100).mean() >= 0.98
    assert not (out["geocode_status"] == "street").any()  # never the centre of a street that crosses the city
    # A number with known numbers of its side below and above it, in any ZIP, is interpolated.
    kept = points[~held].assign(number=lambda f: f["NUMBER"].astype(int))
    for i in np.flatnonzero(held)[:300]:
        row = points.iloc[i]
        same = kept[(kept["STREET"] == row["STREET"]) & (kept["number"] % 2 == int(row["NUMBER"]) % 2)]
        bracketed = (same["number"] < int(row["NUMBER"])).any() and (same["number"] > int(row["NUMBER"])).any()
        status = out["geocode_status"].iloc[int(np.flatnonzero(np.flatnonzero(held) == i)[0])]
        assert status in (("exact", "interpolated") if bracketed else ("exact", "nearest")), row.to_dict()
