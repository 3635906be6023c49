"""The page around the map: Leaflet inlined from an installed package, legends, title and notes.

folium links Leaflet, jQuery, Bootstrap and Font Awesome from CDNs, so its pages
are blank without a network. odgeo's maps use only Leaflet, read from the
``xstatic-leaflet`` package (the Leaflet release folium is written for) and
written into the page, with the stylesheet's images as data URIs: one file
that works offline. Legends are plain HTML (branca's need d3 from a CDN).
"""

from __future__ import annotations

import base64
import html
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import cast

import folium
import numpy as np
import shapely
from branca.element import Element, Figure, MacroElement
from jinja2 import Template

from ..io.writers import COORD_DECIMALS

__all__ = [
    "CLUSTER_LAYER_NAMES",
    "HIDDEN_COLOUR",
    "LAYER_NAMES",
    "YLORRD",
    "Legend",
    "add_panel",
    "blank_words",
    "inline_leaflet",
    "js_data",
    "rounded_geoms",
    "swatch_rows",
]

LAYER_NAMES = {"hexes": "Overdoses per area", "density": "Kernel density", "hotspots": "Hot spots (density)",
               "clusters": "DBSCAN clusters", "points": "Incidents (restricted)", "areas": "Boundaries",
               "gistar": "Gi* hot and cold spots", "emerging": "Emerging hot spots",
               "sites": "Naloxone sites", "uncovered": "Hot spots no site reaches", "alerts": "Spike alerts",
               "scan": "Space-time clusters (scan)"}
#: The clusters layer by --cluster-method (vocabulary.CLUSTER_METHODS).
CLUSTER_LAYER_NAMES = {"dbscan": LAYER_NAMES["clusters"], "st-dbscan": "ST-DBSCAN clusters (places and days)",
                       "hdbscan": "HDBSCAN clusters"}
#: ColorBrewer YlOrRd, 5 classes (light to dark).
YLORRD = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
#: Areas whose value is hidden to protect small numbers.
HIDDEN_COLOUR = "#bdbdbd"


def blank_words(min_count: int) -> str:
    """What a blank place on a public hexagon map means, in the legend of map.html and map.png."""
    return f"blank: fewer than {min_count} overdoses (merged with neighbours, or not shown)"


@lru_cache(maxsize=1)
def _leaflet_assets() -> tuple[str, str]:
    import xstatic.pkg.leaflet as leaflet

    base = Path(leaflet.BASE_DIR)
    script = (base / "leaflet.js").read_text(encoding="utf-8")
    script = re.sub(r"//# sourceMappingURL=\S+", "", script)

    def data_uri(match: re.Match) -> str:
        image = base / match.group(1)
        return f"url(data:image/png;base64,{base64.b64encode(image.read_bytes()).decode('ascii')})"

    css = re.sub(r"url\((images/[\w.-]+\.png)\)", data_uri, (base / "leaflet.css").read_text(encoding="utf-8"))
    return script, css


def inline_leaflet(fmap: folium.Map) -> None:
    """Replace folium's CDN links by Leaflet's own script and stylesheet, written into the page."""
    fmap.default_js = []
    fmap.default_css = []
    script, css = _leaflet_assets()
    header = root_of(fmap).header
    header.add_child(Element(f"<style>{css}</style>"), name="leaflet_css_inline")
    header.add_child(Element(f"<script>{script}</script>"), name="leaflet_js_inline")
    header.add_child(Element(f"<style>{_PAGE_CSS}</style>"), name="odgeo_css")


_PAGE_CSS = """
html, body {width: 100%; height: 100%; margin: 0; padding: 0;}
.odgeo-panel {background: rgba(255,255,255,.94); padding: 6px 10px; border-radius: 4px;
  box-shadow: 0 1px 4px rgba(0,0,0,.3); font: 13px/1.35 sans-serif; color: #222;}
.odgeo-panel h4 {margin: 0 0 4px; font-size: 13px;}
.odgeo-legend .row {display: flex; align-items: center; gap: 6px; margin: 1px 0;}
.odgeo-legend .swatch {width: 16px; height: 12px; border: 1px solid #777; flex: none;}
.odgeo-legend .ramp {height: 10px; width: 180px; border: 1px solid #777;}
.odgeo-legend .note {font-size: 11px; color: #555; max-width: 220px;}
.odgeo-number {width: 22px; height: 22px; border-radius: 50%; border: 2px solid #fff; box-sizing: border-box;
  color: #fff; font: bold 12px/18px sans-serif; text-align: center; box-shadow: 0 0 3px rgba(0,0,0,.6);}
.odgeo-legend section + section {margin-top: 6px;}
.odgeo-title {position: absolute; top: 10px; left: 54px; z-index: 1000; max-width: 55%;}
.odgeo-title .main {font-weight: bold; font-size: 15px;}
.odgeo-title details {margin-top: 4px; font-size: 12px;}
.odgeo-banner {background: #b10026; color: #fff; font-weight: bold; padding: 2px 6px; margin-bottom: 4px;}
.odgeo-time {font: 13px sans-serif;}
.odgeo-time input[type=range] {width: 160px; vertical-align: middle;}
.odgeo-label {font: 11px/1.2 sans-serif; color: #252525; text-align: center;
  text-shadow: 0 0 3px #fff, 0 0 3px #fff, 0 0 2px #fff;}
"""


def js_data(value) -> str:
    """JSON for a <script>: '<', '>' and '&' escaped so no text can end the script."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class Legend(MacroElement):
    """One legend box; each section shows while the layer it belongs to is on the map."""

    _template = Template("""
        {% macro html(this, kwargs) %}
        <div id="{{ this.get_name() }}" class="odgeo-panel odgeo-legend"
             style="position:absolute; bottom:28px; right:10px; z-index:1000; max-width:300px">
        {% for s in this.sections %}<section data-layer="{{ s.layer }}"
            {% if not s.shown %}style="display:none"{% endif %}>{{ s.html }}</section>{% endfor %}
        </div>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        (function () {
            var box = document.getElementById({{ this.get_name()|tojson }});
            function show(name, on) {
                box.querySelectorAll("section").forEach(function (s) {
                    if (s.dataset.layer === name) { s.style.display = on ? "" : "none"; }
                });
            }
            {{ this._parent.get_name() }}.on("overlayadd", function (e) { show(e.name, true); });
            {{ this._parent.get_name() }}.on("overlayremove", function (e) { show(e.name, false); });
        })();
        {% endmacro %}
    """)

    def __init__(self):
        super().__init__()
        self._name = "Legend"
        self.sections: list[dict] = []

    def add(self, layer: str, title: str, rows_html: str, *, shown: bool = True, section_id: str = "") -> None:
        """A section: ``title`` is escaped, ``rows_html`` is markup built by the caller from escaped parts."""
        ident = f' id="{html.escape(section_id)}"' if section_id else ""
        self.sections.append({"layer": html.escape(layer), "shown": shown,
                              "html": f"<h4{ident}>{html.escape(title)}</h4>{rows_html}"})


def swatch_rows(colours, labels) -> str:
    """Legend rows: a colour swatch and an escaped label each."""
    return "".join(f'<div class="row"><span class="swatch" style="background:{c}"></span>'
                   f"<span>{html.escape(label)}</span></div>" for c, label in zip(colours, labels))


def root_of(fmap: folium.Map) -> Figure:
    """The page (branca Figure) a map is drawn into: its header, html and script sections."""
    return cast(Figure, fmap.get_root())


def add_panel(fmap: folium.Map, markup: str) -> None:
    """Fixed HTML added to the page body (markup built from escaped parts)."""
    root_of(fmap).html.add_child(Element(markup))


def rounded_geoms(geoms) -> np.ndarray:
    """Coordinates to the decimals the GeoJSON files carry (6, about 0.1 m).

    Six, not fewer: shapes drawn from lattices (H3, the density grid) then
    cannot match an incident's location by chance at the printed precision,
    which is what the leak scanner checks.
    """
    return shapely.transform(np.asarray(getattr(geoms, "values", geoms), dtype=object),
                             lambda c: np.round(c, COORD_DECIMALS))
