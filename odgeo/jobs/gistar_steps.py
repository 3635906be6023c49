"""Gi* for the main job: the neighbourhood given, defaulted or chosen (``--method optimized``)."""

from __future__ import annotations

import logging

import numpy as np
import shapely

from .. import defaults
from ..errors import ParameterError
from ..gistar.scale import Decisions, optimized_scale
from ..gistar.statistic import CORRECTIONS, GiPlan, GiStar, gi_star_cells, ring_for_distance
from ..incidents.tables import read_vector_layer
from ..runrecord import RunRecord
from ..vocabulary import METHODS
from .located import LocatedIncidents

__all__ = ["METHODS", "GiPlan", "hotspot_statistics", "neighbourhood_rings", "plan_gistar", "read_study_area"]

log = logging.getLogger(__name__)



def read_study_area(path) -> shapely.Geometry:
    """The union of a polygon file's features (EPSG:4326)."""
    frame = read_vector_layer(path)
    kinds = set(frame.geometry.geom_type)
    if not kinds <= {"Polygon", "MultiPolygon"}:
        raise ParameterError(f"{path}: the study area must be polygons, not {', '.join(sorted(kinds))}")
    return shapely.union_all(frame.geometry.values)


def plan_gistar(record: RunRecord, settings, x: np.ndarray, y: np.ndarray, lon: np.ndarray, lat: np.ndarray,
                resolution: int) -> GiPlan:
    """Resolve the Gi* settings (given, default, or chosen from the data) and record each once."""
    method = record.pick("method", settings.method, defaults.GI_METHOD)
    if method not in METHODS:
        raise ParameterError(f"`method` must be one of {', '.join(METHODS)}, not {method!r}")
    correction = record.pick("correction", settings.correction, defaults.GI_CORRECTION)
    if correction not in CORRECTIONS:
        raise ParameterError(f"`correction` must be one of {', '.join(CORRECTIONS)}, not {correction!r}")
    permutations = record.pick("permutations", settings.permutations, defaults.GI_PERMUTATIONS)
    if int(permutations) != permutations or permutations < 0:
        raise ParameterError(f"`permutations` must be a whole number >= 0, not {permutations!r}")
    seed = record.pick("seed", settings.seed, defaults.SEED)
    boundary = None
    if settings.study_area:
        boundary = read_study_area(settings.study_area)
        record.param("study_area", str(settings.study_area), "given")
    keep = None
    if method == "optimized":
        if settings.gi_distance_m is not None or settings.gi_rings is not None or settings.gi_resolution is not None:
            raise ParameterError("`method` optimized chooses the Gi* resolution and distance itself; "
                                 "drop `gi_resolution`/`gi_distance_m`/`gi_rings` or use `method` fixed")
        decisions = Decisions()
        keep, gi_resolution, rings = optimized_scale(x, y, lon, lat, decisions)
        record.sections["decisions"] = decisions.steps
        for line in decisions.lines():
            log.info("decision: %s", line)
        record.param("gi_resolution", gi_resolution, "auto", "see decisions")
        record.param("gi_rings", rings, "auto", "see decisions")
    else:
        gi_resolution = int(record.pick(
            "gi_resolution", settings.gi_resolution, min(resolution + 1, 15),
            "one finer than the hexagons: Gi* needs cells smaller than the hot spots it should find"))
        rings = neighbourhood_rings(record, settings.gi_rings, settings.gi_distance_m, gi_resolution)
    return GiPlan(method, int(gi_resolution), int(rings), correction, int(permutations), int(seed), boundary, keep)


def hotspot_statistics(plan: GiPlan, used: LocatedIncidents, counts, resolution: int) -> GiStar:
    """Gi* of the incidents per H3 cell as ``plan`` says; ``counts`` are at the hexagons' ``resolution``."""
    if plan.keep is not None or plan.resolution != resolution:
        counts = used.count_cells(resolution=plan.resolution, by_outcome=False, keep=plan.keep)
    return gi_star_cells(counts["count"], resolution=plan.resolution, rings=plan.rings, boundary=plan.boundary,
                         correction=plan.correction, permutations=plan.permutations, seed=plan.seed)


def neighbourhood_rings(record: RunRecord, gi_rings: int | None, gi_distance_m: float | None,
                        resolution: int) -> int:
    """Gi* neighbours as H3 rings: given, from a distance band, or 1 by default (recorded)."""
    if gi_rings is not None and gi_distance_m is not None:
        raise ParameterError("give `gi_distance_m` or `gi_rings`, not both")
    if gi_rings is not None:
        if int(gi_rings) != gi_rings or gi_rings < 1:
            raise ParameterError(f"`gi_rings` must be a whole number >= 1, not {gi_rings!r}")
        return record.param("gi_rings", int(gi_rings), "given")
    if gi_distance_m is not None:
        rings = ring_for_distance(float(gi_distance_m), resolution)
        record.param("gi_distance_m", float(gi_distance_m), "given")
        return record.param("gi_rings", rings, "auto", f"{gi_distance_m} m at resolution {resolution}")
    return record.param("gi_rings", 1, "default", "the cell and its six neighbours")
