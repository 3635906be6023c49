"""Each setting's default and why, in one dependency-free module.

The analyses use these values, ``run.json`` records them with their reasons, and the
command line's ``--help`` prints them, all from here: a default changed here changes
everywhere at once. Importing this module costs nothing, so ``odgeo --help`` stays instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = [
    "ALERT_RESOLUTION",
    "AUDIENCE",
    "BLOCKSIZE_MB",
    "CATCHUP_DAYS",
    "CLASSES",
    "CLUSTER_METHOD",
    "EARS_MIN_SD",
    "EARS_Z",
    "EMERGING_CORRECTION",
    "EPS_DAYS",
    "EPS_M",
    "GI_CORRECTION",
    "GI_METHOD",
    "GI_PERMUTATIONS",
    "HEX_RESOLUTION",
    "KERNEL",
    "LINK_M",
    "LINK_MINUTES",
    "LOCATIONS",
    "MASK_SEED",
    "MAX_ATTEMPTS",
    "MAX_DAYS",
    "MAX_RADIUS_M",
    "MIN_CASES",
    "MIN_COUNT",
    "MIN_SAMPLES",
    "MIN_SCORE",
    "NEW_HOURS",
    "N_SITES",
    "OUTREACH_WINDOW_HOURS",
    "PERCENTILE",
    "PERIOD",
    "PLACE_DAYS",
    "PLACE_MIN",
    "PLACE_RESOLUTION",
    "RADIUS_M",
    "REPEAT_DAYS",
    "REPORT_P",
    "SCAN_MAX_P",
    "SCAN_PERMUTATIONS",
    "SEED",
    "SENDER",
    "STACK_MIN",
    "TILES",
    "TIME_LIMIT_S",
    "TIME_WINDOW",
    "WINDOW_DAYS",
    "WINDOW_HOURS",
    "Default",
]

T = TypeVar("T")


@dataclass(frozen=True)
class Default(Generic[T]):
    """A setting's default value and the reason written beside it in run.json (None: none given)."""

    value: T
    reason: str | None = None

    def __str__(self) -> str:
        """The value as help texts print it: ``100``, ``0.5``, ``quartic``."""
        return f"{self.value:g}" if isinstance(self.value, float) else str(self.value)


# Hexagon counts and density (odgeo hotspots).
HEX_RESOLUTION = Default(8, "H3 res 8 (~0.74 km², 531 m edge) suits a city")
PERIOD = Default("month")
KERNEL = Default("quartic", "as ArcGIS Kernel Density and QGIS Heatmap")
PERCENTILE = Default(95.0, "cells above the 95th percentile of non-zero density: the densest 5% of the area")
CLASSES = Default("quantiles", "each colour class holds about as many areas")

# Clusters: DBSCAN's distance is a city block (a 1-2 minute walk); ST-DBSCAN's a bad batch's days.
CLUSTER_METHOD = Default("dbscan", "places, whatever their dates")
EPS_M = Default(100.0, "about a city block")
MIN_SAMPLES = Default(15)
#: Incidents at one exact coordinate flagged as a possible geocoding artefact, not a hot spot.
STACK_MIN = Default(10)
EPS_DAYS = Default(2.0, "a bad batch moves through a neighbourhood within days")

# Gi* (hotspots) and the emerging hot spot analysis.
GI_METHOD = Default("fixed", "Gi* one resolution finer than the hexagons, 1 ring")
GI_CORRECTION = Default("fdr", "Benjamini-Hochberg false discovery rate: many cells are tested at once")
GI_PERMUTATIONS = Default(0, "analytic p-values")
SEED = Default(0)
EMERGING_CORRECTION = Default("fdr", "Benjamini-Hochberg over all bins")
TIME_WINDOW = Default(1, "the step itself and the one before")

# Alerts: H3 cells of about 5 km², a day's window, CDC's EARS with a floor under its baseline SD.
ALERT_RESOLUTION = Default(7, "H3 cells of about 5 km2 (without --areas)")
WINDOW_HOURS = Default(24)
#: Chosen with the backtest on sparse real series (docs/alerts.md): with 0, a week of zeros makes
#: one overdose an alarm.
EARS_MIN_SD = Default(0.5, "chosen with the backtest on sparse real series (docs/alerts.md)")
#: CDC's thresholds: 3 standard deviations for C1 and C2 (C3's sum of 2 is fixed).
EARS_Z = Default(3.0)
#: Scan clusters become alerts at a recurrence interval of 100 days or more (NYC DOHMH's signal).
SCAN_MAX_P = Default(0.01, "a recurrence interval of at least 100 days (NYC DOHMH)")
#: The sender of the e-mailed summary.
SENDER = Default("odgeo@localhost")

# The space-time scan: Baltimore's Project SOON.
_SOON = "Baltimore's Project SOON (docs/scan.md)"
WINDOW_DAYS = Default(30, _SOON)
MAX_DAYS = Default(7, _SOON)
MAX_RADIUS_M = Default(1207.0, f"0.75 mile: {_SOON}")
MIN_CASES = Default(3, _SOON)
SCAN_PERMUTATIONS = Default(999, _SOON)
REPORT_P = Default(0.4, f"clusters shown to outreach: {_SOON}")
LOCATIONS = Default("points", "distinct incident coordinates, as SaTScan's")

# Sites: a five-minute walk.
RADIUS_M = Default(400.0, "about a five-minute walk: 200-400 m is the walking scale used for naloxone access")
N_SITES = Default(5)
TIME_LIMIT_S = Default(60.0)

# Geocoding: block-level matches score 0.6, street centres 0.3, ZIP centres 0.15.
MIN_SCORE = Default(0.5, "keeps block-level matches (0.6); leaves out street (0.3) and ZIP (0.15) centres")

# Outreach: the 24-72 hour practice of post-overdose teams (docs/outreach.md).
_PORT = "North Carolina PORT and Huntington QRT: a visit within 24-72 hours"
OUTREACH_WINDOW_HOURS = Default(72.0, _PORT)
NEW_HOURS = Default(24.0, _PORT)
CATCHUP_DAYS = Default(7.0, "Hamilton County follows up for about a week")
REPEAT_DAYS = Default(365.0, "an earlier overdose within 12 months (Ray et al. 2018)")
LINK_MINUTES = Default(60.0, "EMS and police clocks of one call differ by minutes; an hour allows a late report")
LINK_M = Default(300.0, "a police location is often the block's, an EMS location the door's")
PLACE_DAYS = Default(30.0, "the first month after an overdose carries the highest risk (Hood et al. 2023)")
PLACE_RESOLUTION = Default(9, "H3 res 9 (~0.1 km2, 174 m edge): a few blocks a team can canvass")
PLACE_MIN = Default(2, "a place where overdoses repeat")
MAX_ATTEMPTS = Default(4, "PRONTO's guidance: limit the tries (phone first, then visits)")

# Publishing.
AUDIENCE = Default("public")
MIN_COUNT = Default(10, "CDC WONDER suppresses counts of 1-9 (and rates from them); "
                        "Washington DOH small-numbers guideline")
MASK_SEED = Default(0)
TILES = Default("OpenStreetMap")

# Reading with Dask: megabytes of CSV per part.
BLOCKSIZE_MB = Default(128)
