"""Places to canvass: small hexagons where overdoses repeat, or an active cluster lies (location-based outreach).

Massachusetts counts location-based outreach among its four program types, and Hamilton County
canvasses hot spots: a team goes where overdoses keep happening, whoever they happen to. A place
is an H3 cell (resolution 9 by default: about 0.1 km², a few blocks) holding ``min_events``
overdoses or more in the ``days`` before ``as_of``, or an overdose inside an active cluster. Its
status is ``new`` when it was not a place the day before, ``ongoing`` when it was: made from the
data alone, so a rerun gives the same answer and no state file can drift from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from ..hexes import cell_strs, cells_to_polygons, points_to_cells
from ..schema import WGS84

__all__ = ["PLACE_COLUMNS", "PlaceSettings", "canvass_places", "place_cells"]

PLACE_COLUMNS = ["h3_cell", "near", "overdoses", "persons", "in_cluster", "status", "reason"]


@dataclass(frozen=True)
class PlaceSettings:
    """How places are found."""

    days: float = 30.0
    resolution: int = 9
    min_events: int = 2


def place_cells(events: pd.DataFrame, resolution: int) -> np.ndarray:
    """Each overdose's H3 cell (0 where it has no place)."""
    return points_to_cells(events["lon"].to_numpy(float), events["lat"].to_numpy(float), resolution)


def _qualifying(events: pd.DataFrame, cells: np.ndarray, end: pd.Timestamp, settings: PlaceSettings,
                clustered: np.ndarray) -> pd.DataFrame:
    window = ((events["occurred_at"] > end - pd.Timedelta(days=settings.days)) & (events["occurred_at"] <= end)
              ).to_numpy() & (cells != 0)
    frame = pd.DataFrame({"cell": cells[window], "person": events["worklist_id"].to_numpy()[window],
                          "clustered": clustered[window], "address": events["address"].to_numpy()[window]})
    per = frame.groupby("cell").agg(overdoses=("person", "size"), persons=("person", "nunique"),
                                    in_cluster=("clustered", "any"), near=("address", _commonest))
    return per[(per["overdoses"] >= settings.min_events) | per["in_cluster"]]


def _commonest(addresses: pd.Series) -> str:
    """The address most overdoses of a place were recorded at ("" when none has one): where to start."""
    known = addresses[addresses.astype(str).str.strip() != ""]
    return str(known.value_counts().index[0]) if len(known) else ""


def canvass_places(events: pd.DataFrame, as_of: pd.Timestamp, settings: PlaceSettings = PlaceSettings(),
                   clustered: np.ndarray | None = None) -> gpd.GeoDataFrame:
    """The places to canvass at ``as_of``, most overdoses first.

    Parameters
    ----------
    events
        One row per overdose (:func:`odgeo.outreach.events.overdose_events`) with ``worklist_id``.
    as_of
        The moment the list is made.
    settings
        Window, resolution and the repeat threshold.
    clustered
        Per overdose, whether it lies inside an active cluster (None: none does).

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`PLACE_COLUMNS` and the hexagon (EPSG:4326).
    """
    clustered = np.zeros(len(events), bool) if clustered is None else np.asarray(clustered, bool)
    cells = place_cells(events, settings.resolution)
    now = _qualifying(events, cells, as_of, settings, clustered)
    before = _qualifying(events, cells, as_of - pd.Timedelta(days=1), settings, clustered)
    if now.empty:
        return gpd.GeoDataFrame({c: [] for c in PLACE_COLUMNS}, geometry=gpd.GeoSeries([], crs=WGS84))
    now = now.sort_values(["overdoses", "persons"], ascending=False, kind="stable")
    names = cell_strs(now.index.to_numpy())
    days = f"{settings.days:g} days"
    reasons = [(f"{n} overdose{'s' if n != 1 else ''} in {days}" + (f" ({p} people)" if p < n else ""))
               + ("; inside an active cluster" if c else "")
               for n, p, c in zip(now["overdoses"], now["persons"], now["in_cluster"])]
    frame = pd.DataFrame({"h3_cell": names, "near": now["near"].to_numpy(), "overdoses": now["overdoses"].to_numpy(),
                          "persons": now["persons"].to_numpy(), "in_cluster": now["in_cluster"].to_numpy(),
                          "status": np.where(now.index.isin(before.index), "ongoing", "new"),
                          "reason": reasons})
    return gpd.GeoDataFrame(frame, geometry=cells_to_polygons(names).to_numpy(), crs=WGS84)
