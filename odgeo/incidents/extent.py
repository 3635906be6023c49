"""How far the incidents spread: locational outliers, and spreads too wide for one local map.

Every metric step (density, DBSCAN, Gi* distances) works in one local projection
(:mod:`odgeo.projection`). One stray record at latitude 0 beside a county's
incidents stretches every grid over thousands of kilometres, and incidents spread
over the world cannot share a projection at all. So, before any analysis:

- an **outlier** is an incident farther from the median centre than
  ``max(100 km, 20 x the median distance)``: far from every plausible study area;
- with outliers, or a spread wider than :data:`MAX_RADIUS_KM` from the centre,
  the run stops with one line saying so, unless ``drop_outliers`` sets the
  outliers aside (rejected as ``outlier``, so the counts still add up);
- incidents on both sides of the 180th meridian (Fiji, the western Aleutians) are
  refused in one line: the products are drawn in longitude and latitude, where an
  area across the meridian would wrap round the world.
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError
from ..projection import distances_from_centre_km

__all__ = ["MAX_RADIUS_KM", "OUTLIER_MIN_KM", "PLACE_LEVEL_WORDS", "check_spread", "crosses_antimeridian",
           "locational_outliers", "place_level"]

#: Incidents more than this far from their median centre cannot share one local map.
MAX_RADIUS_KM = 2500.0
#: An outlier is at least this far from the median centre (and 20 median distances).
OUTLIER_MIN_KM = 100.0
_OUTLIER_FACTOR = 20.0
def locational_outliers(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, float]:
    """Boolean mask of outliers and the distance (km) beyond which a point is one."""
    return _beyond_outlier_distance(distances_from_centre_km(lon, lat))


def _beyond_outlier_distance(dist: np.ndarray) -> tuple[np.ndarray, float]:
    if len(dist) < 3:
        return np.zeros(len(dist), dtype=bool), float("inf")
    threshold = max(OUTLIER_MIN_KM, _OUTLIER_FACTOR * float(np.median(dist)))
    return dist > threshold, threshold


def check_spread(lon: np.ndarray, lat: np.ndarray, *, drop_outliers: bool = False) -> tuple[np.ndarray, dict]:
    """The outliers to set aside (all False unless ``drop_outliers``) and what was measured.

    Parameters
    ----------
    lon, lat
        The located incidents, in degrees.
    drop_outliers
        Set incidents far from all others aside instead of refusing the input.

    Returns
    -------
    outliers : numpy.ndarray
        True for each incident set aside.
    spread : dict
        The distances measured from the median centre, in km, for the run record.

    Raises
    ------
    DataError
        If there are outliers and ``drop_outliers`` is not set, or if what is left
        spreads more than :data:`MAX_RADIUS_KM` from its centre.
    """
    dist = distances_from_centre_km(lon, lat)
    outliers, threshold = _beyond_outlier_distance(dist)
    info = {"max_distance_from_median_centre_km": round(float(dist.max()), 1) if len(dist) else 0.0,
            "outlier_rule": f"farther than max({OUTLIER_MIN_KM:g} km, {_OUTLIER_FACTOR:g} x the median distance) "
                            "from the median centre",
            "n_outliers": int(outliers.sum())}
    if outliers.any() and not drop_outliers:
        raise DataError(f"{int(outliers.sum())} incident(s) lie more than {threshold:,.0f} km from the median "
                        f"centre of the others (up to {dist.max():,.0f} km): a stray record stretches every map "
                        "and grid; add `drop_outliers` to set them aside (rejects.csv, code outlier), or fix "
                        "their coordinates")
    kept_lon = np.asarray(lon)[~outliers] if drop_outliers else np.asarray(lon)
    _refuse_across_the_antimeridian(kept_lon)
    spread = dist  # what is left is what was measured, unless outliers were set aside
    if outliers.any():
        spread = distances_from_centre_km(np.asarray(lon)[~outliers], np.asarray(lat)[~outliers])
    if len(spread) and spread.max() > MAX_RADIUS_KM:
        raise DataError(f"the incidents spread up to {spread.max():,.0f} km from their centre, more than "
                        f"{MAX_RADIUS_KM:,.0f} km: too wide for one local map projection; analyse one region "
                        "at a time (filter the file by state or county)")
    return outliers if drop_outliers else np.zeros(len(dist), dtype=bool), info


def crosses_antimeridian(lon: np.ndarray) -> bool:
    """Whether the narrowest band of longitudes holding every point crosses the 180th meridian.

    That band leaves out the widest gap between neighbouring longitudes round the circle;
    it crosses the meridian unless that gap is the one across it. A band wider than a
    half circle is the world's spread, refused as too wide instead.
    """
    lon = np.unique(np.asarray(lon, dtype=float)[np.isfinite(lon)])
    if len(lon) < 2:
        return False
    gaps = np.diff(lon)
    across = lon[0] + 360.0 - lon[-1]
    return bool(gaps.max() > across and 360.0 - gaps.max() < 180.0)


def _refuse_across_the_antimeridian(lon: np.ndarray) -> None:
    if not crosses_antimeridian(lon):
        return
    east, west = lon[lon > 0], lon[lon <= 0]
    raise DataError(f"the incidents lie on both sides of the 180th meridian (longitudes {east.min():.1f} to 180 "
                    f"and -180 to {west.max():.1f}): odgeo draws its products in longitude and latitude, where "
                    "an area across the meridian would wrap round the world; analyse each side in its own run "
                    "(filter the file by the sign of the longitude)")


#: When at least this share of the incidents lie on coordinates each shared by :data:`SHARED_MIN`
#: or more, the file places incidents at towns' or ZIP areas' centres, not where they happened
#: (Connecticut's deaths: 5,105 at town centroids).
PLACE_LEVEL_SHARE = 0.5
SHARED_MIN = 10
#: What that means for the analyses, and what to do instead (settings in backticks).
PLACE_LEVEL_WORDS = ("the file places incidents at shared points (town or ZIP centres), not where they happened: "
                     "hot spots, clusters and scan circles then find those centres; count by area instead "
                     "(`boundaries` with the towns' polygons), or use a coarser `resolution` or a larger "
                     "`max_radius_m`")


def place_level(lon: np.ndarray, lat: np.ndarray) -> tuple[int, int] | None:
    """(incidents on shared coordinates, how many such coordinates) when most incidents share few points.

    None when the coordinates are the incidents' own (at most a few stacks: see
    :func:`odgeo.clusters.dbscan.suspect_stacks` for those).
    """
    if not len(lon):
        return None
    # Each point as one integer of its micro-degrees (what np.round(., 6) compares): a 1-D sort of
    # integers, 10x faster at a million than np.unique over rows of pairs.
    micro_lon = np.rint(np.asarray(lon, dtype=float) * 1e6).astype(np.int64) + 180_000_000
    micro_lat = np.rint(np.asarray(lat, dtype=float) * 1e6).astype(np.int64) + 90_000_000
    _, sizes = np.unique(micro_lon * 180_000_001 + micro_lat, return_counts=True)
    shared = sizes >= SHARED_MIN
    n_on_shared = int(sizes[shared].sum())
    if n_on_shared < PLACE_LEVEL_SHARE * len(lon):
        return None
    return n_on_shared, int(shared.sum())
