"""ST-DBSCAN and HDBSCAN beside their peers, in the same run (each timed in a child process of its own).

    python benchmarks/st_clusters_benchmark.py [--sizes 10000,100000,1000000] [--hdbscan 100000]

Synthetic city (~20 km across, 30 hot spots) over two years. Rows:

- odgeo's ST-DBSCAN (eps 250 m, 2 days, min_samples 5) at each size; beside
  scikit-learn's DBSCAN on the precomputed space-time distance matrix
  max(d/eps, dt/eps_days) at 10k (its matrix is quadratic: 10k points is 0.8 GB),
  and QGIS's ``native:stdbscanclustering`` (up to 100k; the whole ``qgis_process`` run on a
  GeoPackage of the points; qgis_process 3.22 reads EPS2 in milliseconds) when QGIS is installed (Debian's ``qgis``);
- HDBSCAN at ``--hdbscan`` points: odgeo (the ``hdbscan`` package, Prim's tree: scikit-learn's
  labels plus cluster persistence) beside scikit-learn's ``HDBSCAN`` with the same settings and
  with its defaults, and the ``hdbscan`` package's faster Boruvka tree (other labels where
  mutual reachability ties: adjusted Rand index against scikit-learn's printed).

Targets (issue 16): ST-DBSCAN at 1M <= 2 s and <= 1 GB.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
from sklearn.metrics import adjusted_rand_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_benchmarks import table

HERE = Path(__file__).resolve().parent

SETUP = textwrap.dedent("""
    import json, resource, sys, time
    import numpy as np
    sys.path.insert(0, {root!r})
    sys.path.insert(0, {here!r})
    from run_benchmarks import city_points
    from odgeo.projection import project_points
    n = {n}
    x, y, crs = project_points(*city_points(n))
    t = np.random.default_rng(1).uniform(0, 730, n)
""")

CASES = {
    "odgeo": """
        from odgeo.clusters.st_dbscan import st_dbscan
        st_dbscan(x[:200], y[:200], t[:200], eps_m=250, eps_days=2, min_samples=5)  # compile (cached)
        start = time.perf_counter()
        labels, _ = st_dbscan(x, y, t, eps_m=250, eps_days=2, min_samples=5)
    """,
    "sklearn": """
        from sklearn.cluster import DBSCAN
        start = time.perf_counter()
        d = np.maximum(np.hypot(x[:, None] - x, y[:, None] - y) / 250, np.abs(t[:, None] - t) / 2)
        labels = DBSCAN(eps=1, min_samples=5, metric="precomputed").fit(d).labels_
    """,
    "hdbscan_odgeo": """
        from odgeo.jobs.cluster_steps import hdbscan_labels
        start = time.perf_counter()
        labels, _, _ = hdbscan_labels(x, y, min_cluster_size=15, min_samples=15)
    """,
    "hdbscan_same": """
        from sklearn.cluster import HDBSCAN
        start = time.perf_counter()
        labels = HDBSCAN(min_cluster_size=15, min_samples=15, copy=True).fit(np.column_stack([x, y])).labels_
    """,
    "hdbscan_boruvka": """
        import hdbscan
        start = time.perf_counter()
        labels = hdbscan.HDBSCAN(min_cluster_size=15, min_samples=14, algorithm="boruvka_kdtree",
                                 approx_min_span_tree=False).fit(np.column_stack([x, y])).labels_
    """,
    "hdbscan_sklearn": """
        from sklearn.cluster import HDBSCAN
        start = time.perf_counter()
        labels = HDBSCAN(copy=True).fit(np.column_stack([x, y])).labels_
    """,
}
REPORT = """
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    np.save({labels_path!r}, labels)
    print(json.dumps({{"seconds": seconds, "peak_gb": peak, "clusters": int(labels.max() + 1)}}))
"""


LABELS = Path(tempfile.mkdtemp(prefix="odgeo-bench-"))


def report(name: str) -> str:
    """The child's last lines: time, peak memory and cluster count printed, labels saved as ``name``."""
    return textwrap.dedent(REPORT.format(labels_path=str(LABELS / f"{name}.npy")))


def run(case: str, n: int) -> dict:
    code = SETUP.format(root=str(HERE.parent), here=str(HERE), n=n) + textwrap.dedent(CASES[case]) + \
        report(f"{case}-{n}")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def labels_of(case: str, n: int) -> np.ndarray:
    """The labels a run of ``case`` on ``n`` points saved."""
    return np.load(LABELS / f"{case}-{n}.npy")


QGIS_CASE = """
    import subprocess, tempfile, os, geopandas as gpd, pandas as pd
    folder = tempfile.mkdtemp()
    when = pd.Timestamp("2023-01-01") + pd.to_timedelta(t, unit="D")
    gpd.GeoDataFrame({{"when": when}}, geometry=gpd.points_from_xy(x, y), crs=crs).to_file(
        os.path.join(folder, "in.gpkg"))
    env = {{**os.environ, "QT_QPA_PLATFORM": "offscreen"}}
    start = time.perf_counter()
    done = subprocess.run([{binary!r}, "run", "native:stdbscanclustering", "--", "INPUT=" + folder + "/in.gpkg",
                           "DATETIME_FIELD=when", "MIN_SIZE=5", "EPS=250", "EPS2=172800000", "DBSCAN*=0",
                           "OUTPUT=" + folder + "/out.gpkg"], capture_output=True, text=True, env=env)
    line = [v for v in done.stdout.splitlines() if v.startswith("NUM_CLUSTERS")]
    labels = np.array([int(line[0].split(":")[1]) - 1]) if line else np.array([-2])  # REPORT prints max + 1
    print(done.stderr[-300:], file=sys.stderr)
"""


def qgis_binary() -> str | None:
    """qgis_process (Debian's wrapper passes an option its own binary refuses: call the binary)."""
    path = shutil.which("qgis_process")
    if path is None:
        return None
    return path + ".bin" if Path(path + ".bin").exists() else path


def qgis_row(n: int, ours: dict) -> list:
    """QGIS's ST-DBSCAN on the same points as a GeoPackage (the whole process, reading and writing included)."""
    binary = qgis_binary()
    if binary is None:
        return ["QGIS native:stdbscanclustering", f"{n:,}", "-", "-", "-", "qgis_process not installed"]
    code = SETUP.format(root=str(HERE.parent), here=str(HERE), n=n) + textwrap.dedent(QGIS_CASE.format(binary=binary)) \
        + report(f"qgis-{n}")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode:
        return ["QGIS native:stdbscanclustering", f"{n:,}", "-", "-", "-", done.stderr.strip().splitlines()[-1]]
    peer = json.loads(done.stdout.strip().splitlines()[-1])
    return ["QGIS native:stdbscanclustering (whole process)", f"{n:,}", f"{peer['seconds']:.2f}", "-",
            peer["clusters"], f"{peer['seconds'] / ours['seconds']:.0f}x slower"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--hdbscan", type=int, default=100_000)
    args = parser.parse_args()
    rows = []
    for n in [int(v) for v in args.sizes.split(",")]:
        ours = run("odgeo", n)
        rows.append(["odgeo ST-DBSCAN", f"{n:,}", f"{ours['seconds']:.2f}", f"{ours['peak_gb']:.2f}",
                     ours["clusters"], "1.0"])
        if n <= 10_000:
            peer = run("sklearn", n)
            if "error" in peer:
                rows.append(["scikit-learn DBSCAN, precomputed", f"{n:,}", "-", "-", "-", peer["error"]])
            else:
                rows.append(["scikit-learn DBSCAN, precomputed", f"{n:,}", f"{peer['seconds']:.2f}",
                             f"{peer['peak_gb']:.2f}", peer["clusters"],
                             f"{peer['seconds'] / ours['seconds']:.0f}x slower"])
        if n <= 100_000:
            rows.append(qgis_row(n, ours))
    table("ST-DBSCAN, eps 250 m and 2 days, min_samples 5, two years of a synthetic city",
          ["method", "points", "seconds", "peak GB", "clusters", "vs odgeo"], rows)
    n = args.hdbscan
    names = {"hdbscan_odgeo": "odgeo (hdbscan package, Prim's tree), min_cluster_size = min_samples = 15",
             "hdbscan_same": "scikit-learn HDBSCAN, the same settings",
             "hdbscan_boruvka": "hdbscan package, exact Boruvka tree (not used)",
             "hdbscan_sklearn": "scikit-learn HDBSCAN() defaults (min_cluster_size 5)"}
    results = {case: run(case, n) for case in names}
    same = labels_of("hdbscan_same", n)
    rows = [[names[case], f"{r['seconds']:.1f}", f"{r['peak_gb']:.2f}", r["clusters"],
             f"{adjusted_rand_score(same, labels_of(case, n)):.4f}" if case != "hdbscan_sklearn" else "-"]
            if "error" not in r else [names[case], "-", "-", "-", r["error"]] for case, r in results.items()]
    table(f"HDBSCAN, {n:,} points", ["run", "seconds", "peak GB", "clusters", "ARI vs scikit-learn, same settings"],
          rows)


if __name__ == "__main__":
    main()
