"""Steps every command shares: choosing the incidents, checking the output folder, the rejects file."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd

from ..drugs.selection import DrugSelection
from ..engine.dask_read import IncidentParts
from ..engine.partitions import DEFAULT_BLOCKSIZE
from ..errors import DataError, NoDataError, ParameterError
from ..geocode.public import show_geocoding
from ..incidents.dates import option_time, wall_clock
from ..incidents.extent import PLACE_LEVEL_WORDS, check_spread, place_level
from ..incidents.read import IncidentRead, read_source, read_source_keeping
from ..incidents.selection import RowCounts, assume_outcome, filter_incidents, move_to_rejects, warn_about_notes
from ..incidents.source import InputSource, ReadOptions
from ..incidents.where import parse_where
from ..io.outputs import FileLock, OutputFolder
from ..io.postgis import PostgisDestination
from ..projection import lonlat_of
from ..publish import audience as audience_mod
from ..publish.gate import Gate
from ..publish.geomask import DonutMask
from ..runrecord import RunRecord
from ..schema import (
    OCCURRED_AT,
    OUTCOME,
    SOURCE_ROW,
    detect_columns,
    has_location,
    located,
    validate_incident_frame,
)

__all__ = ["QUIET_DAYS", "JobSettings", "check_outside_out", "counted_words", "date_span", "input_source",
           "latest_time", "open_gate", "parse_as_of", "pick_audience", "read_job_input", "run_job",
           "save_map_and_record", "select_incidents", "set_aside_before"]

log = logging.getLogger(__name__)

#: How long after the latest incident --as-of may be (days without incidents happen; weeks mean a stale export).
QUIET_DAYS = pd.Timedelta(days=7)


@dataclass(frozen=True)
class JobSettings:
    """What every command takes: input columns, filters, geocoding, audience and map (None: the default).

    Attributes
    ----------
    columns, crs, timezone, layer
        Column overrides by role (see :func:`odgeo.schema.detect_columns`), the input
        CRS of coordinate columns, the time zone of naive dates, the vector layer.
    since, until, outcomes
        Filters (inclusive dates; outcomes among fatal, nonfatal, unknown).
    assume_outcome
        The outcome of every incident of a file without an outcome column ("fatal" for a
        medical examiner's file of deaths; None: unknown).
    where
        Conditions on the input's own columns every row must meet (``"opioid_use == 'Yes'"``,
        :mod:`odgeo.incidents.where`); the others are left out as ``where_filtered``.
    drug, drug_columns, drug_terms
        Keep the incidents of these drug groups (``("xylazine",)``, :data:`odgeo.drugs.DRUG_GROUPS`),
        read from these columns (default: the suspected-drug column) with the packaged terms
        extended by this CSV (see docs/drugs.md); the others are left out as ``drug_filtered``.
    date_format, accept_implausible_dates
        strftime format of the dates (default: guessed, with the day/month order
        decided from every value); keep dates before 1990 or after today.
    drop_outliers
        Set aside incidents far from all others (rejected as ``outlier``) instead of
        refusing a spread too wide for one local projection (see :mod:`odgeo.incidents.extent`).
    reference, min_score
        Address points and/or street centerlines to geocode the incidents that have
        an address and no coordinates (see :mod:`odgeo.geocode.matcher`); matches scoring
        under ``min_score`` (default 0.5) go to the rejects.
    audience, min_count, ledger
        "public" (default) or "restricted"; the smallest count published for the
        public (default 10); a release ledger shared by successive public runs
        (see :mod:`odgeo.publish.ledger` and docs/privacy.md).
    title, tiles
        Map title and basemap (None: OpenStreetMap; "none": no basemap).
    table, sql
        With a PostgreSQL URL as input: the table or the SELECT query to read.
    to_postgis, postgis_schema, postgis_mode
        Also copy the products into this PostgreSQL database, in this schema (default
        odgeo), replacing or appending to its tables (see :mod:`odgeo.io.postgis`).
    engine, scheduler, workers, worker_memory, blocksize
        What reads the input: "memory" (default), "dask" or "auto" (see :mod:`odgeo.engine.choose`);
        the Dask scheduler's address, else a local cluster's worker processes and their
        memory limit; bytes of CSV per part (see :mod:`odgeo.engine.dask_read`).
    """

    columns: dict[str, str | None] = field(default_factory=dict)
    crs: str | None = None
    timezone: str | None = None
    layer: str | None = None
    since: str | None = None
    until: str | None = None
    outcomes: tuple[str, ...] | None = None
    assume_outcome: str | None = None
    where: tuple[str, ...] | None = None
    drug: tuple[str, ...] | None = None
    drug_columns: tuple[str, ...] | None = None
    drug_terms: str | None = None
    date_format: str | None = None
    accept_implausible_dates: bool | None = None
    drop_outliers: bool | None = None
    reference: tuple[str, ...] = ()
    reference_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    min_score: float | None = None
    audience: str | None = None
    min_count: int | None = None
    ledger: str | None = None
    title: str | None = None
    tiles: str | None = None
    table: str | None = None
    sql: str | None = None
    to_postgis: str | None = None
    postgis_schema: str | None = None
    postgis_mode: str | None = None
    engine: str | None = None
    scheduler: str | None = None
    workers: int | None = None
    worker_memory: str | None = None
    blocksize: int | None = None

    def state_files(self) -> dict[str, str]:
        """The files a run reads and rewrites for the next one, by option (locked for the whole run)."""
        return {"ledger": self.ledger} if self.ledger else {}

    def outside_out(self) -> dict[str, str]:
        """Paths, by option, that must not lie inside ``out_dir`` (which a run replaces as a whole)."""
        return self.state_files()


def run_job(command: str, path, out_dir, input_settings: JobSettings, *,
            analyse: Callable[..., Any], write: Callable[[Any, OutputFolder], object],
            overwrite: bool = False, progress: Callable[[str], None] | None = None, parts: bool = False,
            read_input: Callable[[RunRecord, Callable[[str], None]], Any] | None = None):
    """The template every command runs: check and lock ``out_dir``, read, analyse, write, swap in.

    ``analyse(read, record=..., progress=...)`` returns the command's result (its
    settings are resolved and recorded inside, before any analysis) and
    ``write(result, folder)`` writes its products through the publishing gate into
    the output folder, ending with :func:`save_map_and_record`. Nothing reaches
    ``out_dir`` unless every step succeeded. With ``parts`` the command analyses an
    input read on Dask in its parts (an :class:`odgeo.engine.dask_read.IncidentParts`, its
    cluster kept until the analysis ends); else every read arrives here whole. ``read_input(record, say)``
    replaces the reading of ``path`` (a command that reads several sources).
    """
    check_outside_out(input_settings.outside_out(), out_dir)
    state = input_settings.state_files()
    with contextlib.ExitStack() as held:
        # A ledger or history is read early and rewritten last: two runs interleaving there lose a
        # release, or move a history back. Each is held from before any work to the end of the run.
        for option, state_path in state.items():
            held.enter_context(FileLock(state_path, f"`{option}`"))
        return _run_locked(command, path, out_dir, input_settings, analyse=analyse, write=write,
                           overwrite=overwrite, progress=progress, parts=parts, read_input=read_input)


def _run_locked(command: str, path, out_dir, input_settings: JobSettings, *, analyse: Callable[..., Any],
                write: Callable[[Any, OutputFolder], object], overwrite: bool,
                progress: Callable[[str], None] | None, parts: bool,
                read_input: Callable[[RunRecord, Callable[[str], None]], Any] | None = None):
    say = progress or (lambda step: None)
    destination = _open_destination(input_settings)  # a database to copy the products into: checked first
    with OutputFolder(out_dir, overwrite=overwrite) as folder:  # checked and locked before any work
        folder.destination = destination
        record = RunRecord(command)
        if destination is not None:
            record.sections["postgis"] = destination.describe()
        with record.keeping_warnings():  # for log.txt, written through the gate with the products
            with contextlib.ExitStack() as cluster:  # a Dask cluster, if one reads the input: closed once analysed
                read = (read_input(record, say) if read_input is not None else
                        read_job_input(path, input_settings, record, say, cluster=cluster if parts else None))
                result = analyse(read, record=record, progress=progress)
            say("writing products")
            write(result, folder)
    return result


def _open_destination(settings: JobSettings) -> PostgisDestination | None:
    if settings.to_postgis is None:
        if settings.postgis_schema is not None or settings.postgis_mode is not None:
            raise ParameterError("`postgis_schema` and `postgis_mode` apply with `to_postgis` URL")
        return None
    return PostgisDestination.open(settings.to_postgis, schema=settings.postgis_schema, mode=settings.postgis_mode,
                                   audience=settings.audience or audience_mod.DEFAULT_AUDIENCE)


def read_job_input(path, settings: JobSettings, record: RunRecord, say: Callable[[str], None] = lambda step: None,
                   *, cluster: contextlib.ExitStack | None = None) -> IncidentRead | IncidentParts:
    """Read the incident file, record it, and geocode what lacks coordinates when references are given.

    With ``cluster`` (the stack that closes a Dask cluster once the caller is done) an
    input read on Dask stays there in parts (an :class:`odgeo.engine.dask_read.IncidentParts`)
    unless references are given (the geocoder works in this process); otherwise the
    read comes here whole.
    """
    say("reading incidents")
    source = input_source(path, settings)
    engine = _engine(source, settings, record)
    with record.timed("read"):
        if engine == "dask" and cluster is not None and not settings.reference:
            parts = _read_on_dask(source, settings, record, cluster)
            record.sections["input"] = parts.source()
            return parts
        if engine == "dask":
            with contextlib.ExitStack() as here:
                read = _read_on_dask(source, settings, record, here).gather()
        else:
            read = read_source(source)
    record.sections["input"] = read.source
    return locate_addresses(read, settings, record, say)


def read_carrying(path, settings: JobSettings, record: RunRecord, say: Callable[[str], None],
                  pick: Callable[[list[str], set[str]], dict[str, str | None]], *, wanted: dict,
                  place_column: str | None = None, section: str = "carried_columns") -> IncidentRead:
    """Read the incidents carrying other columns of the file beside their roles (one command's own).

    Parameters
    ----------
    path
        The incident file or database URL (a folder or glob is read as :func:`read_job_input`
        reads it, without the columns: refused when any of ``wanted`` is given).
    settings
        The read settings (filters, columns).
    record, say
        The run record (its ``input`` section gets ``section``: what was carried from where) and progress.
    pick
        ``pick(columns, taken)``: the name each carried column takes on the incidents, and the
        file's column it comes from (None: absent); ``taken`` are the columns serving a role.
    wanted
        The settings that ask for columns, by name, for the message that refuses a folder.
    place_column
        A column naming each incident's place that stands for coordinates (the role ``place``).
    section
        The key of the carried columns in run.json's ``input`` section.

    Returns
    -------
    IncidentRead
        The incidents with the carried columns as text.
    """
    source = input_source(path, settings)
    if place_column:  # a place name stands for coordinates: rows with a name and no point are kept
        source = replace(source, read=replace(source.read, place_column=place_column))
    if source.kind == "parts":
        given = [f"`{name}`" for name, value in wanted.items() if value]
        if given:
            raise ParameterError(f"{path}: {', '.join(given)} read one file or table; combine the parts into one file")
        whole = read_job_input(path, settings, record, say)
        assert isinstance(whole, IncidentRead)  # without a cluster to keep them, the parts come gathered
        return whole
    found: dict[str, str | None] = {}

    def columns_of(columns: list[str]) -> list[str]:
        found.update(pick(columns, {c for c in detect_columns(columns, settings.columns).values() if c}))
        return sorted({c for c in found.values() if c})

    say("reading incidents")
    with record.timed("read"):
        read, kept = read_source_keeping(source, columns_of)
    record.sections["input"] = {**read.source, section: {k: v for k, v in found.items() if v}}
    read = locate_addresses(read, settings, record, say)
    rows = read.incidents[SOURCE_ROW].to_numpy(dtype=np.int64) - 1
    extra = {name: kept[col].iloc[rows].to_numpy(dtype=object) for name, col in found.items() if col}
    return replace(read, incidents=read.incidents.assign(**extra))


def locate_addresses(read: IncidentRead, settings: JobSettings, record: RunRecord,
                     say: Callable[[str], None] = lambda step: None) -> IncidentRead:
    """Geocode the incidents that have an address and no coordinates, when ``settings`` give references."""
    from .geocode import apply_reference

    if not settings.reference:
        return read
    say("geocoding addresses without coordinates")
    return apply_reference(read, settings.reference, settings.min_score, record, settings.reference_columns)


def input_source(path: str | Path | InputSource, settings: JobSettings) -> InputSource:
    """The incidents' source with the read settings of ``settings``, resolved once for every reader.

    Parameters
    ----------
    path
        A file, a folder or a glob of files, or a PostgreSQL URL (an InputSource is kept as it is).
    settings
        The job's settings: ``table``, ``sql`` and the read options.

    Returns
    -------
    InputSource
    """
    for condition in settings.where or ():
        parse_where(condition)  # a condition that is not one: said now, not after the file is read
    options = ReadOptions(columns=settings.columns, crs=settings.crs, timezone=settings.timezone or "UTC",
                          layer=settings.layer, date_format=settings.date_format,
                          accept_implausible_dates=bool(settings.accept_implausible_dates),
                          where=tuple(settings.where or ()), drugs=drug_selection(settings))
    return InputSource.of(path, table=settings.table, sql=settings.sql, read=options)


def drug_selection(settings: JobSettings) -> DrugSelection | None:
    """The drug groups to keep, checked now (an unknown group or a bad terms file before the input is read)."""
    if not settings.drug:
        if settings.drug_columns or settings.drug_terms:
            raise ParameterError("`drug_columns` and `drug_terms` say how to read `drug`; give the drug groups "
                                 "to keep with `drug` (for example xylazine)")
        return None
    selection = DrugSelection(groups=tuple(settings.drug), columns=tuple(settings.drug_columns or ()),
                              terms=settings.drug_terms)
    selection.table()
    return selection


S = TypeVar("S", bound="JobSettings")


def selection_settings(settings: S) -> S:
    """The settings that choose the incidents.

    Without `drug`, `drug_columns` and `drug_terms` serve another reading (the report's drug
    panel, the alerts' watched drugs) and leave every incident in.
    """
    return settings if settings.drug else replace(settings, drug_columns=None, drug_terms=None)


def involving(settings: JobSettings) -> str:
    """The drug groups of ``drug`` for a page's title: " involving xylazine" (nothing without ``drug``)."""
    selection = drug_selection(selection_settings(settings))
    return f" involving {selection.label()}" if selection is not None else ""


def _engine(source: InputSource, settings: JobSettings, record: RunRecord) -> str:
    """The engine that reads ``source`` (recorded; ``auto`` says what it chose and why)."""
    from ..engine.choose import choose_engine

    choice = choose_engine(settings.engine, source)
    if choice.engine == "memory" and (settings.scheduler or settings.workers or settings.worker_memory
                                      or settings.blocksize):
        raise ParameterError("`scheduler`, `workers`, `worker_memory` and `blocksize` apply with `engine` dask")
    if settings.engine is not None:  # no --engine: read in memory, as before engines existed
        record.param("engine", choice.engine, "given", None if choice.reason == "given" else choice.reason)
    if settings.engine == "auto":
        log.info("`engine` auto: %s", choice.reason)
    return choice.engine


def _read_on_dask(source: InputSource, settings: JobSettings, record: RunRecord,
                  cluster: contextlib.ExitStack) -> IncidentParts:
    """``source`` read and validated in parts on a Dask cluster that ``cluster`` closes."""
    from ..engine.choose import dask_client
    from ..engine.dask_read import read_parts_dask

    client, described = cluster.enter_context(dask_client(settings.scheduler, settings.workers,
                                                          settings.worker_memory))
    parts = read_parts_dask(source, client, blocksize=settings.blocksize)
    record.sections["dask"] = {**described, "parts": len(parts.plan.parts),
                               "blocksize_bytes": settings.blocksize or DEFAULT_BLOCKSIZE}
    return parts


def select_incidents(read: IncidentRead, settings: JobSettings, record: RunRecord, *,
                     require_dates: str | None = None, as_of: pd.Timestamp | None = None,
                     unlocated_used: bool = False) -> tuple[IncidentRead, gpd.GeoDataFrame, RowCounts]:
    """Apply the date and outcome filters; return the read, the located incidents used and the row counts.

    Records the filters, the columns and the row counts (which must add up);
    no located incident left is a NoDataError that says where the rows went.
    ``unlocated_used``: the incidents without coordinates are used too (counted by a place name).
    """
    validate_incident_frame(read.incidents)  # frames from notebooks enter here as well as files
    record_filters(settings, record)
    read = filter_incidents(assume_outcome(read, settings.assume_outcome), since=settings.since,
                            until=settings.until, outcomes=settings.outcomes, require_dates=require_dates, as_of=as_of)
    read = _set_aside_outliers(read, settings, record)
    used = (read.incidents if unlocated_used else located(read.incidents)).reset_index(drop=True)
    rows = record_selection(record, read, len(used), int(used[OCCURRED_AT].isna().sum()),
                            int((used[OUTCOME] == "fatal").sum()), unlocated_used=unlocated_used)
    return read, used, rows


def record_filters(settings: JobSettings, record: RunRecord) -> None:
    """Record the time zone, the filters and the date settings (before they are applied)."""
    record.param("timezone", settings.timezone or "UTC", "given" if settings.timezone else "default")
    record.param("since", settings.since, "given" if settings.since else "default")
    record.param("until", settings.until, "given" if settings.until else "default")
    record.param("outcomes", list(settings.outcomes) if settings.outcomes else None,
                 "given" if settings.outcomes else "default")
    record.param("where", list(settings.where) if settings.where else None, "given" if settings.where else "default")
    selection = drug_selection(settings)
    if selection is not None:
        record.param("drug", list(selection.groups), "given")
        record.param("drug_columns", list(selection.columns) or None, "given" if selection.columns else "default",
                     None if selection.columns else "the suspected-drug column")
        record.sections["drug_definition"] = selection.table().record()
    record.param("assume_outcome", settings.assume_outcome, "given" if settings.assume_outcome else "default",
                 None if settings.assume_outcome else "outcomes as the outcome column gives them (none: unknown)")
    record.param("date_format", settings.date_format, "given" if settings.date_format else "default",
                 None if settings.date_format else "guessed; day/month order decided from every value")
    record.param("accept_implausible_dates", bool(settings.accept_implausible_dates),
                 "given" if settings.accept_implausible_dates else "default",
                 None if settings.accept_implausible_dates else "dates before 1990 or after today are rejected")


def record_selection(record: RunRecord, read: IncidentRead, n_used: int, n_undated: int, n_fatal: int, *,
                     unlocated_used: bool = False) -> RowCounts:
    """Record the columns, the row counts (which must add up, returned) and the notes of the incidents selected.

    No located incident left is a NoDataError that says where the rows went. ``read``
    holds the rejects and the unlocated incidents (and, in memory, the used ones).
    """
    rows = RowCounts.of(read, n_used, n_undated, n_fatal, unlocated_used=unlocated_used)
    warn_about_notes(read)
    record.sections["columns"] = read.columns
    record.sections["counts"] = rows.as_record()
    if read.notes:
        record.sections["data_notes"] = read.notes
    if n_used == 0:
        by_code = ", ".join(f"{n} {code}" for code, n in rows.rejected_by_code.items())
        raise NoDataError(
            f"{read.source.get('path', 'input')}: no located incidents to analyse "
            f"({read.n_input} rows: {rows.n_unlocated} without coordinates, {read.n_rejected} rejected"
            + (f": {by_code}" if by_code else "") + ")"
        )
    return rows


def set_aside_before(read: IncidentRead, record: RunRecord, start: pd.Timestamp,
                     why: str) -> tuple[IncidentRead, gpd.GeoDataFrame, RowCounts]:
    """After :func:`select_incidents`: incidents before ``start`` become rejects ``before_window`` (recounted).

    ``why`` names the window ("the scan's study window, --window-days before --as-of").
    """
    codes = np.where(read.incidents[OCCURRED_AT] < start, "before_window", "").astype(object)
    read = move_to_rejects(read, codes, {"before_window": (OCCURRED_AT, f"before {why}")})
    used = located(read.incidents).reset_index(drop=True)
    rows = RowCounts.of(read, len(used), int(used[OCCURRED_AT].isna().sum()), int((used[OUTCOME] == "fatal").sum()))
    record.sections["counts"] = rows.as_record()
    if used.empty:
        raise NoDataError(f"{read.source.get('path', 'input')}: no located incidents in {why} "
                          f"(from {start:%Y-%m-%d}); check `as_of`, or widen the window")
    return read, used, rows


def _set_aside_outliers(read: IncidentRead, settings: JobSettings, record: RunRecord) -> IncidentRead:
    """Refuse (or, with drop_outliers, reject) incidents too far from the rest for one local map."""
    has_xy = has_location(read.incidents.geometry)
    lon, lat = lonlat_of(read.incidents.geometry[has_xy])
    return reject_outliers(read, spread_outliers(lon, lat, settings, record, read.source))


def reject_outliers(read: IncidentRead, outliers: np.ndarray) -> IncidentRead:
    """The located incidents flagged in ``outliers`` (one flag each, in their order) moved to the rejects."""
    codes = np.full(len(read.incidents), "", dtype=object)
    codes[np.flatnonzero(has_location(read.incidents.geometry))[outliers]] = "outlier"
    return move_to_rejects(read, codes, {"outlier": (
        "geometry", "far from all other incidents (--drop-outliers; see spread in run.json)")})


def spread_outliers(lon: np.ndarray, lat: np.ndarray, settings: JobSettings, record: RunRecord,
                    source: dict) -> np.ndarray:
    """Which located incidents are set aside as too far from the rest (recorded; a DataError without drop_outliers)."""
    try:
        outliers, info = check_spread(lon, lat, drop_outliers=bool(settings.drop_outliers))
    except DataError as err:
        raise DataError(f"{source.get('path', 'input')}: {err}") from err
    record.param("drop_outliers", bool(settings.drop_outliers), "given" if settings.drop_outliers else "default")
    shared = place_level(np.asarray(lon)[~outliers], np.asarray(lat)[~outliers])
    info["place_level"] = shared is not None
    if shared is not None:
        log.warning(f"{shared[0]:,} of {int((~outliers).sum()):,} incidents lie on {shared[1]:,} shared "
                    f"coordinates: {PLACE_LEVEL_WORDS}")
    record.sections["spread"] = info
    return outliers


def date_span(used: gpd.GeoDataFrame) -> str:
    """The incidents' months in words: "Jan 2024 to Dec 2025"."""
    times = used[OCCURRED_AT].dropna()
    if times.empty:
        return "undated"
    first, last = times.min(), times.max()
    if (first.year, first.month) == (last.year, last.month):
        return f"{first:%b %Y}"
    return f"{first:%b %Y} to {last:%b %Y}"


def pick_audience(record: RunRecord, settings: JobSettings) -> str:
    """The audience of ``settings`` (default "public", recorded); see :func:`odgeo.publish.audience.pick_audience`."""
    return audience_mod.pick_audience(record, settings.audience)


def open_gate(record: RunRecord, settings: JobSettings, audience: str, *, ledger_settings: dict | None = None,
              mask: DonutMask | None = None, k_anonymity: np.ndarray | None = None, daily: bool = False) -> Gate:
    """The publishing gate for ``audience`` with the settings' ``min_count`` and ``ledger`` (recorded).

    ``ledger_settings`` are the settings every release sharing a ledger must
    keep (None: this command takes no ledger); ``daily``: a command run every morning.
    """
    gate = audience_mod.open_gate(record, audience, min_count=settings.min_count, ledger=settings.ledger,
                                  ledger_settings=ledger_settings, mask=mask, k_anonymity=k_anonymity, daily=daily)
    show_geocoding(gate)  # any command may geocode its input (--addresses, --streets)
    return gate


def check_outside_out(paths: dict[str, str], out_dir) -> None:
    """A ledger, history or export inside the output folder would be replaced with the folder: refuse it."""
    out = Path(out_dir).resolve()
    for option, given in paths.items():
        path = Path(given).resolve()
        if out in (path, path.parent) or out in path.parents:
            raise ParameterError(f"`{option}` {given} is inside `out_dir` {out_dir}, which each run replaces as a "
                                 f"whole; keep `{option}` outside the output folder")


def save_map_and_record(fmap, record: RunRecord, folder: OutputFolder, written: list[Path],
                        gate: Gate) -> list[Path]:
    """Write map.html, then run.json (through the gate) listing every file written; return their final paths.

    The gate finishes last (a ledger is staged). At commit the products are copied into
    ``--to-postgis`` in one transaction, then the staged state and the folder are put in place.
    """
    fmap.save(str(folder.path("map.html")))
    return save_record(record, folder, [*written, folder.path("map.html")], gate)


def save_record(record: RunRecord, folder: OutputFolder, written: list[Path], gate: Gate) -> list[Path]:
    """Write log.txt and run.json (through the gate) listing every file written; return their final paths.

    For a command whose page is not a map (``odgeo report``); :func:`save_map_and_record` ends here too.
    """
    from ..io.writers import write_json, write_text

    written = [*written, write_text(gate.log_text(record.messages), folder.path("log.txt"))]
    doc = gate.run_record(record.as_dict())
    doc["outputs"] = sorted(p.name for p in [*written, folder.path("run.json")])
    written.append(write_json(doc, folder.path("run.json")))
    folder.to_publish = (written, record.command)  # copied into --to-postgis at commit
    gate.finish(str(record.sections.get("input", {}).get("path", "")), stage=folder.stage)
    return [folder.final_path(p) for p in written]


def parse_as_of(text: str | None, tz: str, times: pd.Series) -> pd.Timestamp | None:
    """--as-of as a time in ``tz``: a date means the end of that day; an error outside the data (None: not given)."""
    if text is None:
        return None
    try:
        stamp = option_time(str(text), "`as_of`")
    except ParameterError:
        raise
    except ValueError as err:  # ISO in shape, not a date (2024-13-45)
        raise ParameterError(f"`as_of` {text!r} is not a date or time; give YYYY-MM-DD or 'YYYY-MM-DD HH:MM'") from err
    if len(str(text).strip()) <= 10:
        stamp = stamp + pd.Timedelta(days=1)  # the end of the day given
    stamp = wall_clock(stamp.tz_localize(None), tz)[0] if stamp.tzinfo is None else stamp.tz_convert(tz)
    known = times.dropna()
    if len(known) and not (known.min() < stamp <= latest_time(known) + QUIET_DAYS):
        raise DataError(f"`as_of` {text} is outside the data ({known.min():%Y-%m-%d %H:%M} to "
                        f"{known.max():%Y-%m-%d %H:%M}, and up to {QUIET_DAYS.days} quiet days after); "
                        "give a time within it, or check that the export is today's")
    return stamp


def latest_time(times: pd.Series) -> pd.Timestamp:
    """The latest incident time, a date-only incident counting as the end of its day."""
    local = times.dt.tz_localize(None)
    date_only = local == local.dt.normalize()
    latest = pd.Timestamp((local + pd.to_timedelta(date_only.astype(int), unit="D")).max())
    return wall_clock(latest, times.dt.tz)[0]


def counted_words(used: pd.DataFrame) -> str:
    """What a product counts, in words: "overdose deaths" when every incident is fatal, else "suspected overdoses"."""
    return "overdose deaths" if len(used) and bool((used[OUTCOME] == "fatal").all()) else "suspected overdoses"

