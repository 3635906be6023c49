"""Locating the incidents of a read that have an address but no coordinates, against a reference index."""

from __future__ import annotations

from dataclasses import replace

import geopandas as gpd
import pandas as pd

from .. import defaults
from ..errors import ParameterError
from ..incidents.read import IncidentRead
from ..schema import ADDRESS, CITY, GEOCODE_SCORE, GEOCODE_STATUS, INCIDENT_ID, SOURCE_ROW, ZIP, has_location
from .index import AddressIndex
from .matcher import STATUSES, geocode_frame

__all__ = ["DEFAULT_MIN_SCORE", "geocode_pending", "status_summary"]

#: Geocoded incidents below this score are left out of the analysis (with their reason).
DEFAULT_MIN_SCORE = defaults.MIN_SCORE.value


def status_summary(result: pd.DataFrame) -> dict:
    """Counts by status and the median score of the located ones (for run.json and the terminal)."""
    counts = result["geocode_status"].value_counts()
    located = result["geocode_status"] != "unmatched"
    return {"n": len(result), "by_status": {s: int(counts.get(s, 0)) for s in STATUSES},
            "median_score": round(float(result.loc[located, "geocode_score"].median()), 3) if located.any() else None}


def geocode_pending(read: IncidentRead, index: AddressIndex, *, min_score: float = DEFAULT_MIN_SCORE
                    ) -> tuple[IncidentRead, dict]:
    """Locate the incidents that have an address but no coordinates.

    Matches scoring at least ``min_score`` get their point; the others move to
    the rejects with code ``not_geocoded`` and the reason, so every row stays
    accounted for.

    Parameters
    ----------
    read
        The incidents read (their address columns found at reading).
    index
        From :func:`~odgeo.geocode.index.load_index`.
    min_score
        The smallest match score used (0 to 1).

    Returns
    -------
    read : IncidentRead
        The incidents with the matched points, the others in the rejects.
    summary : dict
        Counts by status and the scores, for the run record.
    """
    if not 0 <= min_score <= 1:
        raise ParameterError(f"`min_score` must be between 0 and 1, not {min_score!r}")
    frame = read.incidents
    pending = ~has_location(frame.geometry)
    if not pending.any():
        return read, {"n": 0, "by_status": {}, "median_score": None}
    rows = frame[pending]
    result = geocode_frame(index, rows[ADDRESS], rows[CITY], rows[ZIP])
    good = (result["geocode_status"] != "unmatched") & (result["geocode_score"] >= min_score)
    frame = frame.copy()
    ok = result.index[good]
    frame.loc[ok, frame.geometry.name] = gpd.points_from_xy(result.loc[ok, "longitude"], result.loc[ok, "latitude"])
    frame.loc[ok, GEOCODE_STATUS] = result.loc[ok, "geocode_status"]
    frame.loc[ok, GEOCODE_SCORE] = result.loc[ok, "geocode_score"]
    bad = result.index[~good]
    reasons = [_reason(r) for _, r in result.loc[bad].iterrows()]
    rejects = pd.DataFrame({"row": frame.loc[bad, SOURCE_ROW].to_numpy(), INCIDENT_ID: frame.loc[bad, INCIDENT_ID],
                            "code": "not_geocoded", "column": ADDRESS, "reason": reasons})
    summary = status_summary(result) | {"min_score": min_score, "n_located": int(good.sum()),
                                        "n_left_out": int((~good).sum())}
    merged = pd.concat([read.rejects, rejects], ignore_index=True).sort_values("row", kind="stable")
    return replace(read, incidents=frame.drop(index=bad), rejects=merged.reset_index(drop=True)), summary


def _reason(row: pd.Series) -> str:
    if row["geocode_status"] == "unmatched":
        return f"address not found: {row['geocode_reason']}"
    return (f"geocoded only to the {row['geocode_status']} level (score {row['geocode_score']:.2f}, "
            f"below --min-score)")
