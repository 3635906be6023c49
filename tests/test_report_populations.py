"""odgeo report's jurisdictions by name, residents from tables, age-adjusted rates (against R), people and drugs."""

from __future__ import annotations

import html
import json
import shutil

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from odgeo_cli.main import cli

from odgeo.errors import InputFileError
from odgeo.publish.leakscan import scan_public_outputs
from odgeo.report.populations import age_groups, read_populations

from .conftest import SAMPLE, SAMPLE_TZ, message_lines
from .r_reference import r_numbers

AREAS = SAMPLE / "neighbourhoods.geojson"
BY_AGE = SAMPLE / "neighbourhoods_by_age.csv"
#: The US 2000 standard population (NCHS per million), typed from the NCHS table, by the sample's groups.
STANDARD = {"0-14": 13_818 + 55_317 + 145_565, "15-24": 138_646, "25-34": 135_573, "35-44": 162_613,
            "45-54": 134_834, "55-64": 87_247, "65+": 66_037 + 44_842 + 15_508}


def _report(tmp_path, *args, audience="restricted", name="out"):
    out = tmp_path / name
    result = CliRunner().invoke(cli, ["report", str(SAMPLE / "incidents.csv"), "--timezone", SAMPLE_TZ,
                                      "--as-of", "2025-12-31", "--out", str(out), "--no-pdf",
                                      "--audience", audience, *args])
    return out, result


def _quarter(folder) -> pd.DataFrame:
    """The sample's incidents of 2025 Q4 the run used, by hand (located, not rejected)."""
    raw = pd.read_csv(SAMPLE / "incidents.csv", dtype=str, keep_default_na=False)
    rejected = pd.read_csv(folder / "rejects.csv")
    raw = raw[~raw.index.isin(rejected["row"] - 1) & (raw["longitude"] != "") & (raw["latitude"] != "")]
    when = pd.to_datetime(raw["occurred_at"], format="mixed")
    return raw[(when >= "2025-10-01") & (when < "2026-01-01")]


def _neighbourhood_of(frame: pd.DataFrame) -> pd.Series:
    """Each incident's neighbourhood by shapely's contains, one polygon at a time (the first that holds it)."""
    features = json.loads(AREAS.read_text())["features"]
    points = shapely.points(pd.to_numeric(frame["longitude"], errors="coerce"),
                            pd.to_numeric(frame["latitude"], errors="coerce"))
    out = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    for feature in features:
        polygon = shapely.geometry.shape(feature["geometry"])
        inside = shapely.intersects(polygon, points) & out.isna().to_numpy()
        out[inside] = feature["properties"]["name"]
    return out


def test_age_adjusted_rates_equal_epitools_on_counts_by_hand(tmp_path):
    folder, result = _report(tmp_path, "--boundaries", str(AREAS), "--population-by-age", str(BY_AGE))
    assert result.exit_code == 0, result.output
    rates = pd.read_csv(folder / "rates.csv").set_index("area")
    used = _quarter(folder)
    where = _neighbourhood_of(used)
    residents = pd.read_csv(BY_AGE).pivot(index="name", columns="age_group", values="population")[list(STANDARD)]
    checked = 0
    for name in ["Eastside", "Downtown", "all"]:
        mine = used if name == "all" else used[where == name]
        count = mine["age_band"].value_counts().reindex(list(STANDARD), fill_value=0)
        people = residents.sum() if name == "all" else residents.loc[name]
        code = ("suppressPackageStartupMessages(library(epitools))\n"
                f"out <- ageadjust.direct(count = c({', '.join(map(str, count))}), "
                f"pop = c({', '.join(str(p / 4) for p in people)}), "
                f"stdpop = c({', '.join(map(str, STANDARD.values()))})) * 1e5\n"
                'cat(sprintf("%.17g", out[2:4]), sep = "\\n")\n')
        expected = r_numbers(code, tmp_path)
        got = rates.loc[name, ["age_adjusted_rate", "age_adjusted_low", "age_adjusted_high"]].to_numpy(dtype=float)
        np.testing.assert_allclose(got, expected, rtol=1e-9)
        checked += 1
    assert checked == 3 and (rates["unknown_age"] == 0).all()
    record = json.loads((folder / "run.json").read_text())
    assert record["age_adjustment"]["groups"] == STANDARD
    assert "Age-adjusted rate" in (folder / "report.html").read_text()


def _report_by_name(tmp_path, source, area_col: str, name: str, *, name_col: str = "name",
                    population_col: str = "population"):
    """A team report of ``source`` by its column ``area_col``, residents from the sample's neighbourhoods."""
    pops = tmp_path / f"{name}-pops.csv"
    features = json.loads(AREAS.read_text())["features"]
    pd.DataFrame({name_col: [f["properties"]["name"] for f in features],
                  population_col: [f"{f['properties']['population']:,}" for f in features]}).to_csv(pops, index=False)
    out = tmp_path / name
    result = CliRunner().invoke(cli, ["report", str(source), "--timezone", SAMPLE_TZ, "--as-of", "2025-12-31",
                                      "--area-col", area_col, "--area-population", str(pops), "--out", str(out),
                                      "--no-pdf", "--audience", "restricted"])
    assert result.exit_code == 0, result.output
    return out


def test_jurisdictions_by_name_count_as_the_names_say(tmp_path):
    raw = pd.read_csv(SAMPLE / "incidents.csv", dtype=str, keep_default_na=False)
    where = _neighbourhood_of(raw[(raw["longitude"] != "") & (raw["latitude"] != "")])
    named = raw.assign(hood=where.reindex(raw.index).fillna(""))
    named.loc[named.index % 7 == 0, "hood"] = named.loc[named.index % 7 == 0, "hood"].str.upper()  # case differs
    source = tmp_path / "named.csv"
    named.to_csv(source, index=False)
    out = _report_by_name(tmp_path, source, "hood", "by_name", name_col="Town", population_col="POP100")
    by_name = pd.read_csv(out / "rates.csv").set_index("area")
    by_polygon = pd.read_csv(_report(tmp_path, "--boundaries", str(AREAS), name="by_polygon")[0] / "rates.csv")
    by_polygon = by_polygon.set_index("area")
    pd.testing.assert_series_equal(by_name["count"].drop("all"), by_polygon["count"].drop("all"))
    pd.testing.assert_series_equal(by_name["rate"].drop("all"), by_polygon["rate"].drop("all"))
    # by name, an incident without coordinates counts too (in all: it names no neighbourhood here)
    rejected = set(pd.read_csv(out / "rejects.csv")["row"] - 1)
    dated = named[~named.index.isin(rejected)]
    when = pd.to_datetime(dated["occurred_at"], format="mixed")
    assert by_name.loc["all", "count"] == ((when >= "2025-10-01") & (when < "2026-01-01")).sum()
    assert by_name.loc["all", "count"] > by_polygon.loc["all", "count"]
    assert "<svg" in (out / "report.html").read_text() and "Map of rates" not in (out / "report.html").read_text()
    public = CliRunner().invoke(cli, ["report", str(source), "--timezone", SAMPLE_TZ, "--area-col", "hood",
                                      "--out", str(tmp_path / "p"), "--no-pdf"])
    assert public.exit_code == 2 and "a public report lists its jurisdictions from --area-population FILE" in \
        public.output, public.output


def _three_women(tmp_path):
    """The sample with three women and no unknown sex in 2025 Q4: a small count the public must not get back."""
    raw = pd.read_csv(SAMPLE / "incidents.csv", dtype=str, keep_default_na=False)
    when = pd.to_datetime(raw["occurred_at"], format="mixed", errors="coerce")
    q4 = ((when >= "2025-10-01") & (when < "2026-01-01") & (raw["longitude"] != "")).to_numpy()
    raw.loc[q4, "sex"] = "Male"
    raw.loc[np.flatnonzero(q4)[:3], "sex"] = "female"
    source = tmp_path / "people.csv"
    raw.to_csv(source, index=False)
    return source


def test_people_add_up_and_the_public_cannot_subtract_a_small_one(tmp_path):
    source = _three_women(tmp_path)
    team, result = _report(tmp_path, "--boundaries", str(AREAS), name="team")
    records = {}
    for audience in ("restricted", "public"):
        out = tmp_path / audience
        result = CliRunner().invoke(cli, ["report", str(source), "--timezone", SAMPLE_TZ, "--as-of", "2025-12-31",
                                          "--boundaries", str(AREAS), "--out", str(out), "--no-pdf",
                                          "--audience", audience])
        assert result.exit_code == 0, result.output
        records[audience] = json.loads((out / "run.json").read_text())["report"]["by_period"]["2025Q4"]["demographics"]
    used = _quarter(team)
    assert records["restricted"]["sex"] == {"female": 3, "male": len(used) - 3, "unknown": 0}
    ages = used["age_band"].replace("", "unknown").value_counts()
    assert {k: v for k, v in records["restricted"]["age"].items() if v} == ages.to_dict()
    shown = records["public"]["sex"]
    assert shown["female"] is None and shown["male"] is None, shown  # the total minus male would give 3
    assert shown["unknown"] is None  # a shown zero beside a hidden count says each hidden one is at least 1
    for dimension, counts in records["public"].items():
        values = [v for v in counts.values() if v is not None]
        assert all(v == 0 or v >= 10 for v in values), (dimension, counts)


def test_drug_columns_feed_the_panel_and_pending_causes_are_counted(tmp_path):
    raw = pd.read_csv(SAMPLE / "incidents.csv", dtype=str, keep_default_na=False)
    raw["cause"] = np.where(raw.index % 5 == 0, "PENDING INVESTIGATION", "ACUTE FENTANYL AND XYLAZINE TOXICITY")
    raw["Cocaine"] = np.where(raw.index % 3 == 0, "Y", "")
    source = tmp_path / "causes.csv"
    raw.to_csv(source, index=False)
    out = tmp_path / "drugs"
    result = CliRunner().invoke(cli, ["report", str(source), "--timezone", SAMPLE_TZ, "--as-of", "2025-12-31",
                                      "--boundaries", str(AREAS), "--drug-columns", "cause,Cocaine",
                                      "--out", str(out), "--no-pdf", "--audience", "restricted"])
    assert result.exit_code == 0, result.output
    drugs = json.loads((out / "run.json").read_text())["report"]["by_period"]["2025Q4"]["drugs"]
    used = raw.loc[_quarter(out).index]
    pending = (used.index % 5 == 0).sum()
    assert drugs["pending"] == pending > 0
    assert drugs["groups"]["xylazine"] == drugs["groups"]["fentanyl"] == len(used) - pending
    assert drugs["groups"]["cocaine"] == (used["Cocaine"] == "Y").sum()
    page = html.unescape((out / "report.html").read_text())
    assert f"{pending:,} of the period's records have a cause still pending" in page
    assert "From the columns cause, Cocaine" in page
    share = (len(used) - pending) / len(used)
    assert f"<td class='num'>{len(used) - pending:,}</td><td class='num'>{share:.0%}</td>" in page


def test_population_tables_name_the_row_that_is_wrong(tmp_path):
    table = tmp_path / "p.csv"
    table.write_text("name,population\nA,100\nB,lots\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"row 3, column 'population' holds 'lots'"):
        read_populations(table)
    table.write_text("name,population\nA,100\n a ,5\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="row 3 names 'a' again"):
        read_populations(table)
    with pytest.raises(InputFileError, match="'15-19' does not start and end on the US 2000 standard"):
        age_groups(["15-19", "20-29"])
    with pytest.raises(InputFileError, match="age groups '15-34' and '25-44' overlap"):
        age_groups(["15-34", "25-44"])
    groups = age_groups(["<1", "1-4", "5-14", "15-24", "25 to 34", "35-44", "45-54", "55-64", "65-74", "75-84",
                         "85 and over"])
    assert groups.weights.tolist() == [13_818, 55_317, 145_565, 138_646, 135_573, 162_613, 134_834, 87_247, 66_037,
                                       44_842, 15_508]
    assert groups.of_ages(pd.Series(["0", "3", "34.9", "25-34", "85", "101", "", "n/a", "20-29"])).tolist() == \
        [0, 1, 4, 4, 10, 10, -1, -1, -1]


@pytest.mark.parametrize("args, code, message", [
    ([], 2, "give the jurisdictions either as polygons with --boundaries or as an incident column"),
    (["--boundaries", str(AREAS), "--area-col", "zip"], 2, "not both"),
    (["--area-col", "nowhere"], 1, "no column 'nowhere' (--area-col)"),
    (["--boundaries", str(AREAS), "--population-by-age", str(BY_AGE), "--age-col", "sex"], 2,
     "no value of the age column 'sex' reads as an age in years or an age group of neighbourhoods_by_age.csv"),
])
def test_jurisdiction_errors_are_one_line(tmp_path, args, code, message):
    _, result = _report(tmp_path, *args)
    errors = [line for line in message_lines(result.output) if not line.startswith("WARNING")]
    assert result.exit_code == code and message in result.output and len(errors) == 1, result.output


@pytest.mark.parametrize("doctor, finding", [
    (lambda sex, team: sex.update(female=team["female"]), "small count"),  # a small count shown
    (lambda sex, team: sex.update(male=team["male"], unknown=0), "complement"),  # one hidden beside the total
    (lambda sex, team: sex.update(unknown=0), "shown zero"),
])
def test_leakscan_finds_what_the_adversary_finds_in_the_people(tmp_path, doctor, finding):
    source = _three_women(tmp_path)
    docs = {}
    for audience in ("restricted", "public"):
        result = CliRunner().invoke(cli, ["report", str(source), "--timezone", SAMPLE_TZ, "--as-of", "2025-12-31",
                                          "--boundaries", str(AREAS), "--out", str(tmp_path / audience), "--no-pdf",
                                          "--audience", audience])
        assert result.exit_code == 0, result.output
        docs[audience] = json.loads((tmp_path / audience / "run.json").read_text())
    empty = gpd.GeoDataFrame({"incident_id": pd.Series([], dtype=str),
                              "occurred_at": pd.Series([], dtype="datetime64[ns]")}, geometry=[], crs="EPSG:4326")
    assert not [leak for leak in scan_public_outputs(tmp_path / "public", empty, min_count=10)
                if leak.file == "run.json"]
    doc = docs["public"]
    doctor(doc["report"]["by_period"]["2025Q4"]["demographics"]["sex"],
           docs["restricted"]["report"]["by_period"]["2025Q4"]["demographics"]["sex"])
    doctored = tmp_path / "doctored"
    shutil.copytree(tmp_path / "public", doctored)
    (doctored / "run.json").write_text(json.dumps(doc))
    found = [(leak.kind, leak.detail) for leak in scan_public_outputs(doctored, empty, min_count=10)]
    assert any(kind == finding for kind, _ in found), found


def test_the_public_sees_age_adjusted_rates_only_beside_shown_counts(tmp_path):
    folder, result = _report(tmp_path, "--boundaries", str(AREAS), "--population-by-age", str(BY_AGE),
                             audience="public")
    assert result.exit_code == 0, result.output
    rates = pd.read_csv(folder / "rates.csv")
    hidden = rates["count"].isna()
    assert hidden.any() and rates.loc[hidden, "age_adjusted_rate"].isna().all()
    assert rates.loc[~hidden, "age_adjusted_rate"].notna().all() and "unknown_age" not in rates.columns
    empty = gpd.GeoDataFrame({"incident_id": pd.Series([], dtype=str),
                              "occurred_at": pd.Series([], dtype="datetime64[ns]")}, geometry=[], crs="EPSG:4326")
    assert scan_public_outputs(folder, empty, min_count=10) == []


def test_a_file_of_town_names_without_coordinates_is_counted_by_name(tmp_path):
    raw = pd.read_csv(SAMPLE / "incidents.csv", dtype=str, keep_default_na=False)
    located = raw[(raw["longitude"] != "") & (raw["latitude"] != "")]
    towns = raw.assign(town=_neighbourhood_of(located).reindex(raw.index).fillna(""))
    towns = towns.drop(columns=["longitude", "latitude", "address"])  # a medical examiner's file: places by name
    source = tmp_path / "towns.csv"
    towns.to_csv(source, index=False)
    out = _report_by_name(tmp_path, source, "town", "towns")
    rates = pd.read_csv(out / "rates.csv").set_index("area")
    counts = json.loads((out / "run.json").read_text())["counts"]
    rejects = pd.read_csv(out / "rejects.csv")
    nameless = rejects[rejects["code"] == "no_location"]
    assert (nameless["reason"] == "no coordinates, no address and no place name").all()
    assert counts["n_unlocated"] == 0 and counts["n_used"] + counts["n_rejected"] == counts["n_input"] == len(raw)
    other_faults = set(rejects.loc[rejects["code"] != "no_location", "row"])
    without_town = {k + 1 for k in np.flatnonzero((towns["town"] == "").to_numpy())} - other_faults
    assert set(nameless["row"]) == without_town and len(without_town) > 1000
    polygons = pd.read_csv(_report(tmp_path, "--boundaries", str(AREAS), name="by_polygon")[0] / "rates.csv")
    pd.testing.assert_series_equal(rates["count"].drop("all"), polygons.set_index("area")["count"].drop("all"))
