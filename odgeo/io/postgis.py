"""PostgreSQL/PostGIS connections, and the database as a destination for a run's products.

Reading incidents from a database is :mod:`odgeo.incidents.database`; it connects through
:func:`connect` here.

Writing: the products a run wrote (through the publishing gate, so public unless the
run was restricted) are copied into tables of one schema, with ``COPY ... FROM STDIN``,
in one transaction with the run record's row in ``runs``: a failed or killed run leaves
the tables as they were.

Passwords never appear in a URL, on the command line or in run.json: libpq's own
mechanisms (``PGPASSWORD``, ``~/.pgpass``, ``PGSERVICE``/``pg_service.conf``) supply them.
Everything goes through psycopg 3 (libpq); see docs/postgis.md.
"""

from __future__ import annotations

import gc
import io
import json
import logging
import math
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DatabaseError, ParameterError
from ..vocabulary import POSTGIS_MODES

__all__ = ["PostgisDestination", "connect", "database_label", "error_line", "is_database_url", "psycopg_module"]

log = logging.getLogger(__name__)

_SCHEMES = ("postgresql:", "postgres:")
_CONNECT_TIMEOUT_S = 10


def is_database_url(text: object) -> bool:
    """True for a PostgreSQL URL (``postgresql://...``, ``postgres://...``, SQLAlchemy's ``postgresql+psycopg://``)."""
    head = str(text).split("://", 1)[0].split("+", 1)[0].lower() + ":"
    return "://" in str(text) and head in _SCHEMES


def _libpq_url(url: str) -> str:
    """The URL libpq reads: SQLAlchemy's ``+driver`` suffix removed."""
    scheme, rest = url.split("://", 1)
    return scheme.split("+", 1)[0] + "://" + rest


def _conninfo(url: str) -> dict[str, str]:
    psycopg = psycopg_module()
    try:
        return {k: str(v) for k, v in psycopg.conninfo.conninfo_to_dict(_libpq_url(url)).items()}
    except psycopg.ProgrammingError as err:
        raise ParameterError(f"{database_label(url)}: not a PostgreSQL URL libpq can read "
                             f"({_without_url(str(err), url)}); give postgresql://USER@HOST:PORT/DATABASE") from err


def _without_url(message: str, url: str) -> str:
    """The first line of libpq's complaint about ``url``, the URL and its password taken out (libpq quotes both)."""
    first = message.strip().splitlines()[0] if message.strip() else "unreadable"
    for text in (_libpq_url(url), url):
        first = first.replace(text, "(the URL)")
    secret = _userinfo(url).partition(":")[2]
    return first.replace(secret, "***") if secret else first


def _userinfo(url: str) -> str:
    """USER:PASSWORD of a URL: everything before the authority's last '@' (passwords hold '@' and '/' too)."""
    main = url.partition("://")[2].partition("?")[0]
    return main.rpartition("@")[0]


def database_label(url: str) -> str:
    """The URL as written in messages and run.json: user, host, port and database, never a password."""
    if "://" not in url:
        return "postgresql://(unreadable URL)"
    main, _, query = url.partition("://")[2].partition("?")
    userinfo, at, place = main.rpartition("@")
    if not at:
        place = main
    user = userinfo.split(":", 1)[0]
    service = re.search(r"(?:^|&)service=([^&]+)", query)
    return f"postgresql://{user + '@' if user else ''}{place}" + (f"?service={service.group(1)}" if service else "")


def psycopg_module():
    """The psycopg module, or one line saying how to install it."""
    try:
        import psycopg
    except ImportError as err:
        raise ParameterError("reading from or writing to PostgreSQL needs psycopg: "
                             "pip install 'odgeo[postgis]'") from err
    return psycopg


def connect(url: str, *, purpose: str = "read incidents"):
    """A psycopg connection to ``url``; a password in the URL is refused, a failure is one line."""
    psycopg = psycopg_module()
    label = database_label(url)
    info = _conninfo(url)
    if info.get("password"):
        raise ParameterError(f"{label}: the URL holds a password; remove it and give the password in ~/.pgpass, "
                             "PGPASSWORD or a PGSERVICE entry (a password on the command line shows in the shell "
                             "history, the process list and logs)")
    try:
        return psycopg.connect(_libpq_url(url), connect_timeout=_CONNECT_TIMEOUT_S, application_name="odgeo")
    except psycopg.OperationalError as err:
        raise DatabaseError(f"{label}: cannot connect to {purpose}: {error_line(err)}{_connect_hint(err)}") from err


def error_line(err: BaseException) -> str:
    """The server's own first line of a database error, without the URL or password."""
    diag = getattr(err, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    text = primary or str(err)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    line = lines[0] if lines else type(err).__name__
    return re.sub(r"\s+", " ", line.split("FATAL:", 1)[-1]).strip()  # libpq's "connection to ... failed: FATAL:"


def _connect_hint(err: BaseException) -> str:
    text = str(err).lower()
    if "password authentication failed" in text or "no password supplied" in text:
        return "; check the password in ~/.pgpass or PGPASSWORD for this user"
    if "does not exist" in text and "database" in text:
        return "; check the database name at the end of the URL"
    if "refused" in text or "could not translate host" in text or "timeout" in text:
        return "; check the host and port, and that the server is running and accepts TCP connections"
    return ""


# -- reading ----------------------------------------------------------------------------------------------------


_RUNS = "runs"
#: The columns of odgeo's run log (a table named runs without them is someone else's).
_RUNS_COLUMNS = frozenset({"run_id", "command", "written_at", "audience", "mode", "tables", "record"})


@dataclass
class PostgisDestination:
    """Where ``--to-postgis`` copies a run's products: a database URL, a schema and a mode.

    :meth:`open` checks the server before any work; :meth:`publish` copies the
    files written, in one transaction, with the run record as a row of ``runs``.
    """

    url: str
    schema: str = "odgeo"
    mode: str = "replace"
    run_id: str = ""
    audience: str = "public"

    @classmethod
    def open(cls, url: str, *, schema: str | None = None, mode: str | None = None,
             audience: str = "public") -> PostgisDestination:
        """Check the destination (reachable, PostGIS installed, no other audience's releases) and give a run id."""
        dest = cls(url, schema or "odgeo", mode or "replace",
                   f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}", audience)
        if dest.mode not in POSTGIS_MODES:
            raise ParameterError(f"`postgis_mode` must be one of {', '.join(POSTGIS_MODES)}, not {dest.mode!r}")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", dest.schema):
            raise ParameterError(f"`postgis_schema` {dest.schema!r}: give a plain name (letters, digits, _), "
                                 "e.g. odgeo")
        with connect(url, purpose="write products") as conn:
            row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'postgis'").fetchone()
            if row is None:
                raise DatabaseError(f"{database_label(url)}: the database has no PostGIS; run CREATE EXTENSION "
                                    "postgis in it (as its owner), or choose another database")
            dest._check_audience(conn)
        return dest

    def _check_audience(self, conn) -> None:
        """Refuse to put one audience's products in a schema that holds the other's releases."""
        from psycopg import sql

        runs = sql.Identifier(self.schema, _RUNS)
        if conn.execute("SELECT to_regclass(%s)", [runs.as_string(conn)]).fetchone()[0] is None:
            return
        missing = _RUNS_COLUMNS - set(_existing_columns(conn, self.schema, _RUNS))
        if missing:
            raise DatabaseError(f"{database_label(self.url)}: {self.schema}.{_RUNS} is not odgeo's run log (it has no "
                                f"{', '.join(sorted(missing))}); write to a schema of odgeo's own with "
                                "`postgis_schema`")
        other = conn.execute(sql.SQL("SELECT audience FROM {} WHERE audience <> %s LIMIT 1").format(runs),
                             [self.audience]).fetchone()
        if other is not None:
            raise DatabaseError(f"{database_label(self.url)}: schema {self.schema} holds {other[0]} releases; write "
                                f"{self.audience} products to a schema of their own (for example `postgis_schema` "
                                f"{self.schema}_{self.audience}), so that whoever may read one audience's tables "
                                "never reads the other's")

    def describe(self) -> dict[str, str]:
        """What run.json records: the destination without a password, the schema, the mode, the run id."""
        return {"url": database_label(self.url), "schema": self.schema, "mode": self.mode, "run_id": self.run_id,
                "audience": self.audience}

    def publish(self, files: Iterable[Path], command: str) -> list[str]:
        """Copy the product files and the run record (run.json) into the schema in one transaction.

        Returns the tables written. A failure rolls everything back: one :class:`DatabaseError`.
        """
        psycopg = psycopg_module()
        files = list(files)
        record = next((p for p in files if p.name == "run.json"), None)
        mapped = {p.stem for p in files if p.suffix == ".geojson"}  # scan_clusters.csv is its .geojson's rows
        tables = [(_table_name(p, command), p) for p in files
                  if p.suffix == ".geojson" or (p.suffix == ".csv" and p.stem not in mapped)]
        label = database_label(self.url)
        written = []
        try:
            with connect(self.url, purpose="write products") as conn, conn.transaction():
                conn.execute(_sql("CREATE SCHEMA IF NOT EXISTS {}", self.schema))
                self._check_audience(conn)  # again, inside the transaction: another run may have written since
                for name, path in tables:
                    self._write_table(conn, name, _read_product(path))
                    written.append(name)
                self._write_run(conn, command, record, written)
        except psycopg.Error as err:
            raise DatabaseError(f"{label}: writing the products failed, nothing was written (the transaction "
                                f"was rolled back): {error_line(err)}") from err
        return written

    def holds_run(self) -> bool:
        """Whether the schema's ``runs`` table holds this run (its transaction committed)."""
        from psycopg import sql

        runs = sql.Identifier(self.schema, _RUNS)
        try:
            with connect(self.url, purpose="check the last run") as conn:
                if conn.execute("SELECT to_regclass(%s)", [runs.as_string(conn)]).fetchone()[0] is None:
                    return False
                return conn.execute(sql.SQL("SELECT 1 FROM {} WHERE run_id = %s").format(runs),
                                    [self.run_id]).fetchone() is not None
        except psycopg_module().Error as err:
            raise DatabaseError(f"{database_label(self.url)}: cannot check the last run: {error_line(err)}") from err

    def as_journal(self) -> dict[str, str]:
        """What a commit journal keeps to ask the database about this run later (no password: URLs hold none)."""
        return {"url": self.url, "schema": self.schema, "mode": self.mode, "run_id": self.run_id,
                "audience": self.audience}

    def _write_table(self, conn, name: str, product: Product) -> None:
        from psycopg import sql

        target = sql.Identifier(self.schema, name)
        columns = [("run_id", "text"), ("position", "integer"), *product.columns]
        if self.mode == "replace":
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(target))
        existing = _existing_columns(conn, self.schema, name)
        if not existing:
            defs = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in columns)
            conn.execute(sql.SQL("CREATE TABLE {} ({}, PRIMARY KEY (run_id, position))").format(target, defs))
            if product.has_geometry:
                conn.execute(sql.SQL("CREATE INDEX ON {} USING gist (geom)").format(target))
        else:
            unfilled = {c for c, values in product.data.items() if all(v is None for v in values)}
            _add_missing_columns(conn, target, f"{self.schema}.{name}", columns, existing, unfilled)
        names = sql.SQL(", ").join(sql.Identifier(c) for c, _ in columns)
        copy_sql = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(target, names)
        with conn.cursor() as cur, cur.copy(copy_sql) as copy:
            copy.write(product.csv(self.run_id))

    def _write_run(self, conn, command: str, record: Path | None, tables: list[str]) -> None:
        from psycopg import sql

        target = sql.Identifier(self.schema, _RUNS)
        conn.execute(sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (run_id text PRIMARY KEY, command text NOT NULL, "
            "written_at timestamptz NOT NULL DEFAULT now(), audience text NOT NULL, mode text NOT NULL, "
            "tables text[] NOT NULL, record jsonb)").format(target))
        doc = record.read_text(encoding="utf-8") if record is not None else None
        conn.execute(sql.SQL("INSERT INTO {} (run_id, command, audience, mode, tables, record) "
                             "VALUES (%s, %s, %s, %s, %s, %s)").format(target),
                     [self.run_id, command, self.audience, self.mode, tables, doc])


def _sql(template: str, *identifiers: str):
    from psycopg import sql

    return sql.SQL(template).format(*map(sql.Identifier, identifiers))


def _table_name(path: Path, command: str) -> str:
    """A product file's table: its name without suffix; each command's rejects apart (rejects_alerts)."""
    return f"rejects_{command}" if path.stem == "rejects" else path.stem


def _existing_columns(conn, schema: str, name: str) -> dict[str, str]:
    from psycopg import sql

    rows = conn.execute("SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                        "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped",
                        [sql.Identifier(schema, name).as_string(conn)]).fetchall()
    return {r[0]: r[1] for r in rows}


def _add_missing_columns(conn, target, label: str, columns: list[tuple[str, str]], existing: dict[str, str],
                         unfilled: set[str]) -> None:
    """Append mode: a product's new columns (a new month) are added; a column of another type is refused.

    A column is typed from its values, so one empty in every row (``unfilled``: no alert ended
    yet) says nothing of its type: it is written into the table's column as it is, and a table
    column no run has filled yet (made text) takes the type of the first run that fills it.
    """
    from psycopg import sql

    for col, kind in columns:
        have = existing.get(col)
        if have is None:
            conn.execute(sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(target, sql.Identifier(col), sql.SQL(kind)))
        elif col in unfilled or _base_type(have) == _base_type(kind):
            continue
        elif _base_type(have) == "text" and conn.execute(
                sql.SQL("SELECT bool_and({} IS NULL) FROM {}").format(sql.Identifier(col), target)).fetchone()[0]:
            conn.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE {} USING {}::{}").format(
                target, sql.Identifier(col), sql.SQL(kind), sql.Identifier(col), sql.SQL(kind)))
        else:
            raise DatabaseError(f"{label}: column {col!r} is {have} in the table and {kind} in this run's product; "
                                "use `postgis_mode` replace, or another `postgis_schema`")


def _base_type(kind: str) -> str:
    return "geometry" if kind.startswith("geometry") else kind


@dataclass
class Product:
    """A product file as typed columns (geometry last, as hex EWKB), written for COPY as CSV by Arrow.

    Arrow's CSV writer quotes every string and leaves nulls unquoted and empty, which
    is how COPY's CSV format tells an empty string from NULL; doubles are written in
    their shortest exact form.
    """

    columns: list[tuple[str, str]]
    data: dict[str, list[Any]]
    has_geometry: bool

    def __len__(self) -> int:
        return len(next(iter(self.data.values()))) if self.data else 0

    def csv(self, run_id: str) -> bytes:
        """The rows as COPY input, each led by ``run_id`` and its 1-based position."""
        import pyarrow as pa
        import pyarrow.csv as pacsv

        n = len(self)
        arrays = [pa.array([run_id] * n, pa.string()), pa.array(np.arange(1, n + 1, dtype=np.int32))]
        arrays += [pa.array(self.data[name], _ARROW_TYPES.get(kind, "string")) for name, kind in self.columns]
        table = pa.Table.from_arrays(arrays, names=[f"c{i}" for i in range(len(arrays))])
        buffer = io.BytesIO()
        pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False))
        return buffer.getvalue()


_ARROW_TYPES = {"bigint": "int64", "double precision": "float64", "boolean": "bool"}


def _read_product(path: Path) -> Product:
    # The cyclic garbage collector would rescan the millions of objects json.loads made at each
    # batch of new geometries (most of the time at 200,000 features); none of them form cycles.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _geojson_product(path) if path.suffix == ".geojson" else _csv_product(path)
    finally:
        if enabled:
            gc.enable()


def _geojson_product(path: Path) -> Product:
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    names: list[str] = []
    for feature in features:
        names.extend(k for k in feature["properties"] if k not in names)
    values = {n: [f["properties"].get(n) for f in features] for n in names}
    columns = [(n, _pg_type(values[n])) for n in names] + [("geom", "geometry(Geometry, 4326)")]
    data = {n: [_cell(v, kind) for v in values[n]] for n, kind in columns[:-1]}
    data["geom"] = _ewkb([f["geometry"] for f in features])
    return Product(columns, data, True)


def _ewkb(geometries: list[dict[str, Any] | None]) -> list[str | None]:
    """GeoJSON geometries as hex EWKB in EPSG:4326 (None for a null geometry), built in bulk.

    Points and one-ring polygons (every hexagon, hot spot and cluster of odgeo's
    products) are made by shapely from coordinate arrays, a few calls per product;
    anything else is parsed from its GeoJSON text.
    """
    import shapely

    out = np.full(len(geometries), None, dtype=object)
    groups: dict[tuple[str, int], list[tuple[int, dict[str, Any]]]] = {}
    for i, g in enumerate(geometries):
        if g is None:
            continue
        kind, coords = g.get("type"), g.get("coordinates") or []
        if kind == "Point" and len(coords) == 2:
            key = ("Point", 2)
        elif kind == "Polygon" and len(coords) == 1 and all(len(c) == 2 for c in coords[0]):
            key = ("Polygon", len(coords[0]))
        else:
            key = ("other", 0)  # holes, multi-parts, collections, 3D
        groups.setdefault(key, []).append((i, g))
    for (kind, _), members in groups.items():
        rows = [i for i, _ in members]
        if kind == "Point":
            made = shapely.points(np.array([g["coordinates"] for _, g in members], dtype=np.float64))
        elif kind == "Polygon":
            made = shapely.polygons(np.array([g["coordinates"][0] for _, g in members], dtype=np.float64))
        else:
            made = shapely.from_geojson(np.array([json.dumps(g) for _, g in members], dtype=object))
        out[rows] = shapely.to_wkb(shapely.set_srid(made, 4326), hex=True, include_srid=True)
    return list(out)


def _csv_product(path: Path) -> Product:
    import csv

    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        records = list(reader)
    text = {n: [r[i] if i < len(r) else "" for r in records] for i, n in enumerate(header)}
    typed = {n: _typed(v) for n, v in text.items()}
    columns = [(n, _pg_type(typed[n])) for n in header]
    return Product(columns, {n: [_cell(v, kind) for v in typed[n]] for n, kind in columns}, False)


_INT = re.compile(r"^-?(0|[1-9][0-9]*)$")
_CODE = re.compile(r"^-?0[0-9]")


def _typed(values: list[str]) -> list[Any]:
    """A CSV column's text as ints, floats or booleans when every non-empty value is one; else text."""
    present = [v for v in values if v != ""]
    if any(_CODE.match(v) for v in present):  # 06511: a code (ZIP, FIPS), not a number
        return [None if v == "" else v for v in values]
    if present and all(v in ("True", "False") for v in present):
        return [None if v == "" else v == "True" for v in values]
    if present and all(_INT.match(v) and len(v) < 19 for v in present):
        return [None if v == "" else int(v) for v in values]
    try:
        numbers = [None if v == "" else float(v) for v in values]
    except ValueError:
        return [None if v == "" else v for v in values]
    return numbers if present else [None] * len(values)


def _pg_type(values: list[Any]) -> str:
    present = [v for v in values if v is not None]
    if not present:
        return "text"
    if all(isinstance(v, bool) for v in present):
        return "boolean"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "bigint"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return "double precision"
    if all(isinstance(v, (dict, list)) for v in present):
        return "jsonb"
    return "text"


def _cell(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "jsonb":
        return json.dumps(value, ensure_ascii=False)
    if kind == "double precision":
        number = float(value)
        return number if math.isfinite(number) else None
    if kind == "text" and not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)
    return value

