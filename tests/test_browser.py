"""The written map.html in a real headless Chromium, with the network cut off.

Debian's chromium is installed by the README's test command (scripts/install-chromium.sh);
without it these tests fail and say how to install it (set ODGEO_SKIP_BROWSER=1 to skip
them on a machine where that is not possible).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from odgeo_cli.main import cli
from scipy.spatial import cKDTree

from odgeo.io.pdf import find_chromium

from .conftest import ROOT
from .test_leakscan import PAYLOADS, _payload_csv

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = ROOT / "test-output"
TILE_HOSTS = ("tile.openstreetmap.org",)


def _chromium() -> str:
    path = find_chromium()
    if path:
        return path
    message = ("Chromium is needed for the browser tests: run `sh scripts/install-chromium.sh` "
               "(Debian/Ubuntu: apt-get install chromium) or point ODGEO_CHROMIUM at a Chromium binary")
    if os.environ.get("ODGEO_SKIP_BROWSER") == "1":
        pytest.skip(message)
    pytest.fail(message)


@pytest.fixture(scope="module")
def browser():
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Page:
    """A page opened offline, with what went wrong recorded."""

    def __init__(self, browser, path: Path):
        self.page = browser.new_page(viewport={"width": 1280, "height": 800})
        self.errors: list[str] = []
        self.failed: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda err: self.errors.append(f"page error: {err}"))
        self.page.on("requestfailed", lambda req: self.failed.append(req.url))
        self.page.on("dialog", self._dialog)
        # No network: every http(s) request is refused, as on an offline laptop.
        self.page.route(re.compile(r"^https?://"), lambda route: route.abort())
        self.page.goto(path.as_uri())
        self.page.wait_for_function("document.readyState === 'complete'")
        self.map_name = re.search(r"var (map_\w+) = L\.map", path.read_text()).group(1)

    def _console(self, msg) -> None:
        if msg.type == "error" and not any(h in (msg.location or {}).get("url", "") for h in TILE_HOSTS):
            self.errors.append(msg.text)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def non_tile_failures(self) -> list[str]:
        return [u for u in self.failed if not any(h in u for h in TILE_HOSTS)]

    def point_of(self, lon: float, lat: float) -> tuple[float, float]:
        xy = self.page.evaluate(f"(() => {{ var p = {self.map_name}.latLngToContainerPoint([{lat}, {lon}]);"
                                f" return [p.x, p.y]; }})()")
        box = self.page.locator(f"#{self.map_name}").bounding_box()
        return box["x"] + xy[0], box["y"] + xy[1]

    def hover_tooltip(self, lon: float, lat: float, selector: str = ".leaflet-tooltip") -> str:
        x, y = self.point_of(lon, lat)
        self.page.mouse.move(x, y, steps=4)
        # Leaflet's canvas renderer handles hover at most every 32 ms and may drop the
        # last move: move once more after a pause so the hovered feature is this one.
        self.page.wait_for_timeout(80)
        self.page.mouse.move(x + 0.5, y)
        self.page.wait_for_timeout(80)
        tooltip = self.page.locator(selector).last
        tooltip.wait_for(state="visible", timeout=5000)
        return tooltip.inner_text()

    def overlay_names(self) -> list[str]:
        return [t.strip() for t in self.page.locator(".leaflet-control-layers-overlays label").all_inner_texts()]

    def toggle(self, name: str) -> None:
        self.page.locator(".leaflet-control-layers-overlays label", has_text=name).locator("input").click()

    def map_pixels(self) -> bytes:
        return self.page.locator(f"#{self.map_name}").screenshot()


@pytest.fixture(scope="module")
def public_page(browser, sample_run):
    page = Page(browser, sample_run[1] / "map.html")
    yield page
    page.page.close()


def test_public_map_loads_offline_without_errors(public_page):
    assert public_page.errors == []
    assert public_page.non_tile_failures() == []
    SCREENSHOTS.mkdir(exist_ok=True)
    public_page.page.screenshot(path=str(SCREENSHOTS / "map-public.png"))
    assert (SCREENSHOTS / "map-public.png").stat().st_size > 20_000


def test_layer_control_lists_the_layers_and_toggling_redraws(public_page):
    assert public_page.overlay_names() == ["Kernel density", "Overdoses per area", "Hot spots (density)",
                                           "DBSCAN clusters", "Gi* hot and cold spots"]
    before = public_page.map_pixels()
    public_page.toggle("Overdoses per area")
    after = public_page.map_pixels()
    legend = public_page.page.locator("section[data-layer='Overdoses per area']")
    assert not legend.is_visible()
    public_page.toggle("Overdoses per area")
    assert legend.is_visible()
    assert before != after
    public_page.toggle("Kernel density")
    assert public_page.page.locator("img.leaflet-image-layer").count() == 1
    public_page.toggle("Kernel density")
    assert public_page.page.locator("img.leaflet-image-layer").count() == 0


def test_hovering_a_hexagon_shows_its_numbers_in_words(public_page, sample_run):
    hexes = sample_run[0].products.hexes
    single = hexes[~hexes["merged"]].sort_values("count").iloc[-1]
    centre = single.geometry.centroid
    text = public_page.hover_tooltip(centre.x, centre.y)
    hidden = single["fatal"] is None or str(single["fatal"]) == "<NA>"
    fatal = "fatal hidden" if hidden else f"{int(single['fatal']):,} fatal"
    assert text.startswith(f"{int(single['count']):,} overdoses, {fatal}, Jan 2024 to Dec 2025")
    assert f"one hexagon (H3 {single['h3_cell']})" in text


def test_month_slider_recolours_and_retells(public_page, sample_run):
    page = public_page.page
    hexes = sample_run[0].products.hexes
    single = hexes[~hexes["merged"]].sort_values("count").iloc[-2]  # not the one hovered before
    before = public_page.map_pixels()
    page.evaluate("(() => { var s = document.getElementById('odgeo-hex-slider'); s.value = 14;"
                  " s.dispatchEvent(new Event('input')); })()")
    assert page.locator("#odgeo-hex-label").inner_text() == "Mar 2025"
    assert page.locator("#odgeo-hex-period").is_visible()
    value = single["2025-03"]
    expected = "hidden (small numbers)" if str(value) == "<NA>" else f"{int(value):,} overdose"
    centre = single.geometry.centroid
    text = public_page.hover_tooltip(centre.x, centre.y)
    assert text.startswith("Mar 2025: ") and expected in text
    assert public_page.map_pixels() != before
    page.locator("#odgeo-hex-all").click()
    assert page.locator("#odgeo-hex-label").inner_text() == "all months"


def test_restricted_map_with_points_loads_offline(browser, restricted_run):
    page = Page(browser, restricted_run[1] / "map.html")
    assert page.page.title().startswith("RESTRICTED: contains sensitive health data")
    assert page.page.locator(".odgeo-banner").inner_text() == "RESTRICTED: contains sensitive health data"
    assert "Incidents (restricted)" in page.overlay_names()
    before = page.map_pixels()
    page.toggle("Incidents (restricted)")
    assert page.map_pixels() != before
    # The most isolated incident in the middle of the view (not under a panel):
    # hovering it names its date and outcome.
    points = restricted_run[0].products.points
    xy = np.c_[points.geometry.x, points.geometry.y]
    gap, _ = cKDTree(xy).query(xy, k=2)
    for i in np.argsort(-gap[:, 1]):
        px, py = page.point_of(xy[i, 0], xy[i, 1])
        if 350 < px < 900 and 200 < py < 600:
            lonely = points.iloc[int(i)]
            break
    outcome = {"fatal": "fatal", "nonfatal": "non-fatal"}.get(lonely["outcome"], "unknown")
    text = page.hover_tooltip(lonely.geometry.x, lonely.geometry.y, ".odgeo-point-tip")
    assert text == f"{lonely['date']}, {outcome}"
    assert page.errors == [] and page.non_tile_failures() == []
    SCREENSHOTS.mkdir(exist_ok=True)
    page.page.screenshot(path=str(SCREENSHOTS / "map-restricted.png"))
    page.page.close()


@pytest.mark.parametrize("audience", ["public", "restricted"])
def test_payloads_do_not_run_and_show_as_text(browser, tmp_path, audience):
    csv = tmp_path / "payloads.csv"
    _payload_csv(csv)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["hotspots", str(csv), "--out", str(out), "--audience", audience,
                                      "--title", PAYLOADS[0] + PAYLOADS[1], "--min-count", "3"])
    assert result.exit_code == 0, result.output
    page = Page(browser, out / "map.html")
    if audience == "restricted":
        page.toggle("Incidents (restricted)")
    page.page.mouse.move(640, 400)
    page.page.wait_for_timeout(300)
    assert page.dialogs == []
    assert PAYLOADS[0] + PAYLOADS[1] in page.page.locator(".odgeo-title .main").inner_text()
    assert page.page.locator("img[src='x']").count() == 0
    assert page.errors == []
    page.page.close()
