"""The main job's speed beside its peers, in one run: the table of issue 20, each figure beside its peer.

    python benchmarks/speed_benchmark.py [--skip-1m]

Rows (ratios matter: these machines are shared and noisy):

- ``odgeo hotspots`` on 100k incidents with 30 m cells, a 500 m radius and DBSCAN 250 m / 5 (map,
  GeoTIFF, Gi*, everything, the whole process from a CSV), beside QGIS's Heatmap
  (``qgis:heatmapkerneldensityestimation``, same radius and pixel) plus DBSCAN
  (``native:dbscanclustering``, same eps and minimum) run by ``qgis_process`` on the same points as
  a GeoPackage in metres: whole processes, those two steps only (when QGIS is installed: Debian's
  ``qgis``). Target >= 10x.
- ``odgeo hotspots`` on 1M incidents (defaults): wall time and peak memory. Target <= 10 s, <= 1 GB.
- H3 counts, 100k points, res 8, beside a per-point ``h3.latlng_to_cell`` loop. Target >= 10x.
- Kernel density, 10k points on 1000 x 1000 cells, beside scikit-learn's ``KernelDensity(rtol=1e-4)``,
  both errors against an exact kernel sum. Target >= 1,000x at <= 0.5% of the peak.
- DBSCAN, 100k points, eps 250 m, beside scikit-learn. Target >= 10x.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run_benchmarks import (  # noqa: E402
    _child,
    density_vs_sklearn,
    h3_vs_loop,
    hotspots_run,
    table,
    write_city_csv,
)

QGIS_OPTIONS = ("--cell-size", "30", "--bandwidth", "500", "--eps", "250", "--min-samples", "5")


def qgis_binary() -> str | None:
    """qgis_process (Debian's wrapper passes an option its own binary refuses: call the binary)."""
    path = shutil.which("qgis_process")
    if path is None:
        return None
    return path + ".bin" if Path(path + ".bin").exists() else path


def qgis_steps(lon, lat, folder: Path) -> dict:
    """QGIS's Heatmap and DBSCAN on the points (a GeoPackage in the local UTM zone): seconds of each process."""
    import geopandas as gpd

    from odgeo.projection import project_points

    binary = qgis_binary()
    if binary is None:
        return {"note": "qgis_process not installed (Debian: apt-get install qgis)"}
    x, y, crs = project_points(lon, lat)
    points = folder / "points.gpkg"
    gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=crs).to_file(points)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    runs = {"heatmap": ["qgis:heatmapkerneldensityestimation", f"INPUT={points}", "RADIUS=500",
                        "PIXEL_SIZE=30", "KERNEL=0", f"OUTPUT={folder / 'heat.tif'}"],
            "dbscan": ["native:dbscanclustering", f"INPUT={points}", "MIN_SIZE=5", "EPS=250", "DBSCAN*=0",
                       f"OUTPUT={folder / 'clusters.gpkg'}"]}
    out: dict = {}
    for name, (algorithm, *params) in runs.items():
        start = time.perf_counter()
        done = subprocess.run([binary, "run", algorithm, "--", *params], capture_output=True, text=True, env=env)
        out[name] = time.perf_counter() - start
        if done.returncode != 0:
            return {"note": f"qgis_process {algorithm} failed: {done.stderr.strip()[-120:]}"}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-1m", action="store_true", help="leave out the 1M-incident run")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        lon, lat = write_city_csv(folder / "in_100k.csv", 100_000)
        # numba compiles odgeo's loops once per installation (then loads them from its cache): a
        # first run on a small file, so the figures are of the runs a user makes every day.
        write_city_csv(folder / "warm.csv", 2_000)
        hotspots_run(folder / "warm.csv", folder / "out_warm", *QGIS_OPTIONS)
        ours = hotspots_run(folder / "in_100k.csv", folder / "out_100k", *QGIS_OPTIONS)
        qgis = qgis_steps(lon, lat, folder)
        if "note" in qgis:
            peer, ratio = qgis["note"], "-"
        else:
            total = qgis["heatmap"] + qgis["dbscan"]
            peer = f"QGIS Heatmap {qgis['heatmap']:.1f} s + DBSCAN {qgis['dbscan']:.1f} s = {total:.1f} s"
            ratio = f"{total / ours['wall']:.1f}x"
        rows.append(["whole odgeo hotspots, 100k, 30 m cells, 500 m radius, DBSCAN 250 m / 5",
                     f"{ours['wall']:.1f} s, {ours['peak_mb']:.0f} MB", peer, ratio, ">= 10x"])
        if not args.skip_1m:
            write_city_csv(folder / "in_1m.csv", 1_000_000)
            big = hotspots_run(folder / "in_1m.csv", folder / "out_1m")
            rows.append(["whole odgeo hotspots, 1M incidents", f"{big['wall']:.1f} s, {big['peak_mb']:.0f} MB",
                         "-", "-", "<= 10 s, <= 1 GB"])
        h3 = h3_vs_loop(100_000)
        rows.append(["H3 counts, 100k points, res 8", f"{h3['ours']:.3f} s ({100_000 / h3['ours'] / 1e6:.1f} M/s)",
                     f"per-point h3.latlng_to_cell loop {h3['naive']:.3f} s" + ("" if h3["same"] else " (NOT EQUAL)"),
                     f"{h3['naive'] / h3['ours']:.1f}x", ">= 10x (>= 7 M points/s)"])
        kde = density_vs_sklearn()
        rows.append(["kernel density, 10k points, 1000 x 1000", f"{kde['ours']:.3f} s (error {kde['err_ours']:.1e})",
                     f"scikit-learn KernelDensity rtol 1e-4 {kde['sklearn']:.1f} s (error {kde['err_sklearn']:.1e})",
                     f"{kde['sklearn'] / kde['ours']:.0f}x", ">= 1,000x at <= 0.5% of peak"])
        a = _child("odgeo", 100_000, 5, folder / "a.npy", timeout=600)
        b = _child("sklearn", 100_000, 5, folder / "b.npy", timeout=900)
        rows.append(["DBSCAN 100k, eps 250 m", f"{a['seconds']:.3f} s (+{a['first_call']:.2f} s loading)",
                     f"scikit-learn {b['seconds']:.2f} s", f"{b['seconds'] / a['seconds']:.0f}x", ">= 10x"])
        steps = ours["steps"]
        print("odgeo hotspots 100k steps (s): " + ", ".join(f"{k} {v:.2f}" for k, v in steps.items()))
        if not args.skip_1m:
            print("odgeo hotspots 1M steps (s): " + ", ".join(f"{k} {v:.2f}" for k, v in big["steps"].items()))
    table("The main job beside its peers (same run, this machine)", ["work", "odgeo", "peer", "ratio", "target"],
          rows)


if __name__ == "__main__":
    main()
