"""The Dask engine: reading and validating in parts on a real LocalCluster gives what one in-memory read gives.

Two worker processes on the loopback, one thread each. Every comparison is with the
in-memory reader (or the in-memory run of the main job) on the same rows.
"""

from __future__ import annotations

import csv
import json
import os
import random
import signal

import distributed
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from odgeo.engine.dask_read import read_incidents_dask, read_parts_dask
from odgeo.engine.partitions import plan_input
from odgeo.errors import ClusterError, ColumnError, DataError, InputFileError, ParameterError
from odgeo.incidents.read import read_incidents

from .conftest import SAMPLE, SAMPLE_TZ, message_lines


@pytest.fixture
def client(dask_cluster_client):
    return dask_cluster_client


def assert_same_read(parts, whole) -> None:
    """Two IncidentReads hold the same rows, rejects, notes and roles."""
    pd.testing.assert_frame_equal(parts.incidents.drop(columns="geometry"), whole.incidents.drop(columns="geometry"))
    assert (parts.incidents.geometry.to_wkb() == whole.incidents.geometry.to_wkb()).all()  # points and empties
    pd.testing.assert_frame_equal(parts.rejects, whole.rejects)
    assert parts.notes == whole.notes
    assert parts.columns == whole.columns
    assert parts.n_input == whole.n_input
    assert parts.source["date_order"] == whole.source["date_order"]


def test_sample_city_in_parts_reads_as_one_file(client):
    path = SAMPLE / "incidents.csv"
    assert len(plan_input(path, blocksize=64 * 1024).parts) == 11
    in_parts = read_parts_dask(path, client, blocksize=64 * 1024, timezone=SAMPLE_TZ)
    parts = in_parts.gather()
    whole = read_incidents(path, timezone=SAMPLE_TZ)
    assert_same_read(parts, whole)
    assert parts.source["sha256"] == whole.source["sha256"] and parts.source == in_parts.source()
    assert len(in_parts.plan.parts) == 11
    assert len(whole.rejects) == 8 and whole.n_input == 5045  # the comparison is not of two empty reads


def _awkward_csv(path, n=600, seed=7):
    """A CSV whose rows test every whole-input decision when cut into small blocks."""
    rng = random.Random(seed)
    lines = ["incident_id,date,lon,lat,outcome,notes"]
    for i in range(n):
        lon, lat = -87.6 + rng.random() * 0.1, 41.8 + rng.random() * 0.1
        day, month = rng.randint(1, 12), rng.randint(1, 12)
        note = '"a note, with a comma"' if i % 7 == 0 else ""
        if i % 11 == 0:
            note = '"a note\nover\nthree lines"'  # quoted line breaks: blocks must not be cut inside
        lines.append(f"ID{i},{month:02d}/{day:02d}/2024 10:00,{lon:.6f},{lat:.6f},{'fatal' if i % 5 else 'nonfatal'},"
                     f"{note}")
    lines[40] = "ID5,03/04/2024 10:00,-87.61,41.81,fatal,"  # repeats the id of row 6
    lines[450] = "ID5,03/04/2024 10:00,-87.61,41.81,fatal,"  # and again, blocks later
    lines[300] = "ID300,04/05/2024,-87.61,41.81,fatal,x,too,many"  # a wrong number of fields
    lines[350] = ",05/06/2024,-87.62,41.82,fatal,"  # no id: generated from its row number
    lines[500] = "ID500,25/06/2024 10:00,-87.62,41.82,fatal,"  # day first: decides the order for all rows
    lines[520] = "ID520,06/07/2024,41.83,-87.63,fatal,"  # swapped pair
    lines[530] = "ID530,06/07/2024,,,fatal,"  # no location and no address
    lines[540] = ",,,,,"  # an empty row
    lines[560] = "ID560,not a date,-87.6,41.8,fatal,"
    lines.insert(200, "")  # a blank line in the middle is a record (an empty row)
    path.write_text("\ufeff" + "\n".join(lines) + "\n\n\n", encoding="utf-8")  # BOM, blank lines at the end
    return path


@pytest.mark.parametrize("blocksize", [1024, 2500, 7000])
def test_awkward_csv_in_blocks_reads_as_one_file(client, tmp_path, blocksize):
    path = _awkward_csv(tmp_path / "awkward.csv")
    plan = plan_input(path, blocksize=blocksize)
    assert len(plan.parts) > 3
    parts = read_incidents_dask(path, client, blocksize=blocksize, timezone="America/Chicago")
    whole = read_incidents(path, timezone="America/Chicago")
    assert_same_read(parts, whole)
    codes = set(whole.rejects["code"])
    assert {"duplicate_id", "bad_row", "swapped_coordinates", "no_location", "empty_row", "bad_date"} <= codes
    assert whole.source["date_order"] == "day-first"
    dups = whole.rejects[whole.rejects["incident_id"] == "ID5"]
    assert list(dups["row"]) == [40, 451]  # blocks apart from the first, at row 6
    assert list(dups["reason"]) == ["duplicate incident id (first seen at row 6)"] * 2


def test_quoted_line_breaks_join_blocks(client, tmp_path):
    path = tmp_path / "quoted.csv"
    long_note = '"' + "\n".join(["line"] * 400) + '"'  # 2 KB of quoted lines: every 1 KB cut falls inside
    rows = ["id,date,lon,lat,note"] + [f"A{i},2024-01-0{1 + i % 9},-87.6,41.8,{long_note if i == 3 else 'x'}"
                                        for i in range(60)]
    path.write_text("\n".join(rows) + "\n")
    plan = plan_input(path, blocksize=1024)
    parts = read_parts_dask(path, client, blocksize=1024)
    assert_same_read(parts.gather(), read_incidents(path))
    assert len(parts.plan.parts) < len(plan.parts)  # the cuts inside the note were joined


def test_dates_proving_both_orders_in_different_blocks_are_refused(client, tmp_path):
    path = tmp_path / "both.csv"
    rows = ["id,date,lon,lat"] + [f"B{i},01/02/2024,-87.6,41.8" for i in range(300)]
    rows[5] = "B4,25/02/2024,-87.6,41.8"
    rows[290] = "B289,02/25/2024,-87.6,41.8"
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"row 5 has a first number over 12.*row 290 has a second"):
        read_incidents_dask(path, client, blocksize=1024)
    with pytest.raises(DataError, match=r"row 5 has a first number over 12.*row 290 has a second"):
        read_incidents(path)


def test_glob_of_files_and_parquet_dataset(client, tmp_path):
    data = pd.read_csv(SAMPLE / "incidents.csv", dtype=str, keep_default_na=False)
    folder = tmp_path / "exports"
    folder.mkdir()
    cuts = [0, 1500, 3200, len(data)]
    for k in range(3):
        data.iloc[cuts[k]:cuts[k + 1]].to_csv(folder / f"ems-{k}.csv", index=False)
    repeated = data.iloc[[10]].copy()  # an incident in two exports: kept once
    repeated.to_csv(folder / "ems-3.csv", index=False)
    read = read_incidents_dask(str(folder / "ems-*.csv"), client, timezone=SAMPLE_TZ)
    whole = read_incidents(SAMPLE / "incidents.csv", timezone=SAMPLE_TZ)
    assert read.n_input == whole.n_input + 1
    assert len(read.incidents) == len(whole.incidents)
    pd.testing.assert_series_equal(read.incidents["incident_id"], whole.incidents["incident_id"])
    assert [f["n_rows"] for f in read.source["files"]] == [1500, 1700, len(data) - 3200, 1]
    last = read.rejects.iloc[-1]
    assert (last["file"], last["row"], last["code"]) == ("ems-3.csv", 1, "duplicate_id")
    assert last["reason"] == "duplicate incident id (first seen at row 11 of ems-0.csv)"
    # Rows are numbered in their own file: a reject of the second file is its row, not the input's.
    second = whole.rejects[(whole.rejects["row"] > 1500) & (whole.rejects["row"] <= 3200)]
    assert list(read.rejects[read.rejects["file"] == "ems-1.csv"]["row"]) == list(second["row"] - 1500)

    located = whole.incidents[~whole.incidents.geometry.is_empty]
    dataset = tmp_path / "dataset"
    for year, group in located.groupby(located["occurred_at"].dt.year):
        (dataset / f"year={year}").mkdir(parents=True)
        gpd.GeoDataFrame(group[["incident_id", "occurred_at", "outcome", "geometry"]]).to_parquet(
            dataset / f"year={year}" / "part-0.parquet")
    from_parquet = read_incidents_dask(dataset, client, timezone=SAMPLE_TZ)
    assert sorted(from_parquet.incidents["incident_id"]) == sorted(located["incident_id"])
    assert len(from_parquet.source["files"]) == located["occurred_at"].dt.year.nunique()


def test_files_with_other_columns_are_refused(client, tmp_path):
    (tmp_path / "a.csv").write_text("id,date,lon,lat\n1,2024-01-01,-87.6,41.8\n")
    (tmp_path / "b.csv").write_text("id,date,lon,lat,drug\n2,2024-01-01,-87.6,41.8,fentanyl\n")
    with pytest.raises(ColumnError, match=r"b.csv: its columns \(id, date, lon, lat, drug\) differ"):
        read_incidents_dask(str(tmp_path / "*.csv"), client)
    (tmp_path / "b.csv").write_text("id,when,lon,lat\n2,2024-01-01,-87.6,41.8\n")
    with pytest.raises(ColumnError, match=r"b.csv: no date column found"):  # the file at fault, named
        read_incidents_dask(str(tmp_path / "*.csv"), client)
    with pytest.raises(InputFileError, match="no file matches"):
        read_incidents_dask(str(tmp_path / "*.tsv"), client)


def _without_run_details(path) -> dict:
    doc = json.loads(path.read_text())
    doc.pop("timings_s")
    doc.pop("dask", None)  # only in the Dask run's record (checked there), as its engine parameter
    doc["parameters"].pop("engine", None)
    return doc


def test_main_job_on_dask_writes_the_in_memory_products(sample_run, tmp_path):
    from odgeo.jobs.hotspots import HotspotSettings, run_hotspots

    _, memory_out = sample_run
    out = tmp_path / "dask"
    settings = HotspotSettings(timezone=SAMPLE_TZ, engine="dask", workers=2, blocksize=100_000)
    result = run_hotspots(SAMPLE / "incidents.csv", out, settings)
    assert type(result.located).__name__ == "ClusterIncidents"  # the stages ran on the cluster
    assert result.record.sections["dask"]["parts"] == 7
    assert result.record.sections["dask"]["workers"] == 2
    names = sorted(p.name for p in memory_out.iterdir())
    assert names == sorted(p.name for p in out.iterdir())
    for name in names:
        if name != "run.json":
            assert (out / name).read_bytes() == (memory_out / name).read_bytes(), name
    assert _without_run_details(out / "run.json") == _without_run_details(memory_out / "run.json")


def test_main_job_filters_and_outliers_on_the_cluster_for_the_restricted_audience(tmp_path):
    """Filters and the spread check run on the parts; counts, clusters and rejects as in memory, the density to 1e-9."""
    import rasterio

    from odgeo.jobs.hotspots import HotspotSettings, run_hotspots
    from odgeo.jobs.located import ClusterIncidents

    path = _awkward_csv(tmp_path / "calls.csv", n=3000)
    with open(path, "a", encoding="utf-8") as fh:  # two strays far from the city, in the last block
        fh.write("FAR1,03/05/2024 10:00,-99.5,30.1,fatal,\nFAR2,03/06/2024 10:00,-99.6,30.2,nonfatal,\n")
    common = {"timezone": "America/Chicago", "audience": "restricted", "since": "2024-03-01",
              "outcomes": ("fatal", "unknown"), "drop_outliers": True, "eps_m": 300.0, "min_samples": 5}
    memory = run_hotspots(path, tmp_path / "memory", HotspotSettings(**common))
    on_dask = run_hotspots(path, tmp_path / "dask", HotspotSettings(**common, engine="dask", workers=2,
                                                                    blocksize=8192))
    assert isinstance(on_dask.located, ClusterIncidents) and on_dask.record.sections["dask"]["parts"] > 10
    codes = set(memory.read.rejects["code"])
    assert {"outlier", "before_since", "outcome_filtered", "duplicate_id"} <= codes  # each path is exercised
    assert len(set(memory.labels)) > 4 and memory.record.sections["counts"]["n_used"] > 500
    for name in ("rejects.csv", "hexes.geojson", "clusters.geojson", "gistar.geojson"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "memory" / name).read_bytes(), name
    np.testing.assert_array_equal(on_dask.labels, memory.labels)
    with rasterio.open(tmp_path / "dask" / "density.tif") as a, rasterio.open(tmp_path / "memory" / "density.tif") as b:
        assert a.transform == b.transform
        np.testing.assert_allclose(a.read(1), b.read(1), rtol=1e-9, atol=1e-12 * b.read(1).max())
    spots = [gpd.read_file(tmp_path / run / "hotspots.geojson") for run in ("dask", "memory")]
    assert list(spots[0]["n_incidents"]) == list(spots[1]["n_incidents"]) and len(spots[1]) > 0
    assert spots[0].geometry.geom_equals(spots[1].geometry).all()
    for key in ("counts", "spread", "coordinate_stacks"):
        assert on_dask.record.sections[key] == memory.record.sections[key], key


def test_selecting_the_located_parts_lets_the_validated_parts_go(client):
    """After select_parts the workers hold the located parts only, and the stages still run on them."""
    import time

    from odgeo.hexes import count_cells
    from odgeo.incidents.read import IncidentRead
    from odgeo.jobs.hotspots import HotspotSettings
    from odgeo.jobs.on_cluster import select_parts
    from odgeo.runrecord import RunRecord

    def held_reads(dask_worker):
        return sum(isinstance(value, IncidentRead) for value in dask_worker.data.values())

    path = SAMPLE / "incidents.csv"
    parts = read_parts_dask(path, client, timezone=SAMPLE_TZ, blocksize=64 * 1024)
    distributed.wait(parts.reads)
    assert sum(client.run(held_reads).values()) == len(parts.reads) > 3
    read, located, _ = select_parts(parts, HotspotSettings(timezone=SAMPLE_TZ), RunRecord("hotspots"))
    for _ in range(100):  # the scheduler lets data go a moment after the futures are dropped
        if sum(client.run(held_reads).values()) == 0:
            break
        time.sleep(0.1)
    assert sum(client.run(held_reads).values()) == 0 and parts.reads == []
    whole = read_incidents(path, timezone=SAMPLE_TZ)
    pd.testing.assert_frame_equal(located.count_cells(resolution=8), count_cells(whole.incidents, resolution=8))
    assert len(read.rejects) == len(whole.rejects)


class _KillAfterFirstGather:
    """A client that kills one worker (SIGKILL) once the parts are parsed and held on the workers."""

    def __init__(self, client):
        self._client = client
        self.killed = None

    def gather(self, futures, *args, **kwargs):
        out = self._client.gather(futures, *args, **kwargs)
        if self.killed is None and isinstance(out, list) and len(out) > 2 and hasattr(out[0], "id_hashes"):
            victim, pid = sorted(self._client.run(os.getpid).items())[0]
            self.killed = victim
            os.kill(pid, signal.SIGKILL)  # as the kernel's OOM killer would
        return out

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_a_worker_killed_mid_run_is_replaced_and_the_read_completes(tmp_path):
    path = _awkward_csv(tmp_path / "awkward.csv", n=3000)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0", worker_dashboard_address="127.0.0.1:0"
                                  ) as cluster, distributed.Client(cluster) as real:
        client = _KillAfterFirstGather(real)
        parts = read_incidents_dask(path, client, blocksize=4096, timezone="America/Chicago")
        assert client.killed is not None  # the parsed parts it held were lost, and parsed again elsewhere
    assert_same_read(parts, read_incidents(path, timezone="America/Chicago"))


def test_workers_out_of_memory_fail_in_one_line(tmp_path):
    path = tmp_path / "big.csv"
    rng = np.random.default_rng(1)
    n = 600_000
    frame = pd.DataFrame({"id": np.arange(n), "date": "2024-01-01 10:00", "lon": -87.6 + rng.random(n) / 10,
                          "lat": 41.8 + rng.random(n) / 10, "note": "x" * 40})
    frame.to_csv(path, index=False)  # ~60 MB in one block: far more than a 300 MB worker holds once parsed
    from odgeo.engine.choose import dask_client

    with dask_client(workers=1, worker_memory="300MB") as (client, _), pytest.raises(ClusterError) as err:
        read_incidents_dask(path, client, blocksize=len(path.read_bytes()) + 1)
    message = str(err.value)
    assert "\n" not in message and "lower `blocksize` or raise `worker_memory`" in message


def test_engine_options_are_checked(tmp_path):
    from odgeo.engine.choose import choose_engine, parse_memory

    with pytest.raises(ParameterError, match="`engine` must be one of"):
        choose_engine("spark", SAMPLE / "incidents.csv")
    assert choose_engine("auto", SAMPLE).engine == "dask"
    assert choose_engine("auto", SAMPLE / "incidents.csv", free=10**12).engine == "memory"
    small = choose_engine("auto", SAMPLE / "incidents.csv", free=10**6)
    assert small.engine == "dask" and "more than 50% of the 0.0 GB free" in small.reason
    assert parse_memory("4GB") == 4 * 10**9
    with pytest.raises(ParameterError, match="`worker_memory` must be an amount"):
        parse_memory("lots")


def test_command_line_engine_errors_are_one_line(tmp_path):
    from click.testing import CliRunner
    from odgeo_cli.main import cli

    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "a.csv").write_text("id,date,lon,lat\n1,2024-01-01,-87.6,41.8\n")
    cases = [
        (["hotspots", str(folder), "--out", str(tmp_path / "o1")], "is read with --engine dask"),
        (["hotspots", str(SAMPLE / "incidents.csv"), "--out", str(tmp_path / "o2"), "--workers", "2"],
         "apply with --engine dask"),
        (["hotspots", str(SAMPLE / "incidents.csv"), "--out", str(tmp_path / "o3"), "--engine", "dask",
          "--scheduler", "tcp://127.0.0.1:9", "--workers", "2"], "a --scheduler has its own"),
        (["hotspots", str(tmp_path / "none-*.csv"), "--out", str(tmp_path / "o4"), "--engine", "dask"],
         "no file matches the pattern"),
    ]
    for args, expected in cases:
        result = CliRunner().invoke(cli, args)
        assert result.exit_code in (1, 2), result.output
        assert len(message_lines(result.stderr)) == 1 and expected in result.stderr, result.stderr


def test_a_file_named_like_a_pattern_is_a_file(client, tmp_path):
    path = tmp_path / "calls [2024]?.csv"
    path.write_bytes((SAMPLE / "incidents.csv").read_bytes())
    assert len(plan_input(path).files) == 1
    assert_same_read(read_incidents_dask(path, client, timezone=SAMPLE_TZ), read_incidents(path, timezone=SAMPLE_TZ))


def test_main_job_on_a_folder_of_exports_equals_the_job_on_one_file(tmp_path):
    """The awkward file cut into three exports (a folder) through --engine dask, against the one file in memory."""
    from odgeo.jobs.hotspots import HotspotSettings, run_hotspots

    one = _awkward_csv(tmp_path / "one.csv", n=4000)
    with open(one, encoding="utf-8-sig", newline="") as fh:
        header, *records = list(csv.reader(fh))
    folder = tmp_path / "exports"
    folder.mkdir()
    cut = [0, 1500, 2600, len(records)]
    for k in range(3):
        with open(folder / f"2024-{k}.csv", "w", encoding="utf-8", newline="") as fh:
            csv.writer(fh, lineterminator="\n").writerows([header, *records[cut[k]:cut[k + 1]]])
    common = {"timezone": "America/Chicago", "title": "EMS", "min_count": 5}
    run_hotspots(one, tmp_path / "memory", HotspotSettings(**common))
    run_hotspots(folder, tmp_path / "dask", HotspotSettings(**common, engine="dask", workers=2))
    for name in ("hexes.geojson", "density.tif", "hotspots.geojson", "clusters.geojson", "gistar.geojson",
                 "map.png", "map.html"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "memory" / name).read_bytes(), name
    memory = json.loads((tmp_path / "memory" / "run.json").read_text())
    on_dask = json.loads((tmp_path / "dask" / "run.json").read_text())
    assert on_dask["counts"] == memory["counts"]
    assert [f["path"].rsplit("/", 1)[-1] for f in on_dask["input"]["files"]] == ["2024-0.csv", "2024-1.csv",
                                                                                   "2024-2.csv"]
    assert all("n_rows" not in f for f in on_dask["input"]["files"])  # public: per-file counts left out


def test_the_local_cluster_listens_on_the_loopback_only():
    import psutil

    from odgeo.engine.choose import dask_client

    with dask_client(workers=1) as (_, described):
        assert described["scheduler"] == "local" and described["workers"] == 1
        processes = [psutil.Process(), *psutil.Process().children(recursive=True)]
        listening = [c.laddr for p in processes for c in p.net_connections(kind="tcp") if c.status == "LISTEN"]
    assert len(listening) >= 3  # the scheduler, its HTTP server, the worker and its nanny
    assert {addr.ip for addr in listening} == {"127.0.0.1"}


def test_a_part_that_fails_validation_prints_only_odgeo_s_line(tmp_path):
    """The local workers' own log of a failed task (a traceback excerpt) stays out of the terminal."""
    import subprocess
    import sys

    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "a.csv").write_text("id,date,lon,lat\n1,2024-01-01,-87.6,41.8\n")
    (folder / "b.csv").write_text("x,y\n1,2\n")
    done = subprocess.run([sys.executable, "-m", "odgeo_cli", "hotspots", str(folder / "*.csv"), "--engine", "dask",
                           "--workers", "1", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    lines = message_lines(done.stderr)  # a slow step's progress line is not a log
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"Error: {folder / 'b.csv'}: no date column found"), done.stderr
