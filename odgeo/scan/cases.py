"""The scan's cases: the study window's incidents at their locations; the clusters found, with circles."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..hexes import cell_centres, points_to_cells
from ..incidents.dates import calendar_day
from ..projection import lonlat_of, project_points
from ..schema import OCCURRED_AT, WGS84
from .statistic import ScanResult

__all__ = ["LOCATION_DECIMALS", "MIN_DRAWN_RADIUS_M", "ScanCases", "cluster_frame", "scan_cases"]

#: Decimals that make two coordinates one location (about 1 cm): duplicates of a geocoded address.
LOCATION_DECIMALS = 7
#: Circles of one location (radius 0) are drawn this wide on the restricted map.
MIN_DRAWN_RADIUS_M = 25.0


@dataclass(frozen=True)
class ScanCases:
    """The scan's input: locations (lon/lat and metres) and, per case, its location and day index."""

    lon: np.ndarray
    lat: np.ndarray
    x: np.ndarray
    y: np.ndarray
    location: np.ndarray
    day: np.ndarray

    def scan_coordinates(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The locations where the scan measures its circles: on SaTScan's sphere (see :func:`satscan_xyz`)."""
        return satscan_xyz(self.lon, self.lat)


#: SaTScan's earth: a sphere of 6,367 km (its LatLong.cpp; radius fixed in the source).
SATSCAN_RADIUS_M = 6_367_000.0


def satscan_xyz(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Latitude/longitude as SaTScan converts them: x = a cos(l) cos(d), y = a sin(l) cos(d), z = a sin(d).

    SaTScan measures a circle's radius as the straight (chord) distance between these
    points; measuring the same way, every circle holds the locations SaTScan's holds (a
    projected plane moved one location at a circle's edge in 1 of 14 real windows).
    """
    d, lon_r = np.radians(np.asarray(lat, float)), np.radians(np.asarray(lon, float))
    return (SATSCAN_RADIUS_M * np.cos(lon_r) * np.cos(d), SATSCAN_RADIUS_M * np.sin(lon_r) * np.cos(d),
            SATSCAN_RADIUS_M * np.sin(d))


def scan_cases(used: gpd.GeoDataFrame, first_day: pd.Timestamp, h3_resolution: int | None = None) -> ScanCases:
    """Cases of incidents from ``first_day``: at distinct coordinates, or at H3 cell centres.

    Parameters
    ----------
    used
        The located, dated incidents (an IncidentFrame).
    first_day
        The study window's first day (day 0).
    h3_resolution
        Gather incidents at the centres of H3 cells of this resolution (None: each
        distinct coordinate is a location).

    Returns
    -------
    ScanCases
        The locations (lon/lat and metres) and, per case, its location and day index.
    """
    lon, lat = lonlat_of(used.geometry)
    if h3_resolution is None:
        keys = np.column_stack([np.round(lon, LOCATION_DECIMALS), np.round(lat, LOCATION_DECIMALS)])
        unique, location = np.unique(keys, axis=0, return_inverse=True)
        loc_lon, loc_lat = unique[:, 0], unique[:, 1]
    else:
        cells, location = np.unique(points_to_cells(lon, lat, h3_resolution), return_inverse=True)
        loc_lon, loc_lat = cell_centres(cells)
    local = used[OCCURRED_AT].dt.tz_localize(None).dt.normalize()
    day = (local - first_day.tz_localize(None).normalize()).dt.days.to_numpy()
    x, y, _ = project_points(loc_lon, loc_lat)
    return ScanCases(loc_lon, loc_lat, x, y, np.asarray(location).ravel(), day)


def cluster_frame(result: ScanResult, cases: ScanCases, first_day: pd.Timestamp) -> gpd.GeoDataFrame:
    """The restricted scan_clusters table: centres, dates and figures, with circles (EPSG:4326)."""
    table, lon, lat = result.clusters, cases.lon, cases.lat
    centre_lon, centre_lat = lon[table["centre"].to_numpy()], lat[table["centre"].to_numpy()]
    day = [calendar_day(first_day, int(d)) for d in table["first_day"]]
    end = [calendar_day(first_day, int(d)) for d in table["last_day"]]
    frame = pd.DataFrame({
        "cluster_id": table["cluster_id"].to_numpy(),
        "center_longitude": np.round(centre_lon, LOCATION_DECIMALS),
        "center_latitude": np.round(centre_lat, LOCATION_DECIMALS),
        "radius_m": table["radius_m"].round(1).to_numpy(),
        "start_date": [f"{d:%Y-%m-%d}" for d in day], "end_date": [f"{d:%Y-%m-%d}" for d in end],
        "n_days": (table["last_day"] - table["first_day"] + 1).to_numpy(),
        "n_locations": table["n_locations"].to_numpy(),
        "observed": table["observed"].to_numpy(), "expected": table["expected"].round(3).to_numpy(),
        "llr": table["llr"].round(4).to_numpy(), "p_value": table["p_value"].round(6).to_numpy(),
        "recurrence_interval_days": table["recurrence_interval_days"].round(1).to_numpy(),
    })
    return gpd.GeoDataFrame(frame, geometry=_circles(cases, table), crs=WGS84)


def _circles(cases: ScanCases, table: pd.DataFrame) -> list:
    """The clusters' circles in the locations' metric CRS, back in lon/lat."""
    if not len(table):
        return []
    _, _, crs = project_points(cases.lon, cases.lat)
    centre = table["centre"].to_numpy()
    radius = np.maximum(table["radius_m"].to_numpy(), MIN_DRAWN_RADIUS_M)
    circles = shapely.buffer(shapely.points(cases.x[centre], cases.y[centre]), radius, quad_segs=16)
    return list(gpd.GeoSeries(circles, crs=crs).to_crs(WGS84).values)
