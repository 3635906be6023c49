r"""The publishing gate: from analysis results to what an audience may see.

Every file a command writes goes through a :class:`Gate`; the analysis code
never asks which audience it works for. :func:`gate_for` returns the
:class:`RestrictedGate` (every detail, for the analysts' team) or the
:class:`PublicGate`, which makes every public product from protected
aggregates only:

- the **published areas**: H3 hexagons merged upwards until each holds
  ``min_count`` incidents (:mod:`odgeo.privacy`), their breakdowns with
  complementary suppression, and, with a release ledger
  (:mod:`odgeo.ledger`), the earlier areas kept and small changes held back;
- the **density surface, hot spots and Gi\\*** computed from those published
  counts alone (each area's count spread evenly over its cells), so their
  footprint and values depend on nothing the areas do not already show;
- **emerging hot spot categories** per published area (no trend statistics);
- **clusters** with at least ``min_count`` incidents, as H3 cells and months
  (left out when a ledger is used: a cluster's shape follows single incidents);
- **metadata** (run.json, rejects.csv, per-site figures) whose every count is
  0 or at least ``min_count``, with the totals suppressed complementarily.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from affine import Affine

from .density import DensityGrid, default_cell_size, kernel_density, nice_below
from .geomask import DonutMask
from .gistar import GiStar, confidence_bins, gi_star_z, neighbours
from .hexes import (
    H3_CELL,
    cell_centres,
    cell_children,
    cell_disks,
    cell_edge_length_m,
    cell_ints,
    cell_of_point,
    cell_parent,
    cell_resolution,
    cell_strs,
    cells_outline,
    cells_to_polygons,
    polygon_cells,
)
from .hotspot_areas import HOTSPOT_COLUMNS, hotspot_polygons
from .ledger import Ledger
from .privacy import COARSEN_LEVELS, Area, areas_frame, hidden_counts, partition_cells, suppress_breakdowns
from .projection import project_points
from .schema import OCCURRED_AT, OUTCOME, OUTCOMES, WGS84

__all__ = ["PUBLIC_PROPERTIES", "RESTRICTED_BANNER", "Gate", "HotspotLayers", "Products", "PublicGate",
           "RestrictedGate", "gate_for", "is_incident_count_key"]

log = logging.getLogger(__name__)

#: Every property a public GeoJSON feature may carry (the leak scanner checks this),
#: besides period columns ("2024-05", "2024-W19").
PUBLIC_PROPERTIES = frozenset({
    "h3_cell", "h3_resolution", "merged", "n_fine_cells", "count", *OUTCOMES,
    "hotspot_id", "area_km2", "n_incidents", "peak_density", "mean_density",
    "cluster_id", "first_month", "last_month", "possible_artefact",
    "name", "population", "rate_per_10k", "unstable", "gi_bin",
    "category", "status", "rank", "site_id", "covered", "marginal_gain", "cumulative_share",
})
#: Finer H3 levels over which a published area's count is spread for the public density.
_SPREAD_LEVELS = 2
#: The public density of nothing: one empty cell on a 10 km lattice (never near an incident).
_EMPTY_SNAP_M = 10_000.0
RESTRICTED_BANNER = "RESTRICTED: contains sensitive health data"


@dataclass
class Products:
    """What may be written and drawn for one audience (made by a :class:`Gate`)."""

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
    emerging: gpd.GeoDataFrame | None = None  # emerging hot spot category per cell or area
    sites: gpd.GeoDataFrame | None = None  # naloxone sites: existing and chosen (odgeo sites)
    sites_radius_m: float | None = None
    banner: str | None = None  # shown on top of a restricted map
    audience_label: str = ""  # the map's "Audience:" line
    notes: list[str] = field(default_factory=list)  # what the map says about the protection


@dataclass
class HotspotLayers:
    """The main job's analysis, as the gate takes it."""

    counts: pd.DataFrame  # CellCounts at the hexagon resolution
    hexes: gpd.GeoDataFrame  # the same with polygons
    grid: DensityGrid
    hotspots: gpd.GeoDataFrame
    clusters: gpd.GeoDataFrame
    incidents: gpd.GeoDataFrame  # located incidents used
    lon: np.ndarray
    lat: np.ndarray
    eps_m: float
    percentile: float
    gistar: GiStar
    gi_resolution: int
    gi_rings: int
    correction: str
    permutations: int
    seed: int
    study_area: shapely.Geometry | None = None
    areas: gpd.GeoDataFrame | None = None  # counts per boundary polygon


class Gate:
    """What every audience's gate does; see :class:`PublicGate` and :class:`RestrictedGate`."""

    audience: str = ""
    min_count: int | None = None

    def count(self, n: int | None) -> str:
        """A count for a sentence on a page."""
        raise NotImplementedError

    def totals(self, counts: dict) -> dict:
        """The row counts of run.json as this audience may see them."""
        raise NotImplementedError

    def hotspot_products(self, layers: HotspotLayers) -> Products:
        """The main job's products."""
        raise NotImplementedError

    def emerging_cells(self, cells: gpd.GeoDataFrame, cube: np.ndarray, steps: list[str],
                       settings: dict) -> gpd.GeoDataFrame:
        """The emerging hot spot layer from the (steps x cells) ``cube`` over ``cells``."""
        raise NotImplementedError

    def label(self, products: Products) -> Products:
        """Products made by a command, marked with what the map says about the audience."""
        raise NotImplementedError

    def coverage(self, curve: pd.DataFrame, n_incidents: int) -> pd.DataFrame:
        """coverage.csv of odgeo sites: the share reached by the best k new sites."""
        raise NotImplementedError

    def out_of_time(self, evaluation: dict) -> dict:
        """The --train-until evaluation of odgeo sites (with "hidden" when it may not be shown)."""
        raise NotImplementedError

    def sites(self, sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """The naloxone sites layer."""
        raise NotImplementedError

    def rejects(self, rejects: pd.DataFrame, totals: dict) -> pd.DataFrame:
        """rejects.csv."""
        raise NotImplementedError

    def run_record(self, doc: dict) -> dict:
        """run.json."""
        raise NotImplementedError

    def finish(self, source: str) -> None:
        """Called once the products are written (before they are swapped in)."""


def gate_for(audience: str, *, min_count: int | None = None, ledger: Ledger | None = None,
             mask: DonutMask | None = None, k_anonymity: np.ndarray | None = None) -> Gate:
    """The gate for ``audience``: "public" (with ``min_count`` and an optional ledger) or "restricted"."""
    if audience == "restricted":
        return RestrictedGate(mask=mask, k_anonymity=k_anonymity)
    return PublicGate(int(min_count or 0), ledger)


# --- restricted --------------------------------------------------------------------------------------


@dataclass
class RestrictedGate(Gate):
    """Every detail for the analysts' team: exact counts, day dates, incident points (optionally displaced)."""

    mask: DonutMask | None = None
    k_anonymity: np.ndarray | None = None
    audience: str = "restricted"
    min_count: int | None = None

    def count(self, n: int | None) -> str:
        """Counts in full."""
        return f"{int(n or 0):,}"

    def totals(self, counts: dict) -> dict:
        """The row counts exactly."""
        return counts

    def hotspot_products(self, layers: HotspotLayers) -> Products:
        """Every layer in full, with incident points (displaced when asked)."""
        incidents = layers.incidents
        geometry = incidents.geometry.to_crs(WGS84)
        if self.mask is not None:
            geometry = gpd.GeoSeries(gpd.points_from_xy(self.mask.lon, self.mask.lat), crs=WGS84)
        points = gpd.GeoDataFrame(
            {"date": incidents[OCCURRED_AT].dt.strftime("%Y-%m-%d").fillna("").to_numpy(),
             "outcome": incidents[OUTCOME].to_numpy()},
            geometry=geometry.to_numpy(), crs=WGS84)
        clusters = layers.clusters.copy()
        for col in ("first_date", "last_date"):
            clusters[col] = [pd.Timestamp(v).strftime("%Y-%m-%d") if pd.notna(v) else None for v in clusters[col]]
        privacy: dict = {"audience": "restricted", "min_count": None,
                         "points": f"incident points ({'displaced' if self.mask is not None else 'exact'})"}
        if self.mask is not None:
            privacy["geomask"] = self.mask.summary()
            if self.k_anonymity is not None:
                privacy["geomask"]["k_anonymity"] = _k_summary(self.k_anonymity)
        return self._label(Products("restricted", layers.hexes, layers.grid, layers.hotspots, clusters, points=points,
                                    privacy=privacy, areas=layers.areas, gistar=layers.gistar.frame))

    def _label(self, products: Products) -> Products:
        products.banner = RESTRICTED_BANNER
        products.audience_label = "RESTRICTED (exact counts and incident locations; do not share)"
        return products

    def emerging_cells(self, cells, cube, steps, settings):
        """Every cell with its counts and trend statistics."""
        return cells

    def coverage(self, curve, n_incidents):
        """Shares to four decimals."""
        return curve.assign(share=curve["share"].round(4))

    def out_of_time(self, evaluation):
        """The evaluation in full."""
        return evaluation

    def sites(self, sites):
        """Every site with its figures."""
        return sites

    def rejects(self, rejects, totals):
        """Every rejected row with its reason and id."""
        from .incidents import REJECT_COLUMNS

        return rejects[REJECT_COLUMNS]

    def run_record(self, doc):
        """The record in full."""
        return doc

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


# --- public ------------------------------------------------------------------------------------------


class PublicGate(Gate):
    """Aggregates safe for a wide audience (see docs/privacy.md)."""

    audience = "public"

    def __init__(self, min_count: int, ledger: Ledger | None = None):
        self.limit = int(min_count)
        self.min_count = self.limit
        self.ledger = ledger
        self.emerging_settings: dict | None = None
        self._n_suppressed = 0
        self._n_published: int | None = None

    # sentences ----------------------------------------------------------------------------------

    def count(self, n: int | None) -> str:
        """A count for a sentence: 'fewer than N', or 'an undisclosed number of' when hidden."""
        if n is None:
            return "an undisclosed number of"
        if isinstance(n, str):
            return n
        return f"fewer than {self.limit}" if 0 < n < self.limit else f"{int(n):,}"

    def label(self, products: Products) -> Products:
        """Marked public, with the notes the map gives on the protection."""
        products.min_count = self.limit
        products.audience_label = "public (aggregates only)"
        products.notes = [f"Areas with fewer than {self.limit} overdoses are merged with neighbouring "
                          "hexagons or, where still too few, not shown; smaller figures show as 'hidden'."]
        if self.ledger is not None:
            products.notes.append(f"Figures are updated once they have changed by at least {self.limit} "
                                  "since the last release, so they may lag the data by fewer than that.")
        return products

    # totals -------------------------------------------------------------------------------------

    def totals(self, counts: dict) -> dict:
        """Row counts with every count 0 or at least ``min_count`` (complementary suppression).

        :attr:`n_suppressed` incidents are in areas too small to show; ``n_used`` is
        hidden when that is a small number (it is ``n_used`` minus the sum of the areas).
        """
        m = self.limit
        by_code = dict(counts["rejected_by_code"])
        values = {"n_input": counts["n_input"], "n_used": counts["n_used"], "n_unlocated": counts["n_unlocated"],
                  "n_rejected": counts["n_rejected"], "n_used_undated": counts["n_used_undated"],
                  "n_used_fatal": counts.get("n_used_fatal", 0), "n_incidents_suppressed": self.n_suppressed,
                  **{f"rejected:{k}": v for k, v in by_code.items()}}
        if self.ledger is not None:
            values = self.ledger.hold("totals", "rows", values)
        parts = ["n_used", "n_unlocated", "n_rejected"]
        part_values = np.array([values[p] for p in parts], dtype=np.int64)
        # n_used minus the published areas' sum is the suppressed count: a small one hides n_used.
        hidden = _hide(part_values, m, np.array([0 < values["n_incidents_suppressed"] < m, False, False]))
        total_hidden = values["n_input"] < m or hidden.sum() == 1 or 0 < part_values[hidden].sum() < m
        if total_hidden:
            hidden[:] = True
        shown: dict[str, Any] = {"n_input": None if total_hidden else values["n_input"]}
        shown.update({p: (None if h else int(v)) for p, h, v in zip(parts, hidden, part_values)})
        codes = sorted(by_code)
        code_hidden = _hide(np.array([values[f"rejected:{c}"] for c in codes], dtype=np.int64), m)
        if shown["n_rejected"] is None:
            code_hidden[:] = True
        out = dict(shown)
        out["rejected_by_code"] = {c: (None if h else int(values[f"rejected:{c}"])) for c, h in zip(codes, code_hidden)}
        for name in ("n_used_undated", "n_incidents_suppressed"):
            out[name] = None if 0 < values[name] < m else int(values[name])
        fatal, used = values["n_used_fatal"], values["n_used"]
        out["n_used_in_published_areas"] = self._n_published
        out["n_used_fatal"] = None if (0 < fatal < m or 0 < used - fatal < m or out["n_used"] is None) else int(fatal)
        out["check"] = "n_input = n_used + n_unlocated + n_rejected"
        out["hidden"] = (f"null: a count under {m}, or one hidden so that it cannot be had by subtraction; "
                         "the restricted run record has every count")
        if self.ledger is not None:
            out["check"] += f" (each held until it changes by {m} or more, so the sum may be off by less)"
        return out

    # the main job -------------------------------------------------------------------------------

    def hotspot_products(self, layers: HotspotLayers) -> Products:
        """Published areas and the layers made from them alone (see the module docstring)."""
        m = self.limit
        areas = (self.ledger.areas_for(layers.counts, COARSEN_LEVELS) if self.ledger is not None
                 else partition_cells(layers.counts, min_count=m))
        table = self._held_areas(areas, layers.counts)
        kept_mask = table["count"] >= m
        suppressed = int(table.loc[~kept_mask, "count"].sum())
        kept = table[kept_mask].reset_index(drop=True)
        cells_of = {cell_strs([a.key])[0]: sorted(a.cells()) for a in areas}
        groups = {"outcome": [c for c in OUTCOMES if c in kept.columns], "period": _period_columns(kept)}
        shown, hidden = suppress_breakdowns(kept, groups, min_count=m)
        spread = _spread_counts(kept, cells_of, layers.grid.crs)
        grid = self._density(layers.grid, spread)
        spots = self._hotspots(grid, spread, layers.percentile)
        clusters, cluster_rule = self._clusters(layers)
        gistar, gi_settings = self._gistar(layers, kept, cells_of)
        shown_areas, areas_note = self._boundaries(layers.areas)
        privacy = {
            "audience": "public", "min_count": m,
            "hexes": {"n_published": len(shown), "n_merged_areas": int(shown["merged"].sum()),
                      "coarsest_resolution": _coarsest(layers.counts),
                      "breakdowns_hidden": {k: v["hidden"] + v["hidden_to_protect_others"] for k, v in hidden.items()},
                      "rule": f"H3 cells merged upwards until each area holds {m}; what is still fewer is not shown"},
            "density": {"made_from": f"the published area counts, each spread evenly over its H3 cells "
                                     f"(res {_coarsest(layers.counts) + COARSEN_LEVELS + _SPREAD_LEVELS}); "
                                     "no incident location is used"},
            "hotspots": {"n_shown": len(spots), "rule": f"from the public density; fewer than {m} incidents "
                                                       "(estimated from the published counts) are left out"},
            "clusters": {"n_shown": len(clusters), "rule": cluster_rule},
            "gistar": gi_settings,
            "points": "none (public products carry no incident locations)",
            "ledger": self._ledger_note(),
        }
        if areas_note:
            privacy["areas"] = areas_note
        self._n_suppressed = suppressed
        self._n_published = int(kept["count"].sum())
        extent = _coarse_extent(shown, _coarsest(layers.counts)) if len(shown) else None
        products = Products("public", shown, grid, spots, clusters, privacy=privacy, extent=extent,
                            areas=shown_areas, gistar=gistar)
        return self.label(products)

    @property
    def n_suppressed(self) -> int:
        """Incidents in areas too small to show (after :meth:`hotspot_products`)."""
        return self._n_suppressed

    def _ledger_note(self) -> str:
        if self.ledger is None:
            return ("none: this release is safe alone; differences between releases of the same data can "
                    "reveal single incidents (use --ledger for repeated releases)")
        return (f"release {len(self.ledger.releases) + 1} of {self.ledger.path.name}: earlier areas kept, "
                f"each figure republished only once it has changed by {self.limit} or more")

    def _held_areas(self, areas: list[Area], counts: pd.DataFrame) -> gpd.GeoDataFrame:
        table = areas_frame(areas, counts)
        if self.ledger is None:
            return table
        values = list(counts.columns)
        for i, row in table.iterrows():
            held = self.ledger.hold("hexes", row[H3_CELL], {c: int(row[c]) for c in values})
            for c in values:
                table.at[i, c] = held[c]
        return table

    def _density(self, analysis: DensityGrid, spread: pd.DataFrame) -> DensityGrid:
        """The density of the published counts, spread evenly over each area (nothing else is used)."""
        method = {"made_from": "published area counts spread evenly over their cells"}
        if spread.empty or spread["weight"].sum() <= 0:
            west = math.floor(analysis.transform.c / _EMPTY_SNAP_M) * _EMPTY_SNAP_M
            north = math.ceil(analysis.transform.f / _EMPTY_SNAP_M) * _EMPTY_SNAP_M
            lattice = Affine(analysis.cell_size_m, 0, west, 0, -analysis.cell_size_m, north)
            return DensityGrid(values=np.zeros((1, 1)), transform=lattice, crs=analysis.crs,
                               bandwidth_m=analysis.bandwidth_m, cell_size_m=analysis.cell_size_m,
                               kernel=analysis.kernel, n_points=0, method=method)
        x, y = spread["x"].to_numpy(), spread["y"].to_numpy()
        # No finer than the spread points: each stands for a cell of the given spacing.
        bandwidth = max(analysis.bandwidth_m, 2.0 * float(spread.attrs["spacing_m"]))
        cell = max(analysis.cell_size_m, nice_below(default_cell_size(x, y, bandwidth)[0]))
        grid = kernel_density(x, y, crs=analysis.crs, bandwidth_m=bandwidth, cell_size_m=cell,
                              kernel=analysis.kernel, weights=spread["weight"].to_numpy())
        return replace(grid, method={**grid.method, **method, "bandwidth_m": bandwidth, "cell_size_m": cell})

    def _hotspots(self, grid: DensityGrid, spread: pd.DataFrame, percentile: float) -> gpd.GeoDataFrame:
        if spread.empty:
            return gpd.GeoDataFrame(columns=HOTSPOT_COLUMNS, geometry="geometry", crs=grid.crs)
        spots = hotspot_polygons(grid, spread["x"].to_numpy(), spread["y"].to_numpy(), percentile=percentile,
                                 weights=spread["weight"].to_numpy())
        spots = spots[spots["n_incidents"] >= self.limit].copy()
        spots["hotspot_id"] = np.arange(1, len(spots) + 1)
        return spots.reset_index(drop=True)

    def _clusters(self, layers: HotspotLayers) -> tuple[gpd.GeoDataFrame, str]:
        m = self.limit
        if self.ledger is not None:
            empty = _generalised_clusters(layers.clusters.iloc[0:0], layers.eps_m)
            return empty, ("left out with --ledger: a cluster's shape and size follow single incidents, so "
                           "two releases could be differenced (the restricted map has them)")
        shown = _generalised_clusters(layers.clusters[layers.clusters["n_incidents"] >= m], layers.eps_m)
        return shown, (f"clusters with fewer than {m} incidents are left out; shapes are the H3 cells "
                       f"(res {_cluster_resolution(layers.eps_m)}) their buffered hull covers; dates by month")

    def _gistar(self, layers: HotspotLayers, kept: gpd.GeoDataFrame,
                cells_of: dict[str, list[int]]) -> tuple[gpd.GeoDataFrame | None, dict]:
        """Gi* of the published counts (spread evenly over each area) over a footprint made of public facts."""
        res = layers.gi_resolution
        values = _values_at(kept, cells_of, res)
        boundary = layers.study_area
        study = "the --study-area file" if boundary is not None else "the convex hull of the published areas"
        if boundary is None:
            if kept.empty:
                return None, {"made_from": "nothing published"}
            boundary = shapely.union_all(kept.geometry.values).convex_hull
        if boundary.geom_type not in ("Polygon", "MultiPolygon"):
            return None, {"made_from": "too few published areas for a study area"}
        cells = np.unique(polygon_cells(boundary, res))
        if not len(cells):
            return None, {"made_from": "the study area holds no cell at the Gi* resolution"}
        x = np.zeros(len(cells))
        codes = cell_ints(values.index) if len(values) else np.zeros(0, dtype=np.uint64)
        pos = np.minimum(np.searchsorted(cells, codes), len(cells) - 1)
        inside = cells[pos] == codes
        np.add.at(x, pos[inside], values.to_numpy()[inside])
        nb = neighbours(cells, layers.gi_rings)
        z = gi_star_z(x, nb)
        from scipy import stats

        p = 2.0 * stats.norm.sf(np.abs(z))
        if layers.permutations:
            from .gistar import permutation_p

            p = permutation_p(x, nb, layers.permutations, layers.seed)
        names = cell_strs(cells)
        frame = gpd.GeoDataFrame({H3_CELL: names, "gi_bin": confidence_bins(z, p, layers.correction)},
                                 geometry=cells_to_polygons(names).values, crs=WGS84)
        settings = {"made_from": "the published area counts spread evenly over each area's cells",
                    "resolution": res, "rings": layers.gi_rings, "study_area": study, "n_cells": len(cells),
                    "correction": layers.correction,
                    "inference": f"{layers.permutations} permutations" if layers.permutations else "analytic",
                    "n_hot": {f"{lv}": int((frame["gi_bin"] == lv).sum()) for lv in (1, 2, 3)},
                    "n_cold": {f"{lv}": int((frame["gi_bin"] == -lv).sum()) for lv in (1, 2, 3)},
                    "published": "gi_bin only (z-scores of overlapping neighbourhoods can be solved back to counts)"}
        return frame, settings

    def _boundaries(self, areas: gpd.GeoDataFrame | None) -> tuple[gpd.GeoDataFrame | None, dict | None]:
        """Boundary counts with small ones hidden (and others, so the total does not give them away)."""
        if areas is None:
            return None, None
        out = areas.copy()
        if self.ledger is not None:
            for i, row in out.iterrows():
                held = self.ledger.hold("boundaries", str(row["name"]), {"count": row["count"], "fatal": row["fatal"]})
                out.at[i, "count"], out.at[i, "fatal"] = held["count"], held["fatal"]
            if "rate_per_10k" in out:
                out["rate_per_10k"] = (out["count"] / out["population"] * 1e4).round(2)
        m = self.limit
        hidden = hidden_counts(out["count"].to_numpy(), min_count=m)
        fatal = out["fatal"].to_numpy()
        fatal_hidden = hidden | ((fatal > 0) & (fatal < m))
        out["count"] = pd.array(np.where(hidden, 0, out["count"]), dtype="Int64")
        out.loc[hidden, "count"] = pd.NA
        out["fatal"] = pd.array(np.where(fatal_hidden, 0, fatal), dtype="Int64")
        out.loc[fatal_hidden, "fatal"] = pd.NA
        if "rate_per_10k" in out:
            out.loc[hidden, "rate_per_10k"] = np.nan
        return out, {"n": len(out), "n_counts_hidden": int(hidden.sum()), "n_fatal_hidden": int(fatal_hidden.sum())}

    # other commands -----------------------------------------------------------------------------

    def emerging_cells(self, cells, cube, steps, settings):
        """Categories per published area (cells merged until each holds ``min_count``), from their series.

        ``cube`` is (steps x cells) over ``cells``; the published areas are made of
        the cells with incidents, and each area's category comes from its own
        monthly counts and those of the areas touching it. Only the category is
        published (trend statistics are rank statistics of a series that give it back).
        """
        from .emerging import emerging_hot_spots
        from .gistar import Neighbours

        m = self.limit
        names = list(cells[H3_CELL])
        totals = pd.DataFrame({"count": cube.sum(axis=0).astype(np.int64)}, index=pd.Index(names, name=H3_CELL))
        totals = totals[totals["count"] > 0]
        areas = [a for a in partition_cells(totals, min_count=m) if a.count >= m]
        if settings.get("study_area_given"):  # nothing outside the study area is published
            inside = {int(c) for c in cell_ints(names)}
            for a in areas:
                a.region = a.cells() & inside
        empty = gpd.GeoDataFrame({H3_CELL: [], "h3_resolution": [], "merged": [], "n_fine_cells": [],
                                  "category": []}, geometry=[], crs=WGS84)
        self.emerging_settings = {
            "made_from": f"H3 res {settings['resolution']} cells with incidents merged upwards until each area "
                         f"holds {m}; each area's {settings['step']}ly counts and those of the areas touching it",
            "n_areas": len(areas), "step": settings["step"], "n_steps": len(steps), "first_step": steps[0],
            "last_step": steps[-1], "time_window": settings["time_window"], "correction": settings["correction"],
            "published": "category only (trend statistics are rank statistics that give the series back)"}
        if not areas:
            return empty
        index = {n: i for i, n in enumerate(names)}
        owner: dict[int, int] = {}
        area_cube = np.zeros((cube.shape[0], len(areas)))
        for k, area in enumerate(areas):
            for name in cell_strs(area.occupied):
                area_cube[:, k] += cube[:, index[name]]
            for cell in area.cells():
                owner[int(cell)] = k
        rows: list[int] = []
        cols: list[int] = []
        for k, area in enumerate(areas):
            touching = {owner[int(n)] for c in area.cells() for n in cell_disks([c], 1)[0] if int(n) in owner}
            rows += [k] * len(touching)
            cols += sorted(touching)
        from scipy import sparse

        matrix = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(areas), len(areas)))
        nb = Neighbours(np.arange(len(areas), dtype=np.uint64), matrix, 1)
        keys = cell_strs([a.key for a in areas])
        result = emerging_hot_spots(area_cube, keys, steps, nb, time_window=settings["time_window"],
                                    correction=settings["correction"])
        self.emerging_settings["categories"] = result.settings["categories"]
        return gpd.GeoDataFrame({H3_CELL: keys, "h3_resolution": [a.level for a in areas],
                                 "merged": [a.merged for a in areas], "n_fine_cells": [len(a.cells()) for a in areas],
                                 "category": result.table["category"].to_numpy()},
                                geometry=[cells_outline(a.cells()) for a in areas], crs=WGS84)

    def sites(self, sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """Per-site counts under ``min_count`` hidden; shares only while every gain before them is shown.

        A site's circle is a small, known area. ``cumulative_share`` at rank k
        minus the share at rank k-1 is the k-th marginal gain over the total, so
        from the first hidden gain on, no share is published.
        """
        m = self.limit
        out = sites.copy()
        for col in ("covered", "marginal_gain"):
            if col not in out:
                continue
            values = pd.to_numeric(out[col], errors="coerce")
            small = values.notna() & (values > 0) & (values < m)
            out[col] = values.astype(object).where(~small, None)
        if "cumulative_share" in out and "rank" in out:
            ranked = pd.to_numeric(out["rank"], errors="coerce")
            gains = pd.to_numeric(out["marginal_gain"], errors="coerce") if "marginal_gain" in out else None
            first_hidden = np.inf
            if gains is not None:
                hidden_ranks = ranked[ranked.notna() & gains.isna()]
                first_hidden = float(hidden_ranks.min()) if len(hidden_ranks) else np.inf
            out["cumulative_share"] = out["cumulative_share"].astype(object).where(
                ~(ranked.notna() & (ranked >= first_hidden)), None)
        return out

    def coverage(self, curve: pd.DataFrame, n_incidents: int) -> pd.DataFrame:
        """Shares rounded down to whole multiples of ``min_count`` incidents.

        The best k sites and the best k+1 differ by the incidents one more site
        reaches: exact shares would state that number, however small.
        """
        step = self.limit / n_incidents if n_incidents else 1.0
        return curve.assign(share=(np.floor(curve["share"] / step + 1e-9) * step).round(4))

    def rejects(self, rejects: pd.DataFrame, totals: dict) -> pd.DataFrame:
        """Totals by code, no rows: which rows were rejected says which were that day's, or fatal."""
        reasons = rejects.drop_duplicates("code").set_index("code")["reason"] if len(rejects) else pd.Series(dtype=str)
        by_code = totals["rejected_by_code"]
        return pd.DataFrame({"code": list(by_code), "n_rows": pd.array(list(by_code.values()), dtype="Int64"),
                             "reason": [_generic_reason(reasons.get(c, "")) for c in by_code]})

    def run_record(self, doc: dict) -> dict:
        """run.json for the public: every count 0 or at least ``min_count``, nothing measured on one incident."""
        out: dict[str, Any] = {}
        for key, value in doc.items():
            if key == "parameters":
                out[key] = {name: _public_parameter(p) for name, p in value.items()}
            elif key == "counts":
                out[key] = self.totals(value)
            elif key == "coordinate_stacks" and isinstance(value, list):
                out[key] = {"n_stacks": len(value), "n_incidents": sum(r["n_incidents"] for r in value),
                            "detail": "per-stack rows are in the restricted run record"}
            elif key == "spread" and isinstance(value, dict):
                # The farthest incident's distance is a fact about one incident: a release a day later
                # that states another says where the new extreme incident is.
                out[key] = {k: v for k, v in value.items() if k != "max_distance_from_median_centre_km"}
            elif key == "gistar":
                out[key] = "the public Gi* is described under privacy.gistar"
            elif key == "decisions":
                out[key] = "in the restricted run record (the choices are measured on the incidents)"
            elif key == "emerging" and self.emerging_settings is not None:
                out[key] = self.emerging_settings
            elif key == "out_of_time":
                out[key] = self.out_of_time(value)
            else:
                out[key] = value
        return _hide_small_numbers(out, self.limit)

    def out_of_time(self, evaluation: dict) -> dict:
        """The later-period share reached, only when neither the reached nor the missed incidents are few."""
        m = self.limit
        n = evaluation.get("n_later") or 0
        reached = round((evaluation.get("share_of_later_reached") or 0) * n)
        if n < m or 0 < reached < m or 0 < n - reached < m:
            return {"meaning": evaluation.get("meaning"),
                    "hidden": f"fewer than {m} later incidents, or fewer than {m} reached or missed"}
        return evaluation

    def finish(self, source: str) -> None:
        """Save the ledger, when there is one, with this release."""
        if self.ledger is not None:
            self.ledger.save(source)


def _hide(values: np.ndarray, min_count: int, force: np.ndarray | None = None) -> np.ndarray:
    return hidden_counts(values, min_count=min_count, force=force) if len(values) else np.zeros(0, dtype=bool)


def _generic_reason(reason: str) -> str:
    """A reject reason without the row's own values (the first clause, which names the problem)."""
    return str(reason).split(":")[0].split("(")[0].strip()


def _public_parameter(param: dict) -> dict:
    """An automatic parameter's reason keeps its rule, not the figures measured on the incidents."""
    reason = param.get("reason")
    if param.get("source") == "auto" and isinstance(reason, dict):
        param = {**param, "reason": {k: v for k, v in reason.items() if k == "rule"}}
    return param


#: run.json keys that start with "n_" but count things other than incidents or rows (features of
#: the public files, cells, steps), which the files themselves show.
NOT_INCIDENT_COUNTS = frozenset({"n_published", "n_merged_areas", "n_shown", "n_stacks", "n_cells", "n_areas",
                                 "n_new_sites", "n_steps", "n_counts_hidden", "n_fatal_hidden", "n_hot", "n_cold"})


def is_incident_count_key(key: str) -> bool:
    """Whether a run.json key holds a number of incidents or rows (which must obey --min-count)."""
    return (key.startswith("n_") and key not in NOT_INCIDENT_COUNTS) or key in ("count", "covered",
                                                                                 "marginal_gain", "points")


def _hide_small_numbers(value, min_count: int, key: str = ""):
    """Every count in (0, min_count), anywhere in the record, becomes null."""
    if isinstance(value, dict):
        return {k: _hide_small_numbers(v, min_count, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_hide_small_numbers(v, min_count, key) for v in value]
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and is_incident_count_key(key):
        return None if 0 < int(value) < min_count else value
    return value


def _period_columns(table: pd.DataFrame) -> list[str]:
    fixed = {H3_CELL, "h3_resolution", "merged", "n_fine_cells", "count", *OUTCOMES, "geometry"}
    return [c for c in table.columns if c not in fixed]


def _coarsest(counts: pd.DataFrame) -> int:
    resolution = cell_resolution(int(cell_ints(counts.index)[0])) if len(counts) else 8
    return max(0, resolution - COARSEN_LEVELS)


def _spread_counts(kept: gpd.GeoDataFrame, cells_of: dict[str, list[int]], crs) -> pd.DataFrame:
    """Each published area's count over the centres of its cells' children (projected to ``crs``), as weights."""
    lon, lat, weight = [], [], []
    for key, count in zip(kept[H3_CELL], kept["count"]):
        fine = cells_of[key]
        res = cell_resolution(fine[0]) + _SPREAD_LEVELS
        children = [c for cell in fine for c in cell_children(cell, res)]
        clon, clat = cell_centres(children)
        lon.append(clon)
        lat.append(clat)
        weight.append(np.full(len(children), float(count) / len(children)))
    if not weight:
        return pd.DataFrame({"x": [], "y": [], "weight": []})
    x, y, _ = project_points(np.concatenate(lon), np.concatenate(lat), crs)
    out = pd.DataFrame({"x": x, "y": y, "weight": np.concatenate(weight)})
    out.attrs["spacing_m"] = math.sqrt(3.0) * cell_edge_length_m(res)
    return out


def _values_at(kept: gpd.GeoDataFrame, cells_of: dict[str, list[int]], resolution: int) -> pd.Series:
    """Published counts per H3 cell at ``resolution``: spread evenly over finer cells, summed into coarser."""
    out: dict[int, float] = {}
    for key, count in zip(kept[H3_CELL], kept["count"]):
        fine = cells_of[key]
        fine_res = cell_resolution(fine[0])
        if resolution >= fine_res:
            targets = [c for cell in fine for c in cell_children(cell, resolution)]
        else:
            targets = [cell_parent(cell, resolution) for cell in fine]
        share = float(count) / len(targets)
        for c in targets:
            out[c] = out.get(c, 0.0) + share
    codes = sorted(out)
    return pd.Series([out[c] for c in codes], index=pd.Index(cell_strs(codes), name=H3_CELL), dtype=float)


def _coarse_extent(areas: gpd.GeoDataFrame, resolution: int) -> tuple[float, float, float, float] | None:
    """The box of the coarsest cells holding published areas: where the map opens, and no closer."""
    parents = {cell_parent(int(c), resolution) for c in cell_ints(areas[H3_CELL])
               if cell_resolution(int(c)) >= resolution}
    parents |= {int(c) for c in cell_ints(areas[H3_CELL]) if cell_resolution(int(c)) < resolution}
    return tuple(cells_to_polygons(cell_strs(sorted(parents))).total_bounds)


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

