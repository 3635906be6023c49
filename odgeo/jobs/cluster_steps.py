"""Clusters for the main job: DBSCAN, ST-DBSCAN or HDBSCAN (``--cluster-method``) and their settings."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import defaults
from ..clusters.st_dbscan import st_dbscan
from ..errors import ParameterError
from ..runrecord import RunRecord
from ..vocabulary import CLUSTER_METHODS
from .located import LocatedIncidents

__all__ = [
    "ClusterPlan", "HdbscanStrengths", "cluster_labels", "first_seen_numbering", "hdbscan_labels", "plan_clusters",
]


@dataclass(frozen=True)
class ClusterPlan:
    """The cluster method and what only it takes (eps and min_samples are shared)."""

    method: str
    eps_days: float | None  # st-dbscan
    min_cluster_size: int | None  # hdbscan


def plan_clusters(record: RunRecord, settings, min_samples: int) -> ClusterPlan:
    """The cluster method of ``settings`` (HotspotSettings) and its own parameters, recorded."""
    method = record.pick("cluster_method", settings.cluster_method, defaults.CLUSTER_METHOD)
    if method not in CLUSTER_METHODS:
        raise ParameterError(f"`cluster_method` must be one of {', '.join(CLUSTER_METHODS)}, not {method!r}")
    if settings.eps_days is not None and method != "st-dbscan":
        raise ParameterError("`eps_days` applies to `cluster_method` st-dbscan")
    if settings.min_cluster_size is not None and method != "hdbscan":
        raise ParameterError("`min_cluster_size` applies to `cluster_method` hdbscan")
    eps_days = size = None
    if method == "st-dbscan":
        eps_days = float(record.pick("eps_days", settings.eps_days, defaults.EPS_DAYS))
        if not (eps_days > 0 and np.isfinite(eps_days)):
            raise ParameterError(f"`eps_days` must be a positive number of days, not {eps_days!r}")
    if method == "hdbscan":
        if min_samples < 2:
            raise ParameterError(f"`min_samples` must be at least 2 for `cluster_method` hdbscan, not {min_samples}")
        size = int(record.pick("min_cluster_size", settings.min_cluster_size, min_samples, "--min-samples"))
        if size < 2:
            raise ParameterError(f"`min_cluster_size` must be at least 2, not {size}")
    return ClusterPlan(method, eps_days, size)


@dataclass(frozen=True)
class HdbscanStrengths:
    """What HDBSCAN says of its clusters beyond the labels."""

    probability: np.ndarray  # per point: membership strength, 0 (noise) to 1 (the cluster's dense core)
    persistence: np.ndarray  # per cluster, by label: its stability across densities, 0 to 1


def cluster_labels(method: ClusterPlan, used: LocatedIncidents, x, y, crs, eps_m: float,
                   min_samples: int) -> tuple[np.ndarray, np.ndarray, HdbscanStrengths | None]:
    """Cluster labels, core flags and (HDBSCAN) strengths of the incidents, projected (``x``, ``y``) to ``crs``.

    DBSCAN runs where the incidents are (:meth:`LocatedIncidents.dbscan`); ST-DBSCAN and
    HDBSCAN run here on the coordinates.
    """
    if method.method == "st-dbscan":
        assert method.eps_days is not None
        local = used.dates.dt.tz_localize(None)
        days = ((local - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)).to_numpy(dtype=float, na_value=np.nan)
        labels, is_core = st_dbscan(x, y, days, eps_m=eps_m, eps_days=method.eps_days,
                                    min_samples=min_samples)
        return labels, is_core, None
    if method.method == "hdbscan":
        assert method.min_cluster_size is not None
        return hdbscan_labels(x, y, method.min_cluster_size, min_samples)
    labels, is_core = used.dbscan(x, y, crs=crs, eps_m=eps_m, min_samples=min_samples)
    return labels, is_core, None


def hdbscan_labels(x, y, min_cluster_size: int,
                   min_samples: int) -> tuple[np.ndarray, np.ndarray, HdbscanStrengths]:
    """HDBSCAN by the ``hdbscan`` package (scikit-learn-contrib), for the cluster persistence scikit-learn hides.

    Prim's tree on a KD-tree gives scikit-learn's ``HDBSCAN`` labels exactly (tested); Boruvka is
    faster but picks other minimum spanning trees among the many equal-weight ones that mutual
    reachability makes. ``min_samples`` counts the point itself, as in DBSCAN and scikit-learn;
    the ``hdbscan`` package does not, hence the minus one.
    """
    import hdbscan

    model = hdbscan.HDBSCAN(min_cluster_size=min_cluster_size, min_samples=min_samples - 1,
                            algorithm="prims_kdtree").fit(np.column_stack([x, y]))
    labels = first_seen_numbering(model.labels_)
    found = model.labels_ >= 0
    persistence = np.zeros(labels.max() + 1)
    persistence[labels[found]] = np.asarray(model.cluster_persistence_)[model.labels_[found]]
    strengths = HdbscanStrengths(probability=np.asarray(model.probabilities_), persistence=persistence)
    return labels, found & (strengths.probability >= 1.0), strengths


def first_seen_numbering(labels: np.ndarray) -> np.ndarray:
    """Cluster numbers in the order of each cluster's first point, as DBSCAN's (noise stays -1)."""
    out = np.full(len(labels), -1, dtype=np.int64)
    found = labels >= 0
    ids, first = np.unique(labels[found], return_index=True)
    rank = np.empty(len(ids), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(ids))
    out[found] = rank[np.searchsorted(ids, labels[found])]
    return out
