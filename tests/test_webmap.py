"""Map contents: the density image sits on the ground, layers and tooltips are there."""

import re

import pyproj

from odgeo.publish import Products
from odgeo.webmap import build_map

NOTHING = Products("public", hexes=None, grid=None, hotspots=None, clusters=None, min_count=10)


def test_density_overlay_bounds_are_the_grid_extent_in_degrees(sample_run):
    result, _ = sample_run
    page = result.map.get_root().render()
    match = re.search(r"L\.imageOverlay\(\s*\"data:image/png;base64,[^\"]+\",\s*"
                      r"\[\[([-\d.]+), ([-\d.]+)\], \[([-\d.]+), ([-\d.]+)\]\]", page)
    assert match, "no image overlay"
    south, west, north, east = map(float, match.groups())
    grid = result.products.grid
    to_wgs84 = pyproj.Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
    gw, gs, ge, gn = grid.bounds()
    lons, lats = to_wgs84.transform([gw, ge, gw, ge], [gs, gs, gn, gn])
    # The warped image covers the grid (its envelope), within one cell.
    tol = 2 * grid.cell_size_m / 111_000
    assert west <= min(lons) + tol and east >= max(lons) - tol
    assert south <= min(lats) + tol and north >= max(lats) - tol
    assert east - west < (max(lons) - min(lons)) * 1.05


def test_hex_tooltips_and_legend(sample_run):
    result, _ = sample_run
    page = result.map.get_root().render()
    assert '"h3_cell", "count", "fatal", "nonfatal"' in page
    assert "Overdoses per hexagon (quantile classes)" in page
    assert "Kernel density (incidents per km" in page


def test_title_text_is_escaped():
    fmap = build_map(NOTHING, title="<script>alert(1)</script>", subtitle='"><img src=x onerror=alert(1)>')
    page = fmap.get_root().render()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page


def test_empty_map_still_renders():
    page = build_map(NOTHING, tiles=None).get_root().render()
    assert "Audience: public" in page and "L.map(" in page
