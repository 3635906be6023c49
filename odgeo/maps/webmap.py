"""The HTML map (folium + Leaflet, one self-contained file).

Hexagon counts with a month selector, the density surface, hot spots,
clusters, and points only for the restricted audience.
"""

from __future__ import annotations

import html
from urllib.parse import urlsplit

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from folium.raster_layers import ImageOverlay
from jinja2 import Template

from .. import defaults
from ..density.kernel import DensityGrid
from ..hexes import PERIOD_COLUMN
from ..incidents.dates import local_date
from ..publish.gate import RESTRICTED_BANNER, Products
from ..schema import WGS84
from ..vocabulary import AUDIENCES
from .classes import CLASSIFIERS, class_breaks, class_labels, hex_measure
from .overlays import add_alert_areas, add_areas, add_emerging, add_gistar, add_scan_clusters, add_sites
from .page import (
    CLUSTER_LAYER_NAMES,
    HIDDEN_COLOUR,
    LAYER_NAMES,
    YLORRD,
    Legend,
    add_panel,
    blank_words,
    inline_leaflet,
    js_data,
    root_of,
    rounded_geoms,
    swatch_rows,
)
from .points import MAX_MAP_POINTS, PointLayer

__all__ = ["AUDIENCES", "DEFAULT_TILES", "LAYER_NAMES", "RESTRICTED_BANNER", "basemap", "build_map"]

_WEB_MERCATOR = "EPSG:3857"


def build_map(
    products: Products,
    *,
    title: str = "Overdose incidents",
    subtitle: str = "",
    notes: list[str] | tuple[str, ...] = (),
    period: str = "",
    tiles: str | None = "OpenStreetMap",
    classes: str = "quantiles",
) -> folium.Map:
    """Draw the products for one audience (see :mod:`odgeo.publish.restricted`) as a self-contained page.

    Parameters
    ----------
    products
        What the audience may see; incident points are drawn only for restricted products.
    title, subtitle
        Shown in the title box (escaped); the page title adds the audience.
    notes
        Data notes (what was suppressed, what could not be located), shown under "Data notes".
    period
        The study period in words ("Jan 2024 to Dec 2025"), used in tooltips.
    tiles
        Basemap: a folium tile name or a URL template, or None for no basemap
        (the page stays readable: areas, outlines and labels come from the data).
    classes
        Hexagon classes: ``"quantiles"`` or ``"natural_breaks"`` (see :mod:`odgeo.maps.classes`).

    Returns
    -------
    folium.Map
        The page; ``.save(path)`` writes one self-contained HTML file.
    """
    if products.audience not in AUDIENCES:
        raise ValueError(f"audience must be one of {AUDIENCES}, not {products.audience!r}")
    if classes not in CLASSIFIERS:
        raise ValueError(f"classes must be one of {CLASSIFIERS}, not {classes!r}")
    hexes, grid, hotspots, clusters = products.hexes, products.grid, products.hotspots, products.clusters
    bounds = (_bounds(hexes, hotspots, clusters, grid, products.areas, products.emerging, products.sites,
                      products.alert_areas, products.scan_clusters)
              or products.extent)
    fmap = folium.Map(tiles=None, control_scale=True, prefer_canvas=True)
    if tiles:
        _tile_layer(tiles).add_to(fmap)
    inline_leaflet(fmap)
    if bounds is not None:
        fmap.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    page_title = f"{products.banner} - {title}" if products.banner else f"{title} ({products.audience})"
    root_of(fmap).header.add_child(folium.Element(f"<title>{html.escape(page_title)}</title>"))
    legend = Legend()
    if grid is not None and np.nanmax(grid.values, initial=0) > 0:
        _add_density(fmap, grid, legend)
    if hexes is not None and len(hexes):
        HexLayer(hexes, classes=classes, period=period, hidden_under=products.hidden_under, legend=legend).add_to(fmap)
    if hotspots is not None and len(hotspots):
        _add_hotspots(fmap, hotspots, legend)
    if clusters is not None and len(clusters):
        _add_clusters(fmap, clusters, CLUSTER_LAYER_NAMES[products.cluster_method], legend)
    if products.emerging is not None:
        add_emerging(fmap, products.emerging, legend)
    if products.gistar is not None and (products.gistar["gi_bin"] != 0).any():
        add_gistar(fmap, products.gistar, legend)
    if products.areas is not None and len(products.areas):
        add_areas(fmap, products.areas, legend)
    if products.sites is not None and len(products.sites):
        add_sites(fmap, products, legend)
    if products.alert_areas is not None and len(products.alert_areas):
        add_alert_areas(fmap, products.alert_areas, legend)
    if products.scan_clusters is not None and len(products.scan_clusters):
        add_scan_clusters(fmap, products.scan_clusters, legend)
    notes = list(notes)
    if products.points is not None and len(products.points):
        if len(products.points) <= MAX_MAP_POINTS:
            _add_points(fmap, products.points, legend)
        else:
            notes.append(f"{len(products.points):,} incidents are too many to draw as points (the limit is "
                         f"{MAX_MAP_POINTS:,}); filter with --since/--until to see them.")
    legend.add_to(fmap)
    _add_title(fmap, title, subtitle, products, notes)
    folium.LayerControl(collapsed=False).add_to(fmap)
    _make_ids_deterministic(fmap)
    return fmap


#: The basemap when none is named: OpenStreetMap's tiles, fetched by the browser when online.
DEFAULT_TILES = defaults.TILES.value


def basemap(tiles: str | None) -> str | None:
    """The tiles to draw for a ``--tiles`` setting.

    Parameters
    ----------
    tiles
        None (default: OpenStreetMap), "none" (no basemap, offline), a folium tile
        name or an ``https://.../{z}/{x}/{y}.png`` URL template.

    Returns
    -------
    str or None
        What :func:`build_map` draws (None: no basemap).
    """
    return None if tiles == "none" else (tiles or DEFAULT_TILES)


def _tile_layer(tiles: str) -> folium.TileLayer:
    """A named basemap, or a URL template credited to its host (the user's own tile server)."""
    if "{" not in tiles:
        return folium.TileLayer(tiles, name=f"{tiles} (online)")
    host = urlsplit(tiles).netloc or "tile server"
    return folium.TileLayer(tiles, attr=f"Tiles: {html.escape(host)}", name=f"Basemap: {html.escape(host)}")


def _bounds(*layers) -> tuple[float, float, float, float] | None:
    boxes = []
    for layer in layers:
        if layer is None:
            continue
        if isinstance(layer, DensityGrid):
            if not np.nanmax(layer.values, initial=0) > 0:
                continue
            west, south, east, north = layer.bounds()
            t = pyproj.Transformer.from_crs(layer.crs, WGS84, always_xy=True)
            xs, ys = t.transform([west, east, west, east], [south, south, north, north])
            boxes.append((min(xs), min(ys), max(xs), max(ys)))
        elif len(layer):
            boxes.append(tuple(layer.to_crs(WGS84).total_bounds))
    if not boxes:
        return None
    arr = np.array(boxes)
    return arr[:, 0].min(), arr[:, 1].min(), arr[:, 2].max(), arr[:, 3].max()


def _month_label(period: str) -> str:
    return pd.Timestamp(period + "-01").strftime("%b %Y") if len(period) == 7 else period.replace("-W", " week ")


class HexLayer(folium.map.Layer):
    """Hexagon areas coloured by class, with a month selector that recolours them in place.

    Each feature carries its count, outcome counts and one value per period
    (null where hidden), so switching month restyles the same features
    instead of drawing one layer per month.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {
            var data = {{ this.data }}, periods = {{ this.periods }}, labels = {{ this.labels }};
            var breaks = {{ this.breaks }}, colours = {{ this.colours }}, hidden = {{ this.hidden_colour }};
            var studyPeriod = {{ this.period }}, minCount = {{ this.hidden_under }};
            var state = {period: -1};
            function esc(s) { return String(s).replace(/[&<>"']/g, function (c) {
                return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]; }); }
            function value(p) { return state.period < 0 ? p.count : (p.months ? p.months[state.period] : null); }
            function drawn(p) { var v = value(p); return (v === null || !p.km2) ? v : v / p.km2; }
            function colour(v) {
                var b = breaks[state.period < 0 ? "total" : "period"];
                if (v === null) { return hidden; }
                for (var i = 0; i < b.length; i++) { if (v <= b[i]) { return colours[i]; } }
                return colours[colours.length - 1];
            }
            function style(f) {
                var v = drawn(f.properties);
                return {fillColor: v === 0 ? "#ffffff" : colour(v), fillOpacity: v === 0 ? 0.2 : 0.65,
                        color: "#555555", weight: 0.6};
            }
            function count(v, noun) {
                if (v === null) { return noun + " hidden (small numbers)"; }
                return v.toLocaleString("en-US") + " " + noun;
            }
            function sentence(p) {
                var head;
                if (state.period < 0) {
                    head = count(p.count, p.count === 1 ? "overdose" : "overdoses");
                    if ("fatal" in p) {
                        head += ", " + (p.fatal === null ? "fatal hidden" : p.fatal.toLocaleString("en-US") + " fatal");
                    }
                    head += ", " + studyPeriod;
                    if ("rate_per_10k" in p) {
                        head += "; " + p.rate_per_10k.toLocaleString("en-US", {maximumFractionDigits: 1}) +
                            " per 10,000 residents" + (p.unstable ? " (unstable: fewer than 20)" : "");
                    }
                } else {
                    var v = value(p);
                    head = labels[state.period] + ": " + count(v, v === 1 ? "overdose" : "overdoses");
                }
                var d = drawn(p);
                if (p.km2 && d !== null) {
                    head += " (" + d.toLocaleString("en-US", {maximumFractionDigits: 1}) + " per km² of its " +
                        p.km2.toLocaleString("en-US", {maximumFractionDigits: 1}) + " km²)";
                }
                var where = p.merged ? "several hexagons merged to protect small numbers" : "one hexagon";
                return "<b>" + esc(head) + "</b><br>" + esc(where) + " (H3 " + esc(p.h3_cell) + ")";
            }
            var layer = L.geoJSON(data, {style: style, onEachFeature: function (f, l) {
                l.bindTooltip(function () { return sentence(f.properties); }, {sticky: true});
            }});
            layer.odgeoSetPeriod = function (i) {
                state.period = i;
                layer.setStyle(style);
                var total = document.getElementById("odgeo-hex-total");
                var each = document.getElementById("odgeo-hex-period");
                if (total && each) { total.style.display = i < 0 ? "" : "none"; each.style.display = i < 0 ? "none" : ""; }
                var shown = document.getElementById("odgeo-hex-label");
                if (shown) { shown.textContent = i < 0 ? "all months" : labels[i]; }
            };
            return layer;
        })();
        {% if this.periods_list %}
        (function () {
            var control = L.control({position: "bottomleft"});
            control.onAdd = function () {
                var div = L.DomUtil.create("div", "odgeo-panel odgeo-time");
                div.innerHTML = '<b>Show:</b> <span id="odgeo-hex-label">all months</span><br>' +
                    '<input type="range" min="-1" max="{{ this.periods_list|length - 1 }}" value="-1" ' +
                    'step="1" aria-label="Month" id="odgeo-hex-slider"> ' +
                    '<button type="button" id="odgeo-hex-all">All</button>';
                L.DomEvent.disableClickPropagation(div);
                var slider = div.querySelector("input"), all = div.querySelector("button");
                slider.addEventListener("input", function () {
                    {{ this.get_name() }}.odgeoSetPeriod(parseInt(slider.value, 10)); });
                all.addEventListener("click", function () {
                    slider.value = -1; {{ this.get_name() }}.odgeoSetPeriod(-1); });
                return div;
            };
            control.addTo({{ this._parent.get_name() }});
        })();
        {% endif %}
        {% endmacro %}
    """)

    def __init__(self, hexes: gpd.GeoDataFrame, *, classes: str, period: str, hidden_under: int | None,
                 legend: Legend):
        super().__init__(name=LAYER_NAMES["hexes"], overlay=True, control=True, show=True)
        self._name = "HexLayer"
        data = hexes.to_crs(WGS84)
        periods = sorted(c for c in data.columns if PERIOD_COLUMN.match(str(c)))
        self.periods_list = periods
        measure = hex_measure(data)  # per km² where merged areas of several sizes are drawn together
        totals = measure.of(data["count"].to_numpy(dtype=float, na_value=np.nan))
        per_period = (measure.of(data[periods].to_numpy(dtype=float, na_value=np.nan)) if periods
                      else np.zeros((len(data), 0)))
        total_breaks = class_breaks(totals, classes)
        period_values = per_period[np.isfinite(per_period) & (per_period > 0)]
        period_breaks = class_breaks(period_values, classes) if len(period_values) else [1.0]
        self.data = js_data(_hex_features(data, periods, measure.per_km2))
        self.periods = js_data(periods)
        self.labels = js_data([_month_label(p) for p in periods])
        self.breaks = js_data({"total": total_breaks, "period": period_breaks})
        self.colours = js_data(list(YLORRD))
        self.hidden_colour = js_data(HIDDEN_COLOUR)
        self.period = js_data(period or "all months")
        self.hidden_under = js_data(hidden_under)
        rows = swatch_rows(_ramp(total_breaks), class_labels(totals, total_breaks, whole=measure.whole))
        if hidden_under:  # hidden areas are not drawn in the totals: no swatch stands for nothing on the map
            rows += f"<div class='note'>{html.escape(blank_words(hidden_under))}</div>"
        extra = ""
        if periods:  # a month's hidden value is drawn, in grey
            period_labels = class_labels(period_values, period_breaks, whole=measure.whole)
            hidden_row = swatch_rows([HIDDEN_COLOUR], ["hidden (small numbers)"]) if hidden_under else ""
            extra = (f'<div id="odgeo-hex-period" style="display:none">'
                     f"<div>{html.escape('In the month shown:')}</div>"
                     f"{swatch_rows(_ramp(period_breaks), period_labels)}"
                     f"{swatch_rows(['#ffffff'], ['none'])}{hidden_row}</div>")
        method = "quantiles" if classes == "quantiles" else "natural breaks"
        legend.add(LAYER_NAMES["hexes"], f"{measure.unit} ({method})",
                   f'<div id="odgeo-hex-total">{rows}</div>{extra}')


def _ramp(breaks: list[float]) -> list[str]:
    return list(YLORRD[: len(breaks)]) if len(breaks) <= len(YLORRD) else list(YLORRD)


def _hex_features(data: gpd.GeoDataFrame, periods: list[str], km2: np.ndarray | None) -> dict:
    geoms = rounded_geoms(data.geometry)
    features = []
    for pos, (_, row) in enumerate(data.iterrows()):
        props = {"h3_cell": str(row["h3_cell"]), "count": int(row["count"])}
        if km2 is not None:
            props["km2"] = round(float(km2[pos]), 3)
        if "fatal" in data.columns:
            props["fatal"] = None if pd.isna(row["fatal"]) else int(row["fatal"])
        if periods:
            props["months"] = [None if pd.isna(row[p]) else int(row[p]) for p in periods]
        if "merged" in data.columns:
            props["merged"] = bool(row["merged"])
        if "rate_per_10k" in data.columns and pd.notna(row["rate_per_10k"]):
            props["rate_per_10k"] = float(row["rate_per_10k"])
            props["unstable"] = bool(row["unstable"])
        features.append({"type": "Feature", "properties": props, "geometry": shapely.geometry.mapping(geoms[pos])})
    return {"type": "FeatureCollection", "features": features}


def _add_density(fmap: folium.Map, grid: DensityGrid, legend: Legend) -> None:
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    rows, cols = grid.values.shape
    west, south, east, north = grid.bounds()
    transform, width, height = calculate_default_transform(
        grid.crs, _WEB_MERCATOR, cols, rows, west, south, east, north)
    warped = np.zeros((height, width), dtype=np.float64)
    reproject(grid.values, warped, src_transform=grid.transform, src_crs=grid.crs,
              dst_transform=transform, dst_crs=_WEB_MERCATOR, resampling=Resampling.bilinear)
    vmax = float(warped.max())
    lut = _ramp_lut()
    level = np.clip(np.round(warped / vmax * 255), 0, 255).astype(np.int64)
    rgba = lut[level].copy()
    rgba[..., 3] = np.where(warped > 0.02 * vmax, 190, 0)
    t = pyproj.Transformer.from_crs(_WEB_MERCATOR, WGS84, always_xy=True)
    (w, e), (s, n) = t.transform([transform.c, transform.c + width * transform.a],
                                 [transform.f + height * transform.e, transform.f])
    # Off by default: hexagon counts are the primary layer and two colour ramps on top
    # of each other hide one another.
    ImageOverlay(rgba, bounds=[[s, w], [n, e]], name=LAYER_NAMES["density"], opacity=1.0,
                 pixelated=False, show=False).add_to(fmap)
    gradient = ", ".join(YLORRD)
    legend.add(LAYER_NAMES["density"],
               f"Kernel density ({grid.units}; {grid.kernel}, bandwidth {grid.bandwidth_m:.0f} m)",
               f'<div class="ramp" style="background:linear-gradient(to right, {gradient})"></div>'
               f'<div class="row" style="justify-content:space-between;width:182px">'
               f"<span>low</span><span>{vmax:,.0f}</span></div>", shown=False)


def _ramp_lut() -> np.ndarray:
    """256 RGBA colours interpolated along the YlOrRd classes."""
    stops = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in YLORRD], dtype=float)
    pos = np.linspace(0, 1, len(stops))
    t = np.linspace(0, 1, 256)
    rgb = np.column_stack([np.interp(t, pos, stops[:, k]) for k in range(3)])
    return np.column_stack([np.round(rgb), np.full(256, 255)]).astype(np.uint8)


def _add_hotspots(fmap: folium.Map, hotspots: gpd.GeoDataFrame, legend: Legend) -> None:
    data = hotspots.to_crs(WGS84)
    data = gpd.GeoDataFrame({"sentence": [
        f"Hot spot {int(r.hotspot_id)}: {int(r.n_incidents):,} overdoses inside, {float(r.area_km2):.2f} km²"
        for r in data.itertuples()]}, geometry=rounded_geoms(data.geometry), crs=WGS84)
    folium.GeoJson(
        data, name=LAYER_NAMES["hotspots"],
        style_function=lambda f: {"color": "#b10026", "weight": 2.5, "fill": False},
        tooltip=folium.GeoJsonTooltip(fields=["sentence"], labels=False),
    ).add_to(fmap)
    legend.add(LAYER_NAMES["hotspots"], "Hot spots",
               '<div class="row"><span class="swatch" style="border:2.5px solid #b10026;background:none">'
               "</span><span>densest 5% of the area (kernel density)</span></div>")


def _add_clusters(fmap: folium.Map, clusters: gpd.GeoDataFrame, name: str, legend: Legend) -> None:
    data = clusters.to_crs(WGS84)
    first, last = ("first_month", "last_month") if "first_month" in data.columns else ("first_date", "last_date")
    sentences = []
    for row in data.itertuples():
        within = f"within {row.radius_m:,.0f} m " if hasattr(row, "radius_m") and pd.notna(row.radius_m) else ""
        text = f"Cluster {int(row.cluster_id)}: {int(row.n_incidents):,} overdoses {within}" + _cluster_span(
            getattr(row, first), getattr(row, last), by_day=first == "first_date")
        if row.possible_artefact:
            text += " (many at one exact point: possibly a geocoding fallback, not a hot spot)"
        sentences.append(text)
    out = gpd.GeoDataFrame({"sentence": sentences, "artefact": data["possible_artefact"].to_numpy(dtype=bool)},
                           geometry=rounded_geoms(data.geometry), crs=WGS84)
    folium.GeoJson(
        out, name=name, show=False,
        style_function=lambda f: ({"color": "#666666", "weight": 2, "dashArray": "6 4", "fillOpacity": 0.1}
                                  if f["properties"]["artefact"]
                                  else {"color": "#54278f", "weight": 2, "fillOpacity": 0.15}),
        tooltip=folium.GeoJsonTooltip(fields=["sentence"], labels=False),
    ).add_to(fmap)
    legend.add(name, name,
               swatch_rows(["#54278f", "#666666"], ["cluster", "possible geocoding artefact"]), shown=False)


def _add_points(fmap: folium.Map, points: gpd.GeoDataFrame, legend: Legend) -> None:
    PointLayer(points, name=LAYER_NAMES["points"], show=False).add_to(fmap)
    legend.add(LAYER_NAMES["points"], "Incidents (restricted)",
               swatch_rows(["#000000", "#2b8cbe"], ["fatal", "non-fatal or unknown"]), shown=False)


_HOW_TO_READ = (
    "Each area is coloured by the number of suspected overdoses in it (darker: more); hover for "
    "the numbers. Use the slider to see one month. Red outlines mark hot spots, the densest 5% of "
    "the area by kernel density. Switch layers on and off at the top right. Counts are where "
    "incidents were recorded, not where people live."
)


_HOW_TO_READ_EMERGING = (
    "Each coloured cell shows how its overdose hot or cold spot behaved over time: new, consecutive, "
    "intensifying, persistent, diminishing, sporadic, oscillating or historical (hover for the number of "
    "hot steps and the trend). Cells without a pattern are not drawn. A hot spot here means more overdoses "
    "around the cell than across the whole area and period, beyond chance."
)


def _add_title(fmap: folium.Map, title: str, subtitle: str, products: Products, notes: list[str]) -> None:
    how_to_read = _HOW_TO_READ_EMERGING if products.emerging is not None else _HOW_TO_READ
    banner = f'<div class="odgeo-banner">{html.escape(products.banner)}</div>' if products.banner else ""
    notes = [*products.notes, *notes]
    audience = products.audience_label or products.audience
    items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    add_panel(fmap, (
        f'<div class="odgeo-panel odgeo-title">{banner}'
        f'<div class="main">{html.escape(title)}</div>'
        f"<div>{html.escape(subtitle)}</div>"
        f'<div style="font-size:12px;color:#444">Audience: {html.escape(audience)}</div>'
        f"<details><summary>How to read this map</summary>{html.escape(how_to_read)}</details>"
        + (f"<details><summary>Data notes</summary><ul style=\"margin:2px 0;padding-left:18px\">{items}</ul>"
           f"</details>" if items else "")
        + "</div>"))


#: Clusters spanning up to this many days are dated by day on the restricted map (a space-time cluster).
SHORT_CLUSTER_DAYS = 31


def _cluster_span(first, last, *, by_day: bool) -> str:
    """A short cluster dated by day: "over 2 days, 3 Mar to 4 Mar 2025"; else "Mar 2025 to May 2025"."""
    start, end = pd.Timestamp(first), pd.Timestamp(last)
    if by_day and start is not pd.NaT and end is not pd.NaT:
        days = (local_date(end) - local_date(start)).days + 1
        if days <= SHORT_CLUSTER_DAYS:
            return f"over {days} day{'s' if days != 1 else ''}, {start:%-d %b} to {end:%-d %b %Y}"
    return f"from {_month(first)} to {_month(last)}"


def _month(value) -> str:
    stamp = pd.Timestamp(value)
    return stamp.strftime("%b %Y") if stamp is not pd.NaT else "undated"


def _make_ids_deterministic(root) -> None:
    """Folium names elements with random UUIDs; number them so a run is reproducible."""
    counter = 0
    stack = [root]
    while stack:
        element = stack.pop()
        element._id = f"{counter:05x}"
        counter += 1
        stack.extend(reversed(list(element._children.values())))

