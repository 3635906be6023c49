"""A quarterly series of public reports under --ledger: late records and republished quarters give nothing away."""

from __future__ import annotations

import json

import pandas as pd
from click.testing import CliRunner
from odgeo_cli.main import cli

from odgeo.publish.release_diff import difference_releases

from .conftest import SAMPLE, SAMPLE_TZ

AREAS = str(SAMPLE / "neighbourhoods.geojson")


def _with_late_records(tmp_path, n: int, name: str, month: str = "2025-05"):
    """The sample and ``n`` records of ``month`` that arrived late (copies of a real one, new ids, one place)."""
    raw = pd.read_csv(SAMPLE / "incidents.csv", dtype=str, keep_default_na=False)
    when = pd.to_datetime(raw["occurred_at"], format="mixed", errors="coerce")
    start = pd.Timestamp(f"{month}-01")
    donor = raw[(when >= start) & (when < start + pd.DateOffset(months=1)) & (raw["longitude"] != "")].iloc[:1]
    late = pd.concat([donor] * n, ignore_index=True)
    late["incident_id"] = [f"LATE-{k}" for k in range(n)]
    path = tmp_path / name
    pd.concat([raw, late], ignore_index=True).to_csv(path, index=False)
    return path


def _release(source, out, *extra):
    result = CliRunner().invoke(cli, ["report", str(source), "--boundaries", AREAS, "--timezone", SAMPLE_TZ,
                                      "--out", str(out), "--no-pdf", *extra])
    assert result.exit_code == 0, result.output
    return out


def _trend(folder) -> pd.Series:
    return pd.read_csv(folder / "trend.csv").set_index("period")["count"]


def test_without_a_ledger_the_adversary_finds_one_late_death(tmp_path):
    first = _release(SAMPLE / "incidents.csv", tmp_path / "q3", "--as-of", "2025-09-30")
    again = _release(_with_late_records(tmp_path, 1, "late.csv"), tmp_path / "q3-again", "--as-of", "2025-09-30")
    moved = _trend(again) - _trend(first)
    assert moved["2025 Q2"] == 1, "the late record changes 2025 Q2 by one: what the adversary subtracts"
    found = [leak.detail for leak in difference_releases(first, again)]
    assert any("2025-04" in f and "count" in f for f in found), found


def test_under_a_ledger_small_revisions_are_held_and_large_ones_republished(tmp_path):
    ledger = tmp_path / "series.json"
    first = _release(SAMPLE / "incidents.csv", tmp_path / "q3", "--as-of", "2025-09-30", "--ledger", str(ledger))
    late = _with_late_records(tmp_path, 3, "late.csv")
    second = _release(late, tmp_path / "q3-again", "--as-of", "2025-09-30", "--ledger", str(ledger))
    assert difference_releases(first, second) == []
    pd.testing.assert_series_equal(_trend(second), _trend(first))
    before = json.loads((first / "run.json").read_text())["report"]["by_period"]
    after = json.loads((second / "run.json").read_text())["report"]["by_period"]
    assert after == before
    # the next quarter shows 2025 Q2 again, in the trend: still as first published
    third = _release(late, tmp_path / "q4", "--as-of", "2025-12-31", "--ledger", str(ledger))
    assert difference_releases(second, third) == []
    assert _trend(third)["2025 Q2"] == _trend(first)["2025 Q2"]
    # ten more late records: a change of min_count is republished, and nothing smaller is
    many = _with_late_records(tmp_path, 13, "many.csv")
    fourth = _release(many, tmp_path / "q4-again", "--as-of", "2025-12-31", "--ledger", str(ledger))
    assert _trend(fourth)["2025 Q2"] == _trend(first)["2025 Q2"] + 13
    assert difference_releases(third, fourth) == []
    doc = json.loads(ledger.read_text())
    assert len(doc["releases"]) == 4 and doc["settings"]["period"] == "quarter"


def test_a_series_keeps_its_period_and_jurisdictions(tmp_path):
    ledger = tmp_path / "series.json"
    _release(SAMPLE / "incidents.csv", tmp_path / "q3", "--as-of", "2025-09-30", "--ledger", str(ledger))
    result = CliRunner().invoke(cli, ["report", str(SAMPLE / "incidents.csv"), "--boundaries", AREAS,
                                      "--period", "month", "--out", str(tmp_path / "m"), "--no-pdf",
                                      "--ledger", str(ledger)])
    assert result.exit_code == 2 and "was made with period 'quarter'" in result.output, result.output


def test_a_quarter_is_one_number_in_the_trend_and_as_the_year_earlier(tmp_path):
    """2024 Q4 is first published in the trend (release 1), then shown again as the year earlier (release 2)."""
    ledger = tmp_path / "series.json"
    first = _release(SAMPLE / "incidents.csv", tmp_path / "q3", "--as-of", "2025-09-30", "--ledger", str(ledger))
    late = _with_late_records(tmp_path, 3, "late.csv", month="2024-11")
    second = _release(late, tmp_path / "q4", "--as-of", "2025-12-31", "--ledger", str(ledger))
    whole = pd.read_csv(second / "rates.csv").set_index("area").loc["all"]
    assert whole["earlier_count"] == _trend(second)["2024 Q4"] == _trend(first)["2024 Q4"]
    before = json.loads((first / "run.json").read_text())["report"]["by_period"]
    assert before.get("2024Q4") is None  # first published in release 1's trend only
    after = json.loads((second / "run.json").read_text())["report"]["by_period"]
    assert after["2024Q4"]["n_incidents"] == _trend(first)["2024 Q4"]
    assert difference_releases(first, second) == []
