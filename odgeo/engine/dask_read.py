"""Read and validate a large input on a Dask cluster, part by part, as :func:`odgeo.read_incidents` reads one file.

Every part (:mod:`odgeo.engine.partitions`) is parsed and validated on a worker. What
validation decides from the whole input is decided from the whole here too,
between the rounds: the day/month order of the dates (each part's evidence,
added up), the incident ids repeated across parts (the first occurrence in the
whole input wins, as in one file), whether a "location" column holds coordinates,
and the bulk of the coordinates for the swapped-pair check (its median centre and
95th percentile distance, from every part's usable coordinates). Rows keep their
numbers in their file; the result is the :class:`~odgeo.incidents.read.IncidentRead`
the in-memory reader gives for the same rows, rejects included.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..arrowtext import text_by_code
from ..drugs.selection import DrugSelection
from ..errors import ClusterError, ColumnError, DataError, ParameterError
from ..incidents.coordtext import parse_location_text
from ..incidents.dates import OrderEvidence, decide_order, order_evidence, order_name
from ..incidents.read import (
    IncidentRead,
    PartValidation,
    StartedValidation,
    WholeInput,
    begin_validation,
    check_degrees,
    start_validation,
    swap_reference,
)
from ..incidents.source import InputSource, ReadOptions
from ..incidents.tables import RawTable, file_sha256
from ..io.postgis import database_label
from ..projection import lonlat_of
from ..schema import (
    ADDRESS,
    CITY,
    GEOCODE_STATUS,
    INCIDENT_COLUMNS,
    INCIDENT_ID,
    OCCURRED_AT,
    OUTCOME,
    SUSPECTED_DRUG,
    WGS84,
    ZIP,
    has_location,
)
from .partitions import DEFAULT_BLOCKSIZE, InputPlan, Part, block_facts, join_quoted_blocks, plan_input, read_part

__all__ = ["IncidentParts", "read_incidents_dask", "read_parts_dask"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Facts:
    """What one part tells the whole before it is validated."""

    columns: tuple[str, ...]
    n_rows: int
    dates: OrderEvidence
    id_hashes: np.ndarray  # distinct hashes of the ids that reach the duplicate check
    location_votes: tuple[int, int]  # non-empty "location" values, and those that parse as coordinates
    date_column: str


def read_incidents_dask(source: str | Path, client, **options) -> IncidentRead:
    """Read ``source`` (a file, a folder, a glob) on the cluster of ``client``, into this process.

    What :func:`odgeo.read_incidents` gives for the same rows; ``options`` are those of
    :func:`read_parts_dask`.
    """
    return read_parts_dask(source, client, **options).gather()


@dataclass
class IncidentParts:
    """An input read and validated in parts that stay on the cluster (see :func:`read_parts_dask`).

    Attributes
    ----------
    reads
        Futures of each part's :class:`~odgeo.incidents.read.IncidentRead` (rows numbered in their file).
    """

    client: Any  # a distributed.Client
    plan: InputPlan
    reads: list
    wholes: list[WholeInput]
    facts: list[_Facts]
    date_format: str | None
    described: dict = field(default_factory=dict)  # what source() says, once asked (the parts' filters keep it)

    def release(self) -> None:
        """Let the validated parts go on the cluster (all their columns: what a job has read from them is kept).

        What was made from them (located parts, filtered parts) stays; it can still be
        remade, should a worker die, from the tasks Dask keeps. This object reads nothing after.
        """
        self.reads = []

    def gather(self) -> IncidentRead:
        """The parts as one :class:`~odgeo.incidents.IncidentRead` in this process (what the in-memory reader gives)."""
        client = self.client
        with _cluster_errors(self.plan.source):
            reads = [_expanded(r) for r in client.gather(self.reads)]
        return _joined(self.plan, reads, self.source())

    def located(self) -> list:
        """Futures of each part's located incidents (:func:`~odgeo.engine.stages.located_points`)."""
        return self.client.map(_located, self.reads, pure=False)

    def each(self, function, *args, **kwargs) -> IncidentParts:
        """The parts, each read ``function(read, *args, **kwargs)`` on its worker (a filter: rows to the rejects).

        Each list in ``args`` gives one item to each part; ``kwargs`` go to every part.
        """
        with _cluster_errors(self.plan.source):
            reads = self.client.map(_on_read, self.reads, *args, function=function, **kwargs, pure=False)
        return replace(self, reads=reads)

    def rejects(self) -> pd.DataFrame:
        """Every part's rejects, in input order (with the file they are rows of when the input is several files)."""
        with _cluster_errors(self.plan.source):
            rejects = self.client.gather(self.client.map(_rejects_of, self.reads, pure=False))
        return _concat([_with_file(r, part, self.plan) for r, part in zip(rejects, self.plan.parts)])

    def unlocated(self) -> IncidentRead:
        """The parts' unlocated incidents and their rejects, as one read in this process (the located stay there)."""
        with _cluster_errors(self.plan.source):
            reads = [_expanded(r) for r in self.client.gather(self.client.map(_unlocated_of, self.reads,
                                                                              pure=False))]
        incidents = gpd.GeoDataFrame(_concat([r.incidents for r in reads]), geometry="geometry", crs=WGS84)
        return IncidentRead(incidents=incidents, rejects=self.rejects(), n_input=self.n_input,
                            columns=reads[0].columns, source=self.source(), notes=added_notes([r.notes for r in reads]))

    def source(self) -> dict[str, object]:
        """The input described as :func:`odgeo.read_incidents` describes one file (files, checksums, date order)."""
        if not self.described:
            with _cluster_errors(self.plan.source):
                first = self.client.submit(_source_of, self.reads[0], pure=False).result()
                checksums = self.client.gather(self.client.map(file_sha256, self.plan.files, pure=False))
            self.described.update(_source(self.plan, first, self.wholes, checksums, self.facts, self.date_format))
        return dict(self.described)

    @property
    def n_input(self) -> int:
        """Records in the input."""
        return sum(f.n_rows for f in self.facts)


_LON, _LAT = "__lon", "__lat"
_CODED = (OUTCOME, GEOCODE_STATUS)  # columns of a few values (text_by_code's), held as categoricals
_NONE = (SUSPECTED_DRUG, ADDRESS, CITY, ZIP)  # text columns often empty throughout: held only when not


def _held(read: IncidentRead) -> IncidentRead:
    """The read as a part holds it on its worker: about a third of the bytes of the GeoDataFrame and its points.

    Points as two columns of floats (NaN: unlocated), few-valued text as categoricals,
    columns of None left out.
    """
    frame = read.incidents
    located = has_location(frame.geometry)
    lon, lat = np.full(len(frame), np.nan), np.full(len(frame), np.nan)
    lon[located], lat[located] = lonlat_of(frame.geometry.to_numpy()[located])
    plain = pd.DataFrame(frame.drop(columns="geometry"))
    for col in _CODED:
        if plain[col].notna().all():  # (text_by_code has no missing value to give back)
            plain[col] = pd.Categorical(plain[col])
    plain = plain.drop(columns=[c for c in _NONE if plain[c].isna().all()])
    plain[_LON], plain[_LAT] = lon, lat
    return replace(read, incidents=plain)


def _expanded(read: IncidentRead) -> IncidentRead:
    """The read of :func:`_held` as the reader gives it (each column typed as in one read), one shapely call for all."""
    frame = read.incidents
    lon, lat = frame[_LON].to_numpy(), frame[_LAT].to_numpy()
    columns = {}
    for col in INCIDENT_COLUMNS:
        if col not in frame:
            columns[col] = np.full(len(frame), None, dtype=object)
        elif isinstance(frame[col].dtype, pd.CategoricalDtype):
            values = frame[col].array
            columns[col] = text_by_code(list(values.categories), values.codes)
        else:
            columns[col] = frame[col].reset_index(drop=True)
    geometry = np.full(len(frame), shapely.Point(), dtype=object)
    located = np.isfinite(lon) & np.isfinite(lat)
    geometry[located] = shapely.points(lon[located], lat[located])
    return replace(read, incidents=gpd.GeoDataFrame(pd.DataFrame(columns), geometry=geometry, crs=WGS84))


def _on_read(read: IncidentRead, *args, function, **kwargs) -> IncidentRead:
    """``function`` of the read (a filter), on its worker: the held form in and out."""
    return _held(function(_expanded(read), *args, **kwargs))


def _source_of(read: IncidentRead) -> dict:
    return read.source


def _rejects_of(read: IncidentRead) -> pd.DataFrame:
    return read.rejects


def _unlocated_of(read: IncidentRead) -> IncidentRead:
    """The part's unlocated incidents, without its rejects (they travel once, in :meth:`IncidentParts.rejects`)."""
    frame = read.incidents
    return replace(read, incidents=frame[~np.isfinite(frame[_LON].to_numpy())], rejects=read.rejects[:0])


def _located(read: IncidentRead) -> pd.DataFrame:
    from .stages import located_points

    frame = read.incidents
    return located_points(frame[OCCURRED_AT], frame[OUTCOME].array, frame[_LON].to_numpy(), frame[_LAT].to_numpy())


def read_parts_dask(
    source: str | Path | InputSource,
    client,
    *,
    blocksize: int | None = None,
    columns: dict[str, str | None] | None = None,
    crs: str | None = None,
    timezone: str = "UTC",
    layer: str | None = None,
    date_format: str | None = None,
    accept_implausible_dates: bool = False,
) -> IncidentParts:
    """Read and validate ``source`` in parts on the cluster of ``client``, leaving the parts there.

    Parameters
    ----------
    source
        A CSV or vector file, a folder of them (a Parquet dataset) or a glob pattern; or an
        :class:`~odgeo.incidents.source.InputSource`, which carries its own read options
        (the keyword options are then left out).
    client
        A ``distributed.Client``.
    blocksize
        Bytes of CSV per part (default :data:`odgeo.engine.partitions.DEFAULT_BLOCKSIZE`).

    Other parameters are those of :func:`odgeo.read_incidents`.

    Returns
    -------
    IncidentParts
        ``.gather()`` gives the :class:`~odgeo.incidents.read.IncidentRead` the in-memory reader
        gives; ``.located()`` the parts' located incidents for :mod:`odgeo.engine.stages`.
    """
    given = ReadOptions(columns=columns, crs=crs, timezone=timezone, layer=layer, date_format=date_format,
                        accept_implausible_dates=accept_implausible_dates)
    if isinstance(source, InputSource) and given != ReadOptions():
        raise ParameterError("an InputSource carries its read options: give them to InputSource.of")
    source = InputSource.of(source, read=given)
    if source.kind == "database":
        raise ParameterError(f"{database_label(source.location)}: a database source is read by the database, "
                             "not on Dask")
    options = source.read
    plan = plan_input(source.location, blocksize=blocksize or DEFAULT_BLOCKSIZE)
    with _cluster_errors(plan.source):
        return _read(plan, client, options)


@contextlib.contextmanager
def _cluster_errors(source: str):
    """Workers that die on every try of one part: one line, the likely cause and what to change."""
    from distributed import KilledWorker

    try:
        yield
    except KilledWorker as err:
        raise ClusterError(f"{source}: Dask workers died on every try of one part ({err.args[0]!s:.60}); they "
                           "probably ran out of memory: lower `blocksize` or raise `worker_memory`") from err


def _read(plan: InputPlan, client, options: ReadOptions) -> IncidentParts:
    plan = _settle_blocks(plan, client)
    date_format = options.date_format
    settings = {"columns": options.columns, "crs": options.crs, "timezone": options.timezone,
                "date_format": date_format, "accept_implausible_dates": options.accept_implausible_dates}
    raws = client.map(read_part, plan.parts, layer=options.layer, pure=False)
    started = client.map(_start, raws, columns=options.columns, where=options.where, drugs=options.drugs,
                         pure=False)
    del raws  # each part's text is now held by its validation only
    facts = client.gather(client.map(_part_facts, started, pure=False))
    wholes = _whole_facts(plan, client, started, facts, date_format)
    begun = client.map(_begin, started, wholes, **settings, pure=False)
    del started
    samples = client.gather(client.map(_sample, begun, pure=False))
    lon = np.concatenate([s[0] for s in samples])
    lat = np.concatenate([s[1] for s in samples])
    if samples and samples[0][2]:
        check_degrees(lon, lat, client.submit(_description, begun[0], pure=False).result())
    reference = swap_reference(lon, lat)
    del lon, lat, samples
    reads = client.map(_finish, begun, reference=reference, pure=False)
    return IncidentParts(client, plan, reads, wholes, facts, date_format)


def _settle_blocks(plan: InputPlan, client) -> InputPlan:
    """Join blocks cut inside a quoted field; read whole a CSV that is not UTF-8 throughout."""
    blocks = [p for p in plan.parts if p.is_block]
    if not blocks:
        return plan
    facts = iter(client.gather(client.map(block_facts, blocks, pure=False)))
    all_facts = [next(facts) if p.is_block else (0, True) for p in plan.parts]
    return replace(plan, parts=join_quoted_blocks(plan.parts, all_facts))


def _start(raw: RawTable, columns: dict[str, str | None] | None, where: tuple[str, ...],
           drugs: DrugSelection | None) -> StartedValidation:
    return start_validation(raw, columns, part=True, where=where, drugs=drugs).held()


def _part_facts(started: StartedValidation) -> _Facts:
    raw, roles, rows = started.table, started.roles, started.rows
    dates = order_evidence(rows.raw(OCCURRED_AT)) if roles[OCCURRED_AT] is not None else OrderEvidence()
    hashes = np.empty(0, dtype=np.uint64)
    if roles[INCIDENT_ID] is not None:
        ids = rows.raw(INCIDENT_ID)
        given = rows.kept & (ids != "").to_numpy()
        hashes = np.unique(pd.util.hash_array(ids.to_numpy(dtype=object)[given]))
    votes = (0, 0)
    if roles["location"] is not None and roles["longitude"] is None:
        text = rows.raw("location")
        present = text != ""
        lon, _ = parse_location_text(text[present])
        votes = (int(present.sum()), int(np.isfinite(lon).sum()))
    return _Facts(tuple(map(str, raw.data.columns)), len(rows.data), dates, hashes, votes, str(roles[OCCURRED_AT]))


def _whole_facts(plan: InputPlan, client, started, facts: list[_Facts], date_format: str | None
                 ) -> list[WholeInput]:
    """What each part is told of the whole: its first row, the date order, the ids seen before it."""
    first = facts[0].columns
    for part, fact in zip(plan.parts, facts):
        if fact.columns != first:
            raise ColumnError(f"{part.path}: its columns ({', '.join(fact.columns)}) differ from those of "
                              f"{plan.parts[0].path} ({', '.join(first)}); every file of one input needs the same "
                              "columns")
    offsets = _row_offsets(plan.parts, facts)
    day_first = None
    if date_format is None:
        evidence = sum((f.dates.after(o) for f, o in zip(facts, offsets)), OrderEvidence())
        try:
            day_first, _ = decide_order(evidence, facts[0].date_column)
        except DataError as err:
            raise DataError(f"{plan.source}: {err}") from err
    present, parsed = (sum(f.location_votes[i] for f in facts) for i in (0, 1))
    location_text = parsed / present >= 0.5 if present else False
    earlier = _earlier_ids(plan, client, started, facts, offsets)
    return [WholeInput(o, day_first, e, location_text) for o, e in zip(offsets, earlier)]


def _row_offsets(parts: tuple[Part, ...], facts: list[_Facts]) -> list[int]:
    """Rows before each part in its own file (a file's rows are numbered from 1)."""
    offsets: list[int] = []
    seen: dict[Path, int] = {}
    for part, fact in zip(parts, facts):
        offsets.append(seen.get(part.path, 0))
        seen[part.path] = offsets[-1] + fact.n_rows
    return offsets


def _earlier_ids(plan: InputPlan, client, started, facts: list[_Facts], offsets: list[int]
                 ) -> list[dict[str, str]]:
    """For each part, the ids first seen in an earlier part, with where ("12", or "12 of 2023.csv")."""
    hashes = [f.id_hashes for f in facts]
    if sum(len(h) for h in hashes) == 0:
        return [{} for _ in facts]
    owner = np.concatenate([np.full(len(h), i) for i, h in enumerate(hashes)])
    flat = np.concatenate(hashes)
    values, counts = np.unique(flat, return_counts=True)
    shared = values[counts > 1]
    if not len(shared):
        return [{} for _ in facts]
    asked = sorted(set(owner[np.isin(flat, shared)].tolist()))
    found = client.gather([client.submit(_ids_with_hashes, started[i], shared, pure=False) for i in asked])
    first_seen: dict[str, tuple[int, int]] = {}  # id -> (part, row in its file)
    for i, ids in zip(asked, found):
        for value, row in ids.items():
            first_seen.setdefault(value, (i, row + offsets[i]))
    earlier: list[dict[str, str]] = [{} for _ in facts]
    for i, ids in zip(asked, found):
        for value in ids:
            part, row = first_seen[value]
            if part < i:  # an id in two files (overlapping exports) is one incident too
                same_file = plan.parts[part].path == plan.parts[i].path
                earlier[i][value] = str(row) if same_file else f"{row} of {plan.parts[part].path.name}"
    return earlier


def _ids_with_hashes(started: StartedValidation, hashes: np.ndarray) -> dict[str, int]:
    """The ids of this part whose hash is in ``hashes``, each with its first row in the part (from 1)."""
    rows = started.rows
    ids = rows.raw(INCIDENT_ID)
    text = ids.to_numpy(dtype=object)
    pick = rows.kept & (ids != "").to_numpy() & np.isin(pd.util.hash_array(text), hashes)
    out: dict[str, int] = {}
    for pos in np.flatnonzero(pick):
        out.setdefault(str(text[pos]), int(pos) + 1)
    return out


def _begin(started: StartedValidation, whole: WholeInput, **settings) -> PartValidation:
    return begin_validation(started.table, whole=whole, started=started, **settings).held()


def _sample(part: PartValidation) -> tuple[np.ndarray, np.ndarray, bool]:
    lon, lat = part.coordinate_sample()
    return lon, lat, part.in_degrees


def _description(part: PartValidation) -> PartValidation:
    """The first part without its rows (what :func:`check_degrees` names in its message)."""
    return replace(part, lon=part.lon[:0], lat=part.lat[:0])


def _finish(part: PartValidation, reference) -> IncidentRead:
    return _held(part.finish(reference))


def _joined(plan: InputPlan, reads: list[IncidentRead], source: dict[str, object]) -> IncidentRead:
    """The parts' reads as one: incidents and rejects in input order, notes added up, the input as described."""
    incidents = _concat([r.incidents for r in reads])
    rejects = _concat([_with_file(r.rejects, part, plan) for r, part in zip(reads, plan.parts)])
    return IncidentRead(incidents=gpd.GeoDataFrame(incidents, geometry="geometry", crs=WGS84), rejects=rejects,
                        n_input=sum(r.n_input for r in reads), columns=reads[0].columns, source=source,
                        notes=added_notes([r.notes for r in reads]))


def added_notes(notes: list[dict[str, int]]) -> dict[str, int]:
    """The parts' notes (counts of values read with a default), added up."""
    total: dict[str, int] = {}
    for part in notes:
        for key, count in part.items():
            total[key] = total.get(key, 0) + count
    return total


def _source(plan: InputPlan, first: dict, wholes: list[WholeInput], checksums: list[str], facts: list[_Facts],
            date_format: str | None) -> dict[str, object]:
    """The input described as one (the first part's description, the files, their checksums and the date order)."""
    source: dict[str, object] = dict(first)
    source["path"] = plan.source if len(plan.files) > 1 else str(plan.files[0])
    source["sha256"] = checksums[0] if len(plan.files) == 1 else ""
    if date_format is None:
        day_first = wholes[0].day_first
        evidence = sum((f.dates for f in facts), OrderEvidence())
        source["date_order"] = order_name(bool(day_first), {"ambiguous": evidence.ambiguous})
    if len(plan.files) > 1:
        rows = _rows_per_file(plan, facts)
        source["files"] = [{"path": str(p), "sha256": c, "n_rows": rows[p]} for p, c in zip(plan.files, checksums)]
        del source["sha256"]
    return source


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Frames one after the other, each text column typed as pandas types it in one frame.

    A part whose column is all None has object dtype where another part's has text;
    the column of the whole is built again from its values, as the reader builds it.
    """
    full = [f for f in frames if len(f)] or frames[:1]
    out = pd.concat(full, ignore_index=True) if len(full) > 1 else full[0].reset_index(drop=True)
    for col in out.columns:
        if col == "geometry" or len({str(f[col].dtype) for f in full}) == 1:
            continue
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col].dtype):
            out[col] = pd.DataFrame({col: out[col].to_numpy(dtype=object)})[col]
    return out


def _rows_per_file(plan: InputPlan, facts: list[_Facts]) -> dict[Path, int]:
    rows: dict[Path, int] = {}
    for part, fact in zip(plan.parts, facts):
        rows[part.path] = rows.get(part.path, 0) + fact.n_rows
    return rows


def _with_file(rejects: pd.DataFrame, part: Part, plan: InputPlan) -> pd.DataFrame:
    """A part's rejects, with the file they are rows of when the input is several files."""
    if len(plan.files) == 1:
        return rejects
    out = rejects.copy()
    out.insert(0, "file", str(part.path.relative_to(_common_root(plan))))
    return out


def _common_root(plan: InputPlan) -> Path:
    root = Path(plan.source)
    if root.is_dir():
        return root
    parents = [p.parent for p in plan.files]
    common = parents[0]
    while not all(p.is_relative_to(common) for p in parents):
        common = common.parent
    return common

