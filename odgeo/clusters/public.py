"""What each audience may see of clusters: restricted, the hulls with day dates; public, H3 cells and months."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from ..hexes import cell_of_point, cells_outline, polygon_cells
from ..publish.areas import cluster_resolution
from ..publish.gate import Gate
from ..publish.public import PublicGate
from ..schema import WGS84

__all__ = ["cluster_layer", "generalised_clusters"]


def cluster_layer(gate: Gate, clusters: gpd.GeoDataFrame, eps_m: float) -> tuple[gpd.GeoDataFrame, str | None]:
    """The cluster layer for the gate's audience, and (public) the rule that made it.

    Parameters
    ----------
    gate
        Restricted: every cluster's hull with its first and last day. Public: clusters
        of at least ``min_count`` incidents as H3 cells and months; none in a series
        (a cluster's shape and size follow single incidents, so releases could be differenced).
    clusters
        ClusterFrame (``cluster_id``, ``n_incidents``, ``first_date``, ``last_date``,
        ``possible_artefact``, polygon).
    eps_m
        The DBSCAN distance in metres: the public cells are at least this wide.

    Returns
    -------
    tuple
        The layer, and the rule run.json states for it (None when restricted).
    """
    if not isinstance(gate, PublicGate):
        out = clusters.copy()
        for col in ("first_date", "last_date"):
            out[col] = [pd.Timestamp(v).strftime("%Y-%m-%d") if pd.notna(v) else None for v in out[col]]
        return out, None
    m = gate.limit
    if gate.is_series:
        empty = generalised_clusters(clusters.iloc[0:0], eps_m)
        return empty, ("left out with --ledger: a cluster's shape and size follow single incidents, so "
                       "two releases could be differenced (the restricted map has them)")
    shown = generalised_clusters(clusters[clusters["n_incidents"] >= m], eps_m)
    return shown, (f"clusters with fewer than {m} incidents are left out; shapes are the H3 cells "
                   f"(res {cluster_resolution(eps_m)}) their buffered hull covers; dates by month")


def _month(value) -> str | None:
    """"2024-05", or None for a cluster whose incidents are all undated."""
    return None if pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m")


def generalised_clusters(clusters: gpd.GeoDataFrame, eps_m: float) -> gpd.GeoDataFrame:
    """Cluster shapes as unions of H3 cells covering the buffered hull, months for dates.

    A buffered hull has arcs centred on its outermost incidents, so its
    vertices would locate them; H3 cells' vertices depend on no incident.
    """
    res = cluster_resolution(eps_m)
    geoms = []
    for polygon in clusters.to_crs(WGS84).geometry:
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
