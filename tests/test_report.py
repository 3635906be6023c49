"""odgeo report on the sample city: one story across its files, what the public sees, the PDF's pages."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from odgeo_cli.main import cli

from odgeo.publish.leakscan import scan_public_outputs

from .conftest import SAMPLE, SAMPLE_TZ, message_lines

AREAS = str(SAMPLE / "neighbourhoods.geojson")


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """The sample's report for the public (with its PDF) and for the team."""
    out = {}
    for audience in ("public", "restricted"):
        folder = tmp_path_factory.mktemp(f"report_{audience}")
        args = ["report", str(SAMPLE / "incidents.csv"), "--boundaries", AREAS, "--timezone", SAMPLE_TZ,
                "--as-of", "2025-12-31", "--out", str(folder), "--overwrite", "--audience", audience]
        if audience == "restricted":
            args.append("--no-pdf")
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        out[audience] = (folder, result.output)
    return out


def _used(folder) -> pd.DataFrame:
    """The sample's incidents the run used, by hand: located and not in rejects.csv (restricted: by row)."""
    raw = pd.read_csv(SAMPLE / "incidents.csv")
    rejected = pd.read_csv(folder / "rejects.csv")
    keep = ~raw.index.isin(rejected["row"] - 1) & raw["longitude"].notna() & raw["latitude"].notna()
    return raw[keep]


def test_one_story_across_terminal_csvs_record_and_page(reports):
    folder, output = reports["restricted"]
    rates = pd.read_csv(folder / "rates.csv")
    trend = pd.read_csv(folder / "trend.csv")
    record = json.loads((folder / "run.json").read_text())
    page = (folder / "report.html").read_text()
    used = _used(folder)
    local = pd.to_datetime(used["occurred_at"], format="mixed")
    in_q4 = (local >= "2025-10-01") & (local < "2026-01-01")
    whole = rates[rates["area"] == "all"].iloc[0]
    periods = record["report"]["by_period"]
    assert whole["count"] == in_q4.sum() == trend["count"].iloc[-1] == periods["2025Q4"]["n_incidents"]
    assert whole["fatal"] == (in_q4 & (used["outcome"] == "fatal")).sum()
    earlier = ((local >= "2024-10-01") & (local < "2025-01-01")).sum()
    assert whole["earlier_count"] == earlier == periods["2024Q4"]["n_incidents"]
    assert f"{int(whole['count']):,} suspected overdoses in 2025 Q4" in page
    assert f"2025 Q4: {int(whole['count']):,} suspected overdoses; a year earlier (2024 Q4): {earlier:,}" in output
    names = [f["properties"]["name"] for f in json.loads(Path(AREAS).read_text())["features"]]
    assert rates["area"].tolist() == [*names, "all"]
    assert trend["period"].iloc[0] == "2024 Q1" and trend["period_start"].iloc[-1] == "2025-10-01"
    assert record["parameters"]["period"]["value"] == "quarter"


def test_the_public_sees_no_small_count_and_no_day(reports):
    folder = reports["public"][0]
    team = pd.read_csv(reports["restricted"][0] / "rates.csv").set_index("area")
    rates = pd.read_csv(folder / "rates.csv").set_index("area")
    assert "fatal" not in rates.columns and "row" not in pd.read_csv(folder / "rejects.csv").columns
    hidden = rates["count"].isna()
    outside = team.loc["all", "count"] - team.drop(index="all")["count"].sum()
    assert 0 < outside < 10, "the sample's quarter has a few incidents outside every area: the rule is exercised"
    # the incidents outside every area would be the whole minus the shown areas: an area is hidden with them
    assert hidden.any() and team.loc[hidden, "count"].sum() + outside >= 10
    assert rates.loc[hidden, "rate"].isna().all() and (rates.loc[hidden, "reliability"] == "suppressed").all()
    assert (team.loc[team["count"].between(1, 9)].index.isin(rates.index[hidden])).all()
    shown = rates["count"].dropna()
    assert ((shown == 0) | (shown >= 10)).all()
    assert rates["period_start"].astype(str).str.fullmatch(r"\d{4}-\d{2}").all()
    page = (folder / "report.html").read_text()
    assert "hidden" in page and "December 2025" in page and "31 December" not in page
    used = _used(reports["restricted"][0]).rename(columns={"longitude": "lon", "latitude": "lat"})
    used["occurred_at"] = pd.to_datetime(used["occurred_at"], format="mixed")
    import geopandas as gpd

    points = gpd.GeoDataFrame(used, geometry=gpd.points_from_xy(used["lon"], used["lat"]), crs="EPSG:4326")
    assert scan_public_outputs(folder, points, min_count=10) == []


def test_the_scanner_finds_a_rate_beside_a_hidden_count(reports, tmp_path):
    folder = tmp_path / "doctored"
    shutil.copytree(reports["public"][0], folder)
    rates = pd.read_csv(folder / "rates.csv")
    team = pd.read_csv(reports["restricted"][0] / "rates.csv")
    hidden = rates["count"].isna()
    rates.loc[hidden, "rate"] = team.loc[hidden, "rate"]  # what a careless writer would leave
    rates.to_csv(folder / "rates.csv", index=False)
    import geopandas as gpd

    empty = gpd.GeoDataFrame({"incident_id": pd.Series([], dtype=str),
                              "occurred_at": pd.Series([], dtype="datetime64[ns]")}, geometry=[], crs="EPSG:4326")
    found = [leak.detail for leak in scan_public_outputs(folder, empty, min_count=10)]
    assert any("rate shown where count is hidden" in f for f in found), found


def test_the_pdf_has_pages_that_are_not_blank(reports, tmp_path):
    pdf = reports["public"][0] / "report.pdf"
    assert pdf.exists() and pdf.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftoppm") is None:
        pytest.fail("pdftoppm (poppler-utils) is needed to look at the PDF's pages: run scripts/install-chromium.sh")
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True, timeout=120)
    pages = sorted(tmp_path.glob("page*.png"))
    assert 2 <= len(pages) <= 6
    import matplotlib.image as mpimg

    first = mpimg.imread(pages[0])[..., :3]
    ink = (first.mean(axis=2) < 0.9).mean()
    assert ink > 0.02, f"page 1 is nearly blank ({ink:.1%} ink)"
    assert (np.abs(first[..., 0] - first[..., 2]) > 0.3).any()  # the red of the bars or the map


@pytest.mark.parametrize("args, code, message", [
    (["--ledger", "l.json", "--audience", "restricted"], 2, "--ledger applies to --audience public"),
    (["--period", "week"], 2, "'week' is not one of"),
    (["--as-of", "2023-01-01"], 1, "no incidents before the end of the last whole quarter"),
])
def test_report_errors_are_one_line(tmp_path, args, code, message):
    result = CliRunner().invoke(cli, ["report", str(SAMPLE / "incidents.csv"), "--boundaries", AREAS,
                                      "--out", str(tmp_path / "o"), *args])
    assert result.exit_code == code, result.output
    errors = [line for line in message_lines(result.output) if not line.startswith("WARNING")]
    assert message in result.output and (code == 2 or len(errors) == 1), result.output


def test_the_scanner_reads_the_pdf(reports, tmp_path):
    from odgeo.io.pdf import find_chromium, print_pdf

    folder = tmp_path / "doctored"
    shutil.copytree(reports["public"][0], folder)
    page = folder / "report.html"
    page.write_text(page.read_text().replace("In brief", "In brief: 3 fatal overdoses at the shelter"))
    chromium = find_chromium()
    assert chromium is not None
    print_pdf(page, folder / "report.pdf", chromium=chromium)
    page.write_text((reports["public"][0] / "report.html").read_text())  # the HTML is clean: only the PDF says it
    import geopandas as gpd

    empty = gpd.GeoDataFrame({"incident_id": pd.Series([], dtype=str),
                              "occurred_at": pd.Series([], dtype="datetime64[ns]")}, geometry=[], crs="EPSG:4326")
    found = [(leak.file, leak.detail) for leak in scan_public_outputs(folder, empty, min_count=10)]
    assert ("report.pdf", "'3 fatal' in the page") in found, found
