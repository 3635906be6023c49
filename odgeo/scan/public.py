"""What the public may see of ``odgeo scan`` (used by :class:`odgeo.publish.public.PublicGate`).

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
from ..schema import WGS84

__all__ = ["PUBLIC_SCAN_COLUMNS", "public_scan_clusters"]

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
