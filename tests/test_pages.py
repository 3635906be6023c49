"""Every page and picture as its reader sees it (issue 43, item 10): boxes in the frame, marks that show.

The HTML pages are opened in headless Chromium (offline) and measured: the title and legend
panels inside the window and apart, the scan cluster's stroke and halo, the sites' ranks drawn
on the map, the summary on a phone's width with nothing running off the page. map.png's layout
is measured on the matplotlib figure it is saved from.
"""

from __future__ import annotations

import json
import re

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely
from click.testing import CliRunner

from cli.main import cli

from .conftest import SAMPLE, SAMPLE_TZ
from .test_browser import browser  # noqa: F401  (the fixture: one Chromium for the module)

PHONE = {"width": 390, "height": 800}
DESKTOP = {"width": 1280, "height": 800}


def _run(tmp_path, name: str, *args: str):
    out = tmp_path / name
    result = CliRunner().invoke(cli, [*args, "--timezone", SAMPLE_TZ, "--tiles", "none", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _open(browser, path, viewport):  # noqa: F811
    page = browser.new_page(viewport=viewport)
    page.route(re.compile(r"^https?://"), lambda route: route.abort())
    page.goto(path.as_uri())
    page.wait_for_function("document.readyState === 'complete'")
    return page


def _box(page, selector: str) -> dict:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not drawn"
    return box


def _inside(box: dict, viewport: dict) -> bool:
    return box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= viewport["width"] + 0.5 and \
        box["y"] + box["height"] <= viewport["height"] + 0.5


def _apart(a: dict, b: dict) -> bool:
    return (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
            or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])


def test_map_png_puts_the_title_at_the_left_and_the_legend_off_the_map(sample_run):
    # map.png had its title over the middle of a tall city, half the picture blank, and the
    # legend drawn over the data.
    from odgeo.maps.image import draw_map_figure

    result, _ = sample_run
    fig = draw_map_figure(result.products, **result.map_caption)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    drawn = ax.get_window_extent(renderer)  # the map itself (equal aspect: the box holds the data)
    legend = ax.get_legend().get_window_extent(renderer)
    title = fig._suptitle.get_window_extent(renderer)
    assert legend.x0 >= drawn.x1 - 1 or not legend.overlaps(drawn), (legend, drawn)
    assert title.x0 <= drawn.x0 + 1 and not title.overlaps(legend)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(label.startswith("blank: fewer than 10 overdoses") for label in labels), labels


def test_areas_of_several_sizes_are_coloured_per_km2():
    # A public map merges small hexagons into coarser ones: by count, a merged area of 15 in
    # 36 km² looked as bad as 15 in one 5 km² cell.
    from odgeo.maps.classes import hex_measure

    small, big = "8726e0630ffffff", h3.cell_to_parent("8726e0630ffffff", 6)
    hexes = gpd.GeoDataFrame({"h3_cell": [small, big], "h3_resolution": [7, 6], "count": [15, 15]},
                             geometry=[shapely.Point(0, 0)] * 2, crs=4326)
    measure = hex_measure(hexes)
    expected = [15 / h3.cell_area(small, unit="km^2"), 15 / h3.cell_area(big, unit="km^2")]
    np.testing.assert_allclose(measure.of(hexes["count"].to_numpy()), expected, rtol=1e-9)
    assert "per km²" in measure.unit and expected[0] > 6 * expected[1]
    one_size = hex_measure(hexes.iloc[:1])
    assert one_size.per_km2 is None and one_size.unit == "Overdoses per area"


def test_the_map_panels_stay_in_the_window_and_apart(browser, sample_run):  # noqa: F811
    _, out = sample_run
    for viewport in (DESKTOP, PHONE):
        page = _open(browser, out / "map.html", viewport)
        title, legend = _box(page, ".odgeo-title"), _box(page, ".odgeo-legend")
        assert _inside(title, viewport) and _inside(legend, viewport), (viewport, title, legend)
        if viewport is DESKTOP:
            assert _apart(title, legend)
        text = page.locator(".odgeo-legend").inner_text()
        assert "blank: fewer than 10 overdoses" in text and "hidden (small numbers)" not in text.split("In the")[0]
        page.close()


def test_the_scan_cluster_is_drawn_to_be_seen(browser, tmp_path):  # noqa: F811
    # The restricted scan map's only cluster was a thin purple ring over dark red hexagons.
    out = _run(tmp_path, "scan", "scan", str(SAMPLE / "incidents.csv"), "--audience", "restricted")
    n_clusters = len(json.loads((out / "scan_clusters.geojson").read_text())["features"])
    assert n_clusters >= 1
    page = _open(browser, out / "map.html", DESKTOP)
    name = re.search(r"var (map_\w+) = L\.map", (out / "map.html").read_text()).group(1)
    strokes = page.evaluate(f"""() => {{ var out = [];
        {name}.eachLayer(l => {{ if (l instanceof L.Polygon || l instanceof L.Circle) {{
            out.push([l.options.color, l.options.weight]); }} }});
        return out; }}""")
    coloured = [w for colour, w in strokes if colour and colour.lower() not in ("#ffffff", "#555555", "#777777")]
    halos = [w for colour, w in strokes if colour and colour.lower() == "#ffffff"]
    assert coloured and min(coloured) >= 3, strokes
    assert len(halos) >= n_clusters and min(halos) > max(coloured), strokes
    numbers = page.locator(".odgeo-number").all_inner_texts()
    assert sorted(numbers) == sorted(str(i) for i in range(1, n_clusters + 1))
    page.close()


def test_new_sites_show_their_rank_on_the_map(browser, tmp_path):  # noqa: F811
    # Ranks were only in a tooltip, and the hot cells' mesh was drawn over the sites.
    out = _run(tmp_path, "sites", "sites", str(SAMPLE / "incidents.csv"), "--candidates",
               str(SAMPLE / "candidate_sites.csv"), "--existing", str(SAMPLE / "existing_sites.csv"))
    sites = gpd.read_file(out / "sites.geojson")
    ranks = sorted(str(int(r)) for r in sites.loc[sites["status"] == "new", "rank"])
    assert ranks
    page = _open(browser, out / "map.html", DESKTOP)
    assert sorted(page.locator(".odgeo-number").all_inner_texts()) == ranks
    # A rank is on top: the element at its centre is the number, not a hexagon or the uncovered cells.
    box = _box(page, ".odgeo-number")
    hit = page.evaluate(f"() => document.elementFromPoint({box['x'] + box['width'] / 2}, "
                        f"{box['y'] + box['height'] / 2}).className")
    assert "odgeo-number" in str(hit), hit
    page.close()


def test_the_alert_summary_fits_a_phone(browser, tmp_path):  # noqa: F811
    # The backtest table ran off the page; nothing may overflow its box on a 390-pixel phone.
    out = _run(tmp_path, "alerts", "alerts", str(SAMPLE / "incidents.csv"), "--backtest", "--audience",
               "restricted")
    page = _open(browser, out / "summary.html", PHONE)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    overflowing = page.evaluate("""() => Array.from(document.querySelectorAll('h1, h2, h3, p, li, svg'))
        .filter(e => !e.closest('.wide') && e.getBoundingClientRect().right > window.innerWidth + 0.5)
        .map(e => e.tagName + ': ' + (e.textContent || '').slice(0, 40))""")
    assert overflowing == []
    table = page.locator(".wide").first
    assert table.evaluate("e => getComputedStyle(e).overflowX") == "auto"
    heads = page.locator(".wide th").all_inner_texts()
    assert "share detected" in heads and not any("_" in h for h in heads), heads
    charts = page.locator("svg.chart").count()
    assert charts >= 2 and pd.notna(charts)
    page.close()
