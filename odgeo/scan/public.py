"""What each audience may see of ``odgeo scan`` (:func:`scan_cluster_files`, :func:`scan_section`).

A scan cluster's circle is centred on an incident's coordinates and its radius
reaches another's, so the public gets neither: each cluster is the H3 cells
(at the finest resolution whose edge is at least ``--max-radius``, res 7 for
the default 1,207 m) that its circle covers, plus the cell of its centre. Its
observed count is hidden under ``min_count``, and with it everything that
would give it back (the expected count and LLR: the LLR is a function of the
observed and expected counts and the total); the dates are days when the count
is shown, months otherwise. The p-value and the recurrence interval, which
rank the cluster among permuted data sets, are kept: they are the news.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from ..hexes import cell_of_point, cell_strs, cells_outline, polygon_cells
from ..publish.areas import cluster_resolution
from ..publish.gate import Gate
from ..publish.public import PublicGate
from ..schema import WGS84
from .statistic import ScanResult

__all__ = ["PUBLIC_SCAN_COLUMNS", "public_scan_clusters", "scan_cluster_files", "scan_section"]

PUBLIC_SCAN_COLUMNS = ["cluster_id", "h3_cells", "start_date", "end_date", "n_days", "observed", "expected", "llr",
                       "p_value", "recurrence_interval_days"]


def public_scan_clusters(clusters: gpd.GeoDataFrame, min_count: int, max_radius_m: float) -> gpd.GeoDataFrame:
    """scan_clusters for the public: H3 cells for circles, small counts and what follows from them hidden."""
    res = cluster_resolution(max_radius_m)
    geoms, cells_text = [], []
    for row in clusters.itertuples():
        cells = set(polygon_cells(row.geometry, res).tolist())
        cells.add(cell_of_point(row.center_longitude, row.center_latitude, res))
        geoms.append(cells_outline(cells))
        cells_text.append(";".join(cell_strs(sorted(cells))))
    observed = clusters["observed"].to_numpy(dtype=np.int64)
    shown = observed >= min_count
    out = pd.DataFrame({
        "cluster_id": clusters["cluster_id"].to_numpy(),
        "h3_cells": cells_text,
        "start_date": [d if ok else d[:7] for d, ok in zip(clusters["start_date"], shown)],
        "end_date": [d if ok else d[:7] for d, ok in zip(clusters["end_date"], shown)],
        "n_days": pd.array(np.where(shown, clusters["n_days"], 0), dtype="Int64"),
        "observed": pd.array(np.where(shown, observed, 0), dtype="Int64"),
        "expected": clusters["expected"].astype(float).where(shown),
        "llr": clusters["llr"].astype(float).where(shown),
        "p_value": clusters["p_value"].to_numpy(),
        "recurrence_interval_days": clusters["recurrence_interval_days"].to_numpy(),
    })
    for col in ("n_days", "observed"):
        out.loc[~shown, col] = pd.NA
    return gpd.GeoDataFrame(out, geometry=geoms, crs=WGS84)


def scan_cluster_files(gate: Gate, clusters: gpd.GeoDataFrame, max_radius_m: float) -> gpd.GeoDataFrame:
    """scan_clusters.csv and .geojson for the gate's audience.

    Parameters
    ----------
    gate
        Restricted: every cluster with its circle, centre and figures. Public: see
        :func:`public_scan_clusters`.
    clusters
        The restricted table (:func:`odgeo.scan.cases.cluster_frame`), circles in EPSG:4326.
    max_radius_m
        The scan's largest radius (metres): the public cells are at least this wide.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per reported cluster.
    """
    if not isinstance(gate, PublicGate):
        return clusters
    return public_scan_clusters(clusters, gate.limit, max_radius_m)


def scan_section(gate: Gate, result: ScanResult, first_day: pd.Timestamp, n_reported: int) -> dict:
    """run.json's scan section: settings, counts, the critical values and the most likely cluster."""
    maxima = result.null_maxima
    section = {**result.settings, "first_day": f"{first_day:%Y-%m-%d}", "n_clusters_reported": n_reported,
               "critical_llr": {"p_0.05": round(float(np.quantile(maxima, 0.95)), 4),
                                "p_0.01": round(float(np.quantile(maxima, 0.99)), 4)},
               "method": "Kulldorff's space-time permutation scan (Kulldorff et al. 2005), Monte Carlo p-values"}
    best = result.most_likely
    if not isinstance(gate, PublicGate):
        section["most_likely"] = best and {k: best[k] for k in ("observed", "expected", "llr", "p_value",
                                                                "recurrence_interval_days", "n_locations",
                                                                "radius_m")}
        return section
    # The public learns how rare a reported cluster is, not its counts; the first day as a month.
    # A most likely cluster that is not reported, or the critical values, would let a reader who
    # follows the p-values morning by morning date when a cluster's incidents began.
    reported = n_reported > 0 and best is not None and best["p_value"] <= section["report_p"]
    section["most_likely"] = None
    if reported and best is not None:
        section["most_likely"] = {"p_value": best["p_value"],
                                  "recurrence_interval_days": round(best["recurrence_interval_days"], 1)}
    section.pop("critical_llr")
    section["first_day"] = section["first_day"][:7]
    for key in ("n_locations", "n_zones"):  # distinct coordinates, and circles through them: incidents in disguise
        section.pop(key)
    return section
