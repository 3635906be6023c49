"""``odgeo scan``: the prospective space-time permutation scan (SaTScan's model) as a daily job."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import folium
import geopandas as gpd
import pandas as pd

from .. import defaults
from ..engine.compiled import compiling_note
from ..errors import ParameterError
from ..hexes import DEFAULT_RESOLUTION, count_cells
from ..incidents.dates import calendar_day
from ..incidents.read import IncidentRead
from ..incidents.selection import RowCounts
from ..io.outputs import OutputFolder
from ..io.writers import write_csv
from ..maps.summary import scan_sentence
from ..maps.webmap import basemap, build_map
from ..publish.audience import check_audience_options
from ..publish.gate import Products
from ..publish.restricted import Gate
from ..runrecord import RunRecord
from ..scan.cases import cluster_frame, scan_cases
from ..scan.public import scan_cluster_files, scan_section
from ..scan.satscan import write_satscan_input
from ..scan.statistic import ScanResult, ScanSettings, scan
from ..schema import OCCURRED_AT
from ..vocabulary import LOCATION_KINDS
from .common import (
    JobSettings,
    involving,
    latest_time,
    open_gate,
    parse_as_of,
    pick_audience,
    run_job,
    save_map_and_record,
    select_incidents,
    set_aside_before,
)

__all__ = ["ScanJobSettings", "ScanRun", "analyse_scan", "run_scan"]



@dataclass(frozen=True)
class ScanJobSettings(JobSettings):
    """Settings of ``odgeo scan`` (None: the default; see :class:`odgeo.scan.statistic.ScanSettings`).

    as_of: the last day of the study window (default: the latest incident's day).
    locations: "points" (distinct incident coordinates, as SaTScan's case
    locations) or "h3" (H3 cell centres at ``location_resolution``).
    export_satscan: a folder for the same analysis as SaTScan input files.
    """

    as_of: str | None = None
    window_days: int | None = None
    max_days: int | None = None
    max_radius_m: float | None = None
    min_cases: int | None = None
    permutations: int | None = None
    seed: int | None = None
    report_p: float | None = None
    retrospective: bool | None = None
    locations: str | None = None
    location_resolution: int | None = None
    export_satscan: str | None = None

    def outside_out(self) -> dict[str, str]:
        """The SaTScan export too: inside ``out_dir`` the folder swap would delete it (see JobSettings)."""
        return {**super().outside_out(), **({"export_satscan": self.export_satscan} if self.export_satscan else {})}


@dataclass
class ScanRun:
    """Everything ``odgeo scan`` produced, for notebooks and the writers.

    Attributes
    ----------
    read, incidents
        The incidents read (with their rejects) and the study window's located ones.
    result
        The scan's clusters and settings.
    clusters
        Restricted: circles, centres and exact figures.
    files
        What the audience may see (scan_clusters.csv and .geojson).
    as_of, first_day
        The end of the study window and its first day.
    map
        The HTML map.
    record
        The run record (run.json before the gate).
    audience, gate
        The audience, and the publishing gate that made every file written.
    rows
        Where every input row went (written as run.json's ``counts``).
    """

    read: IncidentRead
    incidents: gpd.GeoDataFrame  # the study window's located incidents
    result: ScanResult
    clusters: gpd.GeoDataFrame  # restricted: circles, centres, exact figures
    files: gpd.GeoDataFrame  # what the audience may see (scan_clusters.csv / .geojson)
    as_of: pd.Timestamp
    first_day: pd.Timestamp
    map: folium.Map
    record: RunRecord
    audience: str
    gate: Gate
    rows: RowCounts  # where every input row went (run.json's counts)


def run_scan(path, out_dir, settings: ScanJobSettings | None = None, *, overwrite: bool = False,
             progress: Callable[[str], None] | None = None) -> ScanRun:
    """Read ``path``, scan the study window and write scan_clusters.csv/.geojson, map.html, run.json.

    Parameters
    ----------
    path
        The incident file (dated: the scan needs every incident's day).
    out_dir
        The output folder (checked, locked and written aside before anything else).
    settings
        Every setting (see :class:`ScanJobSettings` and :class:`odgeo.scan.statistic.ScanSettings`).
    overwrite
        Replace a non-empty ``out_dir`` as a whole.
    progress
        Called with a few words before each step.

    Returns
    -------
    ScanRun
        The clusters (exact and as the audience sees them), the map and the run record.

    Raises
    ------
    ParameterError
        If a setting is out of range, or --export-satscan is asked for a public run.
    OutputExistsError
        If ``out_dir`` holds files and ``overwrite`` is False (checked first).
    """
    settings = settings or ScanJobSettings()
    if settings.export_satscan:
        check_audience_options(settings.audience, writes_points="`export_satscan` writes every incident's "
                                                                "coordinates and day (SaTScan's input)")
    return run_job("scan", path, out_dir, settings, overwrite=overwrite, progress=progress,
                   analyse=lambda read, **kw: analyse_scan(read, settings, **kw), write=_write_products)


def _write_products(run: ScanRun, folder: OutputFolder) -> list[Path]:
    totals = run.gate.totals(run.rows.as_record())
    table = pd.DataFrame(run.files.drop(columns="geometry"))
    written = [write_csv(table, folder.path("scan_clusters.csv")),
               write_csv(run.gate.rejects(run.read.rejects, totals), folder.path("rejects.csv"))]
    geojson = folder.path("scan_clusters.geojson")
    geojson.write_text(run.files.to_json(drop_id=True), encoding="utf-8")
    written.append(geojson)
    return save_map_and_record(run.map, run.record, folder, written, run.gate)


def analyse_scan(read, settings: ScanJobSettings, *, record: RunRecord | None = None,
                 progress: Callable[[str], None] | None = None) -> ScanRun:
    """Scan the study window ending on the --as-of day (nothing is written but the SaTScan export).

    Parameters
    ----------
    read
        The incidents as read (:func:`odgeo.read_incidents`).
    settings
        Every setting (see :class:`ScanJobSettings`).
    record
        The run record to fill (default: a new one).
    progress
        Called with a few words before each step.

    Returns
    -------
    ScanRun
        The clusters (exact and as the audience sees them), the map and the run record.
    """
    record = record or RunRecord("scan")
    say = progress or (lambda step: None)
    audience = pick_audience(record, settings)
    options = _scan_settings(settings, record)
    tz = str(read.incidents[OCCURRED_AT].dt.tz or settings.timezone or "UTC")
    given_as_of = parse_as_of(settings.as_of, tz, read.incidents[OCCURRED_AT])
    # The study window ends with the --as-of day: a date-only incident of the next day (its midnight) is after it.
    read, used, rows = select_incidents(read, settings, record, require_dates="odgeo scan",
                                        as_of=None if given_as_of is None else given_as_of - pd.Timedelta(1, "ns"))
    as_of = given_as_of if given_as_of is not None else latest_time(used[OCCURRED_AT])
    last_day = calendar_day(as_of - pd.Timedelta(1, "ns"))
    first_day = calendar_day(last_day, -(options.window_days - 1))
    read, used, rows = set_aside_before(read, record, first_day,
                                        f"the scan's study window ({options.window_days} days to --as-of)")
    gate = open_gate(record, settings, audience, daily=True)  # run every morning
    record.param("as_of", f"{last_day:%Y-%m-%d}", "given" if given_as_of is not None else "default",
                 None if given_as_of is not None else "the latest incident's day")
    say(f"scanning {len(used):,} incidents with {options.permutations:,} permutations"
        + compiling_note("odgeo.scan.statistic"))
    with record.timed("scan"):
        cases = scan_cases(used, first_day, _locations(settings, record))
        sx, sy, sz = cases.scan_coordinates()
        result = scan(cases.location, cases.day, sx, sy, options.window_days, options, z=sz)
    clusters = cluster_frame(result, cases, first_day)
    files = scan_cluster_files(gate, clusters, options.max_radius_m)
    files.insert(len(files.columns) - 1, "sentence",
                 [scan_sentence(row, gate, options.max_days, options.permutations) for row in files.itertuples()])
    record.sections["scan"] = scan_section(gate, result, first_day, len(files))
    if settings.export_satscan:
        say("writing the SaTScan input files")
        record.sections["satscan_export"] = write_satscan_input(settings.export_satscan, cases, first_day, options)
    fmap = _map(settings, read, used, files, gate, last_day, options)
    return ScanRun(read, used, result, clusters, files, as_of, first_day, fmap, record, audience, gate, rows)


def _scan_settings(settings: ScanJobSettings, record: RunRecord) -> ScanSettings:
    """The scan's settings, recorded (defaults: Baltimore's Project SOON)."""
    options = ScanSettings(
        window_days=int(record.pick("window_days", settings.window_days, defaults.WINDOW_DAYS)),
        max_days=int(record.pick("max_days", settings.max_days, defaults.MAX_DAYS)),
        max_radius_m=float(record.pick("max_radius_m", settings.max_radius_m, defaults.MAX_RADIUS_M)),
        min_cases=int(record.pick("min_cases", settings.min_cases, defaults.MIN_CASES)),
        permutations=int(record.pick("permutations", settings.permutations, defaults.SCAN_PERMUTATIONS)),
        seed=int(record.pick("seed", settings.seed, defaults.SEED)),
        report_p=float(record.pick("report_p", settings.report_p, defaults.REPORT_P)),
        retrospective=bool(record.pick("retrospective", bool(settings.retrospective), False,
                                       "prospective: clusters still going on the last day")),
    )
    return options.check()


def _locations(settings: ScanJobSettings, record: RunRecord) -> int | None:
    """None for distinct coordinates, or the H3 resolution of --locations h3."""
    kind = record.pick("locations", settings.locations, defaults.LOCATIONS)
    if kind not in LOCATION_KINDS:
        raise ParameterError(f"`locations` must be one of {', '.join(LOCATION_KINDS)}, not {kind!r}")
    if kind == "points":
        if settings.location_resolution is not None:
            raise ParameterError("`location_resolution` applies to `locations` h3")
        return None
    return int(record.pick("location_resolution", settings.location_resolution, DEFAULT_RESOLUTION))


def _map(settings: ScanJobSettings, read, used: gpd.GeoDataFrame, files: gpd.GeoDataFrame, gate: Gate,
         last_day: pd.Timestamp, options: ScanSettings) -> folium.Map:
    hexes = gate.count_hexes(count_cells(used, resolution=DEFAULT_RESOLUTION))
    products = gate.label(Products(gate.audience, hexes=hexes, grid=None, hotspots=None, clusters=None,
                                   scan_clusters=files))
    source = read.source_name
    title = settings.title or f"Space-time clusters{involving(settings)}: {source}"
    kind = "retrospective" if options.retrospective else "prospective"
    n = f"{len(files)} cluster{'' if len(files) == 1 else 's'}"
    return build_map(products, title=title,
                     subtitle=f"{options.window_days} days to {last_day:%d %b %Y} · {n} (p ≤ {options.report_p:g}, "
                              f"{kind} scan)",
                     notes=[("Hexagons: the study window's overdoses. " if len(hexes) else "")
                            + f"Clusters: circles of at most {options.max_radius_m:,.0f} m over at most "
                              f"{options.max_days} days, darker = rarer."],
                     tiles=basemap(settings.tiles))
