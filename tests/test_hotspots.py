"""Hot spot polygons from the density surface."""

import numpy as np
import pyproj
import shapely

from odgeo.density.hotspot_areas import density_threshold, hotspot_polygons
from odgeo.density.kernel import kernel_density

UTM = pyproj.CRS.from_epsg(32614)


def test_planted_hot_spots_fall_in_the_top_polygons(sample_run, truth):
    result, _ = sample_run
    polygons = result.hotspots.to_crs(4326)
    top = polygons[polygons["hotspot_id"] <= 3]
    for spot in truth["hot_spots"]:
        centre = shapely.Point(spot["centre"])
        assert top.contains(centre).any(), f"hot spot {spot['name']} not in the top three"


def test_two_blobs_give_two_polygons_with_their_counts():
    rng = np.random.default_rng(1)
    a = rng.normal(0, 80, (300, 2))
    b = rng.normal(0, 80, (150, 2)) + [3000, 0]
    noise = rng.uniform(-1500, 4500, (200, 2))
    pts = np.vstack([a, b, noise])
    grid = kernel_density(pts[:, 0], pts[:, 1], crs=UTM, bandwidth_m=300, cell_size_m=20)
    spots = hotspot_polygons(grid, pts[:, 0], pts[:, 1], percentile=90)
    assert spots["hotspot_id"].tolist()[:2] == [1, 2]
    first, second = spots.geometry.iloc[0], spots.geometry.iloc[1]
    assert first.contains(shapely.Point(0, 0)) and second.contains(shapely.Point(3000, 0))
    inside = shapely.contains_xy(first, pts[:, 0], pts[:, 1]).sum()
    assert spots["n_incidents"].iloc[0] == inside
    assert spots["area_km2"].iloc[0] > 0


def test_threshold_is_the_percentile_of_nonzero_cells():
    rng = np.random.default_rng(2)
    x, y = rng.normal(0, 300, 100), rng.normal(0, 300, 100)
    grid = kernel_density(x, y, crs=UTM, bandwidth_m=250, cell_size_m=25)
    t = density_threshold(grid, 80)
    nonzero = grid.values[grid.values > 0]
    assert np.isclose((nonzero >= t).mean(), 0.2, atol=0.01)
