"""The words odgeo's choices are made of, in one dependency-free module.

The library checks values against these tuples and the command line offers them as
``click.Choice`` lists, so a choice cannot be added in one place and forgotten in the
other; importing this module costs nothing, so ``odgeo --help`` stays instant.
"""

from __future__ import annotations

__all__ = [
    "ASSUMED_OUTCOMES",
    "AUDIENCES",
    "CLASSIFIERS",
    "CLUSTER_METHODS",
    "CORRECTIONS",
    "EARS_METHODS",
    "ENGINES",
    "KERNELS",
    "LOCATION_KINDS",
    "METHODS",
    "OUTCOMES",
    "PERIODS",
    "POSTGIS_MODES",
    "REPORT_COMPARISONS",
    "REPORT_PERIODS",
    "SERVICES",
    "STEPS",
    "near_words",
    "plural",
]

#: Who a run's products are for: aggregates for anyone, or every detail for the analysts' team.
AUDIENCES = ("public", "restricted")
#: Kernel density kernels: quartic (ArcGIS, QGIS) and Gaussian.
KERNELS = ("quartic", "gaussian")
#: An incident's outcome.
OUTCOMES = ("fatal", "nonfatal", "unknown")
#: The outcome every incident of a file without an outcome column may be said to have (--assume-outcome).
ASSUMED_OUTCOMES = ("fatal", "nonfatal")
#: Multiple-testing corrections of Gi* p-values.
CORRECTIONS = ("fdr", "bonferroni", "none")
#: How Gi*'s scale is chosen: given (fixed) or from the data (optimized).
METHODS = ("fixed", "optimized")
#: Colour classes of choropleth maps.
CLASSIFIERS = ("quantiles", "natural_breaks")
#: How --to-postgis treats a product table that exists: replaced by this run's rows, or appended to.
POSTGIS_MODES = ("replace", "append")
#: What reads the input: this process, a Dask cluster, or the one that fits (odgeo.engine.choose).
ENGINES = ("memory", "dask", "auto")
#: Time breakdowns of hexagon counts.
PERIODS = ("month", "week", "none")
#: The period an ``odgeo report`` covers: the last whole one before its date.
REPORT_PERIODS = ("quarter", "month", "year")
#: What a report compares its period with: the same period a year earlier only (NCHS; seasons).
REPORT_COMPARISONS = ("previous-year",)
#: Time steps of the emerging hot spot cube.
STEPS = ("auto", "week", "month")
#: Online geocoding services (used only when asked).
SERVICES = ("census", "nominatim")
#: Case locations of odgeo scan: distinct incident coordinates (as SaTScan's), or H3 cell centres.
LOCATION_KINDS = ("points", "h3")
#: Cluster methods of odgeo hotspots: places (DBSCAN), places and days (ST-DBSCAN), no distance to choose (HDBSCAN).
CLUSTER_METHODS = ("dbscan", "st-dbscan", "hdbscan")
#: CDC's EARS methods: C1 (baseline the 7 days before), C2 (7 days before a 2-day gap), C3 (C2 over 3 days).
EARS_METHODS = ("c1", "c2", "c3")


def plural(n: int, noun: str, many: str | None = None) -> str:
    """``n`` and its noun, singular for one: "1 alert", "3 alerts" (``many``: an irregular plural)."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {many or noun + 's'}"


def near_words(lon: float, lat: float) -> str:
    """A place without a name, for a reader: "the area near 33.42° N, 111.94° W".

    Two decimals (about 1 km) say where a 5 km² cell is without claiming more precision.
    """
    ns, ew = ("N" if lat >= 0 else "S"), ("E" if lon >= 0 else "W")
    return f"the area near {abs(lat):.2f}° {ns}, {abs(lon):.2f}° {ew}"
