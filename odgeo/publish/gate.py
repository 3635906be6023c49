"""What a gate hands to the writers and the map, and what every gate does (see :mod:`odgeo.publish.restricted`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..incidents.dates import end_day
from ..schema import OUTCOMES

if TYPE_CHECKING:  # the products hold stage results; the gate knows their types, imports no stage
    from ..density.kernel import DensityGrid
    from ..gistar.statistic import GiPlan, GiStar

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
    hidden_under: int | None = None  # the legend's "counts under this are hidden" (set by the gate; None: none are)
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
    """What ``odgeo alerts`` may write for one audience (made by :func:`odgeo.alerts.public.alert_files`)."""

    alerts: pd.DataFrame  # alerts.csv (window times or dates, counts or NA)
    ears: pd.DataFrame  # ears.csv
    thresholds: dict  # run.json's per-area thresholds
    shown_areas: set[str] | None  # None: every area may be named
    hidden: np.ndarray | None  # days x series: daily counts the audience may not see
    time_format: str  # strftime of a window's end in sentences

    def moment(self, stamp) -> str:
        """A reference time as this audience may see it (public: the day it ends, :func:`end_day`)."""
        if "%H" in self.time_format:
            return pd.Timestamp(stamp).strftime("%Y-%m-%d %H:%M%z")
        return end_day(stamp).strftime("%Y-%m-%d")


class Gate:
    """What every audience's gate does; see :class:`odgeo.publish.public.PublicGate` and ``RestrictedGate``."""

    audience: str = ""
    #: Counts under this are hidden (0: nothing is).
    limit: int = 0
    #: What a page says on top for this audience (None: nothing).
    banner: str | None = None

    def shows(self, value) -> bool:
        """Whether a figure of this size (a count, a threshold, an expected count) may be shown as it is."""
        return value is not None and bool(pd.notna(value)) and value >= self.limit

    def hidden_words(self) -> str:
        """How a page says a hidden count: "fewer than 10"."""
        return f"fewer than {self.limit}"

    def hidden_rule(self) -> str:
        """The page's note on hidden counts ("" when none are hidden)."""
        return f"counts under {self.limit} are shown as '{self.hidden_words()}'" if self.limit else ""

    def count(self, n: int | None) -> str:
        """A count for a sentence on a page."""
        raise NotImplementedError

    def totals(self, counts: dict) -> dict:
        """The row counts of run.json as this audience may see them."""
        raise NotImplementedError

    def label(self, products: Products) -> Products:
        """Products made by a command, marked with what the map says about the audience."""
        raise NotImplementedError

    def count_hexes(self, counts: pd.DataFrame) -> gpd.GeoDataFrame:
        """Hexagon counts for a map under other results (CellCounts in, polygons out)."""
        raise NotImplementedError

    def rejects(self, rejects: pd.DataFrame, totals: dict) -> pd.DataFrame:
        """rejects.csv."""
        raise NotImplementedError

    def run_record(self, doc: dict) -> dict:
        """run.json."""
        raise NotImplementedError

    def log_text(self, messages: list[str]) -> str:
        """log.txt: the run's warnings, one a line (an empty run says so)."""
        raise NotImplementedError

    def view_section(self, key: str, view: Callable[[Any], Any]) -> None:
        """How run.json's section ``key`` is shown to this audience (a stage's public function); default: as is."""

    def daily_series(self) -> None:
        """Declare this run one morning of a daily series (``alerts``, ``scan``).

        Two mornings' totals differ by one day's incidents, a count this small or smaller
        than any ``min_count``: the public audience gets no incident totals at all
        (run.json's counts, rejects.csv's rows by reason, every ``n_`` tally of a section).
        """

    def finish(self, source: str, stage: Callable[[Path, Callable[[Path], None]], None] | None = None) -> None:
        """Called once the products are written (before they are swapped in).

        ``stage`` puts state files in place with them (:meth:`odgeo.io.outputs.OutputFolder.stage`).
        """
