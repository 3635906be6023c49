"""Incidents read from PostgreSQL/PostGIS (a ``postgresql://`` source), as a file is read.

A table or a query is copied out of the server with ``COPY (...) TO STDOUT`` as CSV text,
geometries turned into longitude/latitude in EPSG:4326 by PostGIS itself, so a database
source becomes the same :class:`~odgeo.incidents.tables.RawTable` of text columns as a file
and goes through the same validation and rejects. Connections are :mod:`odgeo.io.postgis`'s.
"""

from __future__ import annotations

import hashlib
import io
import logging

import numpy as np

from ..errors import DatabaseError, ParameterError
from ..io.postgis import connect, database_label, error_line, is_database_url, psycopg_module
from ..schema import INCIDENT_ID, OCCURRED_AT
from .tables import GEOMETRY_LAT, GEOMETRY_LON, RawTable, parse_csv_text

__all__ = ["is_database_url", "read_database"]

log = logging.getLogger(__name__)

_KIND = "odgeo_geometry_kind"
_SRID = "odgeo_geometry_srid"


def read_database(url: str, *, table: str | None = None, sql: str | None = None) -> RawTable:
    """A table or query of a PostgreSQL database as a :class:`~odgeo.incidents.tables.RawTable`.

    Parameters
    ----------
    url
        ``postgresql://USER@HOST:PORT/DATABASE`` (no password: see the module notes).
    table
        A table or view, ``name`` or ``schema.name``; read in primary key order when it has one.
    sql
        A SELECT query (read in the order it gives).

    Returns
    -------
    RawTable
        Text columns as from a CSV; a geometry or geography column (any SRID, transformed
        to EPSG:4326 by PostGIS) becomes the longitude/latitude columns of a vector file;
        a single-column primary key is the incident id, and the only date/time column the
        date, unless columns are named for them.

    Raises
    ------
    ParameterError
        Neither or both of ``table`` and ``sql``, or a password in the URL.
    DatabaseError
        A refused connection, a missing table, or a query the server rejects.
    """
    if (table is None) == (sql is None):
        raise ParameterError("a database source needs `table` NAME or `sql` QUERY (one of them)")
    psycopg = psycopg_module()
    label = database_label(url)
    where = label if table is not None else f"{label} (query)"
    with connect(url) as conn:
        try:
            conn.execute("SET TimeZone TO 'UTC'")
            conn.execute("SET DateStyle TO 'ISO, YMD'")
            conn.execute("SET extra_float_digits TO 1")  # shortest text that reads back to the same double
            if table is not None:
                query, key, found = _table_query(conn, table, label)
                where = f"{label} (table {found})"
                described: dict[str, object] = {"database": label, "table": found}
            else:
                query, key = _plain_query(sql or ""), None
                where, described = f"{label} (query)", {"database": label, "query": query}
            names, geometry, times = _describe(conn, query, where)
            raw = _copy_out(conn, _select_with_points(conn, query, names, geometry), where)
        except psycopg.Error as err:  # the server's own errors: a bad query, a permission, a lost connection
            raise DatabaseError(f"{where}: the server refused to give the rows: {error_line(err)}") from err
    hints = {INCIDENT_ID: key} if key else {}
    if len(times) == 1:
        hints[OCCURRED_AT] = times[0]
    return _raw_table(raw, where, geometry, hints, described)


def _plain_query(sql: str) -> str:
    query = sql.strip().rstrip(";").strip()
    if not query:
        raise ParameterError("`sql` is empty; give a SELECT query")
    return query


def _table_query(conn, table: str, label: str) -> tuple[str, str | None, str]:
    """``SELECT * FROM table ORDER BY key``, the single-column primary key (or None), the table's full name."""
    from psycopg import sql

    found = conn.execute("SELECT to_regclass(%s)::text", [table]).fetchone()[0]
    if found is None:
        tables = [r[0] for r in conn.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema', 'topology', 'tiger') AND table_name "
            "NOT IN ('geometry_columns', 'geography_columns', 'spatial_ref_sys') ORDER BY 1 LIMIT 20")]
        raise DatabaseError(f"{label}: no table or view {table!r}; "
                            + (f"tables are: {', '.join(tables)}" if tables else "the database holds no tables"))
    keys = [r[0] for r in conn.execute(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
        "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = to_regclass(%s) AND i.indisprimary "
        "ORDER BY array_position(i.indkey, a.attnum)", [table])]
    order = sql.SQL(" ORDER BY {}").format(sql.SQL(", ").join(map(sql.Identifier, keys))) if keys else sql.SQL("")
    query = sql.SQL("SELECT * FROM {}{}").format(sql.SQL(found), order).as_string(conn)
    return query, keys[0] if len(keys) == 1 else None, found


#: PostgreSQL's type OIDs of date, timestamp and timestamptz (fixed in its catalogue).
_TIME_TYPES = (1082, 1114, 1184)


def _describe(conn, query: str, where: str) -> tuple[list[str], str | None, list[str]]:
    """The query's column names, its geometry column (None without one) and its date/time columns."""
    types = {r[0]: r[1] for r in conn.execute(
        "SELECT oid, typname FROM pg_type WHERE typname IN ('geometry', 'geography')")}
    cur = conn.execute(f"SELECT * FROM ({query}) AS odgeo_source LIMIT 0")
    names = [c.name for c in cur.description or []]
    geoms = [c.name for c in cur.description or [] if c.type_code in types]
    if len(set(names)) != len(names):
        repeated = sorted({n for n in names if names.count(n) > 1})
        raise DatabaseError(f"{where}: the query gives several columns named {', '.join(map(repr, repeated))}; "
                            "name them apart with AS")
    if len(geoms) > 1:
        log.warning("%s: %d geometry columns; the incident points are read from %r", where, len(geoms), geoms[0])
    times = [c.name for c in cur.description or [] if c.type_code in _TIME_TYPES]
    return names, geoms[0] if geoms else None, times


def _select_with_points(conn, query: str, names: list[str], geometry: str | None) -> str:
    """The query with its geometry column replaced by longitude, latitude, geometry kind and SRID."""
    from psycopg import sql

    cols: list[sql.Composable] = [sql.Identifier(n) for n in names if n != geometry]
    if geometry is not None:
        g = sql.SQL("{}::geometry").format(sql.Identifier(geometry))
        point = sql.SQL(
            "CASE WHEN {g} IS NULL OR ST_IsEmpty({g}) OR ST_GeometryType({g}) <> 'ST_Point' THEN NULL "
            "WHEN ST_SRID({g}) IN (0, 4326) THEN {g} ELSE ST_Transform({g}, 4326) END").format(g=g)
        cols += [sql.SQL("ST_X({p}) AS {n}").format(p=point, n=sql.Identifier(GEOMETRY_LON)),
                 sql.SQL("ST_Y({p}) AS {n}").format(p=point, n=sql.Identifier(GEOMETRY_LAT)),
                 sql.SQL("CASE WHEN NOT ST_IsEmpty({g}) THEN ST_GeometryType({g}) END AS {n}").format(
                     g=g, n=sql.Identifier(_KIND)),
                 sql.SQL("ST_SRID({g}) AS {n}").format(g=g, n=sql.Identifier(_SRID))]
    select = sql.SQL("SELECT {} FROM ({}) AS odgeo_source").format(sql.SQL(", ").join(cols), sql.SQL(query))
    return sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER true)").format(select).as_string(conn)


def _copy_out(conn, copy_sql: str, where: str) -> bytes:
    buffer = io.BytesIO()
    with conn.cursor() as cur, cur.copy(copy_sql) as copy:
        for block in copy:
            buffer.write(block)
    log.debug("%s: %d bytes copied out", where, buffer.tell())
    return buffer.getvalue()


def _raw_table(raw: bytes, where: str, geometry: str | None, hints: dict[str, str],
               described: dict[str, object]) -> RawTable:
    data, row_problems = parse_csv_text(raw.decode("utf-8"), ",", where)
    problems: dict[int, str] = {}
    fmt = "postgresql"
    if geometry is not None:
        kinds = data.pop(_KIND).to_numpy(dtype=object)
        srids = data.pop(_SRID).to_numpy(dtype=object)
        for pos in np.flatnonzero((kinds != "") & (kinds != "ST_Point")):
            problems[int(pos)] = f"geometry is a {str(kinds[pos]).removeprefix('ST_')}, expected a point"
        if (srids == "0").any():
            log.info("%s: %d geometries have no SRID; read as EPSG:4326", where, int((srids == "0").sum()))
        fmt = "postgis"
    return RawTable(data=data, path=where, format=fmt, sha256=hashlib.sha256(raw).hexdigest(),
                    geometry_problems=problems if geometry is not None else None, row_problems=row_problems,
                    role_hints=hints, described=described)


# -- writing ----------------------------------------------------------------------------------------------------

# The products copied into tables are the GeoJSON and CSV files a command writes; density.tif, the maps
# and summary.html are for people and stay files.
