"""What each number in a public run.json is: a count the gate protects, a declared public figure, or neither.

A public run record is default-deny: a number is published only when its place in the
record (its dotted path, list positions written ``[]``) is declared here as a count
(then the gate's rules apply: held by the ledger, hidden under ``--min-count``, withheld
in a daily series) or as a public figure (a setting, a timing, a number of features the
public files show, a figure of the public products themselves). Any other number is
withheld by :class:`odgeo.publish.public.PublicGate` and reported by ``odgeo leakscan``,
so a new section in run.json cannot publish a count before someone decides what it is.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from functools import cache
from typing import Literal

__all__ = ["COUNT_PATHS", "NOT_INCIDENT_COUNTS", "PUBLIC_NUMBERS", "SERIES_COUNT_PATHS", "WITHHELD_NUMBERS",
           "is_incident_count_key", "number_kind", "plain_path"]

#: run.json keys that start with "n_" but count things other than incidents or rows (features of
#: the public files, cells, steps), which the files themselves show.
NOT_INCIDENT_COUNTS = frozenset({"n_published", "n_merged_areas", "n_shown", "n_stacks", "n_cells", "n_areas",
                                 "n_new_sites", "n_steps", "n_counts_hidden", "n_fatal_hidden", "n_hot", "n_cold",
                                 "n_days", "n_time_windows", "n_clusters_reported", "n_alerts", "n_clusters",
                                 "n_scan_alerts",
                                 # the backtest's synthetic spikes, planted and skipped (alerts/backtest.py)
                                 "n_spikes", "n_spikes_skipped"})

#: Keys that hold a number of incidents or rows wherever they appear.
_COUNT_KEYS = frozenset({"count", "covered", "marginal_gain", "points", "sum_of_counts"})

#: Counts of incidents or rows whose key alone does not say so.
COUNT_PATHS = (
    "counts.rejected_by_code.*",   # rows per reject reason
    "geocoding.n",                 # addresses sent to the geocoder
    "geocoding.by_status.*",       # addresses per match kind
    "attempts.practice_checks.*",  # outreach: tries per broken practice rule
    "backtest.orderings*.reached_in_time",  # outreach: people reached before their next overdose
    # report: a period's overdoses per drug group (public_drugs hides them), the records they were read
    # from, those whose cause is pending (public_part), and per age group and sex (public_demographics)
    "report.by_period.*.drugs.groups.*", "report.by_period.*.drugs.records", "report.by_period.*.drugs.pending",
    "report.by_period.*.demographics.*.*",
)

#: Numbers declared safe to publish, with why.
PUBLIC_NUMBERS = (
    # Settings and the run's own measures: chosen by the user or the rule, not by one incident (an
    # automatic parameter shows only its rule, and in a series its first value: PublicGate.run_record).
    "parameters.*", "timings_s.*", "privacy.min_count", "*.resolution", "*.coarsest_resolution", "*.seed",
    "*.window_hours",
    "*.window_days", "*.max_days", "*.max_radius_m", "*.min_cases", "*.max_p", "*.report_p", "*.permutations",
    "*.max_share_of_cases", "*.time_window", "*.min_score", "demand.error_bound_m", "products.density.method.*",
    "products.density.shape[]", "privacy.density.*", "privacy.gistar.distance_m", "privacy.gistar.rings",
    "dask.*",  # the cluster's workers and memory, the input's parts and block size
    "backtest.detection_horizon_days", "backtest.months", "backtest.spike_sizes[]", "backtest.spikes_per_size",
    # Numbers of features the public files show (areas, cells, clusters, alerts), not of incidents.
    "alerts.by_kind.*", "alerts.by_status.*", "emerging.categories.*", "privacy.gistar.n_hot.*",
    "privacy.gistar.n_cold.*", "privacy.hexes.breakdowns_hidden.*", "privacy.areas.n", "products.clusters.n",
    "products.clusters.possible_artefacts", "products.hotspots.n", "solution.candidates", "solution.groups",
    "*.repaired_polygons",
    # Figures of the public products themselves: the public surface's peak (its raster shows it), the sites'
    # shares (rounded to whole steps by odgeo.sites.public), the thresholds public_thresholds leaves (those
    # under the limit are already gone), the reported cluster's p-value, a geocoding quality figure.
    "products.density.max_per_km2", "solution.share_reached", "solution.share_reached_by_existing",
    "solution.gap", "solution.seconds", "scan.most_likely.p_value", "scan.most_likely.recurrence_interval_days",
    "thresholds.*.threshold", "thresholds.*.kth_highest_daily_count", "thresholds.*.baseline_days",
    "thresholds.*.floor", "thresholds.*.rank", "geocoding.median_score",
    # The sites' --train-until shares: odgeo.sites.public.out_of_time hides them when few are behind them.
    "out_of_time.share_of_later_reached", "out_of_time.best_possible_share_of_later",
    "out_of_time.percent_of_best_possible",
    # Outreach: the linkage's tolerances and match shares (odgeo.outreach.public.linkage_view hides a share
    # whose sides hold fewer than --min-count records), and the priority's weights (settings).
    "linkage.minutes", "linkage.metres", "linkage.pairs*.share_matched*", "priority.*.weight",
    # The outreach backtest: its settings, and shares public.backtest_view hides under min_count repeats.
    "backtest.n_mornings", "backtest.capacity", "backtest.horizon_days", "backtest.orderings*.share",
    # The report's trend: a fit over every final period (one small period does not move it to a count).
    # odgeo alerts --watch-drugs: how far back a first appearance looks, the share test's days and p.
    "drug_alerts.new_drug_months", "drug_alerts.share.recent_days", "drug_alerts.share.baseline_days",
    "drug_alerts.share.max_p",
    "report.trend.annual_percent_change", "report.trend.low", "report.trend.high", "report.trend.periods",
    "report.trend.dispersion", "boundaries.n_areas", "boundaries.n_areas_without_population",
)

#: Public in one release, but counts of incidents' places from one release to the next: H3 alert areas
#: are the cells holding incidents, so their number grows by the cells that had a first incident.
#: ``odgeo leakscan --series`` holds them to ``--min-count`` like counts.
SERIES_COUNT_PATHS = ("alerts.areas.n_areas",)

#: Numbers deliberately left out of a public record (the restricted record keeps them).
WITHHELD_NUMBERS = (
    "products.density.mass",  # the surface's total: the number of incidents, unrounded
)

NumberKind = Literal["count", "public", "withheld", "undeclared"]


def is_incident_count_key(key: str) -> bool:
    """Whether a run.json key holds a number of incidents or rows (which must obey --min-count)."""
    return (key.startswith("n_") and key not in NOT_INCIDENT_COUNTS) or key in _COUNT_KEYS


_INDEX = re.compile(r"\[\d+\]")


def plain_path(path: str) -> str:
    """A record path with list positions written ``[]`` (``a.b[3].c`` → ``a.b[].c``)."""
    return _INDEX.sub("[]", path)


@cache
def number_kind(path: str) -> NumberKind:
    """What the number at ``path`` (dotted, list positions ``[]`` or ``[i]``) of a public run.json is."""
    path = plain_path(path)
    key = path.rsplit(".", 1)[-1].removesuffix("[]")
    if any(fnmatchcase(path, p) for p in WITHHELD_NUMBERS):
        return "withheld"
    if is_incident_count_key(key) or any(fnmatchcase(path, p) for p in COUNT_PATHS):
        return "count"
    if key in NOT_INCIDENT_COUNTS or any(fnmatchcase(path, p) for p in PUBLIC_NUMBERS):
        return "public"
    return "undeclared"
