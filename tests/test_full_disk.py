"""A full disk: one true line naming the disk that is full, and every store as it was.

Issue 42: GDAL writing density.tif to a full disk crashed the process (exit 139, a
segmentation fault); a full disk under --history said "unexpected OSError" or named
--out's disk, which had room; under --ledger it exited 2 (a usage error); a partial
odgeo.cas.tmp was left beside an earlier SaTScan export; geocode's --out on a full disk,
under /proc or in a read-only folder gave "unexpected" errors after all the work. The disk
here is a real one: a small tmpfs mounted for the test, remounted read-only where a test
needs that (the suite runs as root, as .ci/run does, and root writes through file modes).
"""

from __future__ import annotations

import os
import subprocess

import pytest
from click.testing import CliRunner

from cli.main import cli

from .conftest import SAMPLE, SAMPLE_TZ


@pytest.fixture
def small_disk(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(disk)], capture_output=True,
                          text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a small disk here ({done.stderr.strip()}); .ci/run runs as root")
    yield disk
    subprocess.run(["umount", str(disk)], check=True)


@pytest.fixture
def read_only(small_disk):
    """Remount ``small_disk`` read-only (what the test wrote first stays readable)."""

    def remount() -> None:
        subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)

    yield remount
    subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)


def _fill(disk, leave_kb: int) -> None:
    """Leave ``leave_kb`` KB free on ``disk``."""
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    with open(disk / "filler", "wb") as fh:
        fh.write(b"\0" * max(0, free - leave_kb * 1024))


def _run(*args):
    return CliRunner().invoke(cli, [args[0], str(SAMPLE / "incidents.csv"), "--timezone", SAMPLE_TZ,
                                    "--tiles", "none", *args[1:]])


def _one_error(result) -> str:
    lines = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert result.exit_code == 1 and len(lines) == 1, result.output
    return lines[0]


def test_products_on_a_full_disk(small_disk):
    out = small_disk / "out"
    out.mkdir()
    (out / "yesterday.txt").write_text("yesterday's products")
    result = _run("hotspots", "--out", str(out), "--overwrite")  # density.tif alone is bigger than the disk
    assert _one_error(result).startswith(f"Error: the disk holding {small_disk} is full")
    assert sorted(p.name for p in small_disk.iterdir()) == ["out"]  # no temporary folder left, no lock file
    assert [p.name for p in out.iterdir()] == ["yesterday.txt"]


@pytest.mark.parametrize("state", ["history", "ledger"])
def test_a_state_file_on_a_full_disk_names_that_disk(small_disk, tmp_path, state):
    path = small_disk / ("history.csv" if state == "history" else "ledger.json")
    command = (["alerts", "--as-of", "2025-12-29", "--audience", "restricted"] if state == "history"
               else ["hotspots", "--until", "2025-11-30"])
    assert _run(*command, f"--{state}", str(path), "--out", str(tmp_path / "first")).exit_code == 0
    before = path.read_bytes()
    _fill(small_disk, leave_kb=4)  # room for the lock file, not for the new state
    later = ["alerts", "--as-of", "2025-12-30", "--audience", "restricted"] if state == "history" else ["hotspots"]
    result = _run(*later, f"--{state}", str(path), "--out", str(tmp_path / "second"))
    assert _one_error(result) == (f"Error: the disk holding {small_disk} is full (no space left while writing "
                                  f"{path.name}); free some space and run again; {path} is as it was")
    assert path.read_bytes() == before
    assert not (tmp_path / "second").exists()  # the run is one unit: no products without their state
    assert sorted(p.name for p in small_disk.iterdir()) == sorted([path.name, "filler"])


def test_a_satscan_export_on_a_full_disk_leaves_the_earlier_one_whole(small_disk, tmp_path):
    export = small_disk / "satscan"
    first = _run("scan", "--audience", "restricted", "--as-of", "2025-12-30", "--export-satscan", str(export),
                 "--out", str(tmp_path / "first"))
    assert first.exit_code == 0, first.output
    before = {p.name: p.read_bytes() for p in export.iterdir()}
    _fill(small_disk, leave_kb=0)
    result = _run("scan", "--audience", "restricted", "--export-satscan", str(export), "--out", str(tmp_path / "b"))
    assert "is full" in _one_error(result)
    assert {p.name: p.read_bytes() for p in export.iterdir()} == before  # no .tmp beside it, nothing cut


def _geocode(out):
    return CliRunner().invoke(cli, ["geocode", str(SAMPLE / "incidents.csv"), "--reference",
                                    str(SAMPLE / "address_points.csv"), "--out", str(out)])


@pytest.mark.parametrize("suffix", ["csv", "gpkg"])  # GDAL's GeoPackage writer failed with no errno
def test_geocode_on_a_full_disk_leaves_no_part(small_disk, suffix):
    out = small_disk / f"geocoded.{suffix}"
    out.write_text("yesterday")
    _fill(small_disk, leave_kb=8)  # the probe fits; the 1,000-odd geocoded rows do not
    result = CliRunner().invoke(cli, ["geocode", str(SAMPLE / "incidents.csv"), "--reference",
                                      str(SAMPLE / "address_points.csv"), "--out", str(out), "--overwrite"])
    assert _one_error(result) == (f"Error: the disk holding {small_disk} is full (no space left while writing "
                                  f"{out.name}); free some space and run again; {out} is as it was")
    assert sorted(p.name for p in small_disk.iterdir()) == sorted(["filler", out.name])
    assert out.read_text() == "yesterday"


@pytest.mark.parametrize("where", ["read-only", "/proc", "under a file"])
def test_geocode_into_a_folder_that_takes_no_file_is_refused_before_the_work(small_disk, read_only, where):
    if where == "read-only":
        read_only()
        out, reason = small_disk / "geocoded.csv", f"the folder {small_disk} does not take new files (Read-only"
    elif where == "/proc":
        out, reason = "/proc/geocoded.csv", "the folder /proc does not take new files"
    else:
        (small_disk / "a-file").write_text("")
        out, reason = small_disk / "a-file" / "geocoded.csv", f"{small_disk / 'a-file'} is a file, not a folder"
    result = _geocode(out)
    assert _one_error(result).startswith(f"Error: cannot write --out {out}: {reason}"), result.output
    assert "Geocoded" not in result.output


def test_a_history_in_a_read_only_folder_is_refused_before_the_work(small_disk, read_only, tmp_path):
    history = small_disk / "history.csv"
    first = _run("alerts", "--as-of", "2025-12-29", "--audience", "restricted", "--history", str(history),
                 "--out", str(tmp_path / "first"))
    assert first.exit_code == 0, first.output
    read_only()
    result = _run("alerts", "--as-of", "2025-12-30", "--audience", "restricted", "--history", str(history),
                  "--out", str(tmp_path / "second"))
    assert _one_error(result) == (f"Error: cannot write into {small_disk} for --history {history}: "
                                  "Read-only file system")
    assert not (tmp_path / "second").exists()
