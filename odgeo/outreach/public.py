"""What each audience sees of outreach: the team everything; the public no person, only areas and pooled shares.

The public (a coalition, a funder's public report) gets:

- **places as published areas**: the overdoses of the place window counted in H3 cells and
  merged upwards until each area holds ``min_count`` (the gate's areas, held by ``--ledger``
  across releases), with no status (which compares days) and no person count;
- **the funnel by month**, denominators and pooled shares only where the month's eligible
  overdoses reach ``min_count``; when one month alone is hidden a second is hidden with it,
  and the pooled row is hidden unless the hidden months hold ``min_count`` together (else the
  pooled row minus the shown months would give the hidden one). Under a ledger each month's
  counts are republished only once they have moved by ``min_count``;
- **no worklist, no linkage pairs, no practice checks**: those name records.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from ..hexes import count_cells
from ..publish.public import PublicGate
from ..publish.restricted import Gate
from ..schema import OCCURRED_AT, WGS84
from .funnel import FUNNEL_STAGES
from .places import PlaceSettings

__all__ = [
    "PUBLIC_FUNNEL_COLUMNS",
    "as_of_record",
    "as_of_words",
    "linkage_view",
    "places_view",
    "public_funnel",
    "public_places",
    "shows_persons",
    "smallest_area",
    "worklist_view",
]

#: funnel.csv's columns for the public.
PUBLIC_FUNNEL_COLUMNS = ["eligible", *(f"share_{s}" for s in (*FUNNEL_STAGES[1:], "tried_within_72h")),
                         "median_hours_to_first_attempt"]


def shows_persons(gate: Gate) -> bool:
    """Whether this audience gets person-level files (the worklist, linkage pairs, practice checks)."""
    return not isinstance(gate, PublicGate)


def smallest_area(gate: Gate) -> int:
    """The fewest overdoses a public area holds (the gate's ``min_count``)."""
    return gate.limit


def as_of_words(gate: Gate, as_of: pd.Timestamp) -> str:
    """When the list was made, as the audience may see it: the minute for the team, the month for the public."""
    return f"{as_of:%a %d %b %Y, %H:%M}" if shows_persons(gate) else f"{as_of:%B %Y}"


def as_of_record(gate: Gate, as_of: pd.Timestamp) -> str:
    """run.json's ``as_of``: the minute for the team, the month for the public."""
    return f"{as_of:%Y-%m-%d %H:%M}" if shows_persons(gate) else f"{as_of:%Y-%m}"


def places_view(gate: Gate, section: dict, shown: gpd.GeoDataFrame) -> dict:
    """run.json's places: the public sees how many areas its file shows, not how many places the team has."""
    return section if shows_persons(gate) else {"n_areas": len(shown)}


def place_window_counts(events: pd.DataFrame, settings: PlaceSettings, as_of: pd.Timestamp) -> pd.DataFrame:
    """The overdoses of the place window per H3 cell (CellCounts at the places' resolution)."""
    window = events[(events["occurred_at"] > as_of - pd.Timedelta(days=settings.days))
                    & (events["occurred_at"] <= as_of) & events["lon"].notna()]
    located = gpd.GeoDataFrame({OCCURRED_AT: window["occurred_at"].to_numpy()},
                               geometry=gpd.points_from_xy(window["lon"], window["lat"]), crs=WGS84)
    return count_cells(located, resolution=settings.resolution, by_outcome=False)


def place_areas(gate: Gate, counts: pd.DataFrame) -> gpd.GeoDataFrame:
    """The map's areas: exact cells for the team, published areas for the public.

    The public's are the series' own areas under a ledger (kept from release to release), else
    cells merged upwards until each holds ``min_count``.
    """
    if isinstance(gate, PublicGate):
        return gate.published_areas(gate.areas_for(counts), counts)[1]
    return gate.count_hexes(counts)


def public_places(gate: Gate, places: gpd.GeoDataFrame, areas: gpd.GeoDataFrame,
                  settings: PlaceSettings) -> gpd.GeoDataFrame:
    """places.geojson for the gate's audience: the team's places, or the public areas that show a count."""
    if shows_persons(gate):
        return places
    shown = areas["count"].notna() & (areas["count"] >= max(gate.limit, settings.min_events))
    return areas[shown].reset_index(drop=True)


def public_funnel(gate: Gate, funnel: pd.DataFrame) -> pd.DataFrame:
    """funnel.csv for the gate's audience (restricted: every count and share)."""
    if not isinstance(gate, PublicGate):
        return funnel
    by = funnel.columns[0]  # "month" or "area"
    counts = [*FUNNEL_STAGES, "tried_within_72h"]
    table = funnel.copy()
    for i, row in table.iterrows():  # a series republishes a month's counts only once they moved by min_count
        held = gate.hold(f"funnel by {by}", str(row[by]), {c: int(row[c]) for c in counts})
        for c in counts:
            table.at[i, c] = held[c]
    months = table[by] != "all"
    small = months & (table["eligible"] < gate.limit)
    if small.sum() == 1 and (months & ~small).any():  # one hidden month: the pooled row would give it away
        spare = table.loc[months & ~small, "eligible"].idxmin()
        small[spare] = True
    hidden_total = int(table.loc[small, "eligible"].sum())
    hide = small | (~months & (hidden_total > 0) & (hidden_total < gate.limit))
    hide |= ~months & (table["eligible"] < gate.limit)
    out = pd.DataFrame({by: table[by]})
    out["eligible"] = pd.array(np.where(hide, pd.NA, table["eligible"]), dtype="Int64")
    for stage in [*FUNNEL_STAGES[1:], "tried_within_72h"]:
        share = (table[stage] / table["eligible"]).where(table["eligible"] > 0).round(2)
        out[f"share_{stage}"] = share.where(~hide)
    out["median_hours_to_first_attempt"] = table["median_hours_to_first_attempt"].round(0).where(~hide)
    return out[[by, *PUBLIC_FUNNEL_COLUMNS]]


def public_backtest(gate: Gate, trial) -> pd.DataFrame:
    """backtest.csv for the audience: the public gets the shares, and only when the repeats reach ``min_count``."""
    if shows_persons(gate):
        return trial.table
    enough = trial.n_repeats >= gate.limit
    return pd.DataFrame({"ordering": trial.table["ordering"], "weights": trial.table["weights"],
                         "share": trial.table["share"].round(2) if enough else np.nan})


def backtest_view(gate: Gate, section: dict) -> dict:
    """run.json's backtest for the public: the settings, and the shares only when the repeats reach ``min_count``."""
    enough = (section["n_repeats"] or 0) >= gate.limit
    return {**{k: v for k, v in section.items() if k != "orderings"},
            "orderings": [{"ordering": o["ordering"], "share": o["share"] if enough else None}
                          for o in section["orderings"]]}


def linkage_view(gate: Gate, section: dict) -> dict:
    """run.json's linkage for the public: the tolerances and match shares where both sides hold ``min_count``."""
    pairs = []
    for pair in section["pairs"]:
        enough = min(pair["comparable"]) >= gate.limit
        pairs.append({"sources": pair["sources"], "share_matched": pair["share_matched"] if enough else None})
    return {"minutes": section["minutes"], "metres": section["metres"], "pairs": pairs}


def worklist_view(gate: Gate, section: dict) -> dict:
    """run.json's worklist for the public: none is written."""
    return {"written": "no: a public run writes no person-level row (run with --audience restricted)"}
