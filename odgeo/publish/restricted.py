r"""The publishing gate: from analysis results to what an audience may see.

Every file a command writes goes through a :class:`Gate`; the analysis code
never asks which audience it works for. :func:`gate_for` returns the
:class:`RestrictedGate` (every detail, for the analysts' team) or the
:class:`PublicGate`. What each audience sees of a stage is that stage's
``public.py`` (functions that take the gate); the public products are made
from protected aggregates only:

- the **published areas**: H3 hexagons merged upwards until each holds
  ``min_count`` incidents (:mod:`odgeo.publish.privacy`), their breakdowns with
  complementary suppression, and, with a release ledger
  (:mod:`odgeo.publish.ledger`), the earlier areas kept and small changes held back;
- the **density surface, hot spots and Gi\\*** computed from those published
  counts alone (each area's count spread evenly over its cells), so their
  footprint and values depend on nothing the areas do not already show;
- **emerging hot spot categories** per published area (no trend statistics);
- **clusters** with at least ``min_count`` incidents, as H3 cells and months
  (left out when a ledger is used: a cluster's shape follows single incidents);
- **scan clusters** as H3 cells, small counts hidden (:mod:`odgeo.scan.public`);
- **metadata** (run.json, rejects.csv, per-site figures) whose every count is
  0 or at least ``min_count``, with the totals suppressed complementarily.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np

from ..hexes import cells_to_polygons
from ..schema import OCCURRED_AT, OUTCOME, WGS84
from .gate import PUBLIC_PROPERTIES, RESTRICTED_BANNER, Gate, HotspotLayers, Products
from .geomask import DonutMask
from .ledger import Ledger

__all__ = ["PUBLIC_PROPERTIES", "RESTRICTED_BANNER", "Gate", "HotspotLayers", "Products", "RestrictedGate",
           "gate_for"]


def gate_for(audience: str, *, min_count: int | None = None, ledger: Ledger | None = None,
             mask: DonutMask | None = None, k_anonymity: np.ndarray | None = None) -> Gate:
    """The gate for an audience.

    Parameters
    ----------
    audience
        "public" or "restricted".
    min_count
        The smallest count a public product shows.
    ledger
        The release ledger of a public series (None: a single release).
    mask, k_anonymity
        The restricted map's displaced points and their k-anonymity (None: exact points).

    Returns
    -------
    Gate
        A :class:`RestrictedGate` or a :class:`~odgeo.publish.public.PublicGate`.
    """
    if audience == "restricted":
        return RestrictedGate(mask=mask, k_anonymity=k_anonymity)
    from .public import PublicGate  # it builds on this module's Products and Gate

    return PublicGate(int(min_count or 0), ledger)


# --- restricted --------------------------------------------------------------------------------------


@dataclass
class RestrictedGate(Gate):
    """Every detail for the analysts' team: exact counts, day dates, incident points (optionally displaced)."""

    mask: DonutMask | None = None
    k_anonymity: np.ndarray | None = None
    audience: str = "restricted"
    banner: str | None = RESTRICTED_BANNER

    def count(self, n: int | None) -> str:
        """Counts in full."""
        return f"{int(n or 0):,}"

    def totals(self, counts: dict) -> dict:
        """The row counts exactly."""
        return counts

    def point_layer(self, incidents: Callable[[], gpd.GeoDataFrame]) -> tuple[gpd.GeoDataFrame, dict]:
        """The incident points (displaced when asked: ``--mask-points``) and what run.json says of them."""
        located = incidents()
        geometry = located.geometry.to_crs(WGS84)
        if self.mask is not None:
            geometry = gpd.GeoSeries(gpd.points_from_xy(self.mask.lon, self.mask.lat), crs=WGS84)
        points = gpd.GeoDataFrame(
            {"date": located[OCCURRED_AT].dt.strftime("%Y-%m-%d").fillna("").to_numpy(),
             "outcome": located[OUTCOME].to_numpy()},
            geometry=geometry.to_numpy(), crs=WGS84)
        privacy: dict = {"audience": "restricted", "min_count": None,
                         "points": f"incident points ({'displaced' if self.mask is not None else 'exact'})"}
        if self.mask is not None:
            privacy["geomask"] = self.mask.summary()
            if self.k_anonymity is not None:
                privacy["geomask"]["k_anonymity"] = _k_summary(self.k_anonymity)
        return points, privacy

    def _label(self, products: Products) -> Products:
        products.banner = RESTRICTED_BANNER
        products.audience_label = "RESTRICTED (exact counts and incident locations; do not share)"
        return products

    def count_hexes(self, counts):
        """Every occupied cell with its exact counts."""
        return gpd.GeoDataFrame(counts.reset_index(), geometry=cells_to_polygons(counts.index).values, crs=WGS84)

    def rejects(self, rejects, totals):
        """Every rejected row with its reason and id."""
        from ..incidents.read import REJECT_COLUMNS

        return rejects[REJECT_COLUMNS]

    def run_record(self, doc):
        """The record in full."""
        return doc

    def log_text(self, messages):
        """Every warning as printed."""
        return "".join(f"{m}\n" for m in messages) or "No warnings.\n"

    def label(self, products: Products) -> Products:
        """Mark products made elsewhere (emerging, sites) as restricted."""
        return self._label(products)


def _k_summary(k: np.ndarray) -> dict:
    known = k[np.isfinite(k)]
    out = {"estimate": "residents in the masking ring: population density of the point's polygon x ring area",
           "n_points": len(k), "n_outside_population_layer": int(len(k) - len(known))}
    if len(known):
        q = np.percentile(known, [0, 5, 50])
        out.update({"min": round(float(q[0]), 1), "p5": round(float(q[1]), 1), "median": round(float(q[2]), 1),
                    "n_below_5": int((known < 5).sum()), "n_below_10": int((known < 10).sum())})
    return out
