"""odgeo alerts --watch-drugs: a drug's first appearance, its rising share (against R), its own spikes, the public."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from odgeo_cli.main import cli

from odgeo.alerts.drugs import share_p_value
from odgeo.publish.leakscan import scan_public_outputs

from .conftest import SAMPLE
from .r_reference import r_numbers

AREAS = SAMPLE / "neighbourhoods.geojson"
AS_OF = pd.Timestamp("2025-06-30 23:00")


@pytest.mark.parametrize("x, n, p", [(5, 20, 0.1), (1, 1, 0.5), (0, 10, 0.2), (12, 40, 0.05), (30, 31, 0.9),
                                     (3, 500, 0.001)])
def test_the_share_test_equals_binom_test(tmp_path, x, n, p):
    code = f'cat(sprintf("%.17g", binom.test({x}, {n}, {p}, alternative = "greater")$p.value))\n'
    assert share_p_value(x, n, p) == pytest.approx(r_numbers(code, tmp_path)[0], rel=1e-10)


def _planted(tmp_path, *, xylazine_today: int, meth_recent: int) -> str:
    """Fourteen months of overdoses in two neighbourhoods: fentanyl, a steady 10% methamphetamine;
    then ``meth_recent`` methamphetamine overdoses in the last week and ``xylazine_today`` in
    Westgate in the last 24 hours, the first xylazine of the file."""
    rng = np.random.default_rng(46)
    spots = {f["properties"]["name"]: f for f in json.loads(AREAS.read_text())["features"]}
    points = {name: gpd.GeoSeries.from_file(AREAS).iloc[k].representative_point()
              for k, name in enumerate(spots)}
    rows = []
    start = AS_OF - pd.DateOffset(months=14)
    days = (AS_OF - start).days
    for k in range(days * 3):  # three a day
        when = start + pd.Timedelta(days=rng.integers(0, days - 8), hours=int(rng.integers(0, 23)))
        drug = "methamphetamine" if rng.random() < 0.1 else "fentanyl"
        where = points["Eastside" if k % 2 else "Westgate"]
        rows.append((when, drug, where))
    for k in range(21):  # the last week: 21 overdoses, ``meth_recent`` of them methamphetamine
        when = AS_OF - pd.Timedelta(days=int(1 + k % 6), hours=2)
        rows.append((when, "methamphetamine" if k < meth_recent else "fentanyl", points["Eastside"]))
    for k in range(xylazine_today):
        rows.append((AS_OF - pd.Timedelta(hours=3 + k), "fentanyl and xylazine", points["Westgate"]))
    frame = pd.DataFrame({"incident_id": [f"I{k}" for k in range(len(rows))],
                          "occurred_at": [r[0].strftime("%Y-%m-%d %H:%M") for r in rows],
                          "suspected_drug": [r[1] for r in rows],
                          "longitude": [round(r[2].x, 6) for r in rows], "latitude": [round(r[2].y, 6) for r in rows],
                          "outcome": "nonfatal"})
    path = tmp_path / "planted.csv"
    frame.to_csv(path, index=False)
    return str(path)


def _alerts(source, out, *extra):
    result = CliRunner().invoke(cli, ["alerts", source, "--areas", str(AREAS), "--out", str(out), "--as-of",
                                      AS_OF.strftime("%Y-%m-%d %H:%M"), "--watch-drugs",
                                      "xylazine,methamphetamine", *extra])
    assert result.exit_code == 0, result.output
    return pd.read_csv(out / "alerts.csv"), json.loads((out / "run.json").read_text()), result.output


def test_a_first_appearance_and_a_rising_share_are_announced(tmp_path):
    source = _planted(tmp_path, xylazine_today=2, meth_recent=12)
    alerts, record, output = _alerts(source, tmp_path / "team", "--audience", "restricted")
    first = alerts[alerts["kind"] == "first:xylazine"].set_index("area")
    assert set(first.index) == {"Westgate", "all"} and (first["count"] == 2).all()
    share = alerts[alerts["kind"] == "share:methamphetamine"]
    assert len(share) == 1 and share["area"].iloc[0] == "all" and share["count"].iloc[0] == 12
    found = record["drug_alerts"]["by_group"]["methamphetamine"]["share"]
    x, n = found["recent"]
    x0, n0 = found["baseline"]
    assert (x, n) == (12, 21 + 2) and found["p_value"] == pytest.approx(share_p_value(x, n, x0 / n0))
    assert "2 suspected overdoses involving xylazine in Westgate" in output
    assert "the first there in at least 12 months" in output
    assert "Methamphetamine and other stimulants was involved in 12 of the overdoses of the 7 days" in output
    page = (tmp_path / "team" / "summary.html").read_text()
    assert "Drugs watched" in page and f"12 of 23 ({12 / 23:.0%})" in page and "first appearance" in page


def test_nothing_is_announced_without_the_history_or_the_rise(tmp_path):
    source = _planted(tmp_path, xylazine_today=0, meth_recent=2)
    alerts, _, _ = _alerts(source, tmp_path / "calm", "--audience", "restricted")
    assert not alerts["kind"].str.contains(":").any()
    _alerts(source, tmp_path / "short", "--audience", "restricted", "--new-drug-months", "24")
    assert "less than 24 months before the window" in json.loads(
        (tmp_path / "short" / "run.json").read_text())["drug_alerts"]["by_group"]["xylazine"]["first_appearance"]


def test_the_public_hears_of_a_drug_only_from_min_count(tmp_path):
    source = _planted(tmp_path, xylazine_today=2, meth_recent=12)
    alerts, _, output = _alerts(source, tmp_path / "public")
    assert not alerts["kind"].str.startswith("first:").any(), "two xylazine overdoses: under --min-count"
    assert (alerts["kind"] == "share:methamphetamine").sum() == 1  # twelve: at least 10
    assert "involving xylazine" not in output and "involving xylazine" not in (tmp_path / "public" /
                                                                            "summary.html").read_text()
    empty = gpd.GeoDataFrame({"incident_id": pd.Series([], dtype=str),
                              "occurred_at": pd.Series([], dtype="datetime64[ns]")}, geometry=[], crs="EPSG:4326")
    assert scan_public_outputs(tmp_path / "public", empty, min_count=10) == []
    page = (tmp_path / "public" / "summary.html").read_text()
    assert "Drugs watched" in page and "of 23" not in page and "rising share" in page
    record = json.loads((tmp_path / "public" / "run.json").read_text())
    assert "by_group" not in record["drug_alerts"] and "withheld_numbers" not in record
    # the adversary reads run.json: put the team's findings back, and the scanner says so
    doctored = tmp_path / "doctored"
    doctored.mkdir()
    for f in (tmp_path / "public").iterdir():
        (doctored / f.name).write_bytes(f.read_bytes())
    record["drug_alerts"]["by_group"] = {"xylazine": {"first_appearance": ["Westgate"]}}
    (doctored / "run.json").write_text(json.dumps(record))
    found = [leak.kind for leak in scan_public_outputs(doctored, empty, min_count=10)]
    assert "drug findings" in found, found


def test_the_sample_deaths_announce_xylazine_as_new_and_rising(tmp_path):
    """The sample city's medical examiner file: xylazine planted (sample_geodata/generate.py, XYLAZINE)."""
    out = tmp_path / "deaths"
    result = CliRunner().invoke(cli, ["alerts", str(SAMPLE / "deaths.csv"), "--areas", str(AREAS),
                                      "--assume-outcome", "fatal", "--as-of", "2025-12-31", "--timezone",
                                      "America/Chicago", "--watch-drugs", "xylazine", "--audience", "restricted",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    alerts = pd.read_csv(out / "alerts.csv")
    first = alerts[alerts["kind"] == "first:xylazine"]
    assert first["area"].tolist() == ["Westgate"] and first["count"].tolist() == [1]
    share = alerts[alerts["kind"] == "share:xylazine"]
    deaths = pd.read_csv(SAMPLE / "deaths.csv")
    when = pd.to_datetime(deaths["date_of_death"])
    recent = deaths[(when >= "2025-12-25") & (when < "2026-01-01")]
    assert share["count"].tolist() == [recent["cause_of_death"].str.contains("XYLAZINE").sum()] == [7]
    assert "Xylazine was involved in 7 of the overdose deaths of the 7 days" in result.output
    # A file of deaths says so (issue 46): not "suspected overdoses", and the drug beside the noun, not inside it.
    assert "1 overdose death involving xylazine in Westgate" in result.output
    assert "suspected" not in result.output
    among = alerts[alerts["kind"] == "share-among-fentanyl:xylazine"]
    fentanyl = recent["cause_of_death"].str.contains("FENTAN")
    assert among["count"].tolist() == [(fentanyl & recent["cause_of_death"].str.contains("XYLAZINE")).sum()]
    found = json.loads((out / "run.json").read_text())["drug_alerts"]["by_group"]["xylazine"]
    assert found["share_among_fentanyl"]["recent"] == [7, int(fentanyl.sum())]
    assert "of the overdose deaths involving fentanyl and analogues of the 7 days" in result.output
    section = json.loads((out / "run.json").read_text())["drug_alerts"]
    no_term = ~deaths["cause_of_death"].str.contains(
        "FENTAN|HEROIN|OPI|OXYCODONE|METH|COCAINE|XYLAZINE|ETOH", regex=True)
    assert section["records_matching_no_term"] == no_term.sum() > 0  # MIXED DRUG TOXICITY, PENDING ...
    assert section["unmatched_words"] == {}  # the examiners' own words (toxicity, mixed, pending) are known


def test_watched_drugs_are_read_from_the_drug_columns(tmp_path):
    """The cause text under a name nothing detects, given with --drug-columns: the same alerts."""
    deaths = pd.read_csv(SAMPLE / "deaths.csv").rename(columns={"cause_of_death": "examiner_finding"})
    source = tmp_path / "renamed.csv"
    deaths.to_csv(source, index=False)
    out = tmp_path / "columns"
    result = CliRunner().invoke(cli, ["alerts", str(source), "--areas", str(AREAS), "--assume-outcome", "fatal",
                                      "--as-of", "2025-12-31", "--timezone", "America/Chicago", "--watch-drugs",
                                      "xylazine", "--drug-columns", "examiner_finding", "--audience", "restricted",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    kinds = set(pd.read_csv(out / "alerts.csv")["kind"])
    assert {"first:xylazine", "share:xylazine", "share-among-fentanyl:xylazine"} <= kinds
    record = json.loads((out / "run.json").read_text())
    assert record["drug_alerts"]["read_from"] == ["examiner_finding"]
    assert record["counts"]["n_used"] == len(deaths)  # drug columns without --drug leave every incident in
