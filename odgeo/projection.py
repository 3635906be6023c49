"""Local metric projections: every distance in odgeo is metres in a projected CRS."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from .schema import WGS84

__all__ = ["distances_from_centre_km", "haversine_km", "local_metric_crs", "lonlat_of", "project_points", "reproject"]


#: Beyond this many km from their median centre, points leave the comfort of one UTM zone.
UTM_MAX_RADIUS_KM = 600.0


def local_metric_crs(lon: np.ndarray, lat: np.ndarray) -> pyproj.CRS:
    """The UTM zone (WGS 84) holding the median of the points; for a wider spread, an equal-area map.

    UTM keeps scale error under 0.1% within a zone, which is far below any
    bandwidth or search distance a city or county analysis uses. Points more than
    600 km from their centre (a state, a region) get a Lambert azimuthal
    equal-area projection centred on the whole degree nearest their median, whose
    scale error stays under 1% within 1,800 km (and never names a place finer than a degree).

    Parameters
    ----------
    lon, lat
        Coordinates in degrees (non-finite values are ignored).

    Returns
    -------
    pyproj.CRS
        A projected CRS in metres.
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        lon_c, lat_c = 0.0, 0.0
    else:
        lon_c, lat_c = float(np.median(lon[ok])), float(np.median(lat[ok]))
        if distances_from_centre_km(lon[ok], lat[ok]).max() > UTM_MAX_RADIUS_KM:
            return pyproj.CRS.from_proj4(f"+proj=laea +lat_0={round(lat_c):d} +lon_0={round(lon_c):d} "
                                         "+datum=WGS84 +units=m +no_defs")
    zone = int(np.clip(np.floor((lon_c + 180.0) / 6.0) + 1, 1, 60))
    return pyproj.CRS.from_epsg((32600 if lat_c >= 0 else 32700) + zone)


def lonlat_of(geoms) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude arrays of a GeoSeries (or array) of points."""
    values = np.asarray(getattr(geoms, "values", geoms), dtype=object)
    return shapely.get_x(values), shapely.get_y(values)


def project_points(
    lon: np.ndarray, lat: np.ndarray, crs: pyproj.CRS | None = None
) -> tuple[np.ndarray, np.ndarray, pyproj.CRS]:
    """Project lon/lat to metres.

    Parameters
    ----------
    lon, lat
        Coordinates in degrees.
    crs
        The target CRS; default :func:`local_metric_crs` of the points.

    Returns
    -------
    x, y, crs
        Coordinates in metres and the CRS they are in.
    """
    if crs is None:
        crs = local_metric_crs(lon, lat)
    transformer = pyproj.Transformer.from_crs(WGS84, crs, always_xy=True)
    x, y = transformer.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float), crs


def reproject(frame: gpd.GeoDataFrame, crs: pyproj.CRS) -> gpd.GeoDataFrame:
    """``frame.to_crs(crs)`` through one transformer: the same coordinates, without geopandas' CRS checks.

    ``to_crs`` compares and rebuilds CRS objects from their text several times a call (70 ms a
    layer for the map image); the coordinates go through the same ``always_xy`` transformer.
    """
    if frame.crs is None or frame.crs == crs:
        return frame.to_crs(crs) if frame.crs is None else frame
    transformer = pyproj.Transformer.from_crs(frame.crs, crs, always_xy=True)

    def move(coords: np.ndarray) -> np.ndarray:
        return np.column_stack(transformer.transform(coords[:, 0], coords[:, 1]))

    out = frame.copy()
    out[frame.geometry.name] = gpd.GeoSeries(shapely.transform(np.asarray(frame.geometry.values, dtype=object), move),
                                             index=frame.index, crs=crs)
    return out


_EARTH_RADIUS_KM = 6371.0088


def haversine_km(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Great-circle distance in km between points given in degrees (arrays broadcast)."""
    lon1, lat1, lon2, lat2 = map(np.radians, (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * _EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def distances_from_centre_km(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Great-circle distance of each point from the points' median centre."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    if not len(lon):
        return np.zeros(0)
    return haversine_km(lon, lat, np.median(lon), np.median(lat))
