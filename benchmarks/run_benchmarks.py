"""Speed of odgeo's stages beside the naive peer, measured in the same run.

Prints one table per stage. Every figure is a ratio to a peer timed on the same
data in the same process (or, for peak memory, in a child process of its own),
because these machines are shared and absolute times are noisy.

    python benchmarks/run_benchmarks.py [--quick] [--skip-sklearn-dbscan-1m]

Stages:
- H3 counting vs a per-point ``h3.latlng_to_cell`` loop plus a pandas count;
- kernel density on a 1000 x 1000 grid vs scikit-learn ``KernelDensity(rtol=1e-4)``
  (Gaussian, the kernel both have) at 10k points, with each one's error against
  an exact kernel sum on sampled cells;
- DBSCAN (eps 250 m) vs scikit-learn's DBSCAN, time and peak memory;
- ``odgeo hotspots`` end to end, wall time and peak memory.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

LON0, LAT0 = -97.40, 38.20
HERE = Path(__file__).resolve().parent
SKLEARN_CAP_GB = 8  # address-space cap for scikit-learn's DBSCAN child (the machine has 24 GB)


def city_points(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Points over a ~20 km city: a broad background plus 30 hot spots."""
    rng = np.random.default_rng(seed)
    k = n // 2
    centres = rng.uniform(-8000, 8000, (30, 2))
    spots = centres[rng.integers(0, 30, k)] + rng.normal(0, 1, (k, 2)) * rng.uniform(100, 600, (k, 1))
    background = rng.normal(0, 5000, (n - k, 2))
    xy = np.vstack([spots, background])
    lat = LAT0 + xy[:, 1] / 111_195.0
    lon = LON0 + xy[:, 0] / (111_195.0 * np.cos(np.radians(LAT0)))
    return lon, lat


def timed(func, *args, repeat: int = 1, **kwargs):
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = func(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return best, out


def table(title: str, header: list[str], rows: list[list]) -> None:
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))


def h3_vs_loop(n: int) -> dict:
    """odgeo's points_to_cells beside a per-point h3.latlng_to_cell loop (plus a count), res 8."""
    import h3
    import pandas as pd

    from odgeo.hexes import cell_index

    def naive(lon, lat):
        cells = [h3.latlng_to_cell(b, a, 8) for a, b in zip(lon.tolist(), lat.tolist())]
        return pd.Series(cells).value_counts()

    def ours(lon, lat):  # the counting of count_cells: distinct cells and how many points each holds
        codes, index = cell_index(lon, lat, 8)
        return codes, np.bincount(index, minlength=len(codes))

    lon, lat = city_points(n)
    ours(lon[:1000], lat[:1000])  # warm-up
    t_ours, (codes, counts) = timed(ours, lon, lat, repeat=3)
    t_naive, ref = timed(naive, lon, lat, repeat=1 if n >= 1_000_000 else 2)
    same = dict(zip([h3.int_to_str(int(c)) for c in codes], counts.tolist())) == ref.to_dict()
    return {"ours": t_ours, "naive": t_naive, "same": same}


def bench_h3(sizes: list[int]) -> None:
    rows = []
    for n in sizes:
        r = h3_vs_loop(n)
        rows.append([f"{n:,}", f"{r['ours']:.3f}", f"{n / r['ours'] / 1e6:.1f}", f"{r['naive']:.3f}",
                     f"{r['naive'] / r['ours']:.1f}x", "yes" if r["same"] else "NO"])
    table("H3 counts per cell, res 8 (target >= 10x, >= 7 M points/s)",
          ["points", "odgeo s", "M points/s", "per-point loop s", "speed-up", "equal"], rows)


def density_vs_sklearn() -> dict:
    """Kernel density, 10k points on a 1000 x 1000 grid (Gaussian), beside scikit-learn, with errors."""
    import pyproj
    from sklearn.neighbors import KernelDensity

    from odgeo.density.kernel import kernel_density, kernel_values

    rng = np.random.default_rng(1)
    n, h = 10_000, 300.0
    x, y = rng.normal(0, 1800, n), rng.normal(0, 1800, n)
    crs = pyproj.CRS.from_epsg(32614)
    # A 1000 x 1000 grid: cell size chosen so the grid spans the points plus 4 bandwidths.
    span = max(np.ptp(x), np.ptp(y)) + 8 * h
    cell = span / 998.0
    kernel_density(x[:100], y[:100], crs=crs, bandwidth_m=h, cell_size_m=cell, kernel="gaussian")  # warm-up
    t_ours, grid = timed(kernel_density, x, y, crs=crs, bandwidth_m=h, cell_size_m=cell, kernel="gaussian", repeat=3)
    cx, cy = grid.cell_centres()
    sample = rng.choice(cx.size, 2000, replace=False)
    sx, sy = cx.ravel()[sample], cy.ravel()[sample]
    exact = np.array([kernel_values(np.hypot(x - a, y - b), h, "gaussian").sum() for a, b in zip(sx, sy)])
    peak = grid.values.max()
    err_ours = np.abs(grid.values.ravel()[sample] - exact).max() / peak
    kde = KernelDensity(bandwidth=h, kernel="gaussian", rtol=1e-4).fit(np.c_[x, y])
    centres = np.c_[cx.ravel(), cy.ravel()]
    t_sk, log_density = timed(kde.score_samples, centres)
    sk = np.exp(log_density) * n * 1e6  # per km², as ours
    err_sk = np.abs(sk[sample] - exact).max() / peak
    return {"ours": t_ours, "sklearn": t_sk, "err_ours": err_ours, "err_sklearn": err_sk, "shape": grid.shape}


def bench_density() -> None:
    r = density_vs_sklearn()
    table("Kernel density, 10k points, 1000 x 1000 grid, Gaussian (target >= 1000x at <= 0.5% of peak)",
          ["method", "seconds", "max error / peak", "speed-up"],
          [[f"odgeo (grid {r['shape'][0]}x{r['shape'][1]})", f"{r['ours']:.3f}", f"{r['err_ours']:.2e}",
            f"{r['sklearn'] / r['ours']:.0f}x"],
           ["scikit-learn KernelDensity rtol=1e-4", f"{r['sklearn']:.2f}", f"{r['err_sklearn']:.2e}", "1x"]])


_CHILD = textwrap.dedent("""
    import json, resource, sys, time
    if {which!r} == "sklearn":  # cap the peer so "does not fit" is a MemoryError, not a dead machine
        cap = {cap_gb} * 1024 ** 3
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    import numpy as np
    sys.path.insert(0, {here!r})
    from run_benchmarks import city_points
    from odgeo.projection import project_points
    lon, lat = city_points({n})
    x, y, _ = project_points(lon, lat)
    warm = time.perf_counter()
    if {which!r} == "odgeo":  # numba loads its compiled code at the first call: timed apart
        from odgeo.clusters.dbscan import dbscan
        dbscan(x[:1000], y[:1000], eps_m=250.0, min_samples={ms})
    first_call = time.perf_counter() - warm
    start = time.perf_counter()
    if {which!r} == "odgeo":
        labels, core = dbscan(x, y, eps_m=250.0, min_samples={ms})
    else:
        from sklearn.cluster import DBSCAN
        model = DBSCAN(eps=250.0, min_samples={ms}).fit(np.c_[x, y])
        labels, core = model.labels_, np.isin(np.arange(len(x)), model.core_sample_indices_)
    seconds = time.perf_counter() - start
    np.save({out!r}, np.c_[labels, core])
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({{"seconds": seconds, "peak_mb": peak_mb, "first_call": first_call}}))
""")


def _child(which: str, n: int, min_samples: int, out: Path, timeout: float) -> dict:
    code = _CHILD.format(here=str(HERE), n=n, which=which, ms=min_samples, out=str(out), cap_gb=SKLEARN_CAP_GB)
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"seconds": None, "peak_mb": None, "note": f"stopped after {timeout:.0f} s"}
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1][:60] if done.stderr.strip() else f"exit {done.returncode}"
        return {"seconds": None, "peak_mb": None, "note": f"failed: {last} (cap {SKLEARN_CAP_GB} GB)"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_dbscan(sizes: list[int], sklearn_max: int) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            ms = 20
            ours = _child("odgeo", n, ms, Path(tmp) / "a.npy", timeout=600)
            if n <= sklearn_max:
                peer = _child("sklearn", n, ms, Path(tmp) / "b.npy", timeout=900)
            else:
                peer = {"seconds": None, "peak_mb": None, "note": "not run (neighbour lists exceed memory)"}
            same = "-"
            if peer.get("seconds") and ours.get("seconds"):
                a, b = np.load(Path(tmp) / "a.npy"), np.load(Path(tmp) / "b.npy")
                core = a[:, 1].astype(bool)
                same = "yes" if np.array_equal(a[:, 1], b[:, 1]) and np.array_equal(a[core, 0], b[core, 0]) else "NO"
            fmt = lambda v, f: f.format(v) if v is not None else "-"  # noqa: E731
            ratio = f"{peer['seconds'] / ours['seconds']:.1f}x" if peer.get("seconds") and ours.get("seconds") else "-"
            rows.append([f"{n:,}", fmt(ours["seconds"], "{:.3f}"), fmt(ours.get("first_call"), "{:.2f}"),
                         fmt(ours["peak_mb"], "{:.0f}"),
                         fmt(peer.get("seconds"), "{:.2f}"), fmt(peer.get("peak_mb"), "{:.0f}"), ratio, same,
                         peer.get("note", "")])
    table("DBSCAN, eps 250 m, min_samples 20 (target at 1M: <= 5 s, <= 1 GB)",
          ["points", "odgeo s", "odgeo load s", "odgeo peak MB", "sklearn s", "sklearn peak MB", "speed-up",
           "core labels equal", "note"], rows)


def write_city_csv(path: Path, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A CSV of n incidents over the synthetic city and two years; their lon, lat."""
    lon, lat = city_points(n, seed=7)
    rng = np.random.default_rng(7)
    days = rng.integers(0, 730, n)
    dates = (np.datetime64("2024-01-01") + days.astype("timedelta64[D]")).astype(str)
    outcome = np.where(rng.random(n) < 0.1, "fatal", "nonfatal")
    with open(path, "w") as fh:
        fh.write("incident_id,occurred_at,outcome,longitude,latitude\n")
        for i in range(n):
            fh.write(f"{i},{dates[i]},{outcome[i]},{lon[i]:.6f},{lat[i]:.6f}\n")
    return lon, lat


def hotspots_run(path: Path, out: Path, *options: str) -> dict:
    """``odgeo hotspots`` as a user runs it, in a process of its own: wall time (start-up included), peak MB."""
    cmd = [sys.executable, "-c",
           "import resource, sys\nfrom odgeo_cli.main import cli\n"
           "try:\n    cli(sys.argv[1:], standalone_mode=False)\n"
           "finally:\n    print('BENCH', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, file=sys.stderr)",
           "-q", "hotspots", str(path), "--out", str(out), "--overwrite", *options]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    line = [ln for ln in done.stderr.splitlines() if ln.startswith("BENCH")]
    record = json.loads((out / "run.json").read_text()) if done.returncode == 0 else {}
    return {"wall": wall, "peak_mb": float(line[-1].split()[1]) if line else float("nan"),
            "steps": record.get("timings_s", {}), "ok": done.returncode == 0, "error": done.stderr[-300:]}


def bench_hotspots(sizes: list[int]) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = Path(tmp) / f"in_{n}.csv"
            write_city_csv(path, n)
            run = hotspots_run(path, Path(tmp) / f"out_{n}")
            rows.append([f"{n:,}", f"{run['wall']:.1f}", f"{run['peak_mb']:.0f}",
                         " ".join(f"{k}={v:.1f}" for k, v in run["steps"].items()),
                         "ok" if run["ok"] else run["error"]])
    table("odgeo hotspots end to end, incidents with coordinates (target: 1M <= 10 s, <= 1 GB)",
          ["incidents", "wall s (incl. start-up)", "peak MB", "steps (s)", "status"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10k and 100k only")
    parser.add_argument("--sklearn-dbscan-max", type=int, default=1_000_000,
                        help="largest size to run scikit-learn's DBSCAN on (it needs ~20 GB at 1M)")
    parser.add_argument("--only", default="h3,density,dbscan,hotspots",
                        help="comma-separated benchmarks to run (default: all)")
    args = parser.parse_args()
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    only = set(args.only.split(","))
    print(f"odgeo benchmarks, python {sys.version.split()[0]}")
    if "h3" in only:
        bench_h3(sizes)
    if "density" in only:
        bench_density()
    if "dbscan" in only:
        bench_dbscan(sizes, args.sklearn_dbscan_max)
    if "hotspots" in only:
        bench_hotspots([n for n in sizes if n >= 100_000])


if __name__ == "__main__":
    main()
