"""``odgeo emerging``: from an incident file to emerging hot spot categories, a map and a run record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from .. import defaults
from ..engine.compiled import compiling_note
from ..errors import NoDataError, ParameterError
from ..gistar.emerging import MIN_STEPS, EmergingResult, emerging_hot_spots
from ..gistar.public import emerging_layer
from ..gistar.statistic import CORRECTIONS, neighbours, ring_distance_m, study_cells
from ..hexes import DEFAULT_RESOLUTION, H3_CELL, cell_strs, cells_to_polygons, compiled_for, points_to_cells
from ..incidents.read import IncidentRead
from ..incidents.selection import RowCounts
from ..io.outputs import OutputFolder
from ..io.writers import write_csv, write_geojson
from ..maps.webmap import basemap, build_map
from ..projection import lonlat_of
from ..publish.restricted import Gate, Products
from ..runrecord import RunRecord
from ..schema import OCCURRED_AT, WGS84
from ..vocabulary import STEPS
from .common import (
    JobSettings,
    date_span,
    involving,
    open_gate,
    pick_audience,
    run_job,
    save_map_and_record,
    select_incidents,
)
from .gistar_steps import neighbourhood_rings, read_study_area

__all__ = ["STEPS", "EmergingRun", "EmergingSettings", "analyse_emerging", "run_emerging"]



#: The most (cell, time step) bins of a space-time cube (8 bytes each, several copies in the work).
MAX_CUBE_BINS = 40_000_000

@dataclass(frozen=True)
class EmergingSettings(JobSettings):
    """Settings of ``odgeo emerging``; None means the default.

    step: "auto" (default: months if there are at least 10, else weeks), "week" or "month".
    resolution: H3 resolution (default 8). gi_rings / gi_distance_m: the spatial
    neighbourhood (default 1 ring). time_window: earlier steps in a bin's
    neighbourhood (default 1). correction: "fdr" (default), "bonferroni", "none".
    The input, filter, geocoding, audience and map settings are those of
    :class:`odgeo.jobs.common.JobSettings`.
    """

    step: str | None = None
    resolution: int | None = None
    gi_rings: int | None = None
    gi_distance_m: float | None = None
    time_window: int | None = None
    correction: str | None = None
    study_area: str | None = None


@dataclass
class EmergingRun:
    """Everything ``odgeo emerging`` produced, for notebooks and the writers.

    Attributes
    ----------
    read, incidents
        The incidents read (with their rejects) and the located ones used.
    result
        Per cell: category, trend and counts of hot and cold steps.
    cells
        One row per cell, with its polygon and total count.
    layer
        What the audience may see (public: categories per published area).
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
    incidents: gpd.GeoDataFrame
    result: EmergingResult
    cells: gpd.GeoDataFrame  # one row per cell, with polygons and the cell's total count
    layer: gpd.GeoDataFrame  # what the audience may see (public: categories per published area)
    map: folium.Map
    record: RunRecord
    audience: str
    gate: Gate
    rows: RowCounts  # where every input row went (run.json's counts)


def run_emerging(path, out_dir, settings: EmergingSettings | None = None, *, overwrite: bool = False,
                 progress: Callable[[str], None] | None = None) -> EmergingRun:
    """Read ``path``, find emerging hot spots and write emerging.geojson, map.html, rejects.csv, run.json.

    Parameters
    ----------
    path
        The incident file, folder or database URL.
    out_dir
        The output folder (checked, locked and written aside before anything else).
    settings
        Every setting (see :class:`EmergingSettings`; None: the defaults).
    overwrite
        Replace a non-empty ``out_dir`` as a whole.
    progress
        Called with a few words before each step.

    Returns
    -------
    EmergingRun
        What was computed and written.
    """
    settings = settings or EmergingSettings()
    return run_job("emerging", path, out_dir, settings, overwrite=overwrite, progress=progress,
                   analyse=lambda read, **kw: analyse_emerging(read, settings, **kw), write=_write_products)


def _write_products(run: EmergingRun, folder: OutputFolder) -> list[Path]:
    totals = run.gate.totals(run.rows.as_record())
    written = [write_geojson(run.layer, folder.path("emerging.geojson")),
               write_csv(run.gate.rejects(run.read.rejects, totals), folder.path("rejects.csv"))]
    return save_map_and_record(run.map, run.record, folder, written, run.gate)


@dataclass(frozen=True)
class ResolvedEmergingSettings:
    """Every setting of one ``odgeo emerging`` run, decided before the cube is built and recorded once."""

    resolution: int
    rings: int
    time_window: int
    correction: str
    step: str


def resolve_settings(settings: EmergingSettings, record: RunRecord, times: pd.Series) -> ResolvedEmergingSettings:
    """Decide every setting from ``settings``, the defaults and the incidents' dates; record each once."""
    resolution = int(record.pick("resolution", settings.resolution, DEFAULT_RESOLUTION))
    rings = neighbourhood_rings(record, settings.gi_rings, settings.gi_distance_m, resolution)
    time_window = record.pick("time_window", settings.time_window, defaults.TIME_WINDOW)
    correction = record.pick("correction", settings.correction, defaults.EMERGING_CORRECTION)
    if correction not in CORRECTIONS:
        raise ParameterError(f"`correction` must be one of {', '.join(CORRECTIONS)}, not {correction!r}")
    step = _step(record, settings.step, times)
    return ResolvedEmergingSettings(resolution, int(rings), int(time_window), correction, step)


def analyse_emerging(read, settings: EmergingSettings, *, record: RunRecord | None = None,
                     progress: Callable[[str], None] | None = None) -> EmergingRun:
    """Build the space-time cube and classify every cell (nothing is written).

    Parameters
    ----------
    read
        The incidents, from :func:`odgeo.read_incidents`.
    settings
        Every setting (see :class:`EmergingSettings`).
    record
        The run record to fill (None: a new one).
    progress
        Called with a few words before each step.

    Returns
    -------
    EmergingRun
        The cube's categories, the layer for the audience, the map and the record.
    """
    record = record or RunRecord("emerging")
    say = progress or (lambda step: None)
    audience = pick_audience(record, settings)
    read, used, rows = select_incidents(read, settings, record, require_dates="emerging hot spot analysis")
    gate = open_gate(record, settings, audience)
    plan = resolve_settings(settings, record, used[OCCURRED_AT])
    resolution, rings, step = plan.resolution, plan.rings, plan.step
    say(f"building the space-time cube ({step}s)" + compiling_note(*compiled_for(len(used))))
    lon, lat = lonlat_of(used.geometry)
    occupied_of = points_to_cells(lon, lat, resolution)
    boundary = read_study_area(settings.study_area) if settings.study_area else None
    cells = study_cells(np.unique(occupied_of), resolution, rings, boundary)
    steps, step_of = _periods(used[OCCURRED_AT], step)
    if len(steps) * len(cells) > MAX_CUBE_BINS:
        raise ParameterError(f"the space-time cube would hold {len(cells):,} cells x {len(steps):,} {step}s "
                             f"= {len(steps) * len(cells):,} bins (at most {MAX_CUBE_BINS:,}); choose a coarser "
                             "`resolution`, `step` month, or a shorter period (`since`/`until`)")
    cube = np.zeros((len(steps), len(cells)))
    pos = np.minimum(np.searchsorted(cells, occupied_of), len(cells) - 1)
    inside = cells[pos] == occupied_of  # a given study area leaves the incidents outside it out
    np.add.at(cube, (step_of[inside], pos[inside]), 1)
    say("space-time Gi* and trends")
    with record.timed("emerging"):
        names = cell_strs(cells)
        result = emerging_hot_spots(cube, names, steps, neighbours(cells, rings), time_window=plan.time_window,
                                    correction=plan.correction)
    record.sections["emerging"] = {**result.settings, "resolution": resolution, "rings": rings,
                                   "distance_m": round(ring_distance_m(rings, resolution), 1),
                                   "n_cells": len(cells), "step": step,
                                   "n_incidents_outside_study_area": int((~inside).sum())}
    frame = result.table.assign(count=cube.sum(axis=0).astype(np.int64))
    cells_frame = gpd.GeoDataFrame(frame, geometry=cells_to_polygons(frame[H3_CELL]).values, crs=WGS84)
    layer = emerging_layer(gate, cells_frame, cube, steps, {"time_window": plan.time_window,
                                                           "correction": plan.correction, "step": step,
                                                           "resolution": resolution,
                                                           "study_area_given": boundary is not None})
    fmap = _map(settings, read, used, rows, layer, gate)
    return EmergingRun(read, used, result, cells_frame, layer, fmap, record, audience, gate, rows)


def _step(record: RunRecord, given: str | None, times: pd.Series) -> str:
    months = len(pd.period_range(times.min().tz_localize(None).to_period("M"),
                                 times.max().tz_localize(None).to_period("M")))
    weeks = int((times.max() - times.min()).days // 7) + 1
    if given not in (None, "auto") and given not in STEPS:
        raise ParameterError(f"`step` must be one of {', '.join(STEPS)}, not {given!r}")
    if given in (None, "auto"):
        if months >= MIN_STEPS:
            return record.param("step", "month", "auto", f"{months} months (at least {MIN_STEPS})")
        if weeks >= MIN_STEPS:
            return record.param("step", "week", "auto", f"{months} months are fewer than {MIN_STEPS}; {weeks} weeks")
        raise NoDataError(f"emerging hot spots need at least {MIN_STEPS} time steps; the incidents span "
                          f"{weeks} week(s)")
    n = months if given == "month" else weeks
    if n < MIN_STEPS:
        raise NoDataError(f"`step` {given} gives {n} steps; emerging hot spots need at least {MIN_STEPS}")
    return record.param("step", given, "given")


def _periods(times: pd.Series, step: str) -> tuple[list[str], np.ndarray]:
    """Every step from the first to the last (empty ones included) and each incident's step."""
    naive = times.dt.tz_localize(None)
    freq = "M" if step == "month" else "W-SUN"
    periods = naive.dt.to_period(freq)
    full = pd.period_range(periods.min(), periods.max(), freq=freq)
    labels = [str(p) if step == "month" else "{}-W{:02d}".format(*p.start_time.isocalendar()[:2]) for p in full]
    return labels, pd.PeriodIndex(periods).asi8 - full[0].ordinal


def _map(settings: EmergingSettings, read, used, rows: RowCounts, layer: gpd.GeoDataFrame,
         gate: Gate) -> folium.Map:
    source = read.source_name
    title = settings.title or f"Emerging overdose hot spots{involving(settings)}: {source}"
    totals = gate.totals(rows.as_record())
    count = gate.count
    products = gate.label(Products(gate.audience, hexes=None, grid=None, hotspots=None, clusters=None,
                                   emerging=layer))
    tiles = basemap(settings.tiles)
    notes = [f"{count(totals['n_unlocated'])} incidents had no coordinates and {count(totals['n_rejected'])} rows "
             "were rejected; none of them is counted.",
             "The map shows categories, not counts: see odgeo hotspots for numbers of overdoses."]
    return build_map(products, title=title, subtitle=f"{date_span(used)} · {count(totals['n_used'])} located incidents",
                     notes=notes, tiles=tiles)
