"""The layers of odgeo.gpkg and their QGIS styles: the map's classes, colours and outlines, for QGIS.

A GIS analyst opens odgeo.gpkg in QGIS and sees what map.html shows: hexagons in the same
classes (per km² where areas differ in size), hot spots, clusters, Gi* bins, boundaries, and
(restricted) the incident points. What a layer holds is what the gate made for the audience.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np

from ..io.geopackage import categorized_fill_qml, graduated_fill_qml, outline_qml, points_qml
from ..publish.gate import Products
from ..schema import WGS84
from .classes import class_breaks, class_labels, hex_measure
from .overlays import GI_COLOURS, GI_LABELS
from .page import YLORRD

__all__ = ["qgis_layers"]


def qgis_layers(products: Products, classes: str = "quantiles") -> tuple[dict[str, gpd.GeoDataFrame], dict[str, str]]:
    """The layers (name -> frame in EPSG:4326) and their QGIS styles (name -> QML) of ``products``."""
    layers: dict[str, gpd.GeoDataFrame] = {}
    styles: dict[str, str] = {}
    if products.hexes is not None and len(products.hexes):
        layers["hexes"], styles["hexes"] = _hexes(products.hexes, classes)
    elif products.hexes is not None:  # no area holds enough incidents: the layer is there, empty
        layers["hexes"] = products.hexes.to_crs(WGS84)
    for name, frame, colour, width, dashed in (("hotspots", products.hotspots, "#b10026", 0.6, False),
                                               ("clusters", products.clusters, "#54278f", 0.4, True),
                                               ("areas", products.areas, "#252525", 0.4, True)):
        if frame is not None and len(frame):
            layers[name], styles[name] = frame.to_crs(WGS84), outline_qml(colour, width, dashed)
    if products.gistar is not None and len(products.gistar):
        layers["gistar"] = products.gistar.to_crs(WGS84)
        styles["gistar"] = categorized_fill_qml("gi_bin", [(b, GI_LABELS[b], GI_COLOURS[b])
                                                           for b in (3, 2, 1, 0, -1, -2, -3)])
    if products.points is not None and len(products.points):  # restricted only: the gate made them
        layers["incidents"], styles["incidents"] = products.points.to_crs(WGS84), points_qml("#2b8cbe")
    return layers, styles


def _hexes(hexes: gpd.GeoDataFrame, classes: str) -> tuple[gpd.GeoDataFrame, str]:
    """Hexagons with the map's classes: on ``count``, or on ``per_km2`` where areas differ in size."""
    measure = hex_measure(hexes)
    values = measure.of(hexes["count"].to_numpy(dtype=float, na_value=np.nan))
    frame = hexes.to_crs(WGS84)
    field = "count"
    if measure.per_km2 is not None:
        frame = frame.assign(per_km2=np.round(values, 4))
        field = "per_km2"
    breaks = class_breaks(values, classes)
    labels = class_labels(values, breaks, whole=measure.whole)
    lows = [float(np.nanmin(values))] + [float(b) for b in breaks[:-1]]
    colours = list(YLORRD[: len(breaks)]) if len(breaks) <= len(YLORRD) else list(YLORRD)
    bounds = [(lo, hi, label) for lo, hi, label in zip(lows, breaks, labels)]
    return frame, graduated_fill_qml(field, bounds, colours)
