"""The main job's analysis: incidents to H3 counts, density, hot spots, clusters, Gi* and the map.

A step shared by ``odgeo hotspots`` and ``odgeo sites`` (whose base map it draws):
:func:`analyse_hotspots` computes everything and writes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from .. import defaults
from .. import hexes as hexes_mod
from ..boundaries.counts import add_rates, area_counts, dissolve_by_name, read_boundaries
from ..boundaries.population import read_population
from ..clusters import dbscan as clusters_mod
from ..density.hotspot_areas import hotspot_polygons
from ..density.kernel import KERNELS, DensityGrid, auto_bandwidth, default_cell_size, nice_below
from ..drugs.columns import incident_flags
from ..drugs.definitions import part_column
from ..engine.compiled import compiling_note
from ..engine.dask_read import IncidentParts
from ..errors import NoDataError, ParameterError
from ..gistar.statistic import GiStar
from ..incidents.read import IncidentRead
from ..incidents.selection import RowCounts, outcomes_recorded
from ..maps.webmap import basemap, build_map
from ..projection import project_points
from ..publish.audience import check_audience_options
from ..publish.geomask import donut_mask, parse_mask_distances, ring_population
from ..publish.restricted import Gate, HotspotLayers, Products
from ..runrecord import RunRecord
from ..schema import OCCURRED_AT, OUTCOMES, has_location
from .cluster_steps import ClusterPlan, cluster_labels, plan_clusters
from .common import (
    JobSettings,
    date_span,
    involving,
    open_gate,
    pick_audience,
    select_incidents,
)
from .gistar_steps import GiPlan, hotspot_statistics, plan_gistar
from .hotspot_products import hotspot_products
from .located import InMemoryIncidents, LocatedIncidents

__all__ = ["HotspotResult", "HotspotSettings", "ResolvedHotspotSettings", "analyse_hotspots", "main_layers",
           "resolve_settings", "select_located"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HotspotSettings(JobSettings):
    """Every setting of the main job; None means "use the default" (or decide automatically).

    The input, filter, geocoding, audience and map settings are those of
    :class:`odgeo.jobs.common.JobSettings`; ``title`` and ``tiles`` are joined here by
    ``classes``.

    Attributes
    ----------
    resolution
        H3 resolution of the hex counts (default 8).
    period
        Time breakdown of hex counts: "month" (default), "week" or "none".
    bandwidth_m
        Kernel bandwidth in metres, or None/"auto" for the spatial Silverman rule.
    cell_size_m
        Density cell size in metres (default: extent / 250, at most bandwidth / 2).
    kernel
        "quartic" (default) or "gaussian".
    percentile
        Density percentile above which cells form hot spots (default 95).
    cluster_method
        "dbscan" (default), "st-dbscan" (neighbours within ``eps_m`` and ``eps_days``)
        or "hdbscan" (no distance: ``min_cluster_size``); see :mod:`odgeo.clusters.st_dbscan`.
    eps_m, min_samples, eps_days, min_cluster_size
        DBSCAN search distance (default 100 m) and minimum points (default 15);
        ST-DBSCAN's time distance in days (default 2); HDBSCAN's smallest cluster
        (default: ``min_samples``, 15).
    stack_min
        Incidents at one exact coordinate flagged as a possible artefact (default 10).
    classes
        Hexagon colour classes: "quantiles" (the default) or "natural_breaks".
    mask_points, mask_seed
        Restricted audience: donut geomasking of the map's points, (min, max) metres
        or "MIN,MAX", and its seed (default 0).
    population, population_col
        Polygon layer with a population column: hexagon rates per 10,000
        residents (areal weighting; unstable below 20 incidents) and, with
        ``mask_points``, each displaced point's k-anonymity.
    method, gi_resolution, gi_distance_m, gi_rings, correction, permutations, seed, study_area
        Gi* hot spot statistics (see :mod:`odgeo.gistar.statistic`, :mod:`odgeo.gistar.scale`):
        "fixed" (default: one resolution finer than the hexagons, 1 ring unless given) or
        "optimized"; the multiple-testing correction ("fdr" default, "bonferroni",
        "none"); permutations for pseudo p-values (default 0: analytic); the
        study area polygon file (default: the convex hull of the cells with incidents).
    boundaries, boundary_name_col, boundary_population_col, dissolve_boundaries
        Polygons (neighbourhoods, tracts) to count incidents in, with rates per
        10,000 residents when they carry a population (see :mod:`odgeo.boundaries.counts`);
        ``dissolve_boundaries``: polygons sharing a name are counted as one area (needed
        with a ledger when names repeat).
    by_drug
        Drug groups (``("fentanyl", "xylazine")``) that each get a column of the hexagons: the
        incidents involving the group, read from the suspected-drug column (``drug_fentanyl``; a
        part of ``count``, not a partition: the public sees it only where it and what it leaves of
        the count are both at least ``min_count``).
    """

    resolution: int | None = None
    period: str | None = None
    bandwidth_m: float | str | None = None
    cell_size_m: float | None = None
    kernel: str | None = None
    percentile: float | None = None
    eps_m: float | None = None
    min_samples: int | None = None
    cluster_method: str | None = None
    eps_days: float | None = None
    min_cluster_size: int | None = None
    stack_min: int | None = None
    mask_points: str | tuple[float, float] | None = None
    mask_seed: int | None = None
    population: str | None = None
    population_col: str | None = None
    classes: str | None = None
    boundaries: str | None = None
    method: str | None = None
    gi_resolution: int | None = None
    gi_distance_m: float | None = None
    gi_rings: int | None = None
    correction: str | None = None
    permutations: int | None = None
    seed: int | None = None
    study_area: str | None = None
    boundary_name_col: str | None = None
    boundary_population_col: str | None = None
    dissolve_boundaries: bool | None = None
    by_drug: tuple[str, ...] | None = None


@dataclass
class HotspotResult:
    """Everything the main job produced, for notebooks and for the writers.

    Attributes
    ----------
    read
        The incidents read and their rejects (after the filters).
    located
        The located incidents used (``incidents``: as a GeoDataFrame); with ``--engine dask``
        ``read`` holds the rejects and the unlocated incidents only.
    rows
        Where every input row went (written as run.json's ``counts``).
    counts, hexes
        CellCounts, and the same with hexagon polygons.
    grid, hotspots, clusters, labels
        The density surface, its hot spot polygons, the DBSCAN clusters (metric CRS)
        and each used incident's cluster label (-1: noise).
    gistar
        Gi* per cell and its settings.
    products
        What the audience may see: the only thing written.
    map, map_caption
        The HTML map, and its title, subtitle and classes (for map.png).
    record
        The run record.
    audience
        "public" or "restricted".
    gate
        The publishing gate that made ``products`` and makes every file written.
    """

    read: IncidentRead
    located: LocatedIncidents
    rows: RowCounts  # where every input row went (run.json's counts)
    counts: pd.DataFrame  # CellCounts
    hexes: gpd.GeoDataFrame  # counts with polygons
    grid: DensityGrid
    hotspots: gpd.GeoDataFrame  # metric CRS
    clusters: gpd.GeoDataFrame  # metric CRS
    labels: np.ndarray  # DBSCAN label per used incident (-1 noise)
    gistar: GiStar
    products: Products  # what the audience may see: the only thing written
    map: folium.Map
    map_caption: dict  # title, subtitle and classes, for map.png
    record: RunRecord
    audience: str
    gate: Gate  # made every file written

    @property
    def incidents(self) -> gpd.GeoDataFrame:
        """The located incidents used, as a GeoDataFrame."""
        return self.located.frame


@dataclass(frozen=True)
class ResolvedHotspotSettings:
    """Every setting of one run of the main job, decided before the analysis and recorded once.

    Given values, defaults and automatic choices (the bandwidth, the cell size,
    the Gi* scale) are all made by :func:`resolve_settings`; each field says what
    the analysis uses, and ``run.json`` says where each came from.
    """

    audience: str
    resolution: int
    period: str
    kernel: str
    bandwidth_m: float
    cell_size_m: float
    percentile: float
    eps_m: float
    min_samples: int
    stack_min: int
    gistar: GiPlan
    clustering: ClusterPlan
    mask_points_m: tuple[float, float] | None  # restricted audience
    mask_seed: int
    classes: str


def resolve_settings(settings: HotspotSettings, record: RunRecord, audience: str, x: np.ndarray, y: np.ndarray,
                     lon: np.ndarray, lat: np.ndarray) -> ResolvedHotspotSettings:
    """Decide every setting from ``settings``, the defaults and the located incidents; record each once."""
    resolution = int(record.pick("resolution", settings.resolution, defaults.HEX_RESOLUTION))
    period = record.pick("period", settings.period, defaults.PERIOD)
    kernel = record.pick("kernel", settings.kernel, defaults.KERNEL)
    if kernel not in KERNELS:
        raise ParameterError(f"`kernel` must be one of {', '.join(KERNELS)}, not {kernel!r}")
    bandwidth = _metres(record, "bandwidth_m", "`bandwidth_m`", settings.bandwidth_m,
                        lambda: _auto_bandwidth_or_fallback(x, y), step=10.0)
    cell = _metres(record, "cell_size_m", "`cell_size_m`", settings.cell_size_m,
                   lambda: default_cell_size(x, y, bandwidth), step=None)
    percentile = record.pick("hotspot_percentile", settings.percentile, defaults.PERCENTILE)
    eps = record.pick("eps_m", settings.eps_m, defaults.EPS_M)
    min_samples = record.pick("min_samples", settings.min_samples, defaults.MIN_SAMPLES)
    stack_min = record.pick("stack_min", settings.stack_min, defaults.STACK_MIN,
                            f"this many incidents at one exact coordinate suggest a geocoding fallback; "
                            f"{clusters_mod.ROUND_STACK_MIN} suffice at a coordinate with "
                            f"{clusters_mod.ROUND_DECIMALS} decimals or fewer")
    gistar = plan_gistar(record, settings, x, y, lon, lat, resolution)
    distances, mask_seed = parse_mask_distances(settings.mask_points), 0
    if distances is not None:  # only restricted runs get here with it (see check_audience_options)
        record.param("mask_points_m", list(distances), "given")
        mask_seed = int(record.pick("mask_seed", settings.mask_seed, defaults.MASK_SEED))
    classes = record.pick("classes", settings.classes, defaults.CLASSES)
    return ResolvedHotspotSettings(audience, resolution, period, kernel, float(bandwidth), float(cell),
                                   float(percentile), float(eps), int(min_samples), int(stack_min), gistar,
                                   plan_clusters(record, settings, int(min_samples)), distances, mask_seed, classes)


def analyse_hotspots(
    read: IncidentRead | IncidentParts,
    settings: HotspotSettings | None = None,
    *,
    progress: Callable[[str], None] | None = None,
    record: RunRecord | None = None,
) -> HotspotResult:
    """Run every stage of the main job on validated incidents (nothing is written).

    Parameters
    ----------
    read
        Validated incidents (:func:`odgeo.read_incidents`), or incidents validated in parts
        on a Dask cluster (:func:`odgeo.engine.dask_read.read_parts_dask`): the per-incident stages
        then run there (see :mod:`odgeo.jobs.located`).
    settings
        Every setting; None fields take their defaults (recorded in the run record).
    progress
        Called with a few words before each step.
    record
        The run record to fill (a new one by default).

    Returns
    -------
    HotspotResult
        The analysis, the products for the audience, the map and the run record.
    """
    settings = settings or HotspotSettings()
    record = record or RunRecord("hotspots")
    say = progress or (lambda step: None)
    audience = pick_audience(record, settings)
    check_audience_options(audience, min_count=settings.min_count, mask_points=settings.mask_points)
    read, used, rows = select_located(read, settings, record)
    lon, lat = used.lon, used.lat
    x, y, metric_crs = project_points(lon, lat)
    record.sections["metric_crs"] = metric_crs.to_string()
    plan = resolve_settings(settings, record, audience, x, y, lon, lat)

    say("counting incidents per H3 hexagon" + compiling_note(*hexes_mod.compiled_for(len(used))))
    with record.timed("hexes"):
        # Without an outcome column every outcome is unknown: no fatal/nonfatal columns saying "0 fatal".
        counts = used.count_cells(resolution=plan.resolution, period=None if plan.period == "none" else plan.period,
                                  by_outcome=outcomes_recorded(read))
        if settings.assume_outcome:  # every incident has it: the other outcomes' columns are zeros by construction
            counts = counts.drop(columns=[o for o in OUTCOMES if o != settings.assume_outcome and o in counts])
        drug_masks = _drug_masks(used, settings, record)
        if drug_masks:
            counts = _with_drug_parts(counts, used, drug_masks, plan.resolution)
        hexes = gpd.GeoDataFrame(counts.reset_index(), geometry=hexes_mod.cells_to_polygons(counts.index).values,
                                 crs="EPSG:4326")

    say("computing kernel density" + compiling_note("odgeo.density.binning"))
    with record.timed("density"):
        grid = used.kernel_density(x, y, crs=metric_crs, bandwidth_m=plan.bandwidth_m,
                                   cell_size_m=plan.cell_size_m, kernel=plan.kernel)

    say("delineating hot spots")
    with record.timed("hotspots"):
        hotspots = hotspot_polygons(grid, x, y, percentile=plan.percentile)

    method = plan.clustering.method
    say(f"finding {method.upper()} clusters" + compiling_note(*_COMPILED_BY_METHOD.get(method, ())))
    with record.timed("clusters"):
        clusters, labels = _clusters(record, plan, used, x, y, lon, lat, metric_crs)

    say("computing Gi* hot spot statistics")
    with record.timed("gistar"):
        gistar = hotspot_statistics(plan.gistar, used, counts, plan.resolution)
    record.sections["gistar"] = gistar.settings
    areas = _areas(record, settings, used, by_outcome=outcomes_recorded(read), drug_masks=drug_masks)
    population = _population(record, settings)
    say(f"preparing {audience} products")
    with record.timed("privacy"):
        gate = _gate(record, settings, audience, plan, lon, lat, population)
        products = hotspot_products(gate, HotspotLayers(
            counts=counts, hexes=hexes, grid=grid, hotspots=hotspots, clusters=clusters, incidents=lambda: used.frame,
            eps_m=plan.eps_m, percentile=plan.percentile, gistar=gistar, gi_plan=plan.gistar, areas=areas,
            cluster_method=plan.clustering.method))
        if population is not None:
            products.hexes = add_rates(products.hexes, *population)
    record.sections["privacy"] = products.privacy
    record.sections["products"] = _products_summary(products)
    say("drawing the map" + compiling_note("odgeo.maps.classes"))
    with record.timed("map"):
        fmap, caption = _map(settings, plan, read, used, rows, products, record, gate)
    return HotspotResult(read=read, located=used, rows=rows, counts=counts, hexes=hexes, grid=grid,
                         hotspots=hotspots, clusters=clusters, labels=labels, gistar=gistar, products=products,
                         map=fmap, map_caption=caption, record=record, audience=audience, gate=gate)


#: The compiled modules each cluster method runs (a first run compiles them).
_COMPILED_BY_METHOD = {"dbscan": ("odgeo.clusters.grid",),
                       "st-dbscan": ("odgeo.clusters.grid", "odgeo.clusters.st_dbscan")}


def select_located(read: IncidentRead | IncidentParts, settings: HotspotSettings,
                   record: RunRecord) -> tuple[IncidentRead, LocatedIncidents, RowCounts]:
    """The filters applied where the incidents are (here, or on the cluster that read them); the incidents used."""
    if isinstance(read, IncidentParts):
        from .on_cluster import select_parts

        return select_parts(read, settings, record)
    read, used, rows = select_incidents(read, settings, record)
    return read, InMemoryIncidents(used), rows


def _areas(record: RunRecord, settings: HotspotSettings, used: LocatedIncidents,
           by_outcome: bool, drug_masks: dict[str, np.ndarray]) -> gpd.GeoDataFrame | None:
    if not settings.boundaries:
        return None
    with record.timed("areas"):
        boundaries, columns = read_boundaries(settings.boundaries, name_col=settings.boundary_name_col,
                                              population_col=settings.boundary_population_col)
        if settings.dissolve_boundaries:
            boundaries = dissolve_by_name(boundaries)
        elif settings.ledger and boundaries["name"].duplicated().any():
            # A ledger holds each polygon's figures under its name: polygons sharing one would share
            # one slot, each published with another's count and differenced against it.
            raise ParameterError(f"`boundaries` {settings.boundaries}: column {columns['name']!r} holds "
                                 f"{boundaries['name'].nunique()} names for {len(boundaries)} polygons, and a "
                                 "`ledger` keeps each polygon's figures under its name; choose a column of "
                                 "unique names with `boundary_name_col`, or count each name as one area with "
                                 "`dissolve_boundaries`")
        record.param("boundaries", str(settings.boundaries), "given", {"columns": columns})
        record.param("dissolve_boundaries", bool(settings.dissolve_boundaries),
                     "given" if settings.dissolve_boundaries else "default")
        areas = area_counts(boundaries, used.frame, parts={part_column(g): m for g, m in drug_masks.items()})
        return areas if by_outcome else areas.drop(columns="fatal")


def _drug_masks(used: LocatedIncidents, settings: HotspotSettings, record: RunRecord) -> dict[str, np.ndarray]:
    """Which incidents involve each drug group of ``by_drug`` ({} without it)."""
    if not settings.by_drug:
        return {}
    if not isinstance(used, InMemoryIncidents):
        raise ParameterError("`by_drug` reads each incident's drugs in this process; give one file with "
                             "`engine` memory")
    groups = tuple(dict.fromkeys(settings.by_drug))
    flags = incident_flags(used.used, groups, columns=tuple(settings.drug_columns or ()),
                           terms_file=settings.drug_terms, option="by_drug").flags
    record.param("by_drug", list(groups), "given", "a column per group in hexagons and boundaries: its incidents "
                 "(a part of count, not a partition; docs/drugs.md)")
    return {g: flags[g].to_numpy(dtype=bool) for g in groups}


def _with_drug_parts(counts: pd.DataFrame, used: LocatedIncidents, masks: dict[str, np.ndarray],
                     resolution: int) -> pd.DataFrame:
    """The cell counts with a column per drug group (each cell's incidents involving it)."""
    out = counts.copy()
    for group, mask in masks.items():
        part = used.count_cells(resolution=resolution, by_outcome=False, keep=mask)
        out[part_column(group)] = part["count"].reindex(out.index, fill_value=0).astype(np.int64)
    return out


def _population(record: RunRecord, settings: HotspotSettings):
    """The population layer and its column, or None."""
    if not settings.population:
        return None
    layer, column = read_population(settings.population, column=settings.population_col)
    record.param("population", str(settings.population), "given",
                 f"column {column!r}: rates per 10,000 residents per hexagon (areal weighting)"
                 + ("; k-anonymity of the displaced points" if settings.mask_points else ""))
    return layer, column


def _gate(record: RunRecord, settings: HotspotSettings, audience: str, plan: ResolvedHotspotSettings,
          lon: np.ndarray, lat: np.ndarray, population) -> Gate:
    """The publishing gate, with the restricted map's displacement (and its k-anonymity) when asked."""
    mask, k = None, None
    distances = plan.mask_points_m
    if distances is not None:
        mask = donut_mask(lon, lat, min_m=distances[0], max_m=distances[1], seed=plan.mask_seed)
        if population is not None:
            k = ring_population(lon, lat, *population, min_m=distances[0], max_m=distances[1])
    return open_gate(record, settings, audience, mask=mask, k_anonymity=k,
                     ledger_settings={"command": "hotspots", "resolution": plan.resolution, "period": plan.period})


def main_layers(products: Products) -> tuple[gpd.GeoDataFrame, DensityGrid, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The four layers the main job's products always hold (the type allows None for other commands)."""
    if products.hexes is None or products.grid is None or products.hotspots is None or products.clusters is None:
        raise AssertionError("the main job's products lack a layer")  # a bug, never user error
    return products.hexes, products.grid, products.hotspots, products.clusters


def _products_summary(products: Products) -> dict:
    """What the products hold (the gate's run record keeps it for the public: it describes public files)."""
    hexes, grid, spots, clusters = main_layers(products)
    summary: dict[str, dict[str, Any]] = {
        "hexes": {"n_areas": len(hexes), "sum_of_counts": int(hexes["count"].sum())},
        "density": {"shape": list(grid.shape), "max_per_km2": round(float(grid.values.max()), 3),
                    "mass": round(grid.mass(), 3), "method": grid.method},
        "hotspots": {"n": len(spots), "n_incidents_inside": int(spots["n_incidents"].sum())},
        "clusters": {"n": len(clusters), "possible_artefacts": int(clusters["possible_artefact"].sum())},
    }
    return summary


#: Bandwidth used when the automatic rule has nothing to measure (one incident, or all
#: at one place): 400 m, the "city block" scale of Esri's hot spot bins.
FALLBACK_BANDWIDTH_M = 400.0


def _auto_bandwidth_or_fallback(x, y) -> tuple[float, object]:
    try:
        return auto_bandwidth(x, y)
    except NoDataError as err:
        return FALLBACK_BANDWIDTH_M, f"{err.args[0].split(';')[0]}: used the fallback of {FALLBACK_BANDWIDTH_M:g} m"


def _metres(record: RunRecord, name: str, option: str, given, auto, *, step: float | None) -> float:
    """A distance given in metres, or chosen by ``auto()`` -> (value, reason).

    The automatic value is rounded before use (to ``step`` metres, or with
    ``step=None`` down to 1, 2, 2.5 or 5 times a power of ten), so the value in
    run.json reproduces the result when given back, and it states the data's
    spread only coarsely: to the centimetre, it moves with a single incident.
    """
    if given in (None, "auto"):
        value, reason = auto()
        rounded = max(step, round(float(value) / step) * step) if step else nice_below(float(value))
        return record.param(name, rounded, "auto", reason)
    try:
        value = float(given)
    except (TypeError, ValueError):
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ParameterError(f"{option} must be a positive number of metres, not {given!r}")
    return record.param(name, value, "given")


def _clusters(record: RunRecord, plan: ResolvedHotspotSettings, used, x, y, lon, lat, crs):
    eps, stack_min = plan.eps_m, plan.stack_min
    labels, is_core, strengths = cluster_labels(plan.clustering, used, x, y, crs, plan.eps_m, plan.min_samples)
    stacks = clusters_mod.coordinate_stacks(lon, lat)
    suspect = clusters_mod.suspect_stacks(lon, lat, stack_min=stack_min, stacks=stacks)
    clusters = clusters_mod.cluster_polygons(x, y, labels, is_core, used.dates, crs=crs,
                                             eps_m=eps, stacks=stacks, suspect=suspect,
                                             probability=None if strengths is None else strengths.probability,
                                             persistence=None if strengths is None else strengths.persistence)
    stack_rows = []
    flagged = suspect != ""
    if flagged.any():
        frame = pd.DataFrame({"lon": lon[flagged], "lat": lat[flagged], "label": labels[flagged],
                              "why": suspect[flagged]})
        for _, grp in frame.groupby(["lon", "lat"], sort=True):
            label = int(grp["label"].iloc[0])
            stack_rows.append({"n_incidents": len(grp), "reason": grp["why"].iloc[0],
                               "cluster_id": label + 1 if label >= 0 else None})
        stack_rows.sort(key=lambda r: (-r["n_incidents"], r["reason"]))
        log.warning("%d coordinate(s) look like geocoding fallbacks (%d incidents): see "
                    "coordinate_stacks in run.json", len(stack_rows), int(flagged.sum()))
    record.sections["coordinate_stacks"] = stack_rows
    return clusters, labels


def _map(settings: HotspotSettings, plan: ResolvedHotspotSettings, read: IncidentRead, used: LocatedIncidents,
         rows: RowCounts, products: Products, record: RunRecord, gate: Gate) -> tuple[folium.Map, dict]:
    source = read.source_name
    title = settings.title or f"Suspected overdoses{involving(settings)}: {source}"
    totals = gate.totals(rows.as_record())
    count = gate.count
    span = date_span(_all_dates(read, used))
    n_used = count(totals["n_used"])
    if totals["n_used"] is None and totals.get("n_used_in_published_areas"):
        n_used = f"at least {totals['n_used_in_published_areas']:,}"  # what the areas add up to
    fatal = "fatal: hidden" if totals["n_used_fatal"] is None else f"{count(totals['n_used_fatal'])} fatal"
    if not outcomes_recorded(read):
        fatal = "outcome not recorded"  # unknown is unknown: "0 fatal" misread a file of deaths
    subtitle = f"{span} · {n_used} located incidents ({fatal})"
    notes = [f"{count(totals['n_unlocated'])} incidents had no coordinates and {count(totals['n_rejected'])} rows "
             "were rejected (see rejects.csv); none of them is on the map."]
    if totals["n_used_undated"] != 0:
        notes.append(f"{count(totals['n_used_undated'])} incidents have no date: they are counted in the areas and "
                     "the density surface, and in no month.")
    if totals.get("n_incidents_suppressed", 0) != 0:
        notes.append(f"{count(totals['n_incidents_suppressed'])} incidents are in areas too small to show even "
                     "after merging.")
    stacks = record.sections.get("coordinate_stacks") or []
    if record.sections.get("spread", {}).get("place_level"):
        notes.append("Most incidents share a few points (town or ZIP centres): the file does not say where they "
                     "happened, so hot spots and clusters mark those centres, not streets.")
    elif stacks:
        notes.append(f"{len(stacks)} location(s) hold many incidents at one exact point, likely a geocoding "
                     "fallback (a city or ZIP centre); clusters there are marked as possible artefacts.")
    classes = plan.classes
    fmap = build_map(products, title=title, subtitle=subtitle, notes=notes, period=span,
                     tiles=basemap(settings.tiles), classes=classes)
    return fmap, {"title": title, "subtitle": subtitle, "classes": classes}


def _all_dates(read: IncidentRead, used: LocatedIncidents) -> pd.DataFrame:
    """The earliest and latest dates of the incidents used and unlocated (what :func:`date_span` reads)."""
    unlocated = read.incidents.loc[~has_location(read.incidents.geometry), OCCURRED_AT]
    times = [t for series in (used.dates, unlocated) for t in (series.min(), series.max()) if pd.notna(t)]
    return pd.DataFrame({OCCURRED_AT: pd.Series(times, dtype=used.dates.dtype)})


