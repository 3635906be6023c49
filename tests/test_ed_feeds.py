"""Emergency-department feeds: ESSENCE Data Details visits by area, Table Builder visits as a denominator.

The sample's ED files (sample_geodata/generate.py, ``ed_feeds``) carry ESSENCE's own column names; the
numbers here are counted by hand from the files with the csv module, not with odgeo's readers.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import date

import pandas as pd
import pytest
from click.testing import CliRunner
from odgeo_cli.main import cli

from odgeo.errors import InputFileError
from odgeo.report.ed_visits import completeness, read_ed_visits

from .conftest import SAMPLE

ED = SAMPLE / "ed_visits.csv"
ALL_VISITS = SAMPLE / "ed_all_visits.csv"
ZIPS = SAMPLE / "zip_areas.geojson"


def _rows(path):
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _day(text: str) -> date:
    month, day, year = text.split("/")
    return date(int(year), int(month), int(day))


def _hand_counts():
    """2025 Q4's visits by ZIP (each C_BioSense_ID once) and all ED visits by ZIP, from the raw files."""
    seen, visits = set(), Counter()
    for row in _rows(ED):
        when = _day(row["Date"])
        if row["C_BioSense_ID"] in seen or not date(2025, 10, 1) <= when <= date(2025, 12, 31):
            seen.add(row["C_BioSense_ID"])
            continue
        seen.add(row["C_BioSense_ID"])
        visits[row["ZipCode"]] += 1
    every = Counter()
    for row in _rows(ALL_VISITS):
        if "2025-10-01" <= row["timeResolution"] <= "2025-12-31":
            every[row["zipCode"]] += int(row["CDC All Drug v2 All Count"])
    return visits, every


def _report(tmp_path, *extra):
    out = tmp_path / "report"
    result = CliRunner().invoke(cli, ["report", str(ED), "--area-col", "ZipCode", "--area-population",
                                      str(SAMPLE / "zip_population.csv"), "--ed-visits", str(ALL_VISITS),
                                      "--no-pdf", "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_rates_per_10000_ed_visits_match_a_hand_count(tmp_path):
    out, said = _report(tmp_path, "--audience", "restricted")
    visits, every = _hand_counts()
    rates = pd.read_csv(out / "rates.csv", dtype={"area": str}).set_index("area")
    for zip_code in ("67401", "67402", "67403", "67404"):
        assert rates.loc[zip_code, "count"] == visits[zip_code]
        assert rates.loc[zip_code, "ed_visits"] == every[zip_code]
        assert rates.loc[zip_code, "per_10k_ed_visits"] == round(visits[zip_code] / every[zip_code] * 1e4, 1)
    whole = sum(visits.values()) / sum(every.values()) * 1e4
    assert rates.loc["all", "per_10k_ed_visits"] == round(whole, 1)
    assert f"Per 10,000 emergency-department visits: {whole:,.1f}" in said


def test_duplicate_visit_ids_are_rejected_with_their_reason(tmp_path):
    out, _ = _report(tmp_path, "--audience", "restricted")
    ids = Counter(row["C_BioSense_ID"] for row in _rows(ED))
    rejects = pd.read_csv(out / "rejects.csv")
    assert (rejects["code"] == "duplicate_id").sum() == sum(n - 1 for n in ids.values()) > 0


def test_a_facility_sending_on_half_the_quarter_makes_it_incomplete(tmp_path):
    out, said = _report(tmp_path)
    table = pd.read_csv(out / "ed_completeness.csv")
    days = {(r["hospital"], r["timeResolution"]) for r in _rows(ALL_VISITS)
            if "2025-10-01" <= r["timeResolution"] <= "2025-12-31" and int(r["CDC All Drug v2 All Count"]) > 0}
    mercy = table[(table["facility"] == "KS-Mercy Hospital") & (table["period"] == "2025Q4")].iloc[0]
    assert mercy["days_with_visits"] == sum(1 for h, _ in days if h == "KS-Mercy Hospital") == 92 - 45
    assert not mercy["complete"]
    assert table[table["period"] != "2025Q4"]["complete"].all()
    trend = pd.read_csv(out / "trend.csv")
    assert trend["ed_facilities_complete"].iloc[-1] == "2 of 3" and trend["ed_facilities_complete"].iloc[-2] == "3 of 3"
    assert "facilities complete: 2 of 3" in said
    assert json.loads((out / "run.json").read_text())["ed_visits"]["incomplete_facilities"] == ["KS-Mercy Hospital"]


def test_completeness_at_the_threshold(tmp_path):
    """69 of 92 days is 75% (complete); 68 is not; a facility that began mid-quarter counts from its first day."""
    days = pd.date_range("2025-10-01", "2025-12-31")
    rows = [(d, "A", 5) for d in days[:69]] + [(d, "B", 5) for d in days[:68]] + [(d, "C", 5) for d in days[60:]]
    path = tmp_path / "tb.csv"
    pd.DataFrame({"timeResolution": [d.strftime("%Y-%m-%d") for d, _, _ in rows],
                  "hospital": [h for _, h, _ in rows], "Data Count": [n for _, _, n in rows]}).to_csv(path, index=False)
    table = completeness(read_ed_visits(path), [pd.Period("2025Q4", freq="Q")]).set_index("facility")
    assert table.loc["A", "complete"] and not table.loc["B", "complete"]
    assert table.loc["C", "days"] == 32 and table.loc["C", "complete"]


@pytest.mark.parametrize(("value", "words"), [("2025-10", "not a day"), ("2025-41", "not a day"),
                                              ("2025-10-01 13:00", "not a day")])
def test_weeks_and_months_are_refused_with_the_row(tmp_path, value, words):
    path = tmp_path / "tb.csv"
    path.write_text(f"timeResolution,Data Count\n2025-10-01,4\n{value},5\n")
    with pytest.raises(InputFileError, match=f"row 3: .*{words}.*daily"):
        read_ed_visits(path)


def test_a_count_that_is_not_a_whole_number_is_refused(tmp_path):
    path = tmp_path / "tb.csv"
    path.write_text("timeResolution,CDC Opioid Overdose v3 All Count\n2025-10-01,4\n2025-10-02,-1\n")
    with pytest.raises(InputFileError, match="row 3: CDC Opioid Overdose v3 All Count '-1' is not a whole number"):
        read_ed_visits(path)


def test_a_public_report_shows_no_ed_rate_beside_a_hidden_count(tmp_path):
    out, _ = _report(tmp_path, "--min-count", "60")
    rates = pd.read_csv(out / "rates.csv", dtype={"area": str}).set_index("area")
    hidden = rates["count"].isna()
    assert hidden.any() and (~hidden).any()
    # ED visits are shown (they count everyone who came), so a rate beside a hidden count would give it back.
    assert rates.loc[hidden, "per_10k_ed_visits"].isna().all()
    assert rates.loc[~hidden, "per_10k_ed_visits"].notna().all()


def test_alerts_count_visits_in_the_zip_they_name(tmp_path):
    out = tmp_path / "alerts"
    result = CliRunner().invoke(cli, ["alerts", str(ED), "--areas", str(ZIPS), "--area-col", "ZipCode",
                                      "--audience", "restricted", "--out", str(out)])
    assert result.exit_code == 0, result.output
    seen, last_day = set(), Counter()
    for row in _rows(ED):
        if row["C_BioSense_ID"] not in seen and row["Date"] == "12/31/2025":
            last_day[row["ZipCode"]] += 1
        seen.add(row["C_BioSense_ID"])
    alerts = pd.read_csv(out / "alerts.csv", dtype={"area": str})
    spike = alerts[(alerts["area"] == "67403") & (alerts["kind"] == "threshold")].iloc[0]
    assert spike["count"] == last_day["67403"] == max(last_day.values())
    record = json.loads((out / "run.json").read_text())
    assert record["input"]["carried_columns"]["area_name"] == "ZipCode"


def test_a_visit_naming_no_polygon_counts_only_in_the_whole(tmp_path):
    path = tmp_path / "visits.csv"
    path.write_text("Date,C_BioSense_ID,ZipCode\n12/30/2025,a,67401\n12/31/2025,b, 67401 \n12/31/2025,c,99999\n")
    out = tmp_path / "alerts"
    result = CliRunner().invoke(cli, ["alerts", str(path), "--areas", str(ZIPS), "--area-col", "ZipCode",
                                      "--audience", "restricted", "--out", str(out), "--threshold", "1"])
    assert result.exit_code == 0, result.output
    record = json.loads((out / "run.json").read_text())
    assert record["alerts"]["n_incidents_outside_areas"] == 1 and record["alerts"]["areas"]["kind"] == "names"
    alerts = pd.read_csv(out / "alerts.csv", dtype={"area": str})
    spikes = alerts[alerts["kind"] == "threshold"].set_index("area")["count"]
    assert spikes["67401"] == 1 and spikes["all"] == 2


@pytest.mark.parametrize(("extra", "words"), [((), "give --areas FILE"),
                                              (("--areas", str(ZIPS), "--scan"), "no points")])
def test_alerts_by_name_need_polygons_and_refuse_the_scan(tmp_path, extra, words):
    result = CliRunner().invoke(cli, ["alerts", str(ED), "--area-col", "ZipCode", "--out", str(tmp_path / "o"),
                                      *extra])
    assert result.exit_code != 0 and words in result.output and "Traceback" not in result.output
