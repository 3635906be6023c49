"""From analysis results to the products an audience may see.

Every writer and the map take a :class:`Products`, never the analysis
itself, so the only way to a file is through :func:`public_products` or
:func:`restricted_products`. Public products hold aggregates only: areas with
at least ``min_count`` incidents (:mod:`odgeo.privacy`), a masked and rounded
density surface, hot spots and clusters with enough incidents, cluster shapes
made of H3 cells and dates by month. Restricted products keep every detail
and may add (optionally displaced) incident points.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from .density import DensityGrid
from .geomask import DonutMask
from .hexes import (
    cell_edge_length_m,
    cell_ints,
    cell_of_point,
    cell_parent,
    cell_strs,
    cells_outline,
    cells_to_polygons,
    polygon_cells,
)
from .privacy import coarsen_cells, hidden_counts, public_density, suppress_breakdowns
from .schema import OCCURRED_AT, OUTCOME, OUTCOMES, WGS84

__all__ = ["PUBLIC_PROPERTIES", "Products", "public_products", "restricted_products"]

#: Every property a public GeoJSON feature may carry (the leak scanner checks this),
#: besides period columns ("2024-05", "2024-W19").
PUBLIC_PROPERTIES = frozenset({
    "h3_cell", "h3_resolution", "merged", "n_fine_cells", "count", *OUTCOMES,
    "hotspot_id", "area_km2", "n_incidents", "peak_density", "mean_density",
    "cluster_id", "first_month", "last_month", "possible_artefact",
    "name", "population", "rate_per_10k", "unstable", "gi_bin",
    "category", "mk_tau", "mk_p", "n_steps_hot", "n_steps_cold",
    "status", "rank", "site_id", "covered", "marginal_gain", "cumulative_share",
})


@dataclass
class Products:
    """What may be written and drawn for one audience."""

    audience: str
    hexes: gpd.GeoDataFrame | None  # EPSG:4326
    grid: DensityGrid | None
    hotspots: gpd.GeoDataFrame | None
    clusters: gpd.GeoDataFrame | None
    points: gpd.GeoDataFrame | None = None  # restricted only: date, outcome, geometry
    min_count: int | None = None
    privacy: dict = field(default_factory=dict)
    extent: tuple[float, float, float, float] | None = None  # lon/lat box for the map when nothing is drawn
    areas: gpd.GeoDataFrame | None = None  # counts per boundary polygon, when a boundaries file was given
    gistar: gpd.GeoDataFrame | None = None  # Gi* per cell (public: gi_bin only)
    emerging: gpd.GeoDataFrame | None = None  # emerging hot spot category per cell
    sites: gpd.GeoDataFrame | None = None  # naloxone sites: existing and chosen (odgeo sites)
    sites_radius_m: float | None = None


def _period_columns(counts: pd.DataFrame) -> list[str]:
    return [c for c in counts.columns if c not in ("count", *OUTCOMES)]


def public_products(*, counts: pd.DataFrame, grid: DensityGrid, hotspots: gpd.GeoDataFrame,
                    clusters: gpd.GeoDataFrame, x: np.ndarray, y: np.ndarray, eps_m: float,
                    min_count: int, areas: gpd.GeoDataFrame | None = None,
                    gistar: gpd.GeoDataFrame | None = None) -> Products:
    """Aggregates safe for a wide audience (see docs/privacy.md)."""
    hex_areas, coarsening = coarsen_cells(counts, min_count=min_count)
    groups = {"outcome": [c for c in OUTCOMES if c in counts.columns], "period": _period_columns(counts)}
    hex_areas, hidden = suppress_breakdowns(hex_areas, groups, min_count=min_count)
    coarsening.breakdowns = hidden
    public_grid, density_report = public_density(grid, x, y, min_count=min_count)
    step = density_report["rounding_step_per_km2"]
    spots = hotspots[hotspots["n_incidents"] >= min_count].copy()
    for col in ("peak_density", "mean_density"):
        spots[col] = np.round(spots[col] / step) * step
    shown_clusters = _generalised_clusters(clusters[clusters["n_incidents"] >= min_count], eps_m)
    privacy = {
        "audience": "public",
        "min_count": min_count,
        "hexes": coarsening.as_dict(),
        "density": density_report,
        "hotspots": {"n": len(hotspots), "n_shown": len(spots),
                     "rule": f"hot spots with fewer than {min_count} incidents are left out"},
        "clusters": {"n": len(clusters), "n_shown": len(shown_clusters),
                     "rule": f"clusters with fewer than {min_count} incidents are left out; "
                             f"shapes are the H3 cells (res {_cluster_resolution(eps_m)}) their "
                             f"buffered hull covers; dates by month"},
        "points": "none (public products carry no incident locations)",
    }
    shown_areas = None
    if areas is not None:
        shown_areas, privacy["areas"] = _public_areas(areas, min_count)
    return Products("public", hex_areas, public_grid, spots.reset_index(drop=True), shown_clusters,
                    min_count=min_count, privacy=privacy, extent=_coarse_extent(counts, coarsening.coarsest_resolution),
                    areas=shown_areas, gistar=_public_gistar(gistar))


def _public_gistar(gistar: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    """Only the confidence bin per cell.

    Counts of fine cells would undo the coarsening, and z-scores of overlapping
    neighbourhoods can be solved back to counts.
    """
    if gistar is None:
        return None
    return gistar[["h3_cell", "gi_bin", gistar.geometry.name]].copy()


def _public_areas(areas: gpd.GeoDataFrame, min_count: int) -> tuple[gpd.GeoDataFrame, dict]:
    """Boundary counts with small ones hidden (and others, so the total does not give them away)."""
    out = areas.copy()
    hidden = hidden_counts(out["count"].to_numpy(), min_count=min_count)
    fatal = out["fatal"].to_numpy()
    fatal_hidden = hidden | ((fatal > 0) & (fatal < min_count))
    out["count"] = pd.array(np.where(hidden, 0, out["count"]), dtype="Int64")
    out.loc[hidden, "count"] = pd.NA
    out["fatal"] = pd.array(np.where(fatal_hidden, 0, fatal), dtype="Int64")
    out.loc[fatal_hidden, "fatal"] = pd.NA
    out.loc[hidden, "rate_per_10k"] = np.nan
    return out, {"n": len(out), "n_counts_hidden": int(hidden.sum()), "n_fatal_hidden": int(fatal_hidden.sum())}


def _coarse_extent(counts: pd.DataFrame, resolution: int) -> tuple[float, float, float, float] | None:
    """The box of the coarsest cells holding incidents: where the map opens, and no closer."""
    if not len(counts):
        return None
    parents = {cell_parent(c, resolution) for c in cell_ints(counts.index)}
    return tuple(cells_to_polygons(cell_strs(sorted(parents))).total_bounds)


def restricted_products(*, hexes: gpd.GeoDataFrame, grid: DensityGrid, hotspots: gpd.GeoDataFrame,
                        clusters: gpd.GeoDataFrame, incidents: gpd.GeoDataFrame,
                        mask: DonutMask | None = None, k_anonymity: np.ndarray | None = None,
                        areas: gpd.GeoDataFrame | None = None) -> Products:
    """Every detail for the analysts' team: exact counts, day dates, incident points."""
    geometry = incidents.geometry.to_crs(WGS84)
    if mask is not None:
        geometry = gpd.GeoSeries(gpd.points_from_xy(mask.lon, mask.lat), crs=WGS84)
    points = gpd.GeoDataFrame(
        {"date": incidents[OCCURRED_AT].dt.strftime("%Y-%m-%d").fillna("").to_numpy(),
         "outcome": incidents[OUTCOME].to_numpy()},
        geometry=geometry.to_numpy(), crs=WGS84)
    clusters = clusters.copy()
    for col in ("first_date", "last_date"):
        clusters[col] = [pd.Timestamp(v).strftime("%Y-%m-%d") if pd.notna(v) else None for v in clusters[col]]
    privacy: dict = {"audience": "restricted", "min_count": None,
                     "points": "incident points (displaced)" if mask is not None else "incident points (exact)"}
    if mask is not None:
        privacy["geomask"] = mask.summary()
        if k_anonymity is not None:
            privacy["geomask"]["k_anonymity"] = _k_summary(k_anonymity)
    return Products("restricted", hexes, grid, hotspots, clusters, points=points, privacy=privacy, areas=areas)


def _k_summary(k: np.ndarray) -> dict:
    known = k[np.isfinite(k)]
    out = {"estimate": "residents in the masking ring: population density of the point's polygon x ring area",
           "n_points": len(k), "n_outside_population_layer": int(len(k) - len(known))}
    if len(known):
        q = np.percentile(known, [0, 5, 50])
        out.update({"min": round(float(q[0]), 1), "p5": round(float(q[1]), 1), "median": round(float(q[2]), 1),
                    "n_below_5": int((known < 5).sum()), "n_below_10": int((known < 10).sum())})
    return out


def _month(value) -> str | None:
    """"2024-05", or None for a cluster whose incidents are all undated."""
    return None if pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m")


def _cluster_resolution(eps_m: float) -> int:
    """The finest H3 resolution whose cells are at least eps wide (edge >= eps)."""
    res = 0
    while res < 15 and cell_edge_length_m(res + 1) >= eps_m:
        res += 1
    return res


def _generalised_clusters(clusters: gpd.GeoDataFrame, eps_m: float) -> gpd.GeoDataFrame:
    """Cluster shapes as unions of H3 cells covering the buffered hull, months for dates.

    A buffered hull has arcs centred on its outermost incidents, so its
    vertices would locate them; H3 cells' vertices depend on no incident.
    """
    res = _cluster_resolution(eps_m)
    shapes = clusters.to_crs(WGS84).geometry
    geoms = []
    for polygon in shapes:
        cells = polygon_cells(polygon, res)
        if not len(cells):
            centre = polygon.representative_point()
            cells = np.array([cell_of_point(centre.x, centre.y, res)], dtype=np.uint64)
        geoms.append(cells_outline(cells))
    out = pd.DataFrame({
        "cluster_id": clusters["cluster_id"].to_numpy(),
        "n_incidents": clusters["n_incidents"].to_numpy(),
        "first_month": [_month(v) for v in clusters["first_date"]],
        "last_month": [_month(v) for v in clusters["last_date"]],
        "possible_artefact": clusters["possible_artefact"].to_numpy(dtype=bool),
    })
    return gpd.GeoDataFrame(out, geometry=geoms, crs=WGS84)

