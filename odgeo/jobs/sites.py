"""``odgeo sites``: which new naloxone sites, added to the existing ones, reach the most overdoses.

The incidents, filters, audience and base map are those of ``odgeo hotspots``
(hexagons, hot spots, Gi*); on top, the existing and chosen sites with their
coverage areas and the Gi* hot cells no open site reaches. Demand points are
the incidents (those at one exact place merged); above 20,000 distinct places
they are H3 resolution-12 cells (edge 9.4 m), so an incident's distance to a
site is off by at most 9.4 m: only incidents within 9.4 m of a coverage edge
can be misjudged, and every figure reported is recounted on the incidents
themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
from scipy import sparse

from .. import defaults
from ..errors import ParameterError
from ..hexes import points_to_cells
from ..incidents.dates import calendar_day
from ..incidents.selection import RowCounts
from ..io.outputs import OutputFolder
from ..io.writers import write_csv, write_geojson
from ..projection import lonlat_of, project_points
from ..runrecord import RunRecord
from ..schema import OCCURRED_AT, WGS84
from ..sites.candidates import read_sites
from ..sites.coverage import (
    CoverageProblem,
    Solution,
    coverage_problem,
    covered_weight,
    greedy,
    solve_capacitated,
    solve_max_coverage,
    solve_target_share,
)
from ..sites.network import network_cover, read_network, straight_cover
from ..sites.public import coverage_curve, out_of_time, show_sites, site_layer
from ..sites.weights import incident_weights
from .common import run_job, save_map_and_record
from .hotspot_analysis import HotspotResult, HotspotSettings, analyse_hotspots

__all__ = ["DEFAULT_N_SITES", "DEFAULT_RADIUS_M", "SitesResult", "SitesSettings", "analyse_sites", "run_sites"]

DEFAULT_RADIUS_M = defaults.RADIUS_M.value
DEFAULT_N_SITES = defaults.N_SITES.value
_EXACT_DEMAND_MAX = 20_000
_DEMAND_RESOLUTION = 12


@dataclass(frozen=True)
class SitesSettings:
    """Settings of ``odgeo sites`` (None: the default); the ``hotspots`` settings for the rest.

    Attributes
    ----------
    candidates
        The candidate sites (a CSV with coordinates or a point file).
    existing
        Sites already open, always kept.
    n_sites, target
        How many new sites to choose, or the share of incidents to reach (0 to 1).
    radius_m
        The distance a site serves, in metres (walking with ``network``).
    network
        A street network file: distances are walked, not straight.
    weight, equity, equity_col
        How incidents weigh (see :func:`odgeo.sites.weights.incident_weights`).
    capacity_col
        The sites' capacity column: capacitated coverage.
    train_until
        Choose on incidents until this date and evaluate on the later ones.
    time_limit_s
        The solver's time limit, in seconds.
    hotspots
        The input, filter, audience and map settings, and the base map's analysis.
    """

    candidates: str
    existing: str | None = None
    n_sites: int | None = None
    target: float | None = None
    radius_m: float | None = None
    network: str | None = None
    weight: str | None = None
    equity: str | None = None
    equity_col: str | None = None
    capacity_col: str | None = None
    train_until: str | None = None
    time_limit_s: float | None = None
    hotspots: HotspotSettings = field(default_factory=HotspotSettings)


@dataclass
class SitesResult:
    """Everything ``odgeo sites`` produced, for notebooks and the writers.

    Attributes
    ----------
    sites
        Existing sites, then those chosen in rank order (EPSG:4326).
    curve
        The share of incidents reached by each number of new sites.
    solution
        The sites chosen and how the solver got there.
    evaluation
        The ``train_until`` evaluation on later incidents, or None.
    record
        The run record.
    hotspots
        The main job's result behind the base map (its gate made every file written).
    map
        The HTML map.
    """

    sites: gpd.GeoDataFrame  # existing then chosen (rank order), EPSG:4326
    curve: pd.DataFrame  # n_new_sites, share (and incidents_reached for restricted)
    solution: Solution
    evaluation: dict | None
    record: RunRecord
    hotspots: HotspotResult  # the main job's result behind the base map
    map: folium.Map

    @property
    def rows(self) -> RowCounts:
        """Where every input row went (run.json's ``counts``)."""
        return self.hotspots.rows


def run_sites(path, out_dir, settings: SitesSettings, *, overwrite: bool = False,
              progress: Callable[[str], None] | None = None) -> SitesResult:
    """Read incidents and sites, choose, and write sites.geojson, coverage.csv, map.html, rejects.csv, run.json.

    Parameters
    ----------
    path
        The incident file, folder or database URL.
    out_dir
        The output folder (checked, locked and written aside before anything else).
    settings
        Every setting (see :class:`SitesSettings`; its ``candidates`` is required).
    overwrite
        Replace a non-empty ``out_dir`` as a whole.
    progress
        Called with a few words before each step.

    Returns
    -------
    SitesResult
        What was computed and written.
    """
    return run_job("sites", path, out_dir, settings.hotspots, overwrite=overwrite, progress=progress,
                   analyse=lambda read, **kw: analyse_sites(read, settings, **kw), write=_write_products)


def _write_products(result: SitesResult, folder: OutputFolder) -> list[Path]:
    gate = result.hotspots.gate
    rows = result.hotspots.rows
    written = [write_geojson(site_layer(gate, result.sites, rows.n_used), folder.path("sites.geojson")),
               write_csv(coverage_curve(gate, result.curve, rows.n_used), folder.path("coverage.csv")),
               write_csv(gate.rejects(result.hotspots.read.rejects, gate.totals(rows.as_record())),
                         folder.path("rejects.csv"))]
    return save_map_and_record(result.map, result.record, folder, written, gate)


def analyse_sites(read, settings: SitesSettings, *, record: RunRecord | None = None,
                  progress: Callable[[str], None] | None = None) -> SitesResult:
    """Choose the sites (nothing is written).

    Parameters
    ----------
    read
        The incidents, from :func:`odgeo.read_incidents`.
    settings
        Every setting (see :class:`SitesSettings`).
    record
        The run record to fill (None: a new one).
    progress
        Called with a few words before each step.

    Returns
    -------
    SitesResult
        The sites chosen, the coverage curve, the map and the record.
    """
    record = record or RunRecord("sites")
    say = progress or (lambda step: None)
    if settings.hotspots.ledger:
        raise ParameterError("`ledger` applies to odgeo hotspots; sites releases are not held back yet: publish "
                             "them once, or use `audience` restricted")
    hs_result = analyse_hotspots(read, settings.hotspots, progress=progress, record=record)
    incidents = hs_result.incidents
    crs = pyproj.CRS(record.sections["metric_crs"])
    lon, lat = lonlat_of(incidents.geometry)
    x, y, _ = project_points(lon, lat, crs)
    weights, weight_info = incident_weights(incidents, settings.weight, equity=settings.equity,
                                            equity_col=settings.equity_col)
    record.param("weight", settings.weight, "given" if settings.weight else "default", "every incident counts 1")
    record.sections["weights"] = weight_info
    show_sites(hs_result.gate, hs_result.rows.n_used)
    capacitated = settings.capacity_col is not None
    candidates = read_sites(settings.candidates, capacity_col=settings.capacity_col, require_capacity=capacitated)
    existing = (read_sites(settings.existing, capacity_col=settings.capacity_col, require_capacity=capacitated,
                           what="existing sites")
                if settings.existing else candidates.iloc[:0].copy())
    candidates = _drop_existing_ids(candidates, existing, record)
    plan = resolve_settings(settings, record, n_candidates=len(candidates))
    radius, time_limit = plan.radius_m, plan.time_limit_s
    say("measuring who each site reaches")
    cover_of = _cover_function(settings, crs, radius, record)
    cand_xy = _xy(candidates, crs)
    exist_xy = _xy(existing, crs)
    demand = _demand(x, y, lon, lat, weights, record)
    cand_cover, exist_cover = cover_of(cand_xy, demand.xy), cover_of(exist_xy, demand.xy)
    model = _Model(cand_cover, exist_cover, demand.weights, coverage_problem(demand.weights, cand_cover, exist_cover),
                   capacitated, candidates, existing, incidents, weights)
    say("choosing sites")
    with record.timed("solve"):
        solution = _solve(model, plan, record)
    exact_cand = cover_of(cand_xy, np.c_[x, y])
    exact_exist = cover_of(exist_xy, np.c_[x, y])
    sites, curve = _report(solution, model, exact_cand, exact_exist, weights, time_limit)
    record.sections["solution"] = {
        "method": solution.method, "gap": round(solution.gap, 6), "seconds": round(solution.seconds, 3),
        "n_new_sites": len(solution.chosen), "share_reached": round(float(curve["share"].iloc[-1]), 4),
        "share_reached_by_existing": round(float(curve["share"].iloc[0]), 4), **solution.details,
    }
    if model.capacitated:
        demand = solution.details["demand_per_month"]
        record.sections["solution"]["share_of_monthly_demand_served"] = round(solution.covered_weight / demand, 4)
    evaluation = _out_of_time(settings, incidents, weights, exact_cand, exact_exist, len(solution.chosen), time_limit)
    if evaluation:
        record.sections["out_of_time"] = {k: v for k, v in evaluation.items() if k != "train_until"}
        hs_result.gate.view_section("out_of_time", lambda value: out_of_time(hs_result.gate, value))
    fmap = _map(hs_result, sites, radius, settings, evaluation)
    return SitesResult(sites, curve, solution, evaluation, record, hs_result, fmap)


@dataclass
class _Demand:
    xy: np.ndarray
    weights: np.ndarray


@dataclass
class _Model:
    cand_cover: sparse.csr_matrix  # demand x candidates
    exist_cover: sparse.csr_matrix  # demand x existing
    demand_w: np.ndarray
    problem: CoverageProblem  # the uncapacitated model, merged
    capacitated: bool
    candidates: gpd.GeoDataFrame
    existing: gpd.GeoDataFrame
    incidents: gpd.GeoDataFrame
    incident_w: np.ndarray


def _xy(sites: gpd.GeoDataFrame, crs) -> np.ndarray:
    if not len(sites):
        return np.zeros((0, 2))
    lon, lat = lonlat_of(sites.geometry)
    x, y, _ = project_points(lon, lat, crs)
    return np.c_[x, y]


def _drop_existing_ids(candidates, existing, record) -> gpd.GeoDataFrame:
    clash = candidates["site_id"].isin(set(existing["site_id"]))
    if clash.any():
        record.sections["candidates_already_existing"] = candidates.loc[clash, "site_id"].tolist()
    if not (~clash).any():
        raise ParameterError("every candidate site is already an existing site: nothing to choose")
    return candidates[~clash].reset_index(drop=True)


def _cover_function(settings: SitesSettings, crs, radius: float, record: RunRecord):
    if not settings.network:
        record.param("distance", "straight line", "default", "give --network STREETS for walking distance")
        return lambda site_xy, demand_xy: straight_cover(site_xy, demand_xy, radius)
    network = read_network(settings.network, crs)
    record.param("distance", f"walking along {Path(settings.network).name}", "given",
                 {"n_nodes": network.n_nodes, "max_snap_m": network.max_snap_m,
                  "rule": "site to its nearest street node + shortest path + node to incident"})
    return lambda site_xy, demand_xy: network_cover(network, site_xy, demand_xy, radius)


def _demand(x, y, lon, lat, weights, record: RunRecord) -> _Demand:
    """Incidents at one place merged; above 20,000 places, H3 resolution-12 cells."""
    places, inverse = np.unique(np.c_[x, y], axis=0, return_inverse=True)
    inverse = inverse.ravel()
    if len(places) <= _EXACT_DEMAND_MAX:
        record.sections["demand"] = {"points": len(places), "aggregation": "incidents at one exact place merged",
                                     "error_bound_m": 0.0}
        return _Demand(places, np.bincount(inverse, weights=weights, minlength=len(places)))
    cells = points_to_cells(lon, lat, _DEMAND_RESOLUTION)
    uniq, inv = np.unique(cells, return_inverse=True)
    w = np.bincount(inv, weights=weights, minlength=len(uniq))
    cx = np.bincount(inv, weights=x, minlength=len(uniq)) / np.bincount(inv, minlength=len(uniq))
    cy = np.bincount(inv, weights=y, minlength=len(uniq)) / np.bincount(inv, minlength=len(uniq))
    from ..hexes import cell_edge_length_m

    bound = cell_edge_length_m(_DEMAND_RESOLUTION)
    record.sections["demand"] = {
        "points": len(uniq), "aggregation": f"H3 resolution {_DEMAND_RESOLUTION} cells (mean of their incidents)",
        "error_bound_m": round(2 * bound, 1),
        "meaning": "an incident is within this distance of its demand point; only incidents this close to a "
                   "coverage edge can be misjudged, and reported figures are recounted on the incidents"}
    return _Demand(np.c_[cx, cy], w)


@dataclass(frozen=True)
class ResolvedSitesSettings:
    """The choices of one ``odgeo sites`` run, decided before any coverage is measured and recorded once."""

    radius_m: float
    time_limit_s: float
    n_sites: int | None  # None with a target share
    target: float | None


def resolve_settings(settings: SitesSettings, record: RunRecord, *, n_candidates: int) -> ResolvedSitesSettings:
    """Decide the reach, the solver's time limit and how many sites (or which share); record each once."""
    radius = record.pick("radius_m", settings.radius_m, defaults.RADIUS_M)
    if not (radius > 0 and np.isfinite(radius)):
        raise ParameterError(f"`radius_m` must be a positive number of metres, not {radius!r}")
    time_limit = record.pick("time_limit_s", settings.time_limit_s, defaults.TIME_LIMIT_S)
    if settings.n_sites is not None and settings.target is not None:
        raise ParameterError("give `n_sites` or `target`, not both")
    if settings.capacity_col is not None and settings.target is not None:
        raise ParameterError("`target` is not available with capacities (`capacity_col`)")
    if settings.train_until:
        record.param("train_until", settings.train_until, "given")
    if settings.target is not None:
        return ResolvedSitesSettings(float(radius), float(time_limit), None,
                                     float(record.param("target", float(settings.target), "given")))
    n = record.pick("n_sites", settings.n_sites, min(DEFAULT_N_SITES, n_candidates))
    if int(n) != n or n < 1:
        raise ParameterError(f"`n_sites` must be a whole number >= 1, not {n!r}")
    return ResolvedSitesSettings(float(radius), float(time_limit), int(n), None)


def _solve(model: _Model, plan: ResolvedSitesSettings, record: RunRecord) -> Solution:
    time_limit = plan.time_limit_s
    if model.capacitated:
        n = int(plan.n_sites or 0)
        months = _months(model.incidents)
        record.param("capacity", "kits per month", "given", f"demand = weighted incidents / {months:.1f} months")
        cover = sparse.hstack([model.exist_cover, model.cand_cover], format="csr")
        capacity = np.r_[model.existing["capacity"].to_numpy(float), model.candidates["capacity"].to_numpy(float)]
        is_existing = np.r_[np.ones(len(model.existing), bool), np.zeros(len(model.candidates), bool)]
        solution = solve_capacitated(model.demand_w / months, cover, capacity, is_existing, int(n),
                                     time_limit=time_limit)
        solution.chosen = [j - len(model.existing) for j in solution.chosen]
        return solution
    problem = model.problem
    if plan.target is not None:
        return solve_target_share(problem, plan.target, time_limit=time_limit)
    return solve_max_coverage(problem, int(plan.n_sites or 0), time_limit=time_limit)


def _months(incidents: gpd.GeoDataFrame) -> float:
    times = incidents[OCCURRED_AT]
    return max((times.max() - times.min()).days / 30.4375, 1.0)


def _report(solution: Solution, model: _Model, exact_cand, exact_exist, w, time_limit: float):
    """Rank the chosen sites by marginal gain, recount everything on the incidents, and the curve."""
    total = float(w.sum())
    by_existing = np.asarray(exact_exist.sum(axis=1)).ravel() > 0 if exact_exist.shape[1] else np.zeros(len(w), bool)
    reached = by_existing.copy()
    order, gains = [], []
    remaining = list(solution.chosen)
    cover = exact_cand.tocsc()
    while remaining:
        gain_of = [float(w[cover[:, j].indices][~reached[cover[:, j].indices]].sum()) for j in remaining]
        best = remaining.pop(int(np.argmax(gain_of)))
        order.append(best)
        gains.append(max(gain_of))
        reached[cover[:, best].indices] = True
    rows = []
    cum = float(w[by_existing].sum())
    per_existing = np.diff(exact_exist.tocsc().indptr)  # incidents within reach of each existing site
    for site, row in model.existing.iterrows():
        rows.append({"status": "existing", "rank": None, "site_id": row["site_id"], "name": row["name"],
                     "covered": int(per_existing[site]), "marginal_gain": None, "cumulative_share": None,
                     "geometry": row.geometry})
    for rank, (site, gain) in enumerate(zip(order, gains), start=1):
        row = model.candidates.iloc[site]
        cum += gain
        rows.append({"status": "new", "rank": rank, "site_id": row["site_id"], "name": row["name"],
                     "covered": len(cover[:, site].indices), "marginal_gain": round(gain, 3),
                     "cumulative_share": round(cum / total, 4) if total else 0.0, "geometry": row.geometry})
    sites = gpd.GeoDataFrame(rows, columns=["status", "rank", "site_id", "name", "covered", "marginal_gain",
                                            "cumulative_share", "geometry"], geometry="geometry", crs=WGS84)
    curve = _curve(model, len(order), total, by_existing, w, time_limit)
    return sites, curve


def _curve(model: _Model, n: int, total: float, by_existing, w, time_limit: float) -> pd.DataFrame:
    """The best share for 0 (existing only), 1, ..., n new sites (optimal each; greedy when capacitated)."""
    rows = [{"n_new_sites": 0, "share": float(w[by_existing].sum()) / total if total else 0.0}]
    problem = model.problem
    if model.capacitated:
        picked = greedy(problem, n)
        rows += [{"n_new_sites": k, "share": _share(problem, picked[:k])} for k in range(1, n + 1)]
        return pd.DataFrame(rows).assign(method="greedy, ignoring capacities")
    for k in range(1, n + 1):
        rows.append({"n_new_sites": k, "share": _share(problem, solve_max_coverage(problem, k,
                                                                                    time_limit=time_limit).chosen)})
    return pd.DataFrame(rows).assign(method="optimal for each number of sites")


def _share(problem, chosen) -> float:
    return covered_weight(problem, chosen) / problem.total_weight if problem.total_weight else 0.0


def _out_of_time(settings, incidents, w, exact_cand, exact_exist, n, time_limit):
    """Choose on incidents up to --train-until, score on those after, beside the best possible score."""
    if not settings.train_until:
        return None
    tz = incidents[OCCURRED_AT].dt.tz
    try:
        cut = pd.Timestamp(settings.train_until)
    except ValueError as err:
        raise ParameterError(f"`train_until` must be a date (YYYY-MM-DD), not {settings.train_until!r}") from err
    # The end of that calendar day where the incidents happened (23 or 25 hours on a DST change).
    cut = calendar_day(cut.tz_localize(tz) if cut.tzinfo is None else cut, 1)
    dated = incidents[OCCURRED_AT].notna().to_numpy()  # an undated incident is on neither side
    train = (incidents[OCCURRED_AT] < cut).to_numpy() & dated
    later = dated & ~train
    if train.sum() == 0 or later.sum() == 0:
        raise ParameterError(f"`train_until` {settings.train_until} leaves no incidents on one side "
                             f"({int(train.sum())} before, {int(later.sum())} after)")

    def best(mask):  # the incident-level coverage, restricted to one period
        problem = coverage_problem(w[mask], exact_cand[mask], exact_exist[mask])
        return problem, solve_max_coverage(problem, int(n), time_limit=time_limit)

    _, chosen_on_train = best(train)
    test_problem, best_on_test = best(later)

    reached = covered_weight(test_problem, chosen_on_train.chosen) / test_problem.total_weight
    possible = best_on_test.covered_weight / test_problem.total_weight
    evaluation = {
        "train_until": settings.train_until, "n_train": int(train.sum()), "n_later": int(later.sum()),
        "n_new_sites": int(n), "share_of_later_reached": round(reached, 4),
        "best_possible_share_of_later": round(possible, 4),
        "percent_of_best_possible": round(100 * reached / possible, 1) if possible else None,
        "meaning": "sites chosen from the incidents up to the date, scored on the incidents after it, beside "
                   "the best choice of as many sites made knowing the later incidents (Heuton et al. 2024)",
    }
    return evaluation


def _map(hs_result, sites: gpd.GeoDataFrame, radius: float, settings: SitesSettings, evaluation):
    from ..maps.webmap import basemap, build_map

    products = replace(hs_result.products, sites=site_layer(hs_result.gate, sites, hs_result.rows.n_used),
                       sites_radius_m=radius)
    caption = hs_result.map_caption
    notes = [f"Sites reach incidents within {radius:g} m "
             + ("walking along the streets (circles show the straight-line reach)." if settings.network
                else "in a straight line.")]
    if evaluation and "hidden" not in out_of_time(hs_result.gate, evaluation):
        month = pd.Timestamp(evaluation["train_until"]).strftime("%b %Y")
        notes.append(f"Chosen from incidents up to the --train-until date ({month}), these sites reach "
                     f"{evaluation['share_of_later_reached']:.0%} of later incidents; the best possible choice "
                     f"would reach {evaluation['best_possible_share_of_later']:.0%} "
                     f"({evaluation['percent_of_best_possible']}% of best possible).")
    return build_map(products, title=settings.hotspots.title or caption["title"].replace(
        "Suspected overdoses", "Naloxone sites and overdoses"), subtitle=caption["subtitle"], notes=notes,
        tiles=basemap(settings.hotspots.tiles),
        classes=caption["classes"])
