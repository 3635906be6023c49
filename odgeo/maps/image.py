"""A static PNG of the map for slide decks and reports, drawn with matplotlib (no browser, no tiles).

The same hexagon areas, classes and colours as ``map.html``, hot spot outlines
and clusters, in the local metric CRS (shapes are true to scale), with a
legend, a scale bar and the title. Never incident points, whatever the
audience: a slide travels further than its author intends.
"""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import numpy as np
import pyproj

from ..projection import reproject
from ..publish.gate import Products
from .classes import class_breaks, class_labels, hex_measure
from .page import YLORRD, blank_words

__all__ = ["draw_map_figure", "write_map_png"]


def write_map_png(products: Products, path: str | Path, *, title: str, subtitle: str = "",
                  classes: str = "quantiles", crs=None) -> Path:
    """Draw hexagon counts, hot spots and clusters into a PNG (1600 x 1200 pixels).

    Parameters
    ----------
    products
        What the audience may see (from the gate).
    path
        Where to write the PNG.
    title, subtitle
        The title lines.
    classes
        How counts are classed: "quantiles" or "natural_breaks".
    crs
        The CRS drawn in (None: the density grid's, else Web Mercator).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    import matplotlib.pyplot as plt

    path = Path(path)
    fig = draw_map_figure(products, title=title, subtitle=subtitle, classes=classes, crs=crs)
    fig.savefig(path, dpi=200, bbox_inches="tight", metadata={"Software": "odgeo"})
    plt.close(fig)
    return path


def draw_map_figure(products: Products, *, title: str, subtitle: str = "", classes: str = "quantiles", crs=None):
    """The figure :func:`write_map_png` saves (its parameters), for a test or a notebook to inspect.

    The title sits at the figure's left edge and the legend outside the map, on its right.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    crs = pyproj.CRS.from_user_input(crs or (products.grid.crs if products.grid is not None else "EPSG:3857"))
    to_crs = partial(reproject, crs=crs)
    fig, ax = plt.subplots(figsize=(8, 6), dpi=200)
    # geopandas draws the whole figure after each layer (draw_idle); savefig draws it as it ends up
    fig.canvas.draw_idle = lambda *args, **kwargs: None  # type: ignore[method-assign]
    handles = []
    hexes = products.hexes
    legend_title = "Overdoses per area"
    if hexes is not None and len(hexes):
        measure = hex_measure(hexes)  # per km² where merged areas of several sizes are drawn together
        values = measure.of(hexes["count"].to_numpy(dtype=float, na_value=np.nan))
        breaks = class_breaks(values, classes)
        colours = np.array(YLORRD[: len(breaks)] if len(breaks) <= len(YLORRD) else YLORRD)
        index = np.minimum(np.searchsorted(breaks, values, side="left"), len(colours) - 1)
        to_crs(hexes).plot(ax=ax, color=colours[index], edgecolor="#555555", linewidth=0.3, alpha=0.85)
        labels = class_labels(values, breaks, whole=measure.whole)
        handles += [Patch(facecolor=c, edgecolor="#555555", label=lab) for c, lab in zip(colours, labels)]
        legend_title = measure.unit
        if products.hidden_under:
            handles.append(Patch(facecolor="white", edgecolor="#bbbbbb",
                                 label=blank_words(products.hidden_under).replace(" (", "\n(")))
    if products.hotspots is not None and len(products.hotspots):
        to_crs(products.hotspots).boundary.plot(ax=ax, color="#b10026", linewidth=1.2)
        handles.append(Patch(facecolor="none", edgecolor="#b10026", label="hot spot (densest 5%)"))
    if products.clusters is not None and len(products.clusters):
        to_crs(products.clusters).boundary.plot(ax=ax, color="#54278f", linewidth=0.8, linestyle="--")
        handles.append(Patch(facecolor="none", edgecolor="#54278f", linestyle="--", label="DBSCAN cluster"))
    if products.areas is not None and len(products.areas):
        areas = to_crs(products.areas)
        areas.boundary.plot(ax=ax, color="#252525", linewidth=0.6, linestyle=(0, (4, 3)))
        if len(areas) <= 60:
            for name, geom in zip(areas["name"], areas.geometry):
                point = geom.representative_point()
                ax.annotate(str(name), (point.x, point.y), ha="center", fontsize=5, color="#252525")
        handles.append(Patch(facecolor="none", edgecolor="#252525", linestyle="--", label="boundaries"))
    if not handles:
        ax.text(0.5, 0.5, "Nothing to show: every area holds too few incidents", ha="center",
                va="center", transform=ax.transAxes)
    ax.set_axis_off()
    ax.set_aspect("equal")
    _fit_figure(fig, ax)
    _scale_bar(ax)
    # The title at the figure's left edge, above the map; the legend outside the map, on its right:
    # inside the axes they sat over the middle of a tall extent and covered data.
    fig.suptitle(title + ("\n" + subtitle if subtitle else ""), fontsize=9, x=0.01, ha="left")
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=6, frameon=True,
                  title=legend_title, title_fontsize=6, alignment="left")
    footer = f"odgeo · {products.audience} · no basemap"
    if products.hidden_under:
        footer += f" · areas with fewer than {products.hidden_under} overdoses are merged with neighbours or not shown"
    fig.text(0.01, 0.01, footer, fontsize=5, color="#666666")
    return fig


def _fit_figure(fig, ax) -> None:
    """A figure as wide as the map's extent needs (at 6 inches high), so a tall city leaves no blank half."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    if x1 > x0 and y1 > y0:
        fig.set_size_inches(min(max(6 * (x1 - x0) / (y1 - y0), 4.0), 12.0), 6)


def _scale_bar(ax) -> None:
    """A bar of a round length (1, 2 or 5 x 10^n metres) about a fifth of the width."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    target = (x1 - x0) / 5
    if not target > 0:
        return
    power = 10 ** math.floor(math.log10(target))
    length = max(m * power for m in (1, 2, 5) if m * power <= target)
    left, bottom = x0 + (x1 - x0) * 0.03, y0 + (y1 - y0) * 0.04
    ax.plot([left, left + length], [bottom, bottom], color="black", linewidth=2)
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(left + length / 2, bottom + (y1 - y0) * 0.015, label, ha="center", fontsize=6)
