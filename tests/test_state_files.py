"""State that outlives a run (a release ledger, an alert history) has one writer at a time and never goes back.

Issue 42: two runs sharing one --ledger both exited 0 and one release was lost (3 of 3
tries); two sharing one --history lost an update (4 of 9) and twice left the history
older than a run that had finished. Each state file is now locked from before any
work to the end of the run; a second run is refused in one line naming the holder.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from cli.main import cli
from odgeo.errors import OutputError
from odgeo.io.outputs import FileLock

from .conftest import SAMPLE, SAMPLE_TZ


def _alerts(out, history, as_of, *extra):
    return [sys.executable, "-m", "odgeo_cli", "alerts", str(SAMPLE / "incidents.csv"), "--timezone", SAMPLE_TZ,
            "--tiles", "none", "--as-of", as_of, "--history", str(history), "--out", str(out), "--overwrite",
            "--audience", "restricted", *extra]


def _last_as_of(history) -> str:
    with open(history, encoding="utf-8") as fh:
        return json.loads(fh.readline()[1:])["last_as_of"]


def _holder(path):
    """A process holding ``path``'s lock as a run would, until killed."""
    code = ("import sys, time; from odgeo.io.outputs import FileLock; FileLock(sys.argv[1], '`history`').take(); "
            "print('held', flush=True); time.sleep(120)")
    holder = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_run_finds_the_history_held_and_says_by_whom(tmp_path):
    history = tmp_path / "history.csv"
    holder = _holder(history)
    try:
        result = CliRunner().invoke(cli, _alerts(tmp_path / "out", history, "2025-12-30")[3:])
        assert result.exit_code == 1
        assert f"--history {history} is being written by another odgeo run (pid {holder.pid}" in result.output
        assert not history.exists() and not (tmp_path / "out").exists()  # refused before any work
    finally:
        holder.kill()
        holder.wait()
    # The holder was killed: its lock ended with it, the file it left is taken, and removed at the end.
    assert (tmp_path / ".history.csv.odgeo-lock").exists()
    result = CliRunner().invoke(cli, _alerts(tmp_path / "out", history, "2025-12-30")[3:])
    assert result.exit_code == 0, result.output
    assert not list(tmp_path.glob(".*odgeo-lock")) and _last_as_of(history).startswith("2025-12-31T00:00")


def test_a_run_that_fails_releases_its_state_files(tmp_path):
    history, ledger = tmp_path / "history.csv", tmp_path / "ledger.json"
    bad = CliRunner().invoke(cli, _alerts(tmp_path / "out", history, "1999-01-01")[3:])
    assert bad.exit_code != 0 and "outside the data" in bad.output
    assert not list(tmp_path.glob(".*odgeo-lock"))
    with FileLock(ledger, "`ledger`"), pytest.raises(OutputError, match=r"`ledger` .*ledger.json is being written "
                                                                      "by another odgeo run"):
        FileLock(ledger, "`ledger`").take()
    assert not list(tmp_path.glob(".*odgeo-lock"))


@pytest.mark.parametrize("state", ["history", "ledger"])
def test_two_runs_at_once_lose_nothing_and_never_go_back(tmp_path, state):
    """Start two runs on one state file together, a few times: each either completes or is refused in one
    line, and the file holds every completed run (the history the latest as-of, the ledger every release)."""
    for attempt in range(3):
        path = tmp_path / f"{attempt}-{state}.{'csv' if state == 'history' else 'json'}"
        if state == "history":
            commands = [_alerts(tmp_path / f"{attempt}-{day}", path, f"2025-12-{day} 21:{minute}")
                        for day, minute in (("30", "40"), ("30", "00"))]
        else:
            commands = [[sys.executable, "-m", "odgeo_cli", "hotspots", str(SAMPLE / "incidents.csv"), "--timezone",
                         SAMPLE_TZ, "--tiles", "none", "--until", until, "--ledger", str(path),
                         "--out", str(tmp_path / f"{attempt}-{until}")] for until in ("2025-11-30", "2025-12-31")]
        runs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in commands]
        results = [(run.wait(), run.stderr.read()) for run in runs]
        done = [i for i, (code, _) in enumerate(results) if code == 0]
        refused = [err for code, err in results if code != 0]
        assert done, results
        for err in refused:  # one true line naming who holds it (or, after it, a history that moved on)
            lines = [line for line in err.splitlines() if line.startswith("Error")]
            assert len(lines) == 1 and ("being written by another odgeo run (pid" in lines[0]
                                        or "a history only moves forward" in lines[0]), err
        if state == "history":
            finished = sorted(commands[i][commands[i].index("--as-of") + 1] for i in done)
            assert _last_as_of(path).startswith(finished[-1].replace(" ", "T"))
        else:
            releases = json.loads(path.read_text())["releases"]
            assert len(releases) == len(done)
        assert not list(tmp_path.glob(".*odgeo-lock"))
        time.sleep(0.1)


@pytest.mark.parametrize(("command", "advice"), [("hotspots", "give --ledger FILE"), ("emerging", "keeps no ledger"),
                                                 ("scan", None)])
def test_a_public_run_advises_a_ledger_only_where_the_command_has_one(tmp_path, command, advice):
    result = CliRunner().invoke(cli, [command, str(SAMPLE / "incidents.csv"), "--timezone", SAMPLE_TZ,
                                      "--tiles", "none", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if "can be differenced" in line]
    if advice is None:  # a daily series publishes no totals to difference (docs/privacy.md)
        assert warnings == []
    else:
        assert len(warnings) == 1 and advice in warnings[0]
        assert command == "hotspots" or "--ledger FILE" not in warnings[0]


def _damage_csv_meta(path, meta):
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("# " + json.dumps(meta) + "\n" + "".join(lines[1:]), encoding="utf-8")


@pytest.mark.parametrize("damage", ["meta is a list", "key is text", "sqlite NULL meta", "sqlite locked"])
def test_a_damaged_history_gets_one_true_line(tmp_path, damage):
    import sqlite3

    history = tmp_path / ("history.db" if damage.startswith("sqlite") else "history.csv")
    first = CliRunner().invoke(cli, _alerts(tmp_path / "out", history, "2025-12-29")[3:])
    assert first.exit_code == 0, first.output
    holder = None
    if damage == "meta is a list":
        _damage_csv_meta(history, [1, 2])
    elif damage == "key is text":
        meta = json.loads(history.read_text(encoding="utf-8").splitlines()[0][1:])
        _damage_csv_meta(history, {**meta, "key": "areas"})
    elif damage == "sqlite NULL meta":
        with sqlite3.connect(history) as con:
            con.execute("UPDATE meta SET value = NULL WHERE key = 'key'")
    else:
        holder = sqlite3.connect(history, timeout=0)
        holder.execute("BEGIN EXCLUSIVE")
    try:
        result = CliRunner().invoke(cli, _alerts(tmp_path / "out", history, "2025-12-30")[3:])
    finally:
        if holder is not None:
            holder.rollback()
            holder.close()
    lines = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert result.exit_code == 1 and len(lines) == 1 and "unexpected" not in lines[0], result.output
    assert str(history) in lines[0]
    if damage == "sqlite locked":
        assert "locked by another program" in lines[0] and "new --history" not in lines[0]


@pytest.mark.parametrize("damage", [{"min_count": None}, {"settings": ["resolution", 8]}, {"held": None}])
def test_a_damaged_ledger_gets_one_true_line(tmp_path, damage):
    ledger = tmp_path / "ledger.json"
    hotspots = ["hotspots", str(SAMPLE / "incidents.csv"), "--timezone", SAMPLE_TZ, "--tiles", "none",
                "--until", "2025-11-30", "--ledger", str(ledger), "--out", str(tmp_path / "out")]
    assert CliRunner().invoke(cli, hotspots).exit_code == 0
    doc = json.loads(ledger.read_text())
    doc.update(damage)
    doc = {k: v for k, v in doc.items() if v is not None}
    ledger.write_text(json.dumps(doc))
    result = CliRunner().invoke(cli, [*hotspots[:-1], str(tmp_path / "out2")])
    lines = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert f"--ledger {ledger} is damaged ({next(iter(damage))} missing or of the wrong kind)" in lines[0]


#: Kill the run (as kill -9 would: no cleanup) at a point of its commit, then hand over to the CLI.
KILLER = """
import os, sys
import odgeo.io.outputs as outputs
point, real_roll, real_replace = sys.argv[1], outputs._roll_forward, os.replace
if point == "after the journal":
    outputs._roll_forward = lambda plan: os._exit(137)
elif point == "between the renames":
    def replace_then_die(a, b):
        real_replace(a, b)
        os._exit(137)
    def roll(plan):
        outputs.os.replace = replace_then_die
        real_roll(plan)
    outputs._roll_forward = roll
elif point == "before the database commits":
    import odgeo.io.postgis as postgis
    postgis.PostgisDestination.publish = lambda self, *args: os._exit(137)
from odgeo_cli.main import cli
cli(sys.argv[2:])
"""


def _agree(out, history) -> tuple[str, str]:
    """The day --out's products are for, and the history's last run: equal when the stores agree."""
    products = json.loads((out / "run.json").read_text())["parameters"]["as_of"]["value"]
    return products.replace(" ", "T")[:16], _last_as_of(history)[:16]


@pytest.mark.parametrize("point", ["after the journal", "between the renames"])
def test_a_run_killed_while_committing_is_finished_by_the_next(tmp_path, point):
    # Issue 42: a kill between stores left --out old and the history new (or the other way round).
    out, history = tmp_path / "out", tmp_path / "history.csv"
    assert CliRunner().invoke(cli, _alerts(out, history, "2025-12-20")[3:]).exit_code == 0
    killed = subprocess.run([sys.executable, "-c", KILLER, point, *_alerts(out, history, "2025-12-21")[3:]],
                            capture_output=True, text=True)
    assert killed.returncode == 137, killed.stderr
    assert (tmp_path / ".out.odgeo-journal").exists()
    if point == "between the renames":
        assert _agree(out, history) == ("2025-12-21T00:00", "2025-12-22T00:00")  # they disagree until...
    result = CliRunner().invoke(cli, _alerts(tmp_path / "elsewhere", tmp_path / "other.csv", "2025-12-22")[3:])
    assert result.exit_code == 0  # another folder's run does not touch it
    from odgeo.io.outputs import finish_interrupted_run

    finish_interrupted_run(tmp_path / ".out.odgeo-journal")  # what the next run into --out does first
    assert _agree(out, history) == ("2025-12-22T00:00", "2025-12-22T00:00")  # ... the killed run's, everywhere
    # Only the killed run's lock files are left (harmless: its locks ended with it; the next run takes them).
    leftovers = [p.name for p in tmp_path.iterdir() if "odgeo-" in p.name and not p.name.endswith(".odgeo-lock")]
    assert leftovers == [], leftovers
    result = CliRunner().invoke(cli, _alerts(out, history, "2025-12-22")[3:])
    assert result.exit_code == 0 and "interrupted" not in result.output


def test_the_next_run_into_the_folder_finishes_a_killed_one_first(tmp_path):
    out, history = tmp_path / "out", tmp_path / "history.csv"
    command = _alerts(out, history, "2025-12-21")[3:]
    killed = subprocess.run([sys.executable, "-c", KILLER, "after the journal", *command], capture_output=True,
                            text=True)
    assert killed.returncode == 137 and not history.exists()
    result = CliRunner().invoke(cli, _alerts(out, history, "2025-12-21")[3:])  # the morning's job, run again
    assert result.exit_code == 0, result.output
    assert "the last run into" in result.output and "were put in place" in result.output
    assert _agree(out, history) == ("2025-12-22T00:00", "2025-12-22T00:00")
    assert [p.name for p in tmp_path.iterdir() if "odgeo-" in p.name] == []


def test_a_rename_that_fails_after_the_journal_is_finished_by_the_next_run(tmp_path, monkeypatch):
    # Past the journal the run must not clean up what it wrote: a database may already hold it.
    import errno

    import odgeo.io.outputs as outputs

    out, history = tmp_path / "out", tmp_path / "history.csv"
    assert CliRunner().invoke(cli, _alerts(out, history, "2025-12-20")[3:]).exit_code == 0

    def no_room(plan):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(outputs, "_roll_forward", no_room)
    result = CliRunner().invoke(cli, _alerts(out, history, "2025-12-21")[3:])
    assert result.exit_code == 1 and "is full" in result.output
    assert (tmp_path / ".out.odgeo-journal").exists() and list(tmp_path.glob(".out.odgeo-tmp-*"))
    monkeypatch.undo()
    outputs.finish_interrupted_run(tmp_path / ".out.odgeo-journal")
    assert _agree(out, history) == ("2025-12-22T00:00", "2025-12-22T00:00")
