"""What a gate hands to the writers and the map, and what every gate does (see :mod:`odgeo.publish.restricted`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..density.kernel import DensityGrid
from ..gistar.statistic import GiPlan, GiStar
from ..schema import OUTCOMES

__all__ = ["PUBLIC_PROPERTIES", "RESTRICTED_BANNER", "AlertFiles", "Gate", "HotspotLayers", "Products"]

#: Every property a public GeoJSON feature may carry (the leak scanner checks this),
#: besides period columns ("2024-05", "2024-W19").
PUBLIC_PROPERTIES = frozenset({
    "h3_cell", "h3_resolution", "merged", "n_fine_cells", "count", *OUTCOMES,
    "hotspot_id", "area_km2", "n_incidents", "peak_density", "mean_density",
    "cluster_id", "first_month", "last_month", "possible_artefact",
    "name", "population", "rate_per_10k", "unstable", "gi_bin",
    "category", "status", "rank", "site_id", "covered", "marginal_gain", "cumulative_share",
    "alert", "sentence",
    "h3_cells", "start_date", "end_date", "n_days", "observed", "expected", "llr", "p_value",
    "recurrence_interval_days",
})
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
    cluster_method: str = "dbscan"  # how ``clusters`` were found (vocabulary.CLUSTER_METHODS): names the map layer
    min_count: int | None = None
    privacy: dict = field(default_factory=dict)
    extent: tuple[float, float, float, float] | None = None  # lon/lat box for the map when nothing is drawn
    areas: gpd.GeoDataFrame | None = None  # counts per boundary polygon, when a boundaries file was given
    gistar: gpd.GeoDataFrame | None = None  # Gi* per cell (public: gi_bin only)
    emerging: gpd.GeoDataFrame | None = None  # emerging hot spot category per cell or area
    sites: gpd.GeoDataFrame | None = None  # naloxone sites: existing and chosen (odgeo sites)
    sites_radius_m: float | None = None
    alert_areas: gpd.GeoDataFrame | None = None  # odgeo alerts: name, alert (kind words), sentence
    scan_clusters: gpd.GeoDataFrame | None = None  # odgeo scan: circles (public: H3 cells) with a sentence
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
    incidents: Callable[[], gpd.GeoDataFrame]  # the located incidents used, made only for a gate that shows points
    eps_m: float
    percentile: float
    gistar: GiStar
    gi_plan: GiPlan  # resolution, rings, correction, permutations, seed, study area
    areas: gpd.GeoDataFrame | None = None  # counts per boundary polygon
    cluster_method: str = "dbscan"  # vocabulary.CLUSTER_METHODS

    @property
    def study_area(self) -> shapely.Geometry | None:
        """The --study-area polygon, or None."""
        return self.gi_plan.boundary


@dataclass
class AlertFiles:
    """What ``odgeo alerts`` may write for one audience (made by :meth:`Gate.alert_files`)."""

    alerts: pd.DataFrame  # alerts.csv (window times or dates, counts or NA)
    ears: pd.DataFrame  # ears.csv
    thresholds: dict  # run.json's per-area thresholds
    shown_areas: set[str] | None  # None: every area may be named
    hidden: np.ndarray | None  # days x series: daily counts the audience may not see
    time_format: str  # strftime of a window's end in sentences

    def moment(self, stamp) -> str:
        """A reference time as this audience may see it (public: its date only)."""
        return pd.Timestamp(stamp).strftime("%Y-%m-%d %H:%M%z" if "%H" in self.time_format else "%Y-%m-%d")


class Gate:
    """What every audience's gate does; see :class:`odgeo.publish.public.PublicGate` and ``RestrictedGate``."""

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

    def alert_files(self, alerts: pd.DataFrame, ears: pd.DataFrame, counts: np.ndarray, names: list[str],
                    days: list[str], thresholds: dict, *, cells_are_areas: bool) -> AlertFiles:
        """The tables of odgeo alerts: ``counts`` is days x (areas + all); ``cells_are_areas`` for H3 areas."""
        raise NotImplementedError

    def scan_clusters(self, clusters: gpd.GeoDataFrame, max_radius_m: float) -> gpd.GeoDataFrame:
        """scan_clusters.csv and .geojson of odgeo scan, from the restricted table (circles in EPSG:4326)."""
        raise NotImplementedError

    def count_hexes(self, counts: pd.DataFrame) -> gpd.GeoDataFrame:
        """Hexagon counts for a map under other results (CellCounts in, polygons out)."""
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
