"""The malformed-input corpus through every command: exit codes, one-line messages, rows that add up.

Also the property test of random messy CSVs, kills mid-write, a full disk, a locked
folder and a damaged geocoder cache.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from odgeo_cli.main import cli

from .conftest import SAMPLE
from .malformed import HEADER, csv_text, data_cases, file_cases, good_rows

DATA = data_cases()
FILES = file_cases()


def test_the_corpus_is_large_enough():
    assert len(DATA) + len(FILES) >= 60
    assert len({c.name for c in DATA + FILES}) == len(DATA + FILES)


def _invoke(args: list[str]):
    return CliRunner().invoke(cli, args)


def _error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("Error:")]


def _assert_one_true_line(result, case, command: str) -> None:
    assert "Traceback" not in result.stderr, f"{case.name}/{command}: {result.stderr}"
    assert "unexpected" not in result.stderr, f"{case.name}/{command}: {result.stderr}"
    errors = _error_lines(result)
    assert len(errors) == 1, f"{case.name}/{command}: {result.stderr}"


def _assert_counts(out: Path, case, command: str) -> dict:
    """Restricted records add up exactly; public ones add up where nothing is hidden, and hide every small count."""
    record = json.loads((out / "run.json").read_text())
    counts = record["counts"]
    parts = [counts["n_used"], counts["n_unlocated"], counts["n_rejected"]]
    if record["parameters"]["audience"]["value"] == "public":
        shown = [v for v in [counts["n_input"], *parts, *counts["rejected_by_code"].values()] if v is not None]
        assert all(v == 0 or v >= 10 for v in shown), f"{case.name}/{command}: {counts}"
        assert None not in parts or sum(p is None for p in parts) >= 2 or counts["n_input"] is None, counts
        if None in parts or counts["n_input"] is None:
            return record
    assert counts["n_input"] == sum(parts), case.name
    if None not in counts["rejected_by_code"].values():
        assert sum(counts["rejected_by_code"].values()) == counts["n_rejected"], case.name
    assert sorted(record["outputs"]) == sorted(p.name for p in out.iterdir()), f"{case.name}/{command}"
    return record


@pytest.mark.parametrize("case", DATA + FILES, ids=lambda c: c.name)
def test_hotspots_on_the_corpus(tmp_path, case):
    path = case.write(tmp_path)
    out = tmp_path / "out"
    # Restricted: the exact count of every reject code is what is checked (public runs hide small ones).
    result = _invoke(["hotspots", str(path), "--out", str(out), "--tiles", "none", "--audience", "restricted",
                      *case.args])
    if case.exit:
        assert result.exit_code == case.exit, f"{case.name}: {result.output}"
        _assert_one_true_line(result, case, "hotspots")
        assert case.message in _error_lines(result)[0], _error_lines(result)[0]
        assert not out.exists(), "a failed run leaves no output folder"
        return
    assert result.exit_code == 0, f"{case.name}: {result.output}"
    record = _assert_counts(out, case, "hotspots")
    by_code = record["counts"]["rejected_by_code"]
    for code, n in case.codes.items():
        assert by_code.get(code, 0) == n, f"{case.name}: {code} {by_code}"
    if case.undated is not None:
        assert record["counts"]["n_used_undated"] == case.undated
    if case.message:
        assert case.message in json.dumps(record), case.name


COMMANDS = {
    "emerging": [],
    "sites": ["--candidates", str(SAMPLE / "candidate_sites.csv"), "--n-sites", "2"],
    "outreach": ["--no-clusters"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_on_the_data_corpus(tmp_path, command):
    """Every case read by the other commands: a run that adds up, or one line (never a traceback)."""
    for case in DATA:
        path = case.write(tmp_path)
        out = tmp_path / f"{command}-{case.name}"
        result = _invoke([command, str(path), "--out", str(out), "--tiles", "none", *COMMANDS[command], *case.args])
        assert result.exit_code in (0, 1, 2), f"{case.name}/{command}: {result.output}"
        if result.exit_code == 0:
            _assert_counts(out, case, command)
        else:
            _assert_one_true_line(result, case, command)
            assert case.exit or "no located" in result.stderr or "time steps" in result.stderr \
                or "candidate" in result.stderr, f"{case.name}/{command}: {result.stderr}"


def test_geocode_on_broken_files(tmp_path):
    for case in FILES[:6]:
        path = case.write(tmp_path)
        result = _invoke(["geocode", str(path), "--reference", str(SAMPLE / "address_points.csv"),
                          "--out", str(tmp_path / f"{case.name}.csv")])
        assert result.exit_code in (1, 2), result.output
        _assert_one_true_line(result, case, "geocode")


def test_geocode_writes_the_same_geopackage_twice(tmp_path):
    sample = SAMPLE / "incidents.csv"
    blobs = []
    for name in ("a.gpkg", "b.gpkg"):
        result = _invoke(["geocode", str(sample), "--reference", str(SAMPLE / "address_points.csv"),
                          "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        blobs.append((tmp_path / name).read_bytes())
        time.sleep(1.1)  # a timestamp in seconds would differ
    assert blobs[0] == blobs[1]


# --- TOML settings -------------------------------------------------------------------------------

@pytest.mark.parametrize("toml, ok, message", [
    ('[hotspots]\noutcome = ["fatal"]\n', True, ""),
    ('[hotspot]\nbandwidth = 400\n', False, "unknown table [hotspot]"),
    ('[hotspots]\nresolution = true\n', False, "resolution = True"),
    ('[hotspots]\nbandwidth = "nan"\n', False, "bandwidth"),
    ('[hotspots]\nbandwith = 400\n', False, "unknown setting 'bandwith'"),
])
def test_config_files_are_checked_like_the_command_line(tmp_path, toml, ok, message):
    cfg = tmp_path / "s.toml"
    cfg.write_text(toml)
    result = _invoke(["hotspots", str(SAMPLE / "incidents.csv"), "--out", str(tmp_path / "o"), "--tiles", "none",
                      "--config", str(cfg), "--timezone", "America/Chicago"])
    if ok:
        assert result.exit_code == 0, result.output
        assert json.loads((tmp_path / "o" / "run.json").read_text())["parameters"]["outcomes"]["value"] == ["fatal"]
    else:
        assert result.exit_code == 2 and message in result.stderr and str(cfg) in result.stderr, result.stderr


@pytest.mark.parametrize("content", [b"\x00\xff\x00binary", "bandwidth = 400\n".encode("utf-16")])
def test_config_that_is_not_utf8_text(tmp_path, content):
    cfg = tmp_path / "s.toml"
    cfg.write_bytes(content)
    result = _invoke(["hotspots", str(SAMPLE / "incidents.csv"), "--out", str(tmp_path / "o"), "--config", str(cfg)])
    assert result.exit_code == 2 and "UTF-8" in result.stderr and "Traceback" not in result.stderr


# --- messy CSVs, by property ---------------------------------------------------------------------

@st.composite
def messy_csv(draw):
    n = draw(st.integers(1, 40))
    rows = good_rows(n, seed=draw(st.integers(0, 1000)))
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    for row in rows:
        if draw(st.booleans()):
            col = draw(st.integers(0, len(HEADER) - 1))
            row[col] = draw(st.sampled_from(["", "9999-12-31", "1900-01-01", "x", "inf", " ", "NA"]))
    lines = [delimiter.join(HEADER)] + [delimiter.join(r) for r in rows]
    extra = draw(st.lists(st.sampled_from(["blank", "header", "short"]), max_size=4))
    for kind in extra:
        pos = draw(st.integers(1, len(lines)))
        lines.insert(pos, {"blank": "", "header": lines[0], "short": "R0;x"}[kind])
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]))
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    return (ending.join(lines) + ending).encode(encoding), len(lines) - 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messy_csv())
def test_messy_csvs_always_add_up(tmp_path, sample):
    from odgeo.incidents.read import read_incidents

    content, n_records = sample
    path = tmp_path / "messy.csv"
    path.write_bytes(content)
    read = read_incidents(path)
    assert read.n_input == read.n_located + read.n_unlocated + read.n_rejected
    # Every record is a row (trailing blank lines are formatting, not records).
    assert n_records - 4 <= read.n_input <= n_records
    assert set(read.rejects["code"]) <= {"empty_row", "bad_row", "repeated_header", "bad_date", "implausible_date",
                                         "bad_coordinate", "partial_coordinates", "no_location", "duplicate_id",
                                         "swapped_coordinates", "coordinate_out_of_range"}


# --- kills, full disks, locks ------------------------------------------------------------------

def _run_args(out: Path) -> list[str]:
    return [sys.executable, "-m", "odgeo_cli", "hotspots", str(SAMPLE / "incidents.csv"), "--out", str(out),
            "--timezone", "America/Chicago", "--tiles", "none", "--overwrite"]


def _complete(out: Path) -> bool:
    record = json.loads((out / "run.json").read_text())
    return sorted(record["outputs"]) == sorted(p.name for p in out.iterdir())


def test_a_kill_never_leaves_a_mix(tmp_path):
    out = tmp_path / "out"
    subprocess.run(_run_args(out), check=True, capture_output=True)
    first = (out / "hexes.geojson").read_bytes()
    (out / "stale.txt").write_text("from an earlier run")  # replaced with the folder as a whole
    for delay in (0.5, 1.5, 3.0, 4.5):
        proc = subprocess.Popen(_run_args(out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert out.is_dir() and (out / "run.json").exists(), "the earlier products are still there"
        assert _complete(out) or (out / "stale.txt").exists()
        names = {p.name for p in out.iterdir()} - {"stale.txt"}
        assert names == set(json.loads((out / "run.json").read_text())["outputs"])
    # A later run after the kills (their lock files are stale) completes and drops the stale file.
    subprocess.run(_run_args(out), check=True, capture_output=True)
    assert _complete(out) and not (out / "stale.txt").exists()
    assert (out / "hexes.geojson").read_bytes() == first  # the same products as before the kills
    assert [p.name for p in tmp_path.iterdir()] == ["out"], "what the killed runs left is cleared"


def test_a_full_disk_names_the_folder_and_keeps_the_earlier_products(tmp_path, monkeypatch):
    from odgeo.errors import OutputError
    from odgeo.jobs import hotspots as pipeline
    from odgeo.jobs.hotspots import HotspotSettings, run_hotspots

    out = tmp_path / "out"
    settings = HotspotSettings(timezone="America/Chicago", tiles="none")
    run_hotspots(SAMPLE / "incidents.csv", out, settings)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real = pipeline.write_geojson

    def full(frame, path):
        if path.name == "clusters.geojson":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(frame, path)

    monkeypatch.setattr(pipeline, "write_geojson", full)
    with pytest.raises(OutputError, match=r"disk holding .* is full .*clusters.geojson.* is as it was"):
        run_hotspots(SAMPLE / "incidents.csv", out, settings, overwrite=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"], "no temporary folder or lock is left"


def test_out_that_cannot_be_created_fails_before_any_work(tmp_path, monkeypatch):
    from odgeo.jobs import common

    def must_not_read(*args, **kwargs):
        raise AssertionError("the input was read before --out was checked")

    monkeypatch.setattr(common, "read_job_input", must_not_read)
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = _invoke(["hotspots", str(SAMPLE / "incidents.csv"), "--out", str(blocker / "sub")])
    assert result.exit_code == 1 and "is a file, not a folder" in result.stderr
    result = _invoke(["hotspots", str(SAMPLE / "incidents.csv"), "--out", "/proc/odgeo-test"])
    assert result.exit_code == 1 and "Error: cannot" in result.stderr and "unexpected" not in result.stderr


def test_a_second_run_into_a_locked_folder_says_who_holds_it(tmp_path):
    from odgeo.errors import OutputError
    from odgeo.io.outputs import OutputFolder

    out = tmp_path / "out"
    with OutputFolder(out) as first:
        with pytest.raises(OutputError, match=rf"being written by another odgeo run \(pid {os.getpid()}"):
            OutputFolder(out, overwrite=True)
        first.path("x.txt").write_text("x")
    assert (out / "x.txt").exists()
    # A lock left by a process that is gone is taken over.
    lock = tmp_path / ".out.odgeo-lock"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock.write_text(json.dumps({"pid": dead.pid, "host": os.uname().nodename, "started": "then"}))
    with OutputFolder(out, overwrite=True) as again:
        again.path("y.txt").write_text("y")
    assert sorted(p.name for p in out.iterdir()) == ["y.txt"]


def test_a_damaged_geocoder_cache_is_rebuilt(tmp_path, monkeypatch, caplog):
    from odgeo.geocode.index import load_index

    monkeypatch.setenv("ODGEO_CACHE", str(tmp_path / "cache"))
    reference = [SAMPLE / "address_points.csv"]
    index, how = load_index(reference)
    assert how["built"]
    cached = Path(how["cache"])
    for damage in (lambda b: b[: len(b) // 2], lambda b: b"", lambda b: b[:-1] + bytes([b[-1] ^ 1])):
        cached.write_bytes(damage(cached.read_bytes()))
        again, how = load_index(reference)
        assert how["built"] and len(again.pt_number) == len(index.pt_number)
        assert "damaged" in caplog.text
    assert not load_index(reference)[1]["built"]  # the rebuilt cache is good
    # An unwritable cache location is a warning, not a failure.
    monkeypatch.setenv("ODGEO_CACHE", str(tmp_path / "file-not-folder"))
    (tmp_path / "file-not-folder").write_text("")
    index, how = load_index(reference)
    assert how["built"] and how["cache"] is None and "cannot write the geocoder cache" in caplog.text


def test_the_real_medical_examiner_date_shape_is_read(tmp_path):
    """12,321-row county exports wrote dates like 2014/12/01 06:00:00+00 with 128 empty: read, not refused."""
    rows = good_rows(400)
    for i, row in enumerate(rows):
        row[1] = "" if i % 31 == 0 else row[1].replace("-", "/") + ":00+00"
    path = tmp_path / "me.csv"
    path.write_text(csv_text(rows))
    out = tmp_path / "out"
    result = _invoke(["hotspots", str(path), "--out", str(out), "--timezone", "UTC", "--tiles", "none"])
    assert result.exit_code == 0, result.output
    record = json.loads((out / "run.json").read_text())
    assert record["counts"]["n_used"] == 400 and record["counts"]["n_used_undated"] == 13
    hexes = json.loads((out / "hexes.geojson").read_text())["features"]
    total = sum(f["properties"]["count"] for f in hexes)
    months = sum(v or 0 for f in hexes for k, v in f["properties"].items() if k.startswith("2024-"))
    assert total <= 400 and months < total  # undated incidents count in the areas, in no month
    assert "have no date" in (out / "map.html").read_text()


def test_a_kill_between_the_two_renames_is_mended_by_the_next_run(tmp_path):
    from odgeo.io.outputs import OutputFolder

    out = tmp_path / "out"
    out.mkdir()
    (out / "run.json").write_text("{}")
    out.rename(tmp_path / ".out.odgeo-old-0123456789ab")  # commit moved --out aside, then the run died
    (tmp_path / ".out.odgeo-tmp-0123456789ab").mkdir()
    folder = OutputFolder(out, overwrite=True)
    assert (out / "run.json").read_text() == "{}", "the earlier products are back in place"
    folder.abort()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_the_spread_of_the_data_is_told_only_to_the_restricted_audience(tmp_path):
    from odgeo.jobs.hotspots import HotspotSettings, run_hotspots

    for audience in ("public", "restricted"):
        run_hotspots(SAMPLE / "incidents.csv", tmp_path / audience,
                     HotspotSettings(timezone="America/Chicago", tiles="none", audience=audience))
        spread = json.loads((tmp_path / audience / "run.json").read_text())["spread"]
        assert ("max_distance_from_median_centre_km" in spread) == (audience == "restricted")
        assert spread["n_outliers"] == 0


def test_a_file_too_large_for_the_memory_left_is_refused_before_reading(tmp_path, monkeypatch):
    from odgeo.errors import InputFileError
    from odgeo.incidents import tables

    path = tmp_path / "big.csv"
    path.write_text(csv_text(good_rows(200)))
    monkeypatch.setattr(tables, "available_memory", lambda: path.stat().st_size * 5)  # less than 8x the file
    with pytest.raises(InputFileError, match=r"reading it needs about .* GB of memory and this machine has"):
        tables.read_table(path)
    monkeypatch.setattr(tables, "available_memory", lambda: None)  # not knowable: read it
    assert len(tables.read_table(path).data) == 200



def test_a_threshold_too_large_for_a_count_is_a_usage_error():
    # Issue 42: "unexpected OverflowError" from the daily counts' comparison.
    result = _invoke(["alerts", str(SAMPLE / "incidents.csv"), "--timezone", "America/Chicago",
                      "--threshold", "1" + "0" * 30, "--out", "/tmp/odgeo-never-written"])
    assert result.exit_code == 2 and _error_lines(result) == [
        f"Error: --threshold must be 'recommended' or a whole number from 1 to 1,000,000,000, not '1{'0' * 30}'"]


def test_an_unreachable_scheduler_is_not_a_usage_error(tmp_path):
    # Like an unreachable database (exit 1): the option is well formed, the service is not there.
    result = _invoke(["hotspots", str(SAMPLE / "incidents.csv"), "--timezone", "America/Chicago", "--engine", "dask",
                      "--scheduler", "tcp://127.0.0.1:1", "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and len(_error_lines(result)) == 1
    assert "cannot reach a Dask scheduler there" in _error_lines(result)[0]


def test_an_unclosed_quote_loses_no_row(tmp_path):
    # Issue 42: a quote opened and never closed swallowed the next rows into one field, without a word
    # (here 400 rows read as 397). Each line the quote took is now a rejected row of its own.
    import pandas as pd

    from odgeo.incidents.read import read_incidents

    clean = pd.read_csv(SAMPLE / "incidents.csv", dtype=str, keep_default_na=False).head(400)
    lines = clean.to_csv(index=False).splitlines()
    opener = next(i for i in range(100, 200) if ",fentanyl," in lines[i])  # line i is record i (1-based)
    lines[opener] = lines[opener].replace(",fentanyl,", ',"fentanyl,', 1)
    path = tmp_path / "quote.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    closer = next(i for i in range(opener + 1, len(lines)) if '"' in lines[i])  # where the quote closes
    read = read_incidents(path, timezone="America/Chicago")
    assert len(read.incidents) + len(read.rejects) == 400
    rejects = read.rejects.set_index("incident_id")["code"]
    ids = clean["incident_id"].tolist()
    assert rejects[ids[opener - 1]] == "unclosed_quote"
    assert [rejects[i] for i in ids[opener:closer]] == ["inside_unclosed_quote"] * (closer - opener)
    whole = read_incidents(SAMPLE / "incidents.csv", timezone="America/Chicago").incidents
    kept = set(whole["incident_id"]) & set(ids) - set(ids[opener - 1:closer])
    assert set(read.incidents["incident_id"]) == kept
