"""PostgreSQL/PostGIS as source and destination, against a real throwaway server (tests/pg_server.py).

Never a mock: the server is Debian's PostgreSQL 15 with PostGIS 3, installed by
scripts/install-postgis.sh (the README's test command). Without it these tests fail
and say so; set ODGEO_SKIP_POSTGIS=1 to skip them on a machine without PostgreSQL.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest
import shapely
from click.testing import CliRunner
from odgeo_cli.main import cli

from odgeo.errors import DatabaseError, ParameterError
from odgeo.incidents.database import read_database
from odgeo.io.postgis import PostgisDestination, database_label
from odgeo.jobs.hotspots import HotspotSettings, run_hotspots
from odgeo.schema import INCIDENT_ID, OCCURRED_AT

from .conftest import SAMPLE, SAMPLE_TZ, message_lines
from .pg_server import PASSWORD, ThrowawayServer

PRODUCTS = ("hexes.geojson", "hotspots.geojson", "clusters.geojson", "gistar.geojson", "rejects.csv", "density.tif")


@pytest.fixture(scope="module")
def server():
    if os.environ.get("ODGEO_SKIP_POSTGIS") == "1":
        pytest.skip("ODGEO_SKIP_POSTGIS=1")
    pg = ThrowawayServer().start()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PGPASSWORD", PASSWORD)  # as a user would: libpq reads it, odgeo never sees it
        yield pg
    pg.stop()


def _connect(url: str):
    return psycopg.connect(url, autocommit=True)


@pytest.fixture(scope="module")
def city(server) -> str:
    """A database holding the sample city's CSV as it was exported: one text column per CSV column."""
    url = server.create_database("city")
    header = (SAMPLE / "incidents.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    with _connect(url) as conn:
        conn.execute("CREATE TABLE incidents ({})".format(", ".join(f'"{h}" text' for h in header)))
        with conn.cursor().copy("COPY incidents FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
            copy.write((SAMPLE / "incidents.csv").read_bytes())
    return url


def _rows(url: str, query: str, params=()) -> list[tuple]:
    with _connect(url) as conn:
        return conn.execute(query, params).fetchall()


def test_round_trip_gives_the_file_runs_products_byte_for_byte(city, sample_run, tmp_path):
    _, file_out = sample_run
    out = tmp_path / "db_run"
    run_hotspots(city, out, HotspotSettings(timezone=SAMPLE_TZ, table="incidents", to_postgis=city))
    for name in PRODUCTS:
        assert (out / name).read_bytes() == (file_out / name).read_bytes(), name
    record = json.loads((out / "run.json").read_text())
    assert record["input"]["format"] == "postgresql" and record["input"]["table"] == "incidents"
    assert PASSWORD not in (out / "run.json").read_text()

    # Every product file is a table holding exactly its rows; run.json is the runs row.
    run_id = record["postgis"]["run_id"]
    tables = {r[0] for r in _rows(city, "SELECT table_name FROM information_schema.tables WHERE table_schema = "
                                        "'odgeo'")}
    assert tables == {"hexes", "hotspots", "clusters", "gistar", "rejects_hotspots", "runs"}
    for name in ("hexes", "hotspots", "clusters", "gistar"):
        features = json.loads((out / f"{name}.geojson").read_text())["features"]
        columns = [r[0] for r in _rows(city, "SELECT column_name FROM information_schema.columns WHERE "
                                             "table_schema = 'odgeo' AND table_name = %s ORDER BY ordinal_position",
                                       [name])]
        assert columns == ["run_id", "position", *features[0]["properties"], "geom"], name
        rows = _rows(city, f"SELECT run_id, ST_AsGeoJSON(geom), ST_SRID(geom) FROM odgeo.{name} ORDER BY position")
        assert len(rows) == len(features) > 0, name
        for (rid, geom, srid), feature in zip(rows, features):
            assert rid == run_id and srid == 4326
            assert shapely.equals_exact(shapely.from_geojson(geom), shapely.from_geojson(json.dumps(
                feature["geometry"])), 1e-12)
    hexes = pd.DataFrame([f["properties"] for f in json.loads((out / "hexes.geojson").read_text())["features"]])
    counts = [r[0] for r in _rows(city, "SELECT count FROM odgeo.hexes ORDER BY position")]
    assert counts == hexes["count"].tolist()
    rejects = pd.read_csv(out / "rejects.csv")
    assert _rows(city, "SELECT count(*) FROM odgeo.rejects_hotspots")[0][0] == len(rejects)
    command, tables_listed, doc = _rows(city, "SELECT command, tables, record FROM odgeo.runs WHERE run_id = %s",
                                        [run_id])[0]
    assert command == "hotspots" and doc == record
    assert set(tables_listed) == tables - {"runs"}


def test_a_query_source_reads_only_its_rows(city, tmp_path):
    raw = pd.read_csv(SAMPLE / "incidents.csv", dtype=str, keep_default_na=False)
    query = "SELECT * FROM incidents WHERE outcome = 'fatal' AND occurred_at >= '2025-01-01'"
    read = read_database(city, sql=query)
    expected = raw[(raw["outcome"] == "fatal") & (raw["occurred_at"] >= "2025-01-01")]
    assert len(read.data) == len(expected) > 20
    assert sorted(read.data["incident_id"]) == sorted(expected["incident_id"])
    assert read.described["query"] == query and read.format == "postgresql"


def test_geometry_columns_in_any_srid_primary_keys_and_rejects(server, tmp_path):
    from odgeo.incidents.read import read_incidents

    url = server.create_database("geoms")
    lon = np.array([-97.41, -97.405, -97.40, -97.395, -97.39])
    lat = np.array([38.21, 38.212, 38.215, 38.205, 38.20])
    with _connect(url) as conn:
        conn.execute("CREATE TABLE ems (call_no integer PRIMARY KEY, call_time timestamptz, disposition text, "
                     "geom geometry(Geometry, 3857))")
        for i, (x, y) in enumerate(zip(lon, lat)):
            conn.execute("INSERT INTO ems VALUES (%s, %s, 'fatal', ST_Transform(ST_SetSRID(ST_MakePoint(%s, %s), "
                         "4326), 3857))", [100 + 2 * i, f"2025-03-0{i + 1} 12:00:00+00", float(x), float(y)])
        conn.execute("INSERT INTO ems VALUES (7, '2025-03-09 08:00:00-07', 'non-fatal', ST_Buffer("
                     "ST_SetSRID(ST_MakePoint(-10843000, 4611000), 3857), 50))")  # first in key order
        conn.execute("INSERT INTO ems VALUES (500, '2025-03-10 08:00:00+00', 'fatal', NULL)")
        conn.execute("INSERT INTO ems VALUES (501, '2025-03-10 09:00:00+00', 'fatal', "
                     "'SRID=3857;POINT EMPTY'::geometry)")
    read = read_incidents(url, table="ems", timezone="America/Chicago")
    assert read.n_input == 8 and read.n_located == 5 and read.n_rejected == 3
    got = read.incidents.sort_values(INCIDENT_ID, key=lambda s: s.astype(int))
    np.testing.assert_allclose(got.geometry.x, lon, atol=1e-9)
    np.testing.assert_allclose(got.geometry.y, lat, atol=1e-9)
    assert got[INCIDENT_ID].tolist() == [str(100 + 2 * i) for i in range(5)]  # the primary key names the rows
    assert got[OCCURRED_AT].iloc[0] == pd.Timestamp("2025-03-01 12:00", tz="UTC")
    rejects = read.rejects.set_index(INCIDENT_ID)
    assert rejects.loc["7", "code"] == "bad_geometry" and rejects.loc["7", "row"] == 1  # rows in key order
    assert "Polygon" in rejects.loc["7", "reason"]
    assert set(rejects.loc[["500", "501"], "code"]) == {"no_location"}


def test_append_keeps_every_run_and_replace_keeps_the_last(city, tmp_path):
    settings = {"timezone": SAMPLE_TZ, "table": "incidents", "to_postgis": city, "postgis_schema": "daily",
                "period": "none", "cluster_method": "dbscan"}
    for i in range(2):
        run_hotspots(city, tmp_path / f"a{i}", HotspotSettings(**settings, postgis_mode="append"))
    runs = _rows(city, "SELECT run_id FROM daily.runs ORDER BY written_at")
    assert len(runs) == 2
    per_run = _rows(city, "SELECT run_id, count(*) FROM daily.hexes GROUP BY run_id ORDER BY 1")
    assert [r[0] for r in per_run] == sorted(r[0] for r in runs) and per_run[0][1] == per_run[1][1] > 0
    run_hotspots(city, tmp_path / "r", HotspotSettings(**settings, postgis_mode="replace"))
    assert len(_rows(city, "SELECT DISTINCT run_id FROM daily.hexes")) == 1
    assert len(_rows(city, "SELECT run_id FROM daily.runs")) == 3  # the runs table is the log of every release


def test_a_killed_connection_mid_write_leaves_the_tables_as_they_were(city, tmp_path, monkeypatch):
    settings = HotspotSettings(timezone=SAMPLE_TZ, table="incidents", to_postgis=city, postgis_schema="killed")
    run_hotspots(city, tmp_path / "first", settings)
    before = {t: _rows(city, f"SELECT run_id, count(*) FROM killed.{t} GROUP BY 1") for t in ("hexes", "clusters")}
    write_table = PostgisDestination._write_table
    calls = []

    def write_then_kill(self, conn, name, product):
        write_table(self, conn, name, product)
        calls.append(name)
        if len(calls) == 2:  # after two tables are replaced inside the transaction, the server drops us
            _rows(city, "SELECT pg_terminate_backend(%s)", [conn.info.backend_pid])

    monkeypatch.setattr(PostgisDestination, "_write_table", write_then_kill)
    with pytest.raises(DatabaseError, match="nothing was written"):
        run_hotspots(city, tmp_path / "second", settings)
    assert len(calls) == 2
    assert not (tmp_path / "second").exists()  # nor the files: a run lands whole or not at all
    assert [p.name for p in tmp_path.iterdir() if "second" in p.name] == []  # no folder, lock or journal left
    after = {t: _rows(city, f"SELECT run_id, count(*) FROM killed.{t} GROUP BY 1") for t in ("hexes", "clusters")}
    assert after == before
    assert len(_rows(city, "SELECT * FROM killed.runs")) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("case", ["wrong_password", "missing_table", "password_in_url", "refused", "bad_query",
                                  "table_with_a_file", "no_postgis", "foreign_runs_table"])
def test_database_problems_are_one_line(city, server, tmp_path, monkeypatch, case):
    out = str(tmp_path / "out")
    args = ["hotspots", city, "--table", "incidents", "--out", out]
    expect, code = {
        "wrong_password": ("password authentication failed", 1),
        "missing_table": ("no table or view 'incidnets'; tables are: ", 1),
        "password_in_url": ("the URL holds a password", 2),
        "refused": ("cannot connect", 1),
        "bad_query": ("the server refused to give the rows: column \"no_such_column\" does not exist", 1),
        "table_with_a_file": ("--table and --sql apply to a database source", 2),
        "no_postgis": ("the database has no PostGIS", 1),
        "foreign_runs_table": ("theirs.runs is not odgeo's run log (it has no audience, command", 1),
    }[case]
    if case == "wrong_password":
        monkeypatch.setenv("PGPASSWORD", "not-the-password")
    elif case == "missing_table":
        args[3] = "incidnets"
    elif case == "password_in_url":
        args[1] = city.replace("odgeo@", f"odgeo:{PASSWORD}@")
    elif case == "refused":
        args[1] = f"postgresql://odgeo@127.0.0.1:{_free_port()}/city"
    elif case == "bad_query":
        args[2:4] = ["--sql", "SELECT * FROM incidents WHERE no_such_column > 1"]
    elif case == "table_with_a_file":
        args[1] = str(SAMPLE / "incidents.csv")
    elif case == "no_postgis":
        args += ["--to-postgis", server.create_database("plain", postgis=False)]
    elif case == "foreign_runs_table":  # someone else's table of that name (issue 42: UndefinedColumn, 3 lines)
        with _connect(city) as conn:
            conn.execute("CREATE SCHEMA IF NOT EXISTS theirs")
            conn.execute("CREATE TABLE IF NOT EXISTS theirs.runs (id int, run_id text)")
        args += ["--to-postgis", city, "--schema", "theirs"]
    result = CliRunner().invoke(cli, args)
    lines = [ln for ln in result.output.splitlines() if ln.startswith("Error:")]
    assert result.exit_code == code, result.output
    assert len(lines) == 1 and expect in lines[0], result.output
    assert "Traceback" not in result.output and PASSWORD not in result.output
    assert not Path(out).exists()


def test_labels_never_carry_a_password():
    assert database_label("postgresql://ann:s3cret@db.example.org:5432/ems") == \
        "postgresql://ann@db.example.org:5432/ems"
    assert database_label("postgresql+psycopg://ann:s3cret@db/ems?sslmode=require") == "postgresql://ann@db/ems"
    assert database_label("postgresql:///?service=surveillance") == "postgresql:///?service=surveillance"
    with pytest.raises(ParameterError, match="`table` NAME or `sql` QUERY"):
        read_database("postgresql://ann@db/ems")
    # A password holding '/' or '@' (unencoded, as people type them) stays out of the label too.
    assert database_label("postgresql://ann:pa/ss@wo@rd@db:5432/ems") == "postgresql://ann@db:5432/ems"


@pytest.mark.parametrize(("url", "secret"), [
    ("postgresql://fuzz:SuperSecret42@[::1/fuzz", "SuperSecret42"),   # libpq quoted the whole URL back
    ("postgresql://fuzz:Super Secret42@localhost/db", "Secret42"),    # ... and the password alone
    ("postgresql://ann:pa/ss@wo@rd@localhost:99999/db", "wo@rd"),
])
@pytest.mark.parametrize("where", ["input", "--to-postgis"])
def test_a_url_libpq_cannot_read_is_never_echoed_with_its_password(tmp_path, url, secret, where):
    given = [url, "--table", "t"] if where == "input" else [str(SAMPLE / "incidents.csv"), "--to-postgis", url]
    result = CliRunner().invoke(cli, ["hotspots", *given, "--timezone", SAMPLE_TZ, "--out", str(tmp_path / "o")])
    assert result.exit_code != 0
    assert secret not in result.output and "SuperSecret" not in result.output
    assert len(message_lines(result.output)) == 1 and message_lines(result.output)[0].startswith("Error: "), \
        result.output


def test_alerts_and_scan_from_and_to_the_database_every_morning(city, tmp_path):
    """The scheduled job of docs/postgis.md: read from the database, append the day's products."""
    source = [city, "--table", "incidents", "--timezone", SAMPLE_TZ, "--to-postgis", city, "--schema", "morning",
              "--postgis-mode", "append"]
    alerts = CliRunner().invoke(cli, ["alerts", *source, "--out", str(tmp_path / "alerts")])
    assert alerts.exit_code == 0, alerts.output
    scan_args = ["scan", *source, "--out", str(tmp_path / "scan"), "--permutations", "99", "--audience", "restricted"]
    mixed = CliRunner().invoke(cli, scan_args)  # restricted products beside public ones: refused before any work
    assert mixed.exit_code == 1 and "schema morning holds public releases" in mixed.output, mixed.output
    assert not (tmp_path / "scan").exists()
    scan = CliRunner().invoke(cli, [*scan_args, "--schema", "morning_restricted"])
    assert scan.exit_code == 0, scan.output
    for folder, name, table in (("alerts", "alerts.csv", "alerts"), ("alerts", "ears.csv", "ears"),
                                ("scan", "scan_clusters.csv", "morning_restricted.scan_clusters"),
                                ("alerts", "rejects.csv", "rejects_alerts"),
                                ("scan", "rejects.csv", "morning_restricted.rejects_scan")):
        rows = pd.read_csv(tmp_path / folder / name)
        qualified = table if "." in table else f"morning.{table}"
        assert _rows(city, f"SELECT count(*) FROM {qualified}")[0][0] == len(rows), table
    assert _rows(city, "SELECT count(*) FROM morning_restricted.scan_clusters WHERE geom IS NOT NULL")[0][0] > 0
    assert _rows(city, "SELECT command, audience FROM morning.runs") == [("alerts", "public")]
    scan_record = json.loads((tmp_path / "scan" / "run.json").read_text())
    assert _rows(city, "SELECT audience, record FROM morning_restricted.runs") == [("restricted", scan_record)]


def test_values_keep_their_type_and_nulls_stay_apart_from_empty_text(server, tmp_path):
    url = server.create_database("types")
    features = [
        {"type": "Feature", "properties": {"n": 3, "x": 0.1, "ok": True, "label": "", "tags": ["a", "b"],
                                           "big": 2 ** 62, "note": 'a "quoted", text'},
         "geometry": {"type": "Point", "coordinates": [-97.4, 38.2]}},
        {"type": "Feature", "properties": {"n": None, "x": 2 / 3, "ok": False, "label": None, "tags": None,
                                           "big": 1, "note": "line\nbreak"},
         "geometry": None},
        {"type": "Feature", "properties": {"n": 5, "x": None, "ok": None, "label": "é", "tags": [],
                                           "big": -1, "note": None},
         "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}},
        {"type": "Feature", "properties": {"n": 1, "x": 1.5, "ok": True, "label": "x", "tags": [], "big": 0,
                                           "note": ""},
         "geometry": {"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [1, 2]}]}},
    ]
    path = tmp_path / "layer.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    csv_path = tmp_path / "table.csv"
    csv_path.write_text("code,count,share,flag,zip\nA,1,0.5,True,06511\n,,,,\nC,12,1e-3,False,\n", encoding="utf-8")
    dest = PostgisDestination.open(url, schema="typed")
    assert dest.publish([path, csv_path], "test") == ["layer", "table"]
    types = dict(_rows(url, "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = "
                            "'typed' AND table_name = 'layer'"))
    assert types == {"run_id": "text", "position": "integer", "n": "bigint", "x": "double precision",
                     "ok": "boolean", "label": "text", "tags": "jsonb", "big": "bigint", "note": "text",
                     "geom": "USER-DEFINED"}
    rows = _rows(url, "SELECT n, x, ok, label, tags, big, note, ST_AsText(geom) FROM typed.layer ORDER BY position")
    assert rows == [(3, 0.1, True, "", ["a", "b"], 2 ** 62, 'a "quoted", text', "POINT(-97.4 38.2)"),
                    (None, 2 / 3, False, None, None, 1, "line\nbreak", None),
                    (5, None, None, "é", [], -1, None, "POLYGON((0 0,1 0,1 1,0 0))"),
                    (1, 1.5, True, "x", [], 0, "", "GEOMETRYCOLLECTION(POINT(1 2))")]
    table_rows = _rows(url, "SELECT code, count, share, flag, zip FROM typed.table ORDER BY position")
    assert table_rows == [("A", 1, 0.5, True, "06511"), (None, None, None, None, None),
                          ("C", 12, 0.001, False, None)]  # a ZIP with a leading zero stays text


def test_passwords_come_from_pgpass_or_a_service_file(city, server, tmp_path, monkeypatch):
    monkeypatch.delenv("PGPASSWORD")
    with pytest.raises(DatabaseError, match="password"):
        read_database(city, table="incidents")
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{server.port}:city:odgeo:{PASSWORD}\n")
    pgpass.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    assert len(read_database(city, table="incidents").data) == 5045
    monkeypatch.delenv("PGPASSFILE")
    services = tmp_path / "pg_service.conf"
    services.write_text(f"[surveillance]\nhost=127.0.0.1\nport={server.port}\ndbname=city\nuser=odgeo\n"
                        f"password={PASSWORD}\n")
    monkeypatch.setenv("PGSERVICEFILE", str(services))
    read = read_database("postgresql:///?service=surveillance", sql="SELECT * FROM incidents LIMIT 10")
    assert len(read.data) == 10 and read.described["database"] == "postgresql:///?service=surveillance"


@pytest.mark.parametrize(("point", "finished"), [("after the journal", "put in place"),
                                                 ("before the database commits", "discarded")])
def test_a_morning_killed_while_committing_leaves_files_history_and_database_agreeing(city, tmp_path, point,
                                                                                      finished):
    # Issue 42: a kill between stores left --out old while the database was new, and a rerun in append
    # mode would append the day twice. The next run into --out finishes the killed one first: forward when
    # the database holds it, back when it does not.
    import subprocess
    import sys

    from .test_state_files import KILLER, _agree

    out, history = tmp_path / "out", tmp_path / "history.csv"

    def morning(day):
        return ["alerts", str(SAMPLE / "incidents.csv"), "--timezone", SAMPLE_TZ, "--tiles", "none", "--as-of", day,
                "--history", str(history), "--out", str(out), "--overwrite", "--audience", "restricted",
                "--to-postgis", city, "--schema", f"journal_{len(finished)}", "--postgis-mode", "append"]

    assert CliRunner().invoke(cli, morning("2025-12-20")).exit_code == 0
    killed = subprocess.run([sys.executable, "-c", KILLER, point, *morning("2025-12-21")], capture_output=True,
                            text=True)
    assert killed.returncode == 137, killed.stderr
    from odgeo.io.outputs import finish_interrupted_run

    finish_interrupted_run(tmp_path / ".out.odgeo-journal")  # what the next run into --out does first
    schema = f"journal_{len(finished)}"
    runs = [r[0] for r in _rows(city, f"SELECT run_id FROM {schema}.runs ORDER BY written_at")]
    products = json.loads((out / "run.json").read_text())
    assert runs[-1] == products["postgis"]["run_id"]  # the database's last run is --out's
    assert len(runs) == (2 if finished == "put in place" else 1)
    day = "2025-12-22T00:00" if finished == "put in place" else "2025-12-21T00:00"
    assert _agree(out, history) == (day, day)
    alerts = _rows(city, f"SELECT run_id, count(*) FROM {schema}.alerts GROUP BY 1")
    assert {r[0] for r in alerts} <= set(runs)  # no rows of a run the files do not know
