"""Map layers of the analyses beyond counting: Gi*, emerging hot spots, boundaries, naloxone sites."""

from __future__ import annotations

import html

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..publish.gate import Products
from ..schema import WGS84
from .page import LAYER_NAMES, Legend, rounded_geoms, swatch_rows

__all__ = ["EMERGING_COLOURS", "GI_COLOURS", "add_alert_areas", "add_areas", "add_emerging", "add_gistar",
           "add_scan_clusters", "add_sites"]

#: Colours of the emerging hot spot categories: reds for hot, blues for cold, darker = stronger.
EMERGING_COLOURS = {
    "new hot spot": "#fdd0a2", "consecutive hot spot": "#fdae6b", "intensifying hot spot": "#a50f15",
    "persistent hot spot": "#de2d26", "diminishing hot spot": "#fb6a4a", "sporadic hot spot": "#fcbba1",
    "oscillating hot spot": "#c994c7", "historical hot spot": "#bcbddc",
    "new cold spot": "#c6dbef", "consecutive cold spot": "#9ecae1", "intensifying cold spot": "#08519c",
    "persistent cold spot": "#3182bd", "diminishing cold spot": "#6baed6", "sporadic cold spot": "#deebf7",
    "oscillating cold spot": "#a6bddb", "historical cold spot": "#d0d1e6",
}
#: ArcGIS's conventional Gi* colours, from cold (99%) to hot (99%).
GI_COLOURS = {-3: "#4575b4", -2: "#91bfdb", -1: "#e0f3f8", 0: "#f7f7f7", 1: "#fee090", 2: "#fc8d59", 3: "#d73027"}
GI_LABELS = {3: "hot spot, 99% confidence", 2: "hot spot, 95% confidence", 1: "hot spot, 90% confidence",
             0: "not significant", -1: "cold spot, 90% confidence", -2: "cold spot, 95% confidence",
             -3: "cold spot, 99% confidence"}
#: Up to this many boundary polygons carry permanent name labels (more would cover the map).
MAX_LABELLED_AREAS = 60


def _emerging_sentence(row) -> str:
    """The category, with the hot/cold steps and the trend where the layer has them (restricted)."""
    text = row.category.capitalize()
    if hasattr(row, "mk_tau"):
        text += (f": hot in {int(row.n_steps_hot)} and cold in {int(row.n_steps_cold)} time steps; "
                 f"trend tau {row.mk_tau:+.2f} (p = {row.mk_p:.3f})")
    return text


def add_emerging(fmap: folium.Map, cells: gpd.GeoDataFrame, legend: Legend) -> None:
    """Cells with a pattern, coloured by category; the legend lists the categories present."""
    data = cells[cells["category"] != "no pattern detected"]
    present = [c for c in EMERGING_COLOURS if c in set(data["category"])]
    # The study area's outline, for orientation without a basemap (one dissolved shape, not every cell).
    area = gpd.GeoDataFrame(geometry=rounded_geoms([cells.geometry.union_all()]), crs=WGS84)
    folium.GeoJson(area, name="Study area", style_function=lambda f: {
        "color": "#737373", "weight": 1, "fill": True, "fillColor": "#f0f0f0", "fillOpacity": 0.3},
        interactive=False).add_to(fmap)
    if len(data):
        sentences = [_emerging_sentence(row) for row in data.itertuples()]
        shown = gpd.GeoDataFrame({"category": data["category"].to_numpy(), "sentence": sentences},
                                 geometry=rounded_geoms(data.geometry.values), crs=WGS84)
        folium.GeoJson(
            shown, name=LAYER_NAMES["emerging"],
            style_function=lambda f: {"fillColor": EMERGING_COLOURS[f["properties"]["category"]],
                                      "fillOpacity": 0.75, "color": "#555555", "weight": 0.4},
            tooltip=folium.GeoJsonTooltip(fields=["sentence"], labels=False),
        ).add_to(fmap)
    rows = swatch_rows([EMERGING_COLOURS[c] for c in present], present) if present else \
        "<div>No cell shows a pattern.</div>"
    legend.add(LAYER_NAMES["emerging"], "Emerging hot spots (space-time Gi*, Mann-Kendall)", rows)


def add_gistar(fmap: folium.Map, gistar: gpd.GeoDataFrame, legend: Legend) -> None:
    """Cells coloured by Gi* confidence bin (red hot, blue cold); not-significant cells left clear."""
    data = gistar.to_crs(WGS84)
    significant = data["gi_bin"].to_numpy() != 0
    sentences = []
    for row in data[significant].itertuples():
        text = GI_LABELS[int(row.gi_bin)].capitalize()
        if hasattr(row, "gi_z"):
            text += f" (Gi* z = {row.gi_z:.2f}, {int(row.count):,} overdoses in the cell)"
        sentences.append(text)
    shown = gpd.GeoDataFrame({"gi_bin": data["gi_bin"].to_numpy()[significant], "sentence": sentences},
                             geometry=rounded_geoms(data.geometry.values[significant]), crs=WGS84)
    folium.GeoJson(
        shown, name=LAYER_NAMES["gistar"], show=False,
        style_function=lambda f: {"fillColor": GI_COLOURS[f["properties"]["gi_bin"]], "fillOpacity": 0.7,
                                  "color": "#777777", "weight": 0.3},
        tooltip=folium.GeoJsonTooltip(fields=["sentence"], labels=False),
    ).add_to(fmap)
    legend.add(LAYER_NAMES["gistar"], "Gi* hot and cold spots (after FDR correction)",
               swatch_rows([GI_COLOURS[b] for b in (3, 2, 1, 0, -1, -2, -3)],
                           [GI_LABELS[b] for b in (3, 2, 1, 0, -1, -2, -3)]), shown=False)


def _site_sentence(row) -> str:
    covered = "fewer than 10 or hidden" if row.covered is None or pd.isna(row.covered) else f"{int(row.covered):,}"
    if row.status == "existing":
        return f"Existing site {row.name} ({row.site_id}): {covered} overdoses within reach"
    gain = ("a hidden number of" if row.marginal_gain is None or pd.isna(row.marginal_gain)
            else f"{float(row.marginal_gain):,.0f}")
    text = f"New site {int(row.rank)}: {row.name} ({row.site_id}): reaches {gain} more overdoses"
    if row.cumulative_share is None or pd.isna(row.cumulative_share):
        return text
    return f"{text}; with sites 1-{int(row.rank)} and the existing ones, {float(row.cumulative_share):.0%} of all"


def add_sites(fmap: folium.Map, products: Products, legend: Legend) -> None:
    """Existing (blue) and new (green, numbered by rank) sites with their reach; hot cells out of reach."""
    if products.sites is None:
        return
    sites, radius = products.sites.to_crs(WGS84), float(products.sites_radius_m or 0)
    _add_uncovered(fmap, products, sites, radius, legend)  # first: drawn under the sites
    group = folium.FeatureGroup(name=LAYER_NAMES["sites"], show=True)
    for row in sites.itertuples():
        colour = "#2166ac" if row.status == "existing" else "#1a9850"
        lat, lon = round(row.geometry.y, 6), round(row.geometry.x, 6)
        folium.Circle([lat, lon], radius=radius, color=colour, weight=1, fill=True, fill_opacity=0.08,
                      dash_array="4 3", interactive=False).add_to(group)
        if row.status == "existing":
            folium.CircleMarker([lat, lon], radius=7, color="#ffffff", weight=2, fill=True, fill_color=colour,
                                fill_opacity=1.0, tooltip=html.escape(_site_sentence(row))).add_to(group)
        else:  # its rank on the map: the order to open them in, without hovering
            folium.Marker([lat, lon], icon=_number_icon(int(row.rank), colour),
                          tooltip=html.escape(_site_sentence(row))).add_to(group)
    group.add_to(fmap)
    rows = swatch_rows(["#2166ac", "#1a9850"], ["existing site", "new site, numbered by rank (1: open first)"])
    legend.add(LAYER_NAMES["sites"], f"Naloxone sites (reach: {radius:g} m)", rows)


def _add_uncovered(fmap: folium.Map, products: Products, sites: gpd.GeoDataFrame, radius: float,
                   legend: Legend) -> None:
    """Gi* hot cells (99%) whose centre is farther than the reach from every site (straight line)."""
    gistar = products.gistar
    if gistar is None or not (gistar["gi_bin"] == 3).any():
        return
    hot = gistar[gistar["gi_bin"] == 3].to_crs(WGS84)
    centres = gpd.GeoSeries(hot.geometry.representative_point(), crs=WGS84)
    from ..projection import local_metric_crs

    crs = local_metric_crs(centres.x.to_numpy(), centres.y.to_numpy())
    from scipy.spatial import cKDTree

    site_xy = sites.to_crs(crs).get_coordinates().to_numpy()
    nearest, _ = cKDTree(site_xy).query(centres.to_crs(crs).get_coordinates().to_numpy())
    far = hot[nearest > radius]
    if not len(far):
        return
    # The cells' outline as one shape: drawn cell by cell, their edges made a mesh over the sites.
    outline = shapely.union_all(far.geometry.values)
    folium.GeoJson(
        gpd.GeoDataFrame(geometry=rounded_geoms(np.array([outline], dtype=object)), crs=WGS84),
        name=LAYER_NAMES["uncovered"],
        style_function=lambda f: {"color": "#d01c8b", "weight": 2, "fill": True, "fillOpacity": 0.2},
        interactive=False,
    ).add_to(fmap)
    legend.add(LAYER_NAMES["uncovered"], "Hot spots no site reaches",
               swatch_rows(["#d01c8b"], [f"Gi* hot (99%) cells farther than {radius:g} m from every site"]))


def _area_label(row) -> str:
    """Name, count and rate on separate lines (escaped markup), drawn on the map: no hover needed."""
    lines = [f"<b>{html.escape(str(row.name))}</b>"]
    if pd.isna(row.count):
        lines.append("count hidden")
    else:
        lines.append(f"{int(row.count):,} overdoses")
        if pd.notna(row.rate_per_10k):
            lines.append(f"{float(row.rate_per_10k):,.0f} per 10k" + (" (unstable)" if row.unstable else ""))
    return "<br>".join(lines)


def add_areas(fmap: folium.Map, areas: gpd.GeoDataFrame, legend: Legend) -> None:
    """Boundary outlines with names and counts written on them: orientation without a basemap.

    Outlines only (no fill), so hovering still reaches the hexagons beneath.
    """
    data = gpd.GeoDataFrame(geometry=rounded_geoms(areas.geometry), crs=WGS84)
    group = folium.FeatureGroup(name=LAYER_NAMES["areas"], show=True)
    folium.GeoJson(data, style_function=lambda f: {"color": "#252525", "weight": 1.5, "fill": False,
                                                   "dashArray": "4 3"}).add_to(group)
    if len(areas) <= MAX_LABELLED_AREAS:
        for row, geom in zip(areas.itertuples(), areas.geometry):
            point = geom.representative_point()
            folium.Marker([round(point.y, 6), round(point.x, 6)], icon=folium.DivIcon(
                html=f'<div class="odgeo-label">{_area_label(row)}</div>',
                icon_size=(110, 42), icon_anchor=(55, 21)), interactive=False).add_to(group)
    group.add_to(fmap)
    legend.add(LAYER_NAMES["areas"], "Boundaries",
               '<div class="row"><span class="swatch" style="border:1.5px dashed #252525;background:none"></span>'
               "<span>" + ("names and counts written on the map" if len(areas) <= MAX_LABELLED_AREAS
                           else "counts in areas.geojson") + "</span></div>")


def add_alert_areas(fmap: folium.Map, areas: gpd.GeoDataFrame, legend: Legend) -> None:
    """Areas of odgeo alerts: red in alert, orange next to one in alert, outlines elsewhere; the sentence on hover."""
    def colour(kinds: str) -> str:
        parts = set(filter(None, kinds.split(", ")))
        return "#d7301f" if parts - {"neighbour"} else ("#fdbb84" if parts else "none")

    data = gpd.GeoDataFrame({"name": areas["name"].astype(str), "alert": areas["alert"],
                             "sentence": areas["sentence"]}, geometry=rounded_geoms(areas.geometry), crs=WGS84)
    data["fill"] = data["alert"].map(colour)
    folium.GeoJson(
        data, name=LAYER_NAMES["alerts"],
        style_function=lambda f: {"color": "#525252", "weight": 1, "fillColor": f["properties"]["fill"],
                                  "fillOpacity": 0.0 if f["properties"]["fill"] == "none" else 0.6},
        tooltip=folium.GeoJsonTooltip(["name", "sentence"], aliases=["Area", "Alert"]),
    ).add_to(fmap)
    legend.add(LAYER_NAMES["alerts"], "Spike alerts",
               swatch_rows(["#d7301f", "#fdbb84"], ["in alert (spike or EARS)", "next to an area in spike alert"]))


#: Scan clusters by p-value: SOON's spikes (p < 0.05) dark, clusters shown to outreach (to 0.4) light.
SCAN_COLOURS = (("#7a0177", 0.05, "p < 0.05"), ("#dd3497", 0.1, "p < 0.1"),
                ("#fa9fb5", 1.0, "p ≥ 0.1: weak, could well be chance"))


#: Scan cluster outlines: the coloured stroke and the white halo under it (pixels).
SCAN_STROKE_WEIGHT, SCAN_HALO_WEIGHT = 4, 8


def _number_icon(number: int, colour: str) -> folium.DivIcon:
    """A numbered disc drawn on the map (a site's rank, a cluster's id): read without hovering."""
    return folium.DivIcon(html=f"<div class='odgeo-number' style='background:{colour}'>{number}</div>",
                          icon_size=(22, 22), icon_anchor=(11, 11), class_name="odgeo-number-icon")


def add_scan_clusters(fmap: folium.Map, clusters: gpd.GeoDataFrame, legend: Legend) -> None:
    """Space-time scan clusters: outlined by p-value, most likely on top, the sentence on hover."""
    def colour(p: float) -> str:
        return next(c for c, limit, _ in SCAN_COLOURS if p < limit or limit == 1.0)

    data = gpd.GeoDataFrame({"cluster_id": clusters["cluster_id"].to_numpy(), "sentence": clusters["sentence"],
                             "colour": [colour(float(p)) for p in clusters["p_value"]]},
                            geometry=rounded_geoms(clusters.geometry.values), crs=WGS84).iloc[::-1]
    group = folium.FeatureGroup(name=LAYER_NAMES["scan"], show=True)
    # A white halo under each outline, and its number at its centre: a cluster of a few hundred
    # metres over dark hexagons was a thin purple ring a reader did not find.
    folium.GeoJson(data[["geometry"]], style_function=lambda f: {"color": "#ffffff", "weight": SCAN_HALO_WEIGHT,
                                                                  "fill": False, "opacity": 0.9},
                   interactive=False).add_to(group)
    folium.GeoJson(
        data,
        style_function=lambda f: {"color": f["properties"]["colour"], "weight": SCAN_STROKE_WEIGHT,
                                  "fillColor": f["properties"]["colour"], "fillOpacity": 0.3},
        tooltip=folium.GeoJsonTooltip(["cluster_id", "sentence"], aliases=["Cluster", ""]),
    ).add_to(group)
    for row in data.itertuples():
        centre = row.geometry.representative_point()
        folium.Marker([round(centre.y, 6), round(centre.x, 6)], icon=_number_icon(int(row.cluster_id), row.colour),
                      tooltip=html.escape(str(row.sentence))).add_to(group)
    group.add_to(fmap)
    legend.add(LAYER_NAMES["scan"], "Space-time clusters (permutation scan)",
               swatch_rows([c for c, _, _ in SCAN_COLOURS], [w for _, _, w in SCAN_COLOURS]))
