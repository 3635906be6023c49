"""The incidents a job uses, selected on the Dask cluster that read them (``--engine dask``).

:func:`select_parts` does what :func:`odgeo.jobs.common.select_incidents` does to an
input read in memory, to an input read in parts (:class:`odgeo.engine.dask_read.IncidentParts`):
the date and outcome filters run on each part's worker (the rows they drop become that
part's rejects), the spread check runs here on every located incident's coordinates,
and the outliers it sets aside go back to their parts' rejects. What comes here: the
rejects, the unlocated incidents, and the located incidents' dates, outcomes and
coordinates (:class:`odgeo.jobs.located.ClusterIncidents`); their parts stay on the
cluster for the per-incident stages.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..engine.dask_read import IncidentParts
from ..incidents.read import IncidentRead
from ..incidents.selection import RowCounts, assume_outcome, filter_incidents
from ..schema import OCCURRED_AT
from .common import JobSettings, record_filters, record_selection, reject_outliers, spread_outliers
from .located import ClusterIncidents

__all__ = ["select_parts"]


def select_parts(given: IncidentParts, settings: JobSettings,
                 record) -> tuple[IncidentRead, ClusterIncidents, RowCounts]:
    """Apply the filters and the spread check to the parts; return the unlocated read, the located incidents, the rows.

    The read holds the rejects of every part and the unlocated incidents (the
    located ones are the second item); the row counts are recorded and add up.
    ``given``'s validated parts are let go on the cluster once these are taken
    (:meth:`IncidentParts.release`): the stages need only the located parts.
    """
    record_filters(settings, record)
    parts = given
    if settings.assume_outcome is not None:
        parts = parts.each(assume_outcome, outcome=settings.assume_outcome)
    if settings.since is not None or settings.until is not None or settings.outcomes:
        # Only when asked: a part returned as it is would be held (and spilled) twice by Dask's accounting.
        parts = parts.each(filter_incidents, since=settings.since, until=settings.until, outcomes=settings.outcomes)
    located = parts.located()
    gathered = parts.client.gather(located)
    sizes = [len(p) for p in gathered]
    points = _joined(gathered)
    del gathered
    outliers = spread_outliers(points["lon"].to_numpy(), points["lat"].to_numpy(), settings, record,
                               {"path": parts.plan.source})
    if outliers.any():
        flags = np.split(outliers, np.cumsum(sizes)[:-1])
        parts = parts.each(reject_outliers, flags)
        located = parts.located()
        points = points[~outliers].reset_index(drop=True)
        sizes = [len(f) - int(f.sum()) for f in flags]
    read = parts.unlocated()
    given.release()  # else every column of every row stays on the workers while the job runs
    incidents = ClusterIncidents(parts.client, located, points, sizes)
    rows = record_selection(record, read, len(incidents), int(points[OCCURRED_AT].isna().sum()),
                            incidents.n_fatal())
    return read, incidents, rows


def _joined(points: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [p for p in points if len(p)] or points[:1]
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)
