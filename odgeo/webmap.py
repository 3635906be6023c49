"""The HTML map (folium): hex counts, density image, hot spots, clusters, and points
only for the restricted audience."""

from __future__ import annotations

import html

import branca.colormap as cm
import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from folium.raster_layers import ImageOverlay

from .density import DensityGrid
from .publish import Products
from .schema import WGS84
from .writers import COORD_DECIMALS

__all__ = ["build_map", "AUDIENCES", "RESTRICTED_BANNER"]

AUDIENCES = ("public", "restricted")
RESTRICTED_BANNER = "RESTRICTED: contains sensitive health data"
_RAMP = cm.linear.YlOrRd_09
_N_CLASSES = 5
_WEB_MERCATOR = "EPSG:3857"


def build_map(
    products: Products,
    *,
    title: str = "Overdose incidents",
    subtitle: str = "",
    tiles: str | None = "OpenStreetMap",
) -> folium.Map:
    """Draw the products for one audience (see :mod:`odgeo.publish`).

    Hexagon areas, the density surface (as an image warped to Web Mercator so
    its extent is geographic), hot spots and clusters; incident points only
    when the products are restricted ones, with a banner saying so. ``title``
    and ``subtitle`` are escaped; ``tiles`` is a folium name or URL, or None.
    """
    audience = products.audience
    if audience not in AUDIENCES:
        raise ValueError(f"audience must be one of {AUDIENCES}, not {audience!r}")
    hexes, grid, hotspots, clusters = products.hexes, products.grid, products.hotspots, products.clusters
    bounds = _bounds(hexes, hotspots, clusters, grid) or products.extent
    fmap = folium.Map(tiles=tiles, control_scale=True, prefer_canvas=True)
    if bounds is not None:
        fmap.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    page_title = f"{RESTRICTED_BANNER} - {title}" if audience == "restricted" else title
    fmap.get_root().header.add_child(folium.Element(f"<title>{html.escape(page_title)}</title>"))
    if grid is not None and np.nanmax(grid.values, initial=0) > 0:
        _add_density(fmap, grid)
    if hexes is not None and len(hexes):
        _add_hexes(fmap, hexes)
    if hotspots is not None and len(hotspots):
        _add_hotspots(fmap, hotspots)
    if clusters is not None and len(clusters):
        _add_clusters(fmap, clusters)
    if audience == "restricted" and products.points is not None and len(products.points):
        _add_points(fmap, products.points)
    _add_title(fmap, title, subtitle, audience, _privacy_note(products))
    folium.LayerControl(collapsed=False).add_to(fmap)
    _make_ids_deterministic(fmap)
    return fmap


def _privacy_note(products: Products) -> str:
    if products.audience != "public":
        return ""
    hexes = products.privacy.get("hexes", {})
    note = f"Areas with fewer than {products.min_count} overdoses are merged with neighbours or not shown"
    if hexes.get("n_areas_suppressed"):
        note += f" ({hexes['n_areas_suppressed']} area(s) not shown)"
    return note + "."


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


def _quantile_breaks(values: np.ndarray) -> list[float]:
    """Quantile class breaks (at least two classes, even when every value is equal)."""
    qs = np.unique(np.quantile(values, np.linspace(0, 1, _N_CLASSES + 1)))
    if len(qs) < 3:
        qs = np.linspace(values.min(), max(values.max(), values.min() + 2), 3)
    return [float(q) for q in qs]


def _add_hexes(fmap: folium.Map, hexes: gpd.GeoDataFrame) -> None:
    counts = hexes["count"].to_numpy(dtype=float)
    breaks = _quantile_breaks(counts)
    colours = _RAMP.to_step(len(breaks) - 1)
    step = cm.StepColormap(colours.colors, index=breaks, vmin=breaks[0], vmax=breaks[-1],
                           caption="Overdoses per hexagon (quantile classes)")
    data = hexes.to_crs(WGS84).copy()
    data["fill"] = [step(c) for c in counts]
    fields, aliases = ["h3_cell", "count"], ["Hexagon", "Overdoses"]
    for col, alias in (("fatal", "Fatal"), ("nonfatal", "Non-fatal")):
        if col in data.columns:
            data[col] = ["hidden (small numbers)" if pd.isna(v) else f"{int(v):,}" for v in data[col]]
            fields.append(col)
            aliases.append(alias)
    if "merged" in data.columns:
        data["area"] = np.where(data["merged"], "several hexagons merged to protect small numbers", "one hexagon")
        fields.append("area")
        aliases.append("Area")
    layer = folium.GeoJson(
        _rounded(data[fields + ["fill", "geometry"]]),
        name="Overdoses per hexagon",
        style_function=lambda f: {"fillColor": f["properties"]["fill"], "color": "#555555",
                                  "weight": 0.5, "fillOpacity": 0.6},
        tooltip=folium.GeoJsonTooltip(fields=fields, aliases=aliases),
    )
    layer.add_to(fmap)
    step.add_to(fmap)


def _add_density(fmap: folium.Map, grid: DensityGrid) -> None:
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    rows, cols = grid.values.shape
    west, south, east, north = grid.bounds()
    transform, width, height = calculate_default_transform(
        grid.crs, _WEB_MERCATOR, cols, rows, west, south, east, north)
    warped = np.zeros((height, width), dtype=np.float64)
    reproject(grid.values, warped, src_transform=grid.transform, src_crs=grid.crs,
              dst_transform=transform, dst_crs=_WEB_MERCATOR, resampling=Resampling.bilinear)
    vmax = float(warped.max())
    lut = np.array([_RAMP.rgba_bytes_tuple(_RAMP.vmin + (_RAMP.vmax - _RAMP.vmin) * i / 255)
                    for i in range(256)], dtype=np.uint8)
    level = np.clip(np.round(warped / vmax * 255), 0, 255).astype(np.int64)
    rgba = lut[level].copy()
    rgba[..., 3] = np.where(warped > 0.02 * vmax, 190, 0)
    t = pyproj.Transformer.from_crs(_WEB_MERCATOR, WGS84, always_xy=True)
    (w, e), (s, n) = t.transform([transform.c, transform.c + width * transform.a],
                                 [transform.f + height * transform.e, transform.f])
    # Off by default: hexagon counts are the primary layer and two colour ramps on top
    # of each other hide one another.
    ImageOverlay(rgba, bounds=[[s, w], [n, e]], name="Kernel density", opacity=1.0,
                 pixelated=False, show=False).add_to(fmap)
    legend = cm.LinearColormap(_RAMP.colors, vmin=0, vmax=round(vmax, 1),
                               caption=f"Kernel density ({grid.units}, {grid.kernel}, "
                                       f"bandwidth {grid.bandwidth_m:.0f} m)")
    legend.add_to(fmap)


def _add_hotspots(fmap: folium.Map, hotspots: gpd.GeoDataFrame) -> None:
    data = hotspots.to_crs(WGS84)[["hotspot_id", "n_incidents", "area_km2", "geometry"]]
    folium.GeoJson(
        _rounded(data),
        name="Hot spots (density)",
        style_function=lambda f: {"color": "#b10026", "weight": 2.5, "fill": False},
        tooltip=folium.GeoJsonTooltip(fields=["hotspot_id", "n_incidents", "area_km2"],
                                      aliases=["Hot spot", "Overdoses inside", "Area (km²)"]),
    ).add_to(fmap)


def _add_clusters(fmap: folium.Map, clusters: gpd.GeoDataFrame) -> None:
    data = clusters.to_crs(WGS84).copy()
    first, last = ("first_month", "last_month") if "first_month" in data.columns else ("first_date", "last_date")
    data["dates"] = [f"{_month(a)} to {_month(b)}" for a, b in zip(data[first], data[last])]
    data["note"] = np.where(data["possible_artefact"],
                            "many incidents at one exact point: possible geocoding artefact", "")
    cols = ["cluster_id", "n_incidents", "dates", "note", "possible_artefact", "geometry"]
    folium.GeoJson(
        _rounded(data[cols]),
        name="DBSCAN clusters",
        show=False,
        style_function=lambda f: ({"color": "#666666", "weight": 2, "dashArray": "6 4", "fillOpacity": 0.1}
                                  if f["properties"]["possible_artefact"]
                                  else {"color": "#54278f", "weight": 2, "fillOpacity": 0.15}),
        tooltip=folium.GeoJsonTooltip(fields=["cluster_id", "n_incidents", "dates", "note"],
                                      aliases=["Cluster", "Overdoses", "Dates", "Note"]),
    ).add_to(fmap)


def _add_points(fmap: folium.Map, points: gpd.GeoDataFrame) -> None:
    folium.GeoJson(
        _rounded(points[["date", "outcome", "geometry"]]),
        name="Incidents (restricted)",
        show=False,
        marker=folium.CircleMarker(radius=3, fill=True, fill_opacity=0.8, weight=0),
        style_function=lambda f: {"fillColor": "#000000" if f["properties"]["outcome"] == "fatal" else "#2b8cbe"},
        tooltip=folium.GeoJsonTooltip(fields=["date", "outcome"], aliases=["Date", "Outcome"]),
    ).add_to(fmap)


def _add_title(fmap: folium.Map, title: str, subtitle: str, audience: str, note: str = "") -> None:
    banner = ""
    if audience == "restricted":
        banner = (f'<div style="background:#b10026;color:#fff;font-weight:bold;padding:2px 6px;'
                  f'margin-bottom:4px">{html.escape(RESTRICTED_BANNER)}</div>')
    box = (
        '<div style="position:fixed;bottom:60px;left:10px;z-index:1000;background:rgba(255,255,255,.92);'
        'padding:6px 10px;border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.3);'
        'font:14px/1.3 sans-serif;max-width:60%">'
        f'{banner}<div style="font-weight:bold">{html.escape(title)}</div>'
        f'<div>{html.escape(subtitle)}</div>'
        f'<div style="font-size:12px;color:#444">Audience: {html.escape(audience)}. {html.escape(note)}</div></div>'
    )
    fmap.get_root().html.add_child(folium.Element(box))


def _month(value) -> str:
    stamp = pd.Timestamp(value)
    return stamp.strftime("%b %Y") if stamp is not pd.NaT else "?"


def _rounded(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Coordinates to the decimals the GeoJSON files carry (6, about 0.1 m): a smaller page.

    Six, not fewer: shapes drawn from lattices (H3, the density grid) then
    cannot match an incident's location by chance at the printed precision,
    which is what the leak scanner checks."""
    out = frame.copy()
    out.geometry = shapely.transform(np.asarray(frame.geometry.values, dtype=object),
                                     lambda c: np.round(c, COORD_DECIMALS))
    return out


def _make_ids_deterministic(root) -> None:
    """folium names elements with random UUIDs; number them so a run is reproducible."""
    counter = 0
    stack = [root]
    while stack:
        element = stack.pop()
        element._id = f"{counter:05x}"
        counter += 1
        stack.extend(reversed(list(element._children.values())))
