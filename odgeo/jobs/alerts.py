"""``odgeo alerts``: the daily early-warning job (spike alerts, neighbour alerts, EARS, history, backtest)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from .. import defaults
from ..alerts.areas import (
    ALL_AREAS,
    AlertAreas,
    h3_areas,
    named_areas,
    polygon_areas,
    read_neighbour_pairs,
)
from ..alerts.backtest import Backtest, backtest
from ..alerts.drugs import NEW_DRUG_MONTHS, DrugWatch, drug_alerts
from ..alerts.ears import DEFAULT_Z, EARS_METHODS
from ..alerts.history import AlertHistory, history_key
from ..alerts.public import alert_files, drug_panel, public_drug_alerts
from ..alerts.spikes import DailySeries, ThresholdRule, alert_row, current_alerts, daily_series, rule_record
from ..drugs.columns import carried, incident_flags
from ..engine.compiled import compiling_note
from ..errors import ParameterError
from ..incidents.dates import calendar_day
from ..incidents.read import IncidentRead
from ..incidents.selection import RowCounts
from ..io.outputs import OutputFolder
from ..io.writers import write_csv
from ..maps.summary import alert_sentence, area_heading, chance_phrase, moment_text, summary_page
from ..maps.webmap import basemap, build_map
from ..publish.gate import AlertFiles, Products
from ..publish.restricted import Gate
from ..report.populations import AREA_NAME
from ..runrecord import RunRecord
from ..schema import OCCURRED_AT, find_column
from ..vocabulary import plural
from .common import (
    JobSettings,
    counted_words,
    involving,
    latest_time,
    open_gate,
    parse_as_of,
    pick_audience,
    read_carrying,
    run_job,
    save_map_and_record,
    select_incidents,
    selection_settings,
)

__all__ = ["AlertRun", "AlertSettings", "analyse_alerts", "run_alerts"]

@dataclass(frozen=True)
class AlertSettings(JobSettings):
    """Settings of ``odgeo alerts``; None means the default.

    as_of: the reference time ("YYYY-MM-DD": the end of that day; default: the
    latest incident). areas / area_name_col: polygons and their name column
    (default: H3 cells at ``resolution``, 7). neighbours: "auto" (touching areas),
    "none", or a CSV of name pairs. threshold: "recommended" or a count.
    window_hours: the alert window (24). scan / scan_max_p: add the clusters of
    ``odgeo scan`` (its defaults) with a p-value up to scan_max_p (0.01). ears: methods ("c1", "c2", "c3"); ears_z:
    z per method; ears_min_sd: the EARS minimum SD (0.5). history: the alert
    history file. backtest: replay the methods over the history. watch_drugs: drug groups
    watched for spikes, first appearances and rising shares (:mod:`odgeo.alerts.drugs`);
    new_drug_months: how long a group must be absent to appear "for the first time" (12).
    area_col: the incident column naming each one's area among the polygons of ``areas`` (ZIP or
    county), for records without coordinates such as ESSENCE's ED visits.
    """

    as_of: str | None = None
    areas: str | None = None
    area_name_col: str | None = None
    resolution: int | None = None
    neighbours: str | None = None
    threshold: str | int | None = None
    window_hours: float | None = None
    ears: tuple[str, ...] | None = None
    ears_z: float | None = None
    ears_min_sd: float | None = None
    history: str | None = None
    backtest: bool | None = None
    scan: bool | None = None
    scan_max_p: float | None = None
    watch_drugs: tuple[str, ...] | None = None
    new_drug_months: int | None = None
    area_col: str | None = None

    def state_files(self) -> dict[str, str]:
        """The ledger and the alert history (see :meth:`JobSettings.state_files`)."""
        return {**super().state_files(), **({"history": self.history} if self.history else {})}


@dataclass
class AlertRun:
    """Everything ``odgeo alerts`` produced, for notebooks and the writers.

    Attributes
    ----------
    read, incidents
        The incidents read (with their rejects) and the located ones used.
    areas, series
        The watched areas and their daily counts.
    as_of
        The reference time (the end of the alert window).
    alerts
        This run's alerts, exact, with their status from the history.
    files
        What the audience may see of the alerts and the EARS table.
    backtest, history
        The backtest (``backtest=True``) and the alert history (``history``), or None.
    map, summary_html
        The HTML map and summary.html.
    record
        The run record (run.json before the gate).
    audience, gate
        The audience, and the publishing gate that made every file written.
    rows
        Where every input row went (written as run.json's ``counts``).
    """

    read: IncidentRead
    incidents: gpd.GeoDataFrame
    areas: AlertAreas
    series: DailySeries
    as_of: pd.Timestamp
    alerts: pd.DataFrame  # this run's alerts, exact (status from the history)
    files: AlertFiles  # what the audience may see
    backtest: Backtest | None
    history: AlertHistory | None
    map: folium.Map
    summary_html: str
    record: RunRecord
    audience: str
    gate: Gate
    rows: RowCounts  # where every input row went (run.json's counts)


def run_alerts(path, out_dir, settings: AlertSettings | None = None, *, overwrite: bool = False,
               progress: Callable[[str], None] | None = None) -> AlertRun:
    """Read ``path``, compute today's alerts and write alerts.csv, ears.csv, summary.html, map.html, run.json.

    Parameters
    ----------
    path
        The incident file, folder or database URL.
    out_dir
        The output folder (checked, locked and written aside before anything else).
    settings
        Every setting (see :class:`AlertSettings`; None: the defaults).
    overwrite
        Replace a non-empty ``out_dir`` as a whole.
    progress
        Called with a few words before each step.

    Returns
    -------
    AlertRun
        What was computed and written.
    """
    settings = settings or AlertSettings()
    read_input = None
    # The watched groups are read from the drug columns; an area column names each incident's area.
    columns = tuple(settings.drug_columns or ()) if settings.watch_drugs else ()
    if columns or settings.area_col:

        def pick(names: list[str], taken: set[str]) -> dict[str, str | None]:
            found = {carried(c): find_column(names, (), c, path=path, option="`drug_columns`") for c in columns}
            if settings.area_col:
                found[AREA_NAME] = find_column(names, (), settings.area_col, path=path, option="`area_col`")
            return found

        def read_input(record: RunRecord, say: Callable[[str], None]) -> IncidentRead:
            return read_carrying(path, selection_settings(settings), record, say, pick,
                                 wanted={"drug_columns": columns, "area_col": settings.area_col},
                                 place_column=settings.area_col,
                                 section="carried_columns" if settings.area_col else "drug_columns")

    return run_job("alerts", path, out_dir, selection_settings(settings), overwrite=overwrite, progress=progress,
                   analyse=lambda read, **kw: analyse_alerts(read, settings, **kw), write=_write_products,
                   read_input=read_input)


def _write_products(run: AlertRun, folder: OutputFolder) -> list[Path]:
    totals = run.gate.totals(run.rows.as_record())
    written = [write_csv(run.files.alerts, folder.path("alerts.csv")),
               write_csv(run.files.ears, folder.path("ears.csv")),
               write_csv(run.gate.rejects(run.read.rejects, totals), folder.path("rejects.csv"))]
    if run.backtest is not None:
        written.append(write_csv(run.backtest.table, folder.path("backtest.csv")))
    summary = folder.path("summary.html")
    summary.write_text(run.summary_html, encoding="utf-8")
    written.append(summary)
    paths = save_map_and_record(run.map, run.record, folder, written, run.gate)
    if run.history is not None:
        run.history.save(stage=folder.stage)  # put in place with the products, or not at all
    return paths


def analyse_alerts(read, settings: AlertSettings, *, record: RunRecord | None = None,
                   progress: Callable[[str], None] | None = None) -> AlertRun:
    """Compute the alerts for the reference time (nothing is written).

    Parameters
    ----------
    read
        The incidents, from :func:`odgeo.read_incidents`.
    settings
        Every setting (see :class:`AlertSettings`).
    record
        The run record to fill (None: a new one).
    progress
        Called with a few words before each step.

    Returns
    -------
    AlertRun
        The alerts (exact, and as the audience sees them), the daily series, the map,
        summary.html and the record.
    """
    record = record or RunRecord("alerts")
    say = progress or (lambda step: None)
    audience = pick_audience(record, settings)
    tz = str(read.incidents[OCCURRED_AT].dt.tz or settings.timezone or "UTC")
    given_as_of = parse_as_of(settings.as_of, tz, read.incidents[OCCURRED_AT])
    read, used, rows = select_incidents(read, selection_settings(settings), record, require_dates="odgeo alerts",
                                        as_of=given_as_of, unlocated_used=bool(settings.area_col))
    gate = open_gate(record, settings, audience, daily=True)  # run every morning
    times = used[OCCURRED_AT]
    as_of = given_as_of if given_as_of is not None else latest_time(times)
    say("counting incidents per area and day")
    areas = _areas(settings, used, record)
    window_hours = float(record.pick("window_hours", settings.window_hours, defaults.WINDOW_HOURS))
    series = daily_series(times, areas, as_of, window_hours=window_hours)
    rule, fixed = _threshold(settings, record, window_hours)
    methods = _methods(settings, record)
    ears_z = {m: float(settings.ears_z) if settings.ears_z is not None and m != "c3" else DEFAULT_Z[m]
              for m in EARS_METHODS}
    record.param("ears_z", ears_z, "given" if settings.ears_z is not None else "default",
                 "CDC: 3 SD for C1 and C2, a C3 sum of 2" if settings.ears_z is None else "C3 keeps 2")
    min_sd = float(record.pick("ears_min_sd", settings.ears_min_sd, defaults.EARS_MIN_SD))
    alerts, derivation, ears_table = current_alerts(series, areas, rule=rule, fixed=fixed, methods=methods,
                                                    ears_z=ears_z, min_sd=min_sd)
    scan_rows, rarity = _scan_alerts(settings, used, areas, as_of, record, say)
    drug_rows, watch = _drug_alerts(settings, used, areas, series, as_of, record, window_hours=window_hours,
                                    rule=rule, fixed=fixed, methods=methods, ears_z=ears_z, min_sd=min_sd)
    for extra in (scan_rows, drug_rows):
        if len(extra):
            alerts = pd.concat([alerts, extra], ignore_index=True)
    history = _history(settings, areas, read, tz)
    alerts = public_drug_alerts(gate, (history or AlertHistory.single_run()).update(alerts, as_of))
    files = alert_files(gate, alerts, ears_table, series.counts, series.names, series.days, derivation,
                             cells_are_areas=areas.source["kind"] == "h3")
    record.param("as_of", files.moment(as_of), "given" if given_as_of is not None else "default",
                 None if given_as_of is not None else "the latest incident (the end of its day when it has no time)")
    sentences = [alert_sentence(row, gate, files.time_format, window_hours, rarity, place=areas.place,
                                new_drug_months=watch.new_drug_months if watch else NEW_DRUG_MONTHS,
                                what=counted_words(used))
                 for row in alerts.itertuples(index=False)]
    files.alerts.insert(len(files.alerts.columns), "sentence", sentences)
    test = None
    if settings.backtest:
        say("backtesting the alert methods over the history")
        with record.timed("backtest"):
            test = backtest(series.counts, len(areas.names), ("threshold", *[f"ears_{m}" for m in methods]),
                            rule=rule or ThresholdRule(), fixed=fixed, ears_z=ears_z, min_sd=min_sd)
        record.sections["backtest"] = test.settings
    section = _summary_section(alerts, series, areas, files.moment(as_of), window_hours, rule)
    if "%H" not in files.time_format:  # the public: the first day and the number of days date the first incident
        section["first_day"] = section["first_day"][:7]
        section.pop("n_days")
    record.sections["alerts"] = section
    record.sections["thresholds"] = files.thresholds
    fmap = _map(settings, read, alerts, areas, files, gate, as_of)
    title = settings.title or f"Overdose spike alerts{involving(settings)}"
    page = summary_page(alerts=files.alerts, series=series, files=files, areas=areas, gate=gate, as_of=as_of,
                        backtest=test, title=title, source=read.source_name,
                        drugs=drug_panel(gate, record.sections.get("drug_alerts")), what=counted_words(used))
    return AlertRun(read, used, areas, series, as_of, alerts, files, test, history, fmap, page, record, audience,
                    gate, rows)




def _drug_alerts(settings: AlertSettings, used: gpd.GeoDataFrame, areas: AlertAreas, series, as_of: pd.Timestamp,
                 record: RunRecord, **rules) -> tuple[pd.DataFrame, DrugWatch | None]:
    """Alerts per drug group watched (:mod:`odgeo.alerts.drugs`), read from the suspected-drug column."""
    if not settings.watch_drugs:
        if settings.new_drug_months is not None:
            raise ParameterError("`new_drug_months` applies with `watch_drugs`")
        return pd.DataFrame(), None
    flags = incident_flags(used, tuple(settings.watch_drugs), columns=tuple(settings.drug_columns or ()),
                           terms_file=settings.drug_terms, option="watch_drugs")
    months = int(record.pick("new_drug_months", settings.new_drug_months, NEW_DRUG_MONTHS))
    if months < 1:
        raise ParameterError(f"`new_drug_months` must be 1 or more, not {months}")
    record.param("watch_drugs", list(settings.watch_drugs), "given")
    watch = DrugWatch(tuple(settings.watch_drugs), new_drug_months=months)
    columns = tuple(settings.drug_columns or ())
    rows, section = drug_alerts(flags, used[OCCURRED_AT], areas, series, as_of, watch, **rules)
    section["read_from"] = list(columns) or "the suspected-drug column"
    record.sections["drug_alerts"] = section
    return rows, watch


def _scan_alerts(settings: AlertSettings, used: gpd.GeoDataFrame, areas: AlertAreas, as_of: pd.Timestamp,
                 record: RunRecord, say: Callable[[str], None]) -> tuple[pd.DataFrame, dict[str, str]]:
    """Alerts of kind ``scan``: ``odgeo scan``'s clusters to the alert day, one per area (the strongest).

    A cluster's area is the area of its centre; the other areas its circle
    reaches are its related areas. Returns the rows and, by area, how rare the cluster is in words.
    """
    if not settings.scan:
        if settings.scan_max_p is not None:
            raise ParameterError("`scan_max_p` applies with `scan`")
        return pd.DataFrame(), {}
    max_p = float(record.pick("scan_max_p", settings.scan_max_p, defaults.SCAN_MAX_P))
    if not 0 < max_p <= 1:
        raise ParameterError(f"`scan_max_p` must be in (0, 1], not {max_p}")
    # The scan's compiled statistic, imported when a morning asks for it (not on every run's start).
    from ..scan.cases import scan_cases
    from ..scan.statistic import DEFAULT_SCAN, scan

    options = replace(DEFAULT_SCAN, report_p=max_p)
    last_day = calendar_day(as_of - pd.Timedelta(1, "ns"))
    first_day = calendar_day(last_day, -(options.window_days - 1))
    window = np.flatnonzero((used[OCCURRED_AT] >= first_day).to_numpy())
    say(f"scanning the last {options.window_days} days for space-time clusters"
        + compiling_note("odgeo.scan.statistic"))
    with record.timed("scan"):
        cases = scan_cases(used.iloc[window], first_day)
        sx, sy, sz = cases.scan_coordinates()
        result = scan(cases.location, cases.day, sx, sy, options.window_days, options, z=sz)
    area_of = dict(zip(areas.members[0].tolist(), areas.members[1].tolist()))
    rows: list[dict] = []
    rarity: dict[str, str] = {}
    for r in result.clusters.itertuples():
        inside = window[np.isin(cases.location, result.zones.members_of(r.centre, r.end))]
        centre = window[cases.location == r.centre][0]
        area = areas.names[area_of[centre]] if centre in area_of else ALL_AREAS
        if area in rarity:
            continue  # a weaker cluster in an area already in scan alert
        related = sorted({areas.names[area_of[i]] for i in inside.tolist() if i in area_of} - {area})
        start = calendar_day(first_day, int(r.first_day))
        rows.append(alert_row(area, "scan", start, as_of, r.observed, round(float(r.expected), 3), ", ".join(related)))
        rarity[area] = chance_phrase(float(r.recurrence_interval_days), options.permutations)
    record.sections["scan"] = {**{k: v for k, v in result.settings.items() if k in ("window_days", "max_days",
                                                                                    "max_radius_m", "min_cases",
                                                                                    "permutations", "seed")},
                               "max_p": max_p, "n_clusters": len(result.clusters), "n_scan_alerts": len(rows),
                               "defaults": "odgeo scan's (Baltimore's Project SOON; docs/scan.md)"}
    return pd.DataFrame(rows), rarity


def _areas(settings: AlertSettings, used: gpd.GeoDataFrame, record: RunRecord) -> AlertAreas:
    if settings.area_col:
        if not settings.areas:
            raise ParameterError("`area_col` names each incident's area among the polygons of `areas`; give "
                                 "`areas` FILE (ZIP or county polygons)")
        if settings.scan:
            raise ParameterError("`scan` looks for circles of points; with `area_col` the incidents have no points")
        areas = named_areas(settings.areas, used[AREA_NAME], name_col=settings.area_name_col,
                            column=settings.area_col)
        record.param("areas", Path(settings.areas).name, "given")
    elif settings.areas:
        if settings.resolution is not None:
            raise ParameterError("`resolution` applies to H3 areas; with `areas` the polygons are the areas")
        areas = polygon_areas(settings.areas, used, name_col=settings.area_name_col)
        record.param("areas", Path(settings.areas).name, "given")
    else:
        if settings.area_name_col:
            raise ParameterError("`area_name_col` needs `areas` FILE")
        resolution = int(record.pick("resolution", settings.resolution, defaults.ALERT_RESOLUTION))
        areas = h3_areas(used, resolution)
    given = settings.neighbours or "auto"
    record.param("neighbours", given if given in ("auto", "none") else Path(given).name,
                 "given" if settings.neighbours else "default",
                 "touching areas (H3: cells one ring apart)" if given == "auto" else None)
    if given == "none":
        areas.neighbours = {i: set() for i in range(len(areas.names))}
    elif given != "auto":
        areas.neighbours = read_neighbour_pairs(given, areas.names)
    return areas


#: The largest fixed --threshold: no area sees a billion overdoses in a window.
MAX_THRESHOLD = 10**9


def _threshold(settings: AlertSettings, record: RunRecord, window_hours: float) -> tuple[ThresholdRule | None,
                                                                                         int | None]:
    given = settings.threshold
    if given in (None, "recommended"):
        if window_hours != 24:
            raise ParameterError("`threshold` recommended comes from daily counts and needs `window_hours` 24; "
                                 "give `threshold` N for another window")
        rule = ThresholdRule()
        record.param("threshold", "recommended", "given" if given else "default", rule_record(rule))
        return rule, None
    try:
        fixed = int(given)
    except (TypeError, ValueError):
        fixed = 0
    if not 1 <= fixed <= MAX_THRESHOLD:  # above it, the daily counts' integers would overflow comparing
        raise ParameterError(f"`threshold` must be 'recommended' or a whole number from 1 to {MAX_THRESHOLD:,}, "
                             f"not {given!r}")
    record.param("threshold", fixed, "given")
    return None, fixed


def _methods(settings: AlertSettings, record: RunRecord) -> tuple[str, ...]:
    methods = tuple(m.strip().lower() for m in (settings.ears or EARS_METHODS) if m.strip())
    bad = [m for m in methods if m not in EARS_METHODS and m != "none"]
    if bad:
        raise ParameterError(f"`ears` takes {', '.join(EARS_METHODS)} or none, not {', '.join(bad)}")
    methods = tuple(m for m in methods if m != "none")
    record.param("ears", list(methods), "given" if settings.ears else "default")
    return methods


def _history(settings: AlertSettings, areas: AlertAreas, read, tz: str) -> AlertHistory | None:
    if not settings.history:
        return None
    key = history_key(areas.source, areas.names, dict(read.columns))
    return AlertHistory.open(settings.history, key, tz)


def _summary_section(alerts: pd.DataFrame, series: DailySeries, areas: AlertAreas, as_of: str,
                     window_hours: float, rule: ThresholdRule | None) -> dict:
    n_used = int(series.counts[:, -1].sum())
    return {
        "as_of": as_of, "window_hours": window_hours,
        "areas": areas.source, "n_days": len(series.counts), "first_day": series.days[0], "last_day": series.days[-1],
        "n_incidents_outside_areas": areas.n_outside(n_used),
        "n_incidents_without_time_left_out_of_window": series.n_without_time_in_window,
        "n_alerts": len(alerts),
        "by_kind": {k: int(v) for k, v in alerts["kind"].value_counts().sort_index().items()},
        "by_status": {k: int(v) for k, v in alerts["status"].value_counts().sort_index().items()},
        "threshold_rule": rule.describe() if rule else "given",
    }


def _map(settings: AlertSettings, read, alerts: pd.DataFrame, areas: AlertAreas, files: AlertFiles, gate: Gate,
         as_of: pd.Timestamp) -> folium.Map:
    frame = areas.frame()
    state = alerts[alerts["status"] != "ended"].groupby("area")["kind"].agg(lambda k: ", ".join(sorted(set(k))))
    sentence = files.alerts[files.alerts["status"] != "ended"].groupby("area")["sentence"].agg(" ".join)
    frame["alert"] = [state.get(n, "") for n in frame["name"]]
    frame["sentence"] = [sentence.get(n, "no alert") for n in frame["name"]]
    if files.shown_areas is not None:
        frame = frame[frame["name"].isin(files.shown_areas)].copy()
    frame["name"] = [area_heading(areas, n) for n in frame["name"]]  # a cell by a place, not its index
    products = gate.label(Products(gate.audience, hexes=None, grid=None, hotspots=None, clusters=None,
                                   alert_areas=gpd.GeoDataFrame(frame, geometry="geometry", crs=frame.crs),
                                   extent=tuple(areas.outlines.total_bounds)))
    source = read.source_name
    title = settings.title or f"Overdose spike alerts{involving(settings)}: {source}"
    n_live = int((alerts["status"] != "ended").sum())
    subtitle = f"as of {moment_text(as_of, files.time_format)} · {plural(n_live, 'alert')}"
    return build_map(products, title=title, subtitle=subtitle,
                     notes=["Areas in red are in alert; orange borders one in alert. See summary.html."],
                     tiles=basemap(settings.tiles))
