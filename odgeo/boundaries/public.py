"""What the public may see of boundary counts: small counts hidden, and others so that none is had by subtraction."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from ..drugs.definitions import part_parents
from ..publish.areas import drug_part_columns
from ..publish.privacy import hidden_counts, suppress_parts
from ..publish.public import PublicGate

__all__ = ["public_boundaries"]


def public_boundaries(gate: PublicGate, areas: gpd.GeoDataFrame | None) -> tuple[gpd.GeoDataFrame | None, dict | None]:
    """Boundary counts with small ones hidden (and others, so that the total does not give them away).

    Parameters
    ----------
    gate
        The public gate; under a ledger each polygon's figures are held until they move by ``min_count``.
    areas
        Counts per boundary polygon (``name``, ``count``, ``fatal``, optional
        ``population`` and ``rate_per_10k``), or None when no boundaries were given.

    Returns
    -------
    tuple
        The public table (hidden counts as missing values) and run.json's note on
        what was hidden; (None, None) without boundaries.
    """
    if areas is None:
        return None, None
    out = areas.copy()
    parts = drug_part_columns(out)  # odgeo hotspots --by-drug: overlapping parts of count
    held_columns = [c for c in ("count", "fatal") if c in out] + parts  # no fatal without an outcome column
    if gate.is_series:
        for i, row in out.iterrows():
            held = gate.hold("boundaries", str(row["name"]), {c: row[c] for c in held_columns})
            for c in held_columns:
                out.at[i, c] = held[c]
        if "rate_per_10k" in out:
            out["rate_per_10k"] = (out["count"] / out["population"] * 1e4).round(2)
    m = gate.limit
    counts = out["count"].to_numpy()
    # Zeros are hidden with the small counts: a 0 shown beside hidden ones says those are 1 or more.
    hidden = hidden_counts(counts, min_count=m) | (counts == 0)
    fatal_hidden = np.zeros(len(out), dtype=bool)
    if "fatal" in out:
        fatal = out["fatal"].to_numpy()
        fatal_hidden = hidden | (fatal < m)
        out["fatal"] = pd.array(np.where(fatal_hidden, 0, fatal), dtype="Int64")
        out.loc[fatal_hidden, "fatal"] = pd.NA
    if parts:  # judged against the exact (or held) count, then hidden wherever the count is
        shown_parts, _ = suppress_parts(out, parts, parents=part_parents(parts), min_count=m)
        for column in parts:
            out[column] = shown_parts[column]
            out.loc[hidden, column] = pd.NA
    out["count"] = pd.array(np.where(hidden, 0, counts), dtype="Int64")
    out.loc[hidden, "count"] = pd.NA
    if "rate_per_10k" in out:
        out.loc[hidden, "rate_per_10k"] = np.nan
    return out, {"n": len(out), "n_counts_hidden": int(hidden.sum()), "n_fatal_hidden": int(fatal_hidden.sum())}
