"""Donut geomasking of incident points for restricted maps, and the k-anonymity it buys.

Each point moves in a random direction by a random distance between a minimum
and a maximum, uniform over the area of the ring (Hampton et al. 2010;
Allshouse et al. 2010): the minimum keeps a point off the true home, the
maximum keeps clusters where they are. Given a population layer, the expected
number of residents in the ring around the true location estimates how many
people a displaced point could belong to (its spatial k-anonymity).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pyproj

from ..errors import ParameterError
from ..projection import project_points
from ..schema import WGS84

__all__ = ["DonutMask", "donut_mask", "parse_mask_distances", "ring_population"]


@dataclass(frozen=True)
class DonutMask:
    """Displaced coordinates and what the displacement was."""

    lon: np.ndarray
    lat: np.ndarray
    distance_m: np.ndarray
    min_m: float
    max_m: float
    seed: int

    def summary(self) -> dict:
        """The displacement for run.json: settings and achieved distances."""
        d = self.distance_m
        quantiles = np.percentile(d, [0, 5, 50, 95, 100]) if len(d) else [float("nan")] * 5
        return {
            "method": "donut (uniform over the ring's area, uniform direction)",
            "min_m": self.min_m, "max_m": self.max_m, "seed": self.seed, "n_points": len(d),
            "achieved_displacement_m": dict(zip(("min", "p5", "median", "p95", "max"),
                                                [round(float(q), 1) for q in quantiles])),
        }


def parse_mask_distances(text: str | tuple | None) -> tuple[float, float] | None:
    """``"50,300"`` -> (50.0, 300.0); a clear error for anything else."""
    if text is None or text == "":
        return None
    parts = text if isinstance(text, (tuple, list)) else str(text).split(",")
    try:
        lo, hi = (float(p) for p in parts)
    except (TypeError, ValueError):
        lo, hi = float("nan"), float("nan")
    if not (0 <= lo < hi and math.isfinite(hi)):
        raise ParameterError(
            f"`mask_points` takes MIN_M,MAX_M with 0 <= MIN < MAX metres (for example 50,300), not {text!r}")
    return lo, hi


def donut_mask(lon: np.ndarray, lat: np.ndarray, *, min_m: float, max_m: float, seed: int = 0) -> DonutMask:
    """Move each point between ``min_m`` and ``max_m`` metres, reproducibly for a seed.

    Parameters
    ----------
    lon, lat
        The points, in degrees.
    min_m, max_m
        The smallest and largest displacement, in metres.
    seed
        The random seed (the same seed moves the same points the same way).

    Returns
    -------
    DonutMask
        The displaced coordinates and each displacement.
    """
    parse_mask_distances((min_m, max_m))
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    rng = np.random.default_rng(seed)
    n = len(lon)
    # Uniform over the ring's area: r² uniform between min² and max².
    r = np.sqrt(rng.uniform(min_m**2, max_m**2, n))
    theta = rng.uniform(0.0, 2 * math.pi, n)
    if n == 0:
        return DonutMask(lon, lat, r, float(min_m), float(max_m), int(seed))
    x, y, crs = project_points(lon, lat)
    back = pyproj.Transformer.from_crs(crs, WGS84, always_xy=True)
    new_lon, new_lat = back.transform(x + r * np.cos(theta), y + r * np.sin(theta))
    # The distance achieved, measured back on the ellipsoid (not just the one drawn).
    geod = pyproj.Geod(ellps="WGS84")
    _, _, achieved = geod.inv(lon, lat, np.asarray(new_lon), np.asarray(new_lat))
    return DonutMask(np.asarray(new_lon), np.asarray(new_lat), np.asarray(achieved), float(min_m),
                     float(max_m), int(seed))


def ring_population(lon: np.ndarray, lat: np.ndarray, population: gpd.GeoDataFrame, column: str, *,
                    min_m: float, max_m: float) -> np.ndarray:
    """Expected residents in the masking ring around each true location.

    The population density of the polygon holding the point (residents per
    m², population / area in a local metric CRS) times the ring's area. Points
    outside every polygon get NaN. A rough estimate: it assumes residents are
    spread evenly within each polygon.
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    out = np.full(len(lon), np.nan)
    if not len(lon):
        return out
    x, y, crs = project_points(lon, lat)
    polys = population.to_crs(crs)
    density = polys[column].to_numpy(dtype=float) / polys.geometry.area.to_numpy()
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=crs)
    hits = gpd.sjoin(points, polys[[polys.geometry.name]], how="left", predicate="within")
    hits = hits[~hits.index.duplicated(keep="first")]
    idx = hits["index_right"].to_numpy()
    found = ~np.isnan(idx.astype(float))
    ring_area = math.pi * (max_m**2 - min_m**2)
    positions = polys.index.get_indexer(idx[found])
    out[found] = density[positions] * ring_area
    return out
