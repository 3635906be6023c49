"""Turn a raw incident table into an IncidentFrame, with a reason for every row left out.

Each input row ends up in exactly one place: located (coordinates usable),
unlocated (an address but no coordinates yet: the geocoder's work) or rejected
(with a reason code, the column at fault and a sentence saying what is wrong).
Reasons never quote the offending value, so a rejects file carries no
identifying data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..arrowtext import release_unused, text_by_code
from ..drugs.selection import DRUG_CODE, DrugSelection
from ..errors import ColumnError, DataError, ParameterError
from ..projection import haversine_km
from ..schema import (
    ADDRESS,
    CITY,
    GEOCODE_SCORE,
    GEOCODE_STATUS,
    INCIDENT_COLUMNS,
    INCIDENT_ID,
    NALOXONE_DOSES,
    OCCURRED_AT,
    OUTCOME,
    PLACE,
    ROLE_OPTIONS,
    SOURCE_ROW,
    SUSPECTED_DRUG,
    WGS84,
    ZIP,
    detect_columns,
    has_location,
    other_candidates,
)
from .coordtext import looks_like_locations
from .row_checks import REJECT_COLUMNS, RowChecker, is_wgs84, one_row
from .source import InputSource, ReadOptions
from .tables import GEOMETRY_LAT, GEOMETRY_LON, RawTable, read_table
from .where import WHERE_CODE, check_columns, parse_where

__all__ = [
    "REJECT_COLUMNS",
    "IncidentRead",
    "PartValidation",
    "StartedValidation",
    "WholeInput",
    "begin_validation",
    "check_degrees",
    "read_incidents",
    "read_source",
    "read_source_keeping",
    "start_validation",
    "swap_reference",
    "validate_table",
]

log = logging.getLogger(__name__)

#: Status of incidents whose coordinates came with the input.
STATUS_INPUT = "input"
#: Status of incidents that have an address but no coordinates yet.
STATUS_PENDING = "pending"

# A swapped pair is recognised when swapping brings a far point back among the others.
_SWAP_MIN_KM = 50.0


@dataclass
class IncidentRead:
    """The result of reading and validating an incident file.

    Attributes
    ----------
    incidents
        IncidentFrame of the usable rows: located ones and unlocated ones
        (empty geometry, ``geocode_status == "pending"``).
    rejects
        One row per rejected input row, columns :data:`REJECT_COLUMNS`.
    n_input
        Number of records in the input.
    columns
        Role to source column name (None where absent).
    source
        Description of the input (path, format, encoding, delimiter).
    notes
        Counts of values that were read with a default (for the run record).
    """

    incidents: gpd.GeoDataFrame
    rejects: pd.DataFrame
    n_input: int
    columns: dict[str, str | None]
    source: dict[str, object] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)

    @property
    def n_located(self) -> int:
        """Incidents with a location."""
        return int(has_location(self.incidents.geometry).sum())

    @property
    def n_unlocated(self) -> int:
        """Incidents with an address and no location yet."""
        return len(self.incidents) - self.n_located

    @property
    def n_rejected(self) -> int:
        """Rows left out, with their reasons."""
        return len(self.rejects)

    @property
    def source_name(self) -> str:
        """The input's short name for titles and captions: the file name, or a database's table ("query")."""
        if self.source.get("format") in ("postgresql", "postgis"):
            return str(self.source.get("table") or "query")
        return Path(str(self.source.get("path", "incidents"))).name


def read_incidents(
    path: str | Path,
    *,
    table: str | None = None,
    sql: str | None = None,
    columns: dict[str, str | None] | None = None,
    crs: str | None = None,
    timezone: str = "UTC",
    layer: str | None = None,
    date_format: str | None = None,
    accept_implausible_dates: bool = False,
    where: tuple[str, ...] | list[str] = (),
) -> IncidentRead:
    """Read an incident file and validate every row.

    Parameters
    ----------
    path
        CSV, GeoJSON, GeoPackage, Shapefile or GeoParquet file, or a PostgreSQL URL
        ``postgresql://USER@HOST:PORT/DATABASE`` (password from ``~/.pgpass``,
        ``PGPASSWORD`` or ``PGSERVICE``; see docs/postgis.md).
    table, sql
        With a PostgreSQL URL: the table (or view) to read, or a SELECT query.
    columns
        Column overrides by role (``"longitude"``, ``"latitude"``,
        ``"occurred_at"``, ``"incident_id"``, ``"outcome"``, ...); other roles
        are detected by name (see :data:`odgeo.schema.ROLE_ALIASES`).
    crs
        CRS of the coordinate columns of a CSV (default EPSG:4326, degrees).
    timezone
        Time zone of dates written without an offset (IANA name).
    layer
        Layer of a multi-layer vector file.
    date_format
        strftime format of the dates (default: guessed; numeric dates such as
        03/04/2024 month first unless some value proves day first).
    accept_implausible_dates
        Keep dates before 1990 or after today (rejected as ``implausible_date`` by default).
    where
        Conditions every row must meet, e.g. ``["opioid_use == 'Yes'"]`` (:mod:`odgeo.incidents.where`);
        the other rows become rejects with code ``where_filtered``.

    Returns
    -------
    IncidentRead
    """
    options = ReadOptions(columns=columns, crs=crs, timezone=timezone, layer=layer, date_format=date_format,
                          accept_implausible_dates=accept_implausible_dates, where=tuple(where))
    return read_source(InputSource.of(path, table=table, sql=sql, read=options))


def read_source(source: InputSource) -> IncidentRead:
    """Read a resolved incident source in this process and validate every row.

    Parameters
    ----------
    source
        A file or a database table (:meth:`odgeo.incidents.source.InputSource.of`); folders and
        globs of files are read in parts (:func:`odgeo.engine.dask_read.read_parts_dask`).

    Returns
    -------
    IncidentRead
    """
    if source.kind == "parts":
        raise ParameterError(f"{source}: a folder or a glob of files is read with `engine` dask (or auto)")
    # The raw table is handed over, not kept here: validation lets its text go before the points are made.
    # (Keywords written out: a call with ``**options`` would keep its arguments, the table too, until it returns.)
    options = source.read
    read = validate_table(_raw_table(source), columns=options.columns, crs=options.crs, timezone=options.timezone,
                          date_format=options.date_format,
                          accept_implausible_dates=options.accept_implausible_dates, where=options.where,
                          drugs=options.drugs, place_column=options.place_column)
    release_unused()  # validation's own
    return read


def read_source_keeping(source: InputSource, pick: Callable[[list[str]], list[str]]) -> tuple[IncidentRead,
                                                                                                pd.DataFrame]:
    """:func:`read_source`, and the raw text of the columns ``pick(columns)`` names (row ``i`` is source row ``i + 1``).

    For what only one command reads beside the incidents (the person columns of ``odgeo outreach``);
    the raw table is held until validation ends.
    """
    if source.kind == "parts":
        raise ParameterError(f"{source}: give each file of a folder or glob on its own")
    raw = _raw_table(source)
    kept = raw.data[pick(list(raw.data.columns))].copy()
    read = validate_table(raw, **_validation_options(source))
    release_unused()
    return read, kept


def _validation_options(source: InputSource) -> dict:
    options = source.read
    return {"columns": options.columns, "crs": options.crs, "timezone": options.timezone,
            "date_format": options.date_format, "accept_implausible_dates": options.accept_implausible_dates,
            "where": options.where, "drugs": options.drugs, "place_column": options.place_column}


def _raw_table(source: InputSource) -> RawTable:
    """The rows of a file or a database table, as read (see :func:`read_incidents`)."""
    if source.kind == "database":
        from .database import read_database

        raw = read_database(source.location, table=source.table, sql=source.sql)
    else:
        raw = read_table(source.location, layer=source.read.layer)
    release_unused()  # the parse's buffers, before validation's arrays need the room
    return raw


@dataclass(frozen=True)
class WholeInput:
    """What a part of a larger input is told about the whole, so it validates as the whole would.

    Attributes
    ----------
    row_offset
        Records before this part: its rows are numbered from ``row_offset + 1``.
    day_first
        The day/month order decided from every date of the whole input (None: decide here).
    earlier_ids
        Incident ids first seen in an earlier part, with where ("12", "12 of 2023.csv"):
        their rows here are duplicates.
    location_text
        Whether the "location" column holds coordinates, decided from every value
        (None: decide here).
    """

    row_offset: int = 0
    day_first: bool | None = None
    earlier_ids: dict[str, str] = field(default_factory=dict)
    location_text: bool | None = None


def validate_table(
    table: RawTable,
    *,
    columns: dict[str, str | None] | None = None,
    crs: str | None = None,
    timezone: str = "UTC",
    date_format: str | None = None,
    accept_implausible_dates: bool = False,
    where: tuple[str, ...] = (),
    drugs: DrugSelection | None = None,
    place_column: str | None = None,
) -> IncidentRead:
    """Validate the rows of a :class:`~odgeo.incidents.tables.RawTable` (see :func:`read_incidents`).

    Only the text the last checks read is kept after the ids, dates and coordinates are
    parsed; a table handed over (no other reference to it) is let go then.
    """
    part = begin_validation(table, columns=columns, crs=crs, timezone=timezone, date_format=date_format,
                            accept_implausible_dates=accept_implausible_dates, where=where, drugs=drugs,
                            place_column=place_column).held()
    del table
    release_unused()  # the raw text's Arrow buffers, before the points need the room
    lon, lat = part.coordinate_sample()
    if part.in_degrees:
        check_degrees(lon, lat, part)
    return part.finish(swap_reference(lon, lat))


def begin_validation(
    table: RawTable,
    *,
    columns: dict[str, str | None] | None = None,
    crs: str | None = None,
    timezone: str = "UTC",
    date_format: str | None = None,
    accept_implausible_dates: bool = False,
    whole: WholeInput | None = None,
    started: StartedValidation | None = None,
    where: tuple[str, ...] = (),
    drugs: DrugSelection | None = None,
    place_column: str | None = None,
) -> PartValidation:
    """The checks of :func:`validate_table` up to those that need every row's coordinates.

    ``started``: :func:`start_validation` of ``table`` already run (a part that told the
    whole its facts first).

    What is left needs the coordinates of the whole input (:meth:`PartValidation.coordinate_sample`
    of every part, then :func:`check_degrees` and :func:`swap_reference`): the parts of a
    larger input (:mod:`odgeo.engine.dask_read`) send theirs to one place and finish with the answer.
    """
    whole = whole or WholeInput()
    begun = started or start_validation(table, columns, where=where, drugs=drugs, place_column=place_column)
    rows, roles = begun.rows, begun.roles
    if whole.location_text is not None and begun.location_candidate is not None:
        roles["location"] = begun.location_candidate if whole.location_text else None
        _require_columns(roles, table)
    rows.row_offset = whole.row_offset
    ids = rows.incident_ids(whole.earlier_ids)
    occurred = rows.parse_dates(timezone, date_format, accept_implausible_dates, whole.day_first)
    lon, lat, cols = rows.parse_coordinates(crs)
    return PartValidation(table, rows, begun.also, ids, occurred, lon, lat, cols, crs is None or is_wgs84(crs))


@dataclass
class StartedValidation:
    """A table's column roles and the rows left after the checks that come before the ids'.

    ``location_candidate`` is the "location" column whose use waits for the whole
    input's verdict (``start_validation(..., part=True)``); None otherwise.
    """

    table: RawTable
    roles: dict[str, str | None]
    rows: RowChecker
    also: dict[str, list[str]]
    location_candidate: str | None = None

    def held(self) -> StartedValidation:
        """What :func:`begin_validation` still reads, kept while a part waits for the whole input's facts.

        The text of the role columns, stripped (the raw text and the other columns are let go):
        about half the bytes of the table and its checker.
        """
        self.rows.hold_only([role for role, col in self.roles.items() if col is not None])
        return replace(self, table=_without_rows(self.table))


def start_validation(table: RawTable, columns: dict[str, str | None] | None, *, part: bool = False,
                     where: tuple[str, ...] = (), drugs: DrugSelection | None = None,
                     place_column: str | None = None) -> StartedValidation:
    """The checks of :func:`validate_table` that come before the ids' (roles, row problems, empty rows).

    With ``part``, the table is a part of a larger input (:mod:`odgeo.engine.dask_read`): rival
    columns are not warned of (the whole is, once), and whether a "location" column holds
    coordinates is left for :class:`WholeInput` to say. ``where``: conditions rows must meet
    (:mod:`odgeo.incidents.where`); the others become ``where_filtered`` rejects. ``drugs``: the
    drug groups to keep (:mod:`odgeo.drugs.selection`); the others become ``drug_filtered`` rejects.
    ``place_column``: a column naming each row's place, standing for coordinates (the role ``place``).
    """
    data = table.data
    overrides: dict[str, str | None] = {role: col for role, col in (columns or {}).items() if col is not None}
    if table.format not in ("csv", "postgresql"):
        # A vector file's coordinates come from its geometries unless overridden.
        overrides.setdefault("longitude", GEOMETRY_LON)
        overrides.setdefault("latitude", GEOMETRY_LAT)
    try:
        roles = detect_columns(list(data.columns), overrides)
    except ColumnError as err:
        raise ColumnError(f"{table.path}: {err}") from err
    for role, col in table.role_hints.items():  # a database's primary key, its only timestamp column
        if roles.get(role) is None:
            roles[role] = col
    if place_column is not None:
        if place_column not in data.columns:
            raise ColumnError(f"{table.path}: no column {place_column!r} (`area_col`); columns are "
                              f"{', '.join(map(str, data.columns))}")
        roles[PLACE] = place_column
    candidate = None
    if roles["longitude"] is not None:
        roles["location"] = None  # coordinate columns win
    elif roles["location"] is not None and "location" not in overrides:
        if part:
            candidate = roles["location"]
        elif not looks_like_locations(data[roles["location"]]):
            roles["location"] = None  # a non-coordinate "Location" is ignored
    _require_columns(roles, table)
    also = _check_repeated_and_rival_columns(table, roles, overrides, warn=not part)
    rows = RowChecker(data, roles, table.path)
    for pos, (code, reason) in sorted(table.row_problems.items()):
        rows.reject(one_row(len(data), pos), code, None, reason)
    rows.reject_empty()
    rows.reject_bad_geometry(table.geometry_problems or {})
    filters = check_columns([parse_where(text) for text in where], [str(c) for c in data.columns], table.path)
    for condition in filters:  # after a row's structural faults; a row left out is not checked further
        rows.reject(condition.leaves_out(data[condition.column]), WHERE_CODE, condition.column,
                    f"not matching --where {condition.text}")
    if drugs is not None:
        for leaves_out, column, reason in drugs.leaves_out(data, roles[SUSPECTED_DRUG], str(table.path)):
            rows.reject(leaves_out, DRUG_CODE, column, reason)
    return StartedValidation(table, roles, rows, also, candidate)


@dataclass
class PartValidation:
    """A table validated up to the checks that need the whole input's coordinates (see :func:`begin_validation`)."""

    table: RawTable
    rows: RowChecker
    also: dict[str, list[str]]
    ids: pd.Series
    occurred: pd.Series
    lon: np.ndarray
    lat: np.ndarray
    coordinate_columns: tuple[str | None, str | None]
    in_degrees: bool  # no --crs transform: the values must look like degrees

    def held(self) -> PartValidation:
        """What :meth:`finish` still reads, kept while a part waits for the whole input's coordinates.

        :func:`validate_table` keeps this too, so that the raw text can go before the points are made.

        The parsed ids, dates and coordinates, and the text of the columns finish reads.
        """
        self.rows.hold_only([OUTCOME, NALOXONE_DOSES, SUSPECTED_DRUG, ADDRESS, CITY, ZIP, PLACE])
        return replace(self, table=_without_rows(self.table))

    def coordinate_sample(self) -> tuple[np.ndarray, np.ndarray]:
        """Longitude and latitude of the rows kept so far that have both (what the whole-input checks use)."""
        usable = np.isfinite(self.lon) & np.isfinite(self.lat) & self.rows.kept
        return self.lon[usable], self.lat[usable]

    def finish(self, reference: tuple[float, float, float] | None) -> IncidentRead:
        """The remaining checks, with the whole input's :func:`swap_reference`; the validated rows."""
        rows, table = self.rows, self.table
        lon, lat = self.lon, self.lat
        rows.check_ranges(lon, lat, *self.coordinate_columns, reference)
        outcome = rows.parse_outcomes()
        doses = rows.parse_doses()
        keep = rows.kept
        n = len(rows.data)
        kept = np.flatnonzero(keep)  # every column is taken at the kept rows once: no frame-wide copies
        lon, lat = lon[kept], lat[kept]
        has_xy = np.isfinite(lon) & np.isfinite(lat)
        geometry = np.full(len(kept), shapely.Point(), dtype=object)
        geometry[has_xy] = shapely.points(lon[has_xy], lat[has_xy])
        frame = pd.DataFrame(
            {
                INCIDENT_ID: self.ids.array[kept],
                OCCURRED_AT: self.occurred.array[kept],
                OUTCOME: outcome.array[kept],
                NALOXONE_DOSES: doses[kept],
                SUSPECTED_DRUG: rows.text(SUSPECTED_DRUG)[kept],
                ADDRESS: rows.text(ADDRESS)[kept],
                CITY: rows.text(CITY)[kept],
                ZIP: rows.text(ZIP)[kept],
                SOURCE_ROW: kept + 1 + rows.row_offset,
                GEOCODE_STATUS: text_by_code([STATUS_PENDING, STATUS_INPUT], has_xy.astype(np.int64)),
                GEOCODE_SCORE: np.full(len(kept), np.nan),
            },
            columns=INCIDENT_COLUMNS,
            copy=False,  # the columns are fresh; a dict's arrays would otherwise be copied once more
        )
        incidents = gpd.GeoDataFrame(frame, geometry=geometry, crs=WGS84, copy=False)  # geopandas copies by default
        rows.note("undated", (keep & self.occurred.isna().to_numpy()).sum())
        for key, count in table.notes.items():
            rows.note(key, count)
        source: dict[str, object] = {"path": str(table.path), "format": table.format, "sha256": table.sha256,
                                     "date_order": rows.date_order, **table.described}
        if table.encoding:
            source.update(encoding=table.encoding, delimiter=table.delimiter)
        if self.also:
            source["columns_also_matching"] = self.also
        return IncidentRead(incidents=incidents, rejects=rows.rejects_frame(self.ids), n_input=n,
                            columns=rows.roles, source=source, notes=rows.notes)


def check_degrees(lon: np.ndarray, lat: np.ndarray, part: PartValidation) -> None:
    """Refuse coordinates that are mostly not degrees (a projected CRS without --crs), given every usable pair."""
    if len(lon) < 3:
        return
    outside = (np.abs(lon) > 180) | (np.abs(lat) > 90)
    if outside.mean() > 0.5:
        lon_col, lat_col = part.coordinate_columns
        example = f"{lon[0]:.1f}, {lat[0]:.1f}"
        raise DataError(
            f"{part.table.path}: columns {lon_col!r}/{lat_col!r} hold values like ({example}) that "
            f"are not degrees; give their CRS with `crs` (for example `crs` EPSG:2223)"
        )


def swap_reference(lon: np.ndarray, lat: np.ndarray) -> tuple[float, float, float] | None:
    """The bulk of the data, given every usable pair: median centre and radius (km) for the swap check.

    "Inside" is within the larger of 50 km and twice the 95th percentile distance of
    the in-range rows to their median centre; None below three in-range rows.
    """
    in_range = (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    if in_range.sum() < 3:
        return None
    lon, lat = lon[in_range], lat[in_range]
    centre_lon, centre_lat = float(np.median(lon)), float(np.median(lat))
    with np.errstate(invalid="ignore"):
        dist = haversine_km(lon, lat, centre_lon, centre_lat)
    radius = max(_SWAP_MIN_KM, 2 * float(np.percentile(dist[np.isfinite(dist)], 95)))
    return centre_lon, centre_lat, radius


def _check_repeated_and_rival_columns(table: RawTable, roles: dict[str, str | None],
                                      overrides: dict[str, str | None], *, warn: bool = True) -> dict[str, list[str]]:
    """Refuse a role read from one of several same-named columns that differ; warn of rival columns."""
    for role, col in roles.items():
        copies = table.duplicate_columns.get(col or "")
        if not copies or role in overrides:
            continue
        first = table.data[copies[0]]
        if all(table.data[c].equals(first) for c in copies[1:]):
            continue
        option = ROLE_OPTIONS.get(role, "the column options")
        raise ColumnError(f"{table.path}: {len(copies)} columns are named {col!r} and hold different values; "
                          f"choose one with {option} (the copies are called "
                          f"{', '.join(repr(c) for c in copies)})")
    also = other_candidates(list(table.data.columns), roles, overrides)
    for role, others in also.items() if warn else ():
        log.warning("%s: column %r is read as %s; %s would fit too (choose with %s)", table.name,
                    roles[role], role, ", ".join(repr(c) for c in others), ROLE_OPTIONS.get(role, "a column option"))
    return also


def _require_columns(roles: dict[str, str | None], table: RawTable) -> None:
    """Raise one error listing every missing required column."""
    problems = []
    if roles[OCCURRED_AT] is None:
        problems.append("no date column found (looked for names like date, datetime, incident_date, "
                        'occurred_at); name it with `columns["occurred_at"]`')
    has_lon, has_lat = roles["longitude"] is not None, roles["latitude"] is not None
    if not has_lon and not has_lat and roles[ADDRESS] is None and roles["location"] is None and not roles.get(PLACE):
        problems.append('no coordinate columns (longitude/latitude, lon/lat, x/y), no location column '
                        'and no address column found; name them with `columns["longitude"]` and '
                        '`columns["latitude"]` (or `columns["location"]` for text like "(41.30, -72.92)")')
    elif has_lon != has_lat:
        found, missing = ("longitude", "latitude") if has_lon else ("latitude", "longitude")
        setting = f'`columns["{missing}"]`'
        problems.append(f"found a {found} column ({roles[found]!r}) but no {missing} column; name it with {setting}")
    if problems:
        cols = ", ".join(map(str, table.data.columns))
        raise ColumnError(f"{table.path}: {'; and '.join(problems)}. Columns are: {cols}")


def _without_rows(table: RawTable) -> RawTable:
    """The table's description and column names, without its rows."""
    return replace(table, data=table.data.iloc[:0])
