"""Writing map.html: time and size for 10k / 100k / 1M incidents, public and restricted,
and the time until the page is interactive in headless Chromium (network cut off),
beside geopandas ``explore()`` of the same hexagons as the peer, measured in the same run.

    python benchmarks/map_benchmark.py [--quick] [--chromium /usr/bin/chromium]

"Interactive" is the time from navigation to the first animation frame after the
load event with the map object defined (Leaflet has drawn the layers then).
explore() links Leaflet and its plugins from CDNs, so offline its page never
becomes a map: that is reported, with its load time, rather than hidden.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_benchmarks import city_points, table

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _incidents_csv(n: int, path: Path) -> None:
    lon, lat = city_points(n, seed=11)
    rng = np.random.default_rng(11)
    days = rng.integers(0, 730, n)
    frame = pd.DataFrame({
        "incident_id": np.arange(n),
        "occurred_at": (np.datetime64("2024-01-01") + days.astype("timedelta64[D]")).astype(str),
        "outcome": np.where(rng.random(n) < 0.1, "fatal", "nonfatal"),
        "longitude": np.round(lon, 6), "latitude": np.round(lat, 6),
    })
    frame.to_csv(path, index=False)


def _interactive_ms(browser, path: Path, map_var: str | None, points_var: str | None = None) -> tuple[float, str]:
    """Milliseconds to interactive, and (with points_var) to switch the point layer on and draw it."""
    import re

    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.route(re.compile(r"^https?://"), lambda route: route.abort())
    errors = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    start = time.perf_counter()
    page.goto(path.as_uri(), wait_until="load", timeout=300_000)
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    elapsed = (time.perf_counter() - start) * 1000
    ok = page.evaluate(f"() => typeof {map_var} !== 'undefined'") if map_var else False
    state = "map" if ok and not errors else f"no map ({errors[0][:40]}...)" if errors else "no map"
    if ok and points_var:
        draw = page.evaluate(f"() => {{ var t = performance.now(); {points_var}.addTo({map_var});"
                             f" return performance.now() - t; }}")
        state += f", points drawn in {draw:.0f} ms"
    page.close()
    return elapsed, state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10k and 100k only")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args()
    import re

    from playwright.sync_api import sync_playwright

    from odgeo.incidents.read import read_incidents
    from odgeo.jobs.hotspots import HotspotSettings, analyse_hotspots

    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    rows = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        warm = Path(tmp) / "warm.csv"
        _incidents_csv(1000, warm)
        analyse_hotspots(read_incidents(warm), HotspotSettings())  # imports and caches out of the timings
        for n in sizes:
            csv = Path(tmp) / f"in_{n}.csv"
            _incidents_csv(n, csv)
            read = read_incidents(csv)
            for audience in ("public", "restricted"):
                result = analyse_hotspots(read, HotspotSettings(audience=audience))
                build = result.record.timings["map"]
                out = Path(tmp) / f"map_{n}_{audience}.html"
                start = time.perf_counter()
                result.map.save(str(out))
                save = time.perf_counter() - start
                page_text = out.read_text()
                map_var = re.search(r"var (map_\w+) = L\.map", page_text).group(1)
                points = re.search(r"var (point_layer_\w+) = ", page_text)
                ms, state = _interactive_ms(browser, out, map_var, points.group(1) if points else None)
                hexes = result.products.hexes
                start = time.perf_counter()
                peer = hexes.explore(column="count", tiles=None)
                peer_out = Path(tmp) / f"explore_{n}_{audience}.html"
                peer.save(str(peer_out))
                peer_s = time.perf_counter() - start
                peer_ms, peer_state = _interactive_ms(browser, peer_out, peer.get_name())
                rows.append([f"{n:,}", audience, f"{build + save:.2f}", f"{out.stat().st_size / 1e6:.2f}",
                             f"{ms:.0f} ({state})", f"{peer_s:.2f}", f"{peer_out.stat().st_size / 1e6:.2f}",
                             f"{peer_ms:.0f} ({peer_state})", f"{(build + save) / peer_s:.1f}x"])
        browser.close()
    table("map.html vs geopandas explore() of the same hexagons (offline, headless Chromium)",
          ["incidents", "audience", "odgeo s", "odgeo MB", "odgeo ms to interactive", "explore s",
           "explore MB", "explore ms (offline)", "odgeo/explore time"], rows)


if __name__ == "__main__":
    main()
