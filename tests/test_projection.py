"""Reprojection through one transformer gives geopandas' to_crs coordinates."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from odgeo.projection import reproject


def test_reproject_is_to_crs():
    rng = np.random.default_rng(2)
    ring = np.c_[-97.4 + rng.uniform(0, 0.1, 5), 38.2 + rng.uniform(0, 0.1, 5)]
    geoms = [shapely.Point(-97.3, 38.25), shapely.Polygon(ring).convex_hull, shapely.LineString(ring[:3]),
             shapely.MultiPolygon([shapely.Polygon(ring).convex_hull, shapely.box(-97, 38, -96.9, 38.1)])]
    frame = gpd.GeoDataFrame({"a": [1, 2, 3, 4]}, geometry=gpd.GeoSeries(geoms), crs="EPSG:4326")
    frame = frame.rename_geometry("shape")
    crs = pyproj.CRS.from_epsg(32614)
    ours, theirs = reproject(frame, crs), frame.to_crs(crs)
    assert ours.geometry.name == "shape" and list(ours.columns) == ["a", "shape"] and ours.crs == crs
    a, b = ours.geometry.values, theirs.geometry.values
    assert shapely.get_coordinates(a).tolist() == shapely.get_coordinates(b).tolist()
    assert shapely.get_type_id(a).tolist() == shapely.get_type_id(b).tolist()
    assert frame.crs == "EPSG:4326", "the input frame is left as it was"
    assert reproject(theirs, crs) is theirs
