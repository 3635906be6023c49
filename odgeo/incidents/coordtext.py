"""Coordinates written as text in one column.

"(lat, lon)" as Socrata exports them (often after a place name), "lat, lon", or WKT "POINT (lon lat)".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["looks_like_locations", "parse_location_text"]

_NUMBER = r"[-+]?\d+(?:\.\d+)?"
# WKT first: its order is (x y) = (lon lat).
_WKT = rf"POINT\s*(?:Z\s*)?\(\s*(?P<x>{_NUMBER})\s+(?P<y>{_NUMBER})"
# Otherwise a pair in parentheses or alone, latitude first (Socrata, spreadsheets).
_PAIR = rf"\(?\s*(?P<lat>{_NUMBER})\s*,\s*(?P<lon>{_NUMBER})\s*\)?\s*$"


def parse_location_text(text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    r"""Longitude and latitude parsed from each value (NaN where none is found).

    >>> lon, lat = parse_location_text(pd.Series(["CT\n(41.3, -72.9)", "POINT (-97.4 38.2)", "Hospital"]))
    >>> lon.tolist(), lat.tolist()
    ([-72.9, -97.4, nan], [41.3, 38.2, nan])
    """
    text = text.fillna("").astype(str)
    lon = np.full(len(text), np.nan)
    lat = np.full(len(text), np.nan)
    wkt = text.str.extract(_WKT, flags=2)  # re.IGNORECASE
    pair = text.str.extract(_PAIR)
    has_wkt = wkt["x"].notna().to_numpy()
    lon[has_wkt] = wkt["x"][has_wkt].astype(float)
    lat[has_wkt] = wkt["y"][has_wkt].astype(float)
    has_pair = ~has_wkt & pair["lat"].notna().to_numpy()
    lon[has_pair] = pair["lon"][has_pair].astype(float)
    lat[has_pair] = pair["lat"][has_pair].astype(float)
    return lon, lat


def looks_like_locations(text: pd.Series, share: float = 0.5) -> bool:
    """True when at least ``share`` of the non-empty values parse as coordinates."""
    present = text.fillna("").astype(str).str.strip() != ""
    if not present.any():
        return False
    lon, _ = parse_location_text(text[present])
    return bool(np.isfinite(lon).mean() >= share)
