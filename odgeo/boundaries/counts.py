"""Counts and rates per area of a boundaries file (neighbourhoods, tracts, ZIP areas).

Each incident counts in every polygon that contains it (polygons of one file
rarely overlap; where they do, each gets its own count). With a population
column, rates are per 10,000 residents and flagged unstable below 20
incidents (CDC WISQARS and Washington DOH mark rates from fewer than 20
events as unreliable).
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..incidents.tables import read_vector_layer
from ..schema import OUTCOME, WGS84, find_column, has_location
from .population import POPULATION_ALIASES, checked_population, require_polygons

log = logging.getLogger(__name__)

__all__ = ["NAME_ALIASES", "RATE_PER", "UNSTABLE_BELOW", "add_rates", "area_counts", "dissolve_by_name",
           "read_boundaries"]

NAME_ALIASES = ("name", "neighbourhood", "neighborhood", "nbhd", "area_name", "namelsad", "district",
                "ward", "tract", "geoid", "zcta5ce20", "zcta5ce10", "zip", "zipcode")
#: Rates from fewer events than this are marked unstable.
UNSTABLE_BELOW = 20
RATE_PER = 10_000


def read_boundaries(path: str | Path, *, name_col: str | None = None, population_col: str | None = None,
                    layer: str | None = None, option: str = "`boundary_name_col`",
                    what: str = "a boundaries file", with_population: bool = True) -> tuple[gpd.GeoDataFrame, dict]:
    """Polygons with a name and, when there is one, a population.

    Parameters
    ----------
    path
        A polygon file (GeoPackage, Shapefile, GeoJSON, ...).
    name_col
        The column naming the polygons (None: detected; "Area N" where none is found).
    population_col
        The column holding each polygon's residents (None: detected, or none).
    layer
        The layer of a multi-layer file.
    option, what
        How errors name the setting and the file.
    with_population
        False for a use that needs no population (alert areas): a population column
        is then neither read nor checked.

    Returns
    -------
    frame : geopandas.GeoDataFrame
        ``name`` (text), ``population`` (float or NaN) and the polygons, in EPSG:4326.
    columns : dict
        The columns used, for the run record.
    """
    path = Path(path)
    frame = read_vector_layer(path, layer=layer)
    columns = [c for c in frame.columns if c != frame.geometry.name]
    name_col = find_column(columns, NAME_ALIASES, name_col, path=path, option=option)
    names = (frame[name_col].astype(str) if name_col else
             pd.Series([f"Area {i + 1}" for i in range(len(frame))], index=frame.index))
    population = np.full(len(frame), np.nan)
    require_polygons(frame, path, what)
    has_pop = with_population and (population_col is not None or find_column(columns, POPULATION_ALIASES) is not None)
    if has_pop:
        frame, population_col = checked_population(frame, path, population_col)
        population = frame[population_col].to_numpy(dtype=float)
    geometry, repaired = valid_polygons(frame.geometry.to_numpy())
    if repaired:
        log.warning(f"{path}: {repaired} self-intersecting polygon(s) repaired (split where they cross, as "
                    "GEOS make_valid does)")
    out = gpd.GeoDataFrame({"name": names.to_numpy(), "population": population}, geometry=geometry, crs=WGS84)
    return out, {"name": name_col, "population": population_col if has_pop else None,
                 **({"repaired_polygons": repaired} if repaired else {})}


def valid_polygons(geometry: np.ndarray) -> tuple[np.ndarray, int]:
    """The polygons made valid (a bowtie split into its two triangles), and how many needed it.

    An invalid polygon stops GEOS' union and overlay ("TopologyException: side
    location conflict") and makes point-in-polygon answers undefined.
    """
    invalid = ~shapely.is_valid(geometry)
    if not invalid.any():
        return geometry, 0
    fixed = geometry.copy()
    fixed[invalid] = shapely.make_valid(geometry[invalid])
    return fixed, int(invalid.sum())


def dissolve_by_name(boundaries: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One area per name: polygons sharing a name (a district's several parts) dissolved into one.

    Parameters
    ----------
    boundaries
        From :func:`read_boundaries`.

    Returns
    -------
    geopandas.GeoDataFrame
        ``name`` and ``population`` (the parts' sum; NaN where any part has none), one row per
        name in name order, with the union of the parts (made valid) in EPSG:4326.
    """
    grouped = boundaries.groupby("name", sort=True)["population"]
    population = grouped.sum(min_count=1).where(grouped.count() == grouped.size())
    merged = boundaries[["name", boundaries.geometry.name]].dissolve(by="name", sort=True)
    return gpd.GeoDataFrame({"name": [str(n) for n in merged.index],
                             "population": population.reindex(merged.index).to_numpy(dtype=float)},
                            geometry=shapely.make_valid(merged.geometry.to_numpy()), crs=WGS84)


def area_counts(boundaries: gpd.GeoDataFrame, incidents: gpd.GeoDataFrame, *,
                parts: dict[str, np.ndarray] | None = None) -> gpd.GeoDataFrame:
    """Incidents per boundary polygon, with rates where a population is known.

    Parameters
    ----------
    boundaries
        From :func:`read_boundaries`.
    incidents
        The located incidents (any CRS), with ``outcome``.
    parts
        Column name to a mask over ``incidents`` (the incidents of a drug group): each becomes a column
        counting the masked incidents per polygon.

    Returns
    -------
    geopandas.GeoDataFrame
        The polygons with ``count``, ``fatal`` and, with a population, ``rate_per_10k``
        (per 10,000 residents) and ``unstable`` (fewer than 20 incidents).
    """
    where = has_location(incidents.geometry)
    located = incidents[where]
    points = gpd.GeoDataFrame({"fatal": (located[OUTCOME] == "fatal").to_numpy()},
                              geometry=located.geometry.to_numpy(), crs=WGS84)
    areas = boundaries.reset_index(drop=True)
    hits = gpd.sjoin(points, areas[[areas.geometry.name]], how="inner", predicate="intersects")
    count = np.bincount(hits["index_right"].to_numpy(), minlength=len(areas))
    fatal = np.bincount(hits["index_right"].to_numpy(), weights=hits["fatal"].to_numpy(dtype=float),
                        minlength=len(areas)).astype(np.int64)
    out = areas[["name", "population"]].copy()
    out["count"] = count
    out["fatal"] = fatal
    for column, mask in (parts or {}).items():
        inside = np.asarray(mask, dtype=bool)[where][hits.index.to_numpy()]
        out[column] = np.bincount(hits["index_right"].to_numpy()[inside], minlength=len(areas)).astype(np.int64)
    pop = out["population"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["rate_per_10k"] = np.where(pop > 0, np.round(count / pop * RATE_PER, 2), np.nan)
    out["unstable"] = np.where(np.isfinite(out["rate_per_10k"]), count < UNSTABLE_BELOW, False)
    return gpd.GeoDataFrame(out, geometry=areas.geometry.to_numpy(), crs=WGS84)


def add_rates(areas: gpd.GeoDataFrame, population: gpd.GeoDataFrame, column: str) -> gpd.GeoDataFrame:
    """Add ``population``, ``rate_per_10k`` and ``unstable`` to count areas (hexagons), by areal weighting.

    Each population polygon's residents are spread evenly over its area; an
    area receives the share of each polygon it overlaps (areas measured in a
    local metric CRS). Residents of polygons partly outside every area are
    not counted anywhere, so a hexagon at the edge of the population layer
    gets only its covered share. Rates from fewer than 20 incidents are marked unstable.

    Parameters
    ----------
    areas
        Count areas with ``count`` (EPSG:4326).
    population
        Polygons with residents (EPSG:4326).
    column
        The population column of ``population``.

    Returns
    -------
    geopandas.GeoDataFrame
        ``areas`` with ``population``, ``rate_per_10k`` (per 10,000 residents) and ``unstable``.
    """
    from ..projection import local_metric_crs

    out = areas.copy()
    if not len(out):
        return out.assign(population=[], rate_per_10k=[], unstable=[])
    centre = out.geometry.union_all().centroid
    crs = local_metric_crs(np.array([centre.x]), np.array([centre.y]))
    cells = out[[out.geometry.name]].to_crs(crs).reset_index(drop=True)
    cells["cell_index"] = np.arange(len(cells))
    pops = population[[column, population.geometry.name]].to_crs(crs).reset_index(drop=True)
    pops["density"] = pops[column].to_numpy(dtype=float) / pops.geometry.area.to_numpy()
    pieces = gpd.overlay(cells, pops[["density", pops.geometry.name]], how="intersection", keep_geom_type=True)
    residents = np.bincount(pieces["cell_index"].to_numpy(), weights=(pieces["density"] * pieces.geometry.area)
                            .to_numpy(), minlength=len(cells))
    counts = pd.to_numeric(out["count"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    out["population"] = np.round(residents, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["rate_per_10k"] = np.where(residents > 0, np.round(counts / residents * RATE_PER, 2), np.nan)
    out["unstable"] = np.isfinite(out["rate_per_10k"]) & (counts < UNSTABLE_BELOW)
    return out
