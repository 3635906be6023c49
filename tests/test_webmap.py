"""Map contents: one self-contained page, the density image on the ground, classes and legends."""

import itertools
import json
import re
import warnings

import h3
import numpy as np
import pyproj
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from odgeo.maps.classes import class_breaks, class_labels, quantile_bins
from odgeo.maps.webmap import build_map
from odgeo.publish.restricted import Products

NOTHING = Products("public", hexes=None, grid=None, hotspots=None, clusters=None, hidden_under=10)


def test_page_needs_no_network(sample_run):
    _, out = sample_run
    page = (out / "map.html").read_text()
    assert not re.search(r"<script[^>]+src=", page)
    assert not re.search(r"<link[^>]+href=", page)
    assert "cdn." not in page and "code.jquery.com" not in page and "d3.min.js" not in page
    assert "L.version" in page or 'version="1.9.3"' in page or "1.9.3" in page  # Leaflet itself is inlined
    assert "url(images/" not in page  # the stylesheet's images are data URIs


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


def test_hex_data_and_legend_classes(sample_run):
    result, _ = sample_run
    page = result.map.get_root().render()
    hexes = result.products.hexes
    assert hexes["h3_resolution"].nunique() > 1  # the public sample merges small areas: drawn per km²
    km2 = np.array([h3.cell_area(c, unit="km^2") for c in hexes["h3_cell"]])
    density = hexes["count"].to_numpy() / km2
    for label in class_labels(density, class_breaks(density, "quantiles"), whole=False):
        assert f"<span>{label}</span>" in page
    assert "Overdoses per km² (areas of several sizes) (quantiles)" in page and "hidden (small numbers)" in page
    # Every published area is in the page once, with its count and its months.
    data = json.loads(re.search(r"var data = (\{.*?\}), periods = ", page, re.S).group(1))
    assert {f["properties"]["h3_cell"]: f["properties"]["count"] for f in data["features"]} == \
        dict(zip(hexes["h3_cell"], hexes["count"]))
    assert len(data["features"][0]["properties"]["months"]) == 24
    np.testing.assert_allclose([f["properties"]["km2"] for f in data["features"]], km2, atol=1e-3)


def test_title_text_is_escaped():
    fmap = build_map(NOTHING, title="<script>alert(1)</script>", subtitle='"><img src=x onerror=alert(1)>',
                     notes=["<b>note</b>"])
    page = fmap.get_root().render()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page and "<b>note</b>" not in page


def test_empty_map_still_renders_and_tiles_can_be_off():
    page = build_map(NOTHING, tiles=None).get_root().render()
    assert "Audience: public" in page and "L.map(" in page
    assert "L.tileLayer" not in page
    page = build_map(NOTHING, tiles="https://tiles.example.org/{z}/{x}/{y}.png").get_root().render()
    assert "https://tiles.example.org/{z}/{x}/{y}.png" in page


def _jenks_brute_force(values, k):
    """Upper bounds of the k contiguous classes of sorted values with the least within-class variance."""
    y = np.sort(values)
    best, best_bounds = np.inf, None
    for cuts in itertools.combinations(range(1, len(y)), k - 1):
        groups = np.split(y, cuts)
        cost = sum(((g - g.mean()) ** 2).sum() for g in groups)
        if cost < best - 1e-9:
            best, best_bounds = cost, [float(g.max()) for g in groups]
    return best_bounds


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_natural_breaks_equal_a_brute_force_jenks(seed):
    values = np.random.default_rng(seed).integers(1, 200, size=12).astype(float)
    assert class_breaks(values, "natural_breaks", k=4) == _jenks_brute_force(values, 4)


@given(st.lists(st.integers(0, 400), min_size=1, max_size=300), st.integers(2, 9))
@settings(max_examples=200, deadline=None)
def test_quantile_bins_are_mapclassifys(values, k):
    import mapclassify

    y = np.asarray(values, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = mapclassify.Quantiles(y, k=k).bins
    assert np.array_equal(quantile_bins(y, k), np.unique(expected))  # bit for bit


def test_quantile_breaks_and_labels():
    values = np.arange(1, 101, dtype=float)
    breaks = class_breaks(values, "quantiles")
    assert breaks == [20.8, 40.6, 60.4, 80.2, 100.0]
    assert class_labels(values, breaks) == ["1–20", "21–40", "41–60", "61–80", "81–100"]
    assert class_breaks(np.array([3.0, 3.0, 7.0]), "quantiles") == [3.0, 7.0]  # fewer distinct values than classes


def test_static_png_shows_the_classes_and_no_points(sample_run, restricted_run):
    from PIL import Image

    for _, out in (sample_run, restricted_run):
        with Image.open(out / "map.png") as image:
            assert image.format == "PNG" and image.width >= 1200 and image.height >= 900
            colours = {c for _, c in image.convert("RGB").getcolors(maxcolors=1 << 20)}
        assert (0xBD, 0x00, 0x26) in colours  # the darkest class, in the legend
        assert (0x2B, 0x8C, 0xBE) not in colours  # the restricted map's point colour is not
