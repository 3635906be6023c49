"""``odgeo outreach``: a post-overdose team's morning list, the places to canvass, and the funnel it reports.

Several sources (an EMS export, a police export, an ED feed) are read as every command reads
one, with their person columns beside (:mod:`odgeo.outreach.persons`), linked into overdoses
and persons (:mod:`odgeo.outreach.linkage`), and turned into the restricted worklist
(:mod:`odgeo.outreach.worklist`), the places (:mod:`odgeo.outreach.places`), and, with the
team's attempts file, the funnel (:mod:`odgeo.outreach.funnel`). A public run writes no
person-level row: the coalition's page, through the gate (:mod:`odgeo.outreach.public`).
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import defaults
from ..errors import ColumnError, InputFileError, ParameterError
from ..hexes import cell_strs, points_to_cells
from ..incidents.read import IncidentRead, read_source_keeping
from ..incidents.selection import RowCounts
from ..io.outputs import OutputFolder
from ..io.writers import write_csv, write_geojson
from ..maps.outreach_page import outreach_page
from ..maps.webmap import basemap, build_map
from ..outreach.backtest import BacktestResult, backtest_worklist
from ..outreach.events import overdose_events, person_anchor, worklist_ids
from ..outreach.funnel import Attempts, funnel_table, practice_checks, read_attempts
from ..outreach.linkage import Linkage, LinkSettings, link_records
from ..outreach.persons import PERSON_ROLES, find_person_columns, person_fields
from ..outreach.places import PlaceSettings, canvass_places
from ..outreach.public import (
    as_of_record,
    as_of_words,
    backtest_view,
    linkage_view,
    place_areas,
    place_window_counts,
    places_view,
    public_backtest,
    public_funnel,
    public_places,
    shows_persons,
    worklist_view,
)
from ..outreach.worklist import PRIORITY_PARTS, WorklistSettings, build_worklist
from ..projection import lonlat_of, project_points
from ..publish.gate import Products
from ..publish.restricted import Gate
from ..runrecord import RunRecord
from ..schema import INCIDENT_ID, OCCURRED_AT, OUTCOME, SOURCE_ROW, detect_columns, has_location
from .common import (
    JobSettings,
    input_source,
    latest_time,
    locate_addresses,
    open_gate,
    parse_as_of,
    pick_audience,
    run_job,
    save_map_and_record,
    select_incidents,
)

__all__ = ["OutreachRun", "OutreachSettings", "analyse_outreach", "read_outreach_sources", "run_outreach"]

log = logging.getLogger(__name__)

#: What the page says (and the log) when the records give dates without times, or no outcome.
DATE_ONLY_NOTE = ("most recent records have a date and no time: the hours and tiers count from midnight, so an "
                  "overdose may be up to a day more recent than the list says")
UNKNOWN_OUTCOME_NOTE = ("some records do not say whether the overdose was fatal: they are listed as survivors unless "
                        "another record of the same overdose says fatal")
#: Visits a morning in the backtest when --capacity is not given, and the mornings it replays.
BACKTEST_CAPACITY = 10
BACKTEST_DAYS = 90
#: The funnel by area: ZIP codes where the records have them, else H3 cells of this resolution.
FUNNEL_AREA_RESOLUTION = 7


@dataclass(frozen=True)
class OutreachSettings(JobSettings):
    """Settings of ``odgeo outreach`` (None: the default, see :mod:`odgeo.defaults`).

    Attributes
    ----------
    as_of
        When the list is made (default: the latest record's time).
    key_file
        The team's secret key for worklist ids (made when missing; keep it outside ``out_dir``,
        with the same care as the data: the same key gives the same ids every day).
    person_columns
        Person role → column, where names are not recognised (:data:`odgeo.outreach.persons.PERSON_ALIASES`).
    keep_columns
        Contact columns carried into the worklist as given (``phone``, ``address``).
    attempts
        The team's contact attempts (one row per try): the funnel and the practice checks.
    window_hours, new_hours, catchup_days, repeat_days, capacity, weights
        The worklist's tiers, repeat window, today's capacity and priority weights.
    link_minutes, link_m
        How close two records of different sources must be to be one overdose.
    place_days, place_resolution, place_min
        Places to canvass: the window, the H3 resolution and the overdoses a place needs.
    max_attempts
        The practice check's cap on tries per overdose.
    clusters
        Look for active space-time clusters (the scan) for the priority and the places.
    backtest
        Replay the last 90 mornings: the share of people who overdosed again within 30 days that the
        first ``capacity`` rows (default 10) reached first, by priority and by most recent first.
    """

    as_of: str | None = None
    key_file: str | None = None
    person_columns: dict[str, str] = field(default_factory=dict)
    keep_columns: tuple[str, ...] = ()
    attempts: str | None = None
    window_hours: float | None = None
    new_hours: float | None = None
    catchup_days: float | None = None
    repeat_days: float | None = None
    capacity: int | None = None
    weights: dict[str, float] = field(default_factory=dict)
    link_minutes: float | None = None
    link_m: float | None = None
    place_days: float | None = None
    place_resolution: int | None = None
    place_min: int | None = None
    max_attempts: int | None = None
    clusters: bool | None = None
    backtest: bool | None = None

    def outside_out(self) -> dict[str, str]:
        """The key file and the attempts file too: a run replaces ``out_dir`` as a whole."""
        paths = {"key_file": self.key_file, "attempts": self.attempts}
        return {**super().outside_out(), **{k: v for k, v in paths.items() if v}}


@dataclass
class OutreachRun:
    """Everything ``odgeo outreach`` made (restricted figures; the files go through the gate).

    Attributes
    ----------
    read, records
        Every source's records and rejects (combined), and the records used with their event and person numbers.
    linkage, events
        The links and the per-pair report; one row per overdose with its worklist id.
    worklist, places, funnel, checks, attempts
        The team's products (``funnel``, ``checks`` and ``attempts`` with an attempts file).
    as_of, record, audience, gate, rows
        When the list was made, the run record, the audience and its gate, where every row went.
    map, summary_html, shown_places, shown_funnel
        The map, the page, and places.geojson and funnel.csv as the audience sees them.
    """

    read: IncidentRead  # every source's records and rejects, combined
    records: pd.DataFrame  # one row per record used, with its event and person numbers
    linkage: Linkage
    events: pd.DataFrame  # one row per overdose
    worklist: pd.DataFrame
    places: gpd.GeoDataFrame
    funnel: pd.DataFrame | None
    checks: pd.DataFrame | None
    attempts: Attempts | None
    as_of: pd.Timestamp
    record: RunRecord
    audience: str
    gate: Gate
    rows: RowCounts
    map: folium.Map
    summary_html: str
    shown_places: gpd.GeoDataFrame  # places.geojson as the audience sees it
    shown_funnel: pd.DataFrame | None  # funnel.csv as the audience sees it
    backtest: BacktestResult | None = None
    shown_backtest: pd.DataFrame | None = None  # backtest.csv as the audience sees it
    shown_funnel_by_area: pd.DataFrame | None = None  # funnel_by_area.csv as the audience sees it


def run_outreach(paths, out_dir, settings: OutreachSettings | None = None, *, overwrite: bool = False,
                 progress: Callable[[str], None] | None = None) -> OutreachRun:
    """Read the sources, link them, and write the worklist, places, funnel and summary into ``out_dir``.

    Parameters
    ----------
    paths
        One or more incident files (EMS, police, ED); their file names name the sources.
    out_dir
        The output folder (checked, locked and written aside before anything else).
    settings
        Every setting (see :class:`OutreachSettings`).
    overwrite
        Replace a non-empty ``out_dir`` as a whole.
    progress
        Called with a few words before each step.

    Returns
    -------
    OutreachRun
    """
    settings = settings or OutreachSettings()
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not paths:
        raise ParameterError("give at least one incident file")
    return run_job("outreach", paths[0], out_dir, settings, overwrite=overwrite, progress=progress,
                   read_input=lambda record, say: read_outreach_sources(paths, settings, record, say),
                   analyse=lambda read, **kw: analyse_outreach(read, settings, **kw), write=_write_products)


# --- reading ---------------------------------------------------------------------------------------


def read_outreach_sources(paths, settings: OutreachSettings, record: RunRecord,
                          say: Callable[[str], None] = lambda step: None) -> IncidentRead:
    """Read every source with its person columns; one combined read (ids made ``source:id``, rows ``N of file``)."""
    reads, described, kept_by_source = [], [], []
    names = _source_names(paths)
    for rank, (path, name) in enumerate(zip(paths, names)):
        say(f"reading {name}")
        source = input_source(path, settings)
        found: dict = {}

        def pick(columns, found=found):
            roles = detect_columns(columns, settings.columns)
            taken = {c for c in roles.values() if c}
            found["roles"] = find_person_columns(columns, _overrides_for(settings.person_columns, columns),
                                                 taken=taken)
            found["keep"] = [c for c in settings.keep_columns if c in columns]
            return sorted({c for c in found["roles"].values() if c} | set(found["keep"]))

        with record.timed("read"):
            read, kept = read_source_keeping(source, pick)
        read = locate_addresses(read, settings, record, say)
        kept_by_source.append(found["keep"])
        reads.append(_with_persons(read, kept, found["roles"], found["keep"], settings.keep_columns, name, rank))
        described.append({**read.source, "source": name, "n_rows": read.n_input,
                          "person_columns": {r: c for r, c in found["roles"].items() if c}})
    absent = [c for c in settings.keep_columns if not any(c in kept for kept in kept_by_source)]
    if absent:
        raise ColumnError(f"`keep_columns` {', '.join(absent)}: no source has such a column")
    combined = _combined(reads, len(paths) > 1)
    record.sections["input"] = {"path": ", ".join(str(p) for p in paths), "files": described}
    return combined


def _source_names(paths) -> list[str]:
    names = []
    for path in paths:
        stem = Path(str(path)).stem or "source"
        name, k = stem, 2
        while name in names:
            name, k = f"{stem}-{k}", k + 1
        names.append(name)
    return names


def _overrides_for(person_columns: dict[str, str], columns: list[str]) -> dict[str, str]:
    """The person column overrides that apply to this source (a police file may lack the EMS patient id)."""
    return {role: col for role, col in person_columns.items() if col in columns or role not in PERSON_ROLES}


def _with_persons(read: IncidentRead, kept: pd.DataFrame, roles: dict, keep_found: list[str],
                  keep_columns: tuple[str, ...], name: str, rank: int) -> IncidentRead:
    incidents = read.incidents.copy()
    fields = person_fields(kept, roles, incidents[SOURCE_ROW].to_numpy(), incidents[OCCURRED_AT])
    for col in fields.columns:
        incidents[col] = fields[col].to_numpy()
    rows = incidents[SOURCE_ROW].to_numpy() - 1
    for col in keep_columns:
        incidents[col] = (kept[col].iloc[rows].fillna("").astype(str).to_numpy() if col in keep_found else "")
    incidents["source"] = name
    incidents["source_rank"] = rank
    incidents["record_id"] = incidents[INCIDENT_ID].astype(str)
    if int(fields["unreadable_birth_date"].sum()):
        log.warning("%s: %d birth dates are not dates; those records are linked without them", name,
                    int(fields["unreadable_birth_date"].sum()))
    return IncidentRead(incidents, read.rejects, read.n_input, read.columns, read.source, read.notes)


def _combined(reads: list[IncidentRead], several: bool) -> IncidentRead:
    if not several:
        only = reads[0]
        return only
    incidents = pd.concat([r.incidents for r in reads], ignore_index=True)
    incidents[INCIDENT_ID] = incidents["source"] + ":" + incidents["record_id"]
    rejects = []
    for r in reads:
        table = r.rejects.copy()
        name = Path(str(r.source.get("path", ""))).name
        table["row"] = [f"{row} of {name}" for row in table["row"]]
        rejects.append(table)
    notes: dict[str, int] = {}
    for r in reads:
        for k, v in r.notes.items():
            notes[k] = notes.get(k, 0) + v
    return IncidentRead(gpd.GeoDataFrame(incidents, geometry="geometry", crs=reads[0].incidents.crs),
                        pd.concat(rejects, ignore_index=True), sum(r.n_input for r in reads), reads[0].columns,
                        {"path": ", ".join(str(r.source.get("path", "")) for r in reads), "format": "several"},
                        notes)


# --- analysis --------------------------------------------------------------------------------------


def analyse_outreach(read: IncidentRead, settings: OutreachSettings, *, record: RunRecord | None = None,
                     progress: Callable[[str], None] | None = None) -> OutreachRun:
    """Link the records and make the worklist, places and funnel (nothing is written).

    Parameters
    ----------
    read
        The records of every source (:func:`read_outreach_sources`).
    settings
        Every setting (see :class:`OutreachSettings`).
    record
        The run record to fill (default: a new one).
    progress
        Called with a few words before each step.

    Returns
    -------
    OutreachRun
        The worklist, places, funnel, linkage and the page (files not yet written).
    """
    record = record or RunRecord("outreach")
    say = progress or (lambda step: None)
    audience = pick_audience(record, settings)
    tz = str(read.incidents[OCCURRED_AT].dt.tz or settings.timezone or "UTC")
    given = parse_as_of(settings.as_of, tz, read.incidents[OCCURRED_AT])
    read, _used, rows = select_incidents(read, settings, record, require_dates="odgeo outreach",
                                         as_of=None if given is None else given)
    as_of = given if given is not None else latest_time(read.incidents[OCCURRED_AT].dropna())
    gate = open_gate(record, settings, audience, ledger_settings=_ledger_settings(settings))
    record.param("as_of", as_of_record(gate, as_of), "given" if given is not None else "default",
                 None if given is not None else "the latest record")
    wl = _worklist_settings(settings, record)
    link = LinkSettings(minutes=float(record.pick("link_minutes", settings.link_minutes, defaults.LINK_MINUTES)),
                        metres=float(record.pick("link_m", settings.link_m, defaults.LINK_M)))
    place = PlaceSettings(days=float(record.pick("place_days", settings.place_days, defaults.PLACE_DAYS)),
                          resolution=int(record.pick("place_resolution", settings.place_resolution,
                                                     defaults.PLACE_RESOLUTION)),
                          min_events=int(record.pick("place_min", settings.place_min, defaults.PLACE_MIN)))
    max_attempts = int(record.pick("max_attempts", settings.max_attempts, defaults.MAX_ATTEMPTS))
    say("linking the sources")
    records = _records(read.incidents)
    with record.timed("linkage"):
        linkage = link_records(records, link)
    records["event"], records["person"] = linkage.event, linkage.person
    page_notes = []
    unknown = int((records[OUTCOME] == "unknown").sum())
    if unknown:
        log.warning("%s records do not say whether the overdose was fatal: they are listed as survivors unless "
                    "another record of the same overdose says fatal (`outcomes` nonfatal lists only those marked "
                    "non-fatal)", f"{unknown:,}")
        page_notes.append(UNKNOWN_OUTCOME_NOTE)
    record.sections["linkage"] = {"minutes": link.minutes, "metres": link.metres, "pairs": linkage.report,
                                  "n_records": len(records), "n_overdoses": len(np.unique(linkage.event)),
                                  "n_persons": len(np.unique(linkage.person))}
    events = overdose_events(records, list(settings.keep_columns))
    events["area"] = _funnel_areas(events)
    page_notes += _warn_about_times(events, as_of, wl)
    key = _team_key(settings, shows_persons(gate))
    anchors = person_anchor(records)
    events["worklist_id"] = worklist_ids(anchors, key).reindex(events["person"]).to_numpy()
    attempts = _attempts(settings, records, events, tz) if settings.attempts else None
    say("looking for active clusters")
    cluster_p = _active_clusters(events, as_of, settings, record)
    worklist = build_worklist(events, attempts.rows if attempts else _no_attempts(), as_of, wl, cluster_p)
    clustered = events["event"].isin(cluster_p.index).to_numpy()
    places = canvass_places(events, as_of, place, clustered)
    funnel = checks = by_area = None
    if attempts is not None:
        funnel = funnel_table(events, attempts.rows, as_of)
        by_area = funnel_table(events, attempts.rows, as_of, by="area")
        checks = practice_checks(events, attempts.rows, as_of, max_attempts)
    record.sections["worklist"] = _worklist_section(worklist, wl)
    record.sections["places"] = {"n_places": len(places), "by_status": places["status"].value_counts().to_dict()}
    if attempts is not None and checks is not None:
        record.sections["attempts"] = {"n_input": attempts.n_input, "n_used": len(attempts.rows),
                                       "n_rejected": len(attempts.rejects),
                                       "practice_checks": checks["check"].value_counts().to_dict()}
    trial = shown_trial = None
    if settings.backtest:
        say("replaying the last 90 mornings")
        with record.timed("backtest"):
            trial = backtest_worklist(events, as_of, wl, days=BACKTEST_DAYS,
                                      capacity=int(wl.capacity or BACKTEST_CAPACITY))
        record.sections["backtest"] = {"n_mornings": trial.n_mornings, "capacity": trial.capacity,
                                       "horizon_days": trial.horizon_days, "n_repeats": trial.n_repeats,
                                       "orderings": trial.table.to_dict("records")}
        shown_trial = public_backtest(gate, trial)
        gate.view_section("backtest", lambda s: backtest_view(gate, s))
    gate.view_section("linkage", lambda s: linkage_view(gate, s))
    gate.view_section("worklist", lambda s: worklist_view(gate, s))
    gate.view_section("places", lambda s: places_view(gate, s, shown_places))
    areas = place_areas(gate, place_window_counts(events, place, as_of))
    fmap = _map(settings, gate, areas, place, as_of)
    shown_places = public_places(gate, places, areas, place)
    shown_funnel = None if funnel is None else public_funnel(gate, funnel)
    shown_by_area = None if by_area is None else public_funnel(gate, by_area)
    html = outreach_page(gate=gate, as_of=as_of, worklist=worklist, places=shown_places, funnel=shown_funnel,
                         checks=checks, linkage=linkage.report, window_hours=wl.window_hours, place_days=place.days,
                         title=settings.title or "Post-overdose outreach", notes=page_notes)
    return OutreachRun(read, records, linkage, events, worklist, places, funnel, checks, attempts, as_of, record,
                       audience, gate, rows, fmap, html, shown_places, shown_funnel, trial, shown_trial,
                       shown_by_area)


def _funnel_areas(events: pd.DataFrame) -> np.ndarray:
    """Each overdose's area for the funnel: its ZIP, else its H3 resolution-7 cell (about 5 km²), else "unknown"."""
    zips = events["zip"].fillna("").astype(str).str.strip().to_numpy()
    cells = points_to_cells(events["lon"].to_numpy(float), events["lat"].to_numpy(float), FUNNEL_AREA_RESOLUTION)
    names = np.array(cell_strs(cells), dtype=object)
    names[cells == 0] = "unknown"
    return np.where(zips != "", zips, names)


def _warn_about_times(events: pd.DataFrame, as_of: pd.Timestamp, wl: WorklistSettings) -> list[str]:
    """Say when the list's hours cannot be trusted (dates without times); the page's note, if any."""
    recent = events[events["occurred_at"] > as_of - pd.Timedelta(days=wl.catchup_days)]
    local = recent["occurred_at"].dt.tz_localize(None)
    if len(recent) and (local == local.dt.normalize()).mean() > 0.5:
        log.warning(DATE_ONLY_NOTE)
        return [DATE_ONLY_NOTE]
    return []


def _ledger_settings(settings: OutreachSettings) -> dict:
    return {"command": "outreach", "place_resolution": settings.place_resolution or defaults.PLACE_RESOLUTION.value,
            "place_days": settings.place_days or defaults.PLACE_DAYS.value}


def _worklist_settings(settings: OutreachSettings, record: RunRecord) -> WorklistSettings:
    unknown = sorted(set(settings.weights) - set(PRIORITY_PARTS))
    if unknown:
        raise ParameterError(f"`weights`: unknown part(s) {', '.join(unknown)}; parts are {', '.join(PRIORITY_PARTS)}")
    weights = {k: float(settings.weights.get(k, v["weight"])) for k, v in PRIORITY_PARTS.items()}
    if any(w < 0 for w in weights.values()):
        raise ParameterError("`weights` must not be negative")
    wl = WorklistSettings(
        new_hours=float(record.pick("new_hours", settings.new_hours, defaults.NEW_HOURS)),
        window_hours=float(record.pick("window_hours", settings.window_hours, defaults.OUTREACH_WINDOW_HOURS)),
        catchup_days=float(record.pick("catchup_days", settings.catchup_days, defaults.CATCHUP_DAYS)),
        repeat_days=float(record.pick("repeat_days", settings.repeat_days, defaults.REPEAT_DAYS)),
        capacity=record.pick("capacity", settings.capacity, None, "every row is today's"),
        weights=weights)
    if not 0 < wl.new_hours < wl.window_hours <= wl.catchup_days * 24:
        raise ParameterError(f"`new_hours` ({wl.new_hours:g}) < `window_hours` ({wl.window_hours:g}) <= "
                             f"`catchup_days` × 24 ({wl.catchup_days * 24:g}) must hold")
    if wl.capacity is not None and int(wl.capacity) < 1:
        raise ParameterError(f"`capacity` must be a whole number >= 1, not {wl.capacity!r}")
    record.sections["priority"] = {k: {**v, "weight": weights[k]} for k, v in PRIORITY_PARTS.items()}
    return wl


def _records(incidents: gpd.GeoDataFrame) -> pd.DataFrame:
    """One row per record, as linkage compares them (metres in one local projection)."""
    dated = incidents[incidents[OCCURRED_AT].notna()].reset_index(drop=True)
    lon, lat, x, y = (np.full(len(dated), np.nan) for _ in range(4))
    ok = has_location(dated.geometry)  # an address not yet geocoded: linked by person, never by place
    if ok.any():
        lon[ok], lat[ok] = lonlat_of(dated.geometry[ok])
        x[ok], y[ok], _ = project_points(lon[ok], lat[ok])
    records = pd.DataFrame(dated.drop(columns="geometry"))
    records["t_ns"] = dated[OCCURRED_AT].dt.tz_convert("UTC").astype("int64").to_numpy()
    records["lon"], records["lat"], records["x_m"], records["y_m"] = lon, lat, x, y
    records["address"] = records["address"].fillna("").astype(str)
    records[OUTCOME] = records[OUTCOME].astype(str)
    return records


def _team_key(settings: OutreachSettings, writes_ids: bool) -> bytes:
    """The team's key: read from ``key_file`` (made when missing); a public run without one uses a throwaway key."""
    if settings.key_file is None:
        if writes_ids:
            raise ParameterError("a restricted outreach run needs `key_file`: the team's secret for worklist ids "
                                 "(made when missing; keep it outside the output folder and reuse it every day)")
        return secrets.token_bytes(32)  # ids never leave a public run
    path = Path(settings.key_file)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
        log.warning("made a new key file %s: keep it (the same key gives the same worklist ids every day) and "
                    "share it with no one outside the team", path)
    text = path.read_text(encoding="utf-8").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError as err:
        raise InputFileError(f"`key_file` {path} is not a key odgeo made (64 hexadecimal characters); restore it "
                             "or give a new path (new ids)") from err
    if len(key) < 16:
        raise InputFileError(f"`key_file` {path} holds a key of {len(key)} bytes; odgeo makes 32")
    return key


def _no_attempts() -> pd.DataFrame:
    return pd.DataFrame({"worklist_id": pd.Series(dtype=object), "attempted_at": pd.Series(dtype="datetime64[ns, UTC]"),
                         "result": pd.Series(dtype=object), "reached": pd.Series(dtype=bool)})


def _attempts(settings: OutreachSettings, records: pd.DataFrame, events: pd.DataFrame, tz: str) -> Attempts:
    wid_of_event = dict(zip(events["event"], events["worklist_id"]))
    ids = records.groupby("record_id")["event"].agg(lambda s: s.iloc[0] if s.nunique() == 1 else None).dropna()
    by_record = {rid: wid_of_event[int(ev)] for rid, ev in ids.items()}
    return read_attempts(settings.attempts, timezone=tz, ids_of_records=by_record,
                         known_ids=set(events["worklist_id"]))


def _active_clusters(events: pd.DataFrame, as_of: pd.Timestamp, settings: OutreachSettings,
                     record: RunRecord) -> pd.Series:
    """Per event number inside an active space-time cluster (the prospective scan, SOON's settings), its p-value."""
    on = bool(record.pick("clusters", settings.clusters, True, "the prospective scan with Project SOON's settings"))
    if not on:
        return pd.Series(dtype=float)
    from ..incidents.dates import calendar_day
    from ..scan.cases import cluster_frame, scan_cases
    from ..scan.statistic import ScanSettings, scan

    options = ScanSettings(window_days=defaults.WINDOW_DAYS.value, max_days=defaults.MAX_DAYS.value,
                           max_radius_m=defaults.MAX_RADIUS_M.value, min_cases=defaults.MIN_CASES.value,
                           permutations=defaults.SCAN_PERMUTATIONS.value, seed=defaults.SEED.value,
                           report_p=defaults.REPORT_P.value, retrospective=False).check()
    last_day = calendar_day(as_of - pd.Timedelta(1, "ns"))
    first_day = calendar_day(last_day, -(options.window_days - 1))
    window = events[(events["occurred_at"] >= first_day) & (events["occurred_at"] <= as_of) & events["lon"].notna()]
    if len(window) < options.min_cases:
        return pd.Series(dtype=float)
    used = gpd.GeoDataFrame({OCCURRED_AT: window["occurred_at"].to_numpy()},
                            geometry=gpd.points_from_xy(window["lon"], window["lat"]), crs="EPSG:4326")
    with record.timed("scan"):
        cases = scan_cases(used, first_day)
        sx, sy, sz = cases.scan_coordinates()
        result = scan(cases.location, cases.day, sx, sy, options.window_days, options, z=sz)
    clusters = cluster_frame(result, cases, first_day)
    p = pd.Series(np.nan, index=window["event"].to_numpy())
    points = shapely.points(window["lon"].to_numpy(), window["lat"].to_numpy())
    day = window["occurred_at"].dt.strftime("%Y-%m-%d").to_numpy()
    for row in clusters.sort_values("p_value", ascending=False).itertuples():
        inside = shapely.contains(row.geometry, points) & (day >= row.start_date) & (day <= row.end_date)
        p[inside] = row.p_value  # the rarest cluster holding an event wins (sorted last)
    record.sections["clusters"] = {"method": "prospective space-time permutation scan", "n_clusters": len(clusters)}
    return p.dropna()


def _worklist_section(worklist: pd.DataFrame, wl: WorklistSettings) -> dict:
    tiers = worklist["tier"].value_counts().to_dict() if len(worklist) else {}
    return {"n_rows": len(worklist), "by_tier": {t: int(tiers.get(t, 0)) for t in ("new", "due", "overdue",
                                                                                   "catch-up")},
            "n_today": int((worklist["today"] == "yes").sum()) if len(worklist) else 0}


def _map(settings: OutreachSettings, gate: Gate, areas: gpd.GeoDataFrame, place: PlaceSettings,
         as_of: pd.Timestamp) -> folium.Map:
    products = gate.label(Products(gate.audience, hexes=areas, grid=None, hotspots=None, clusters=None))
    return build_map(products, title=settings.title or "Places to canvass",
                     subtitle=f"Overdoses of the {place.days:g} days to {as_of_words(gate, as_of)}",
                     notes=["Hexagons: overdoses per place (H3 resolution "
                            f"{place.resolution}); places.geojson lists the places to canvass."],
                     tiles=basemap(settings.tiles))


# --- writing ---------------------------------------------------------------------------------------


def _write_products(run: OutreachRun, folder: OutputFolder) -> list[Path]:
    gate = run.gate
    totals = gate.totals(run.rows.as_record())
    written = [write_csv(gate.rejects(run.read.rejects, totals), folder.path("rejects.csv"))]
    written.append(write_geojson(run.shown_places, folder.path("places.geojson")))
    if run.shown_funnel is not None:
        written.append(write_csv(run.shown_funnel, folder.path("funnel.csv")))
    if run.shown_funnel_by_area is not None:
        written.append(write_csv(run.shown_funnel_by_area, folder.path("funnel_by_area.csv")))
    if run.shown_backtest is not None:
        written.append(write_csv(run.shown_backtest, folder.path("backtest.csv")))
    if shows_persons(gate):
        written.append(write_csv(_worklist_file(run.worklist), folder.path("worklist.csv")))
        written.append(write_csv(run.linkage.links, folder.path("linkage.csv")))
        if run.checks is not None:
            written.append(write_csv(run.checks, folder.path("practice_checks.csv")))
        if run.attempts is not None:
            written.append(write_csv(run.attempts.rejects, folder.path("attempts_rejects.csv")))
    summary = folder.path("summary.html")
    summary.write_text(run.summary_html, encoding="utf-8")
    written.append(summary)
    return save_map_and_record(run.map, run.record, folder, written, gate)


def _worklist_file(worklist: pd.DataFrame) -> pd.DataFrame:
    table = worklist.copy()
    for col in ("due_by", "overdose_at"):
        if col in table:
            table[col] = table[col].map(lambda t: f"{t:%Y-%m-%d %H:%M%z}")
    return table
