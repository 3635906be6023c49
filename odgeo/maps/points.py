"""Incident points for restricted maps: one canvas drawn in a single pass, not one object per point.

A GeoJSON layer makes a Leaflet object, a style and a tooltip per incident:
100,000 points took minutes to open. This layer carries the points as three
compact arrays (coordinates in 1e-5 degrees, about a metre, as integers; day
numbers; outcome codes), draws them on one canvas after each move, and finds
the point under the mouse through a grid of screen cells, so 100,000 points
open in about a second.
"""

from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from jinja2 import Template

from .page import js_data

__all__ = ["MAX_MAP_POINTS", "PointLayer"]

#: Above this many points the map leaves them out (and says so): no browser draws
#: a million points usefully; hexagons and the density surface show them instead.
MAX_MAP_POINTS = 250_000
_SCALE = 100_000  # coordinates travel as integers of 1e-5 degrees

_OUTCOME_CODES = {"fatal": 0, "nonfatal": 1, "unknown": 2}


class PointLayer(folium.map.Layer):
    """Points coloured by outcome, with a tooltip (date and outcome) for the point under the mouse."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {
            var d = {{ this.data }};
            var colours = ["#000000", "#2b8cbe", "#2b8cbe"], names = ["fatal", "non-fatal", "unknown"];
            var day0 = Date.UTC(d.y0, d.m0 - 1, d.d0);
            function dateOf(i) {
                return d.day[i] < 0 ? "undated" : new Date(day0 + d.day[i] * 86400000).toISOString().slice(0, 10);
            }
            var Layer = L.Layer.extend({
                onAdd: function (map) {
                    this._map = map;
                    this._canvas = L.DomUtil.create("canvas", "leaflet-zoom-hide odgeo-points");
                    this._canvas.style.pointerEvents = "none";
                    map.getPane("overlayPane").appendChild(this._canvas);
                    this._tip = L.tooltip({direction: "top", offset: [0, -4], className: "odgeo-point-tip"});
                    map.on("moveend zoomend resize", this._draw, this);
                    map.on("mousemove", this._hover, this);
                    this._draw();
                },
                onRemove: function (map) {
                    L.DomUtil.remove(this._canvas);
                    map.closeTooltip(this._tip);
                    map.off("moveend zoomend resize", this._draw, this);
                    map.off("mousemove", this._hover, this);
                },
                _draw: function () {
                    var map = this._map, size = map.getSize(), canvas = this._canvas;
                    L.DomUtil.setPosition(canvas, map.containerPointToLayerPoint([0, 0]));
                    canvas.width = size.x; canvas.height = size.y;
                    var ctx = canvas.getContext("2d"), cell = 8, grid = {};
                    for (var i = 0; i < d.lon.length; i++) {
                        var p = map.latLngToContainerPoint([d.lat[i] / {{ this.scale }}, d.lon[i] / {{ this.scale }}]);
                        if (p.x < -4 || p.y < -4 || p.x > size.x + 4 || p.y > size.y + 4) { continue; }
                        ctx.globalAlpha = 0.8;
                        ctx.fillStyle = colours[d.outcome[i]];
                        ctx.beginPath(); ctx.arc(p.x, p.y, 3, 0, 6.2832); ctx.fill();
                        var key = Math.floor(p.x / cell) + ":" + Math.floor(p.y / cell);
                        (grid[key] = grid[key] || []).push(i);
                    }
                    this._grid = grid; this._cell = cell;
                },
                _hover: function (e) {
                    var map = this._map, p = e.containerPoint, cell = this._cell, best = -1, bestD = 36;
                    var cx = Math.floor(p.x / cell), cy = Math.floor(p.y / cell);
                    for (var gx = cx - 1; gx <= cx + 1; gx++) {
                        for (var gy = cy - 1; gy <= cy + 1; gy++) {
                            var ids = this._grid[gx + ":" + gy] || [];
                            for (var k = 0; k < ids.length; k++) {
                                var q = map.latLngToContainerPoint([d.lat[ids[k]] / {{ this.scale }},
                                                                    d.lon[ids[k]] / {{ this.scale }}]);
                                var dist = (q.x - p.x) * (q.x - p.x) + (q.y - p.y) * (q.y - p.y);
                                if (dist < bestD) { bestD = dist; best = ids[k]; }
                            }
                        }
                    }
                    if (best < 0) { map.closeTooltip(this._tip); return; }
                    this._tip.setLatLng([d.lat[best] / {{ this.scale }}, d.lon[best] / {{ this.scale }}])
                        .setContent(dateOf(best) + ", " + names[d.outcome[best]]);
                    map.openTooltip(this._tip);
                }
            });
            return new Layer();
        })();
        {% endmacro %}
    """)

    def __init__(self, points: gpd.GeoDataFrame, *, name: str, show: bool = False):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "PointLayer"
        self.scale = _SCALE
        geoms = np.asarray(points.geometry.values, dtype=object)
        import shapely

        lon = np.round(shapely.get_x(geoms) * _SCALE).astype(np.int64)
        lat = np.round(shapely.get_y(geoms) * _SCALE).astype(np.int64)
        days = pd.to_datetime(points["date"].replace("", None)).to_numpy(dtype="datetime64[D]")
        dated = ~np.isnat(days)
        first = days[dated].min() if dated.any() else np.datetime64("1970-01-01")
        y0, m0, d0 = (int(part) for part in str(first).split("-"))
        day = np.where(dated, (days - first).astype(np.int64), -1)  # -1: undated
        self.data = js_data({
            "lon": lon.tolist(), "lat": lat.tolist(),
            "day": day.tolist(), "y0": y0, "m0": m0, "d0": d0,
            "outcome": [_OUTCOME_CODES.get(o, 2) for o in points["outcome"]],
        })
