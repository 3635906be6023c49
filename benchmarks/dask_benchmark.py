"""The Dask engine at scale: read, H3 counts, density and DBSCAN of 1M to 50M synthetic incidents.

    python benchmarks/dask_benchmark.py --sizes 1000000 10000000 --workers 2 --worker-memory 4GB

For each size the incidents are written (by the workers, so this process never holds
them) as a folder of CSV files and as a GeoParquet dataset; then, each in a process of
its own so that peaks are its own:

- dask: read_parts_dask (parts validated and held on the workers), their located incidents,
  count_cells_parts (res 8, by month), kernel_density_parts (500 m, 50 m cells), dbscan_parts
  (100 m, 15): wall time per step, peak memory of this process and of the busiest worker;
- memory: the same four steps in one process (read_incidents of one CSV of the same rows,
  count_cells, kernel_density, grid_dbscan), where the rows fit (``--memory-max``).

With ``--job``, the whole main job too: ``odgeo hotspots FOLDER --engine dask --scheduler``
on a fresh cluster of the same workers (every product written, map and GeoTIFF included),
beside ``odgeo hotspots ONE.csv`` in memory where it fits: wall time, the run's own
timings (run.json), the peak memory of the odgeo process and of the busiest worker.

The table gives each figure beside the in-memory one of the same run (ratios, not times:
the machine is shared), how the time grows per million incidents, and what a 4-node
cluster would take, estimated from the workers' busy time per step (the task stream).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run_benchmarks import table  # noqa: E402

ROWS_PER_FILE = 1_000_000
LAT0, LON0 = 41.85, -87.65


def write_chunk(folder: str, k: int, start: int, n: int, kind: str) -> int:
    """Rows start .. start+n of the synthetic city (seeded by k) as one CSV or GeoParquet file."""
    import geopandas as gpd
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(k)
    half = n // 2
    centres = np.random.default_rng(0).uniform(-8000, 8000, (30, 2))  # the same hot spots in every file
    spots = centres[rng.integers(0, 30, half)] + rng.normal(0, 1, (half, 2)) * rng.uniform(100, 600, (half, 1))
    xy = np.vstack([spots, rng.normal(0, 5000, (n - half, 2))])
    lat = LAT0 + xy[:, 1] / 111_195.0
    lon = LON0 + xy[:, 0] / (111_195.0 * np.cos(np.radians(LAT0)))
    days = rng.integers(0, 3650, n)
    dates = (np.datetime64("2016-01-01") + days.astype("timedelta64[D]")).astype("datetime64[s]")
    outcome = np.where(rng.random(n) < 0.1, "fatal", "nonfatal")
    ids = np.char.add("E", np.arange(start, start + n).astype(str))
    if kind == "csv":
        table = pa.table({"incident_id": ids, "occurred_at": np.datetime_as_string(dates), "outcome": outcome,
                          "longitude": np.round(lon, 6), "latitude": np.round(lat, 6)})
        pacsv.write_csv(table, Path(folder) / f"part-{k:04d}.csv")
    else:
        frame = gpd.GeoDataFrame({"incident_id": ids, "occurred_at": np.datetime_as_string(dates),
                                  "outcome": outcome}, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
        frame.to_parquet(Path(folder) / f"part-{k:04d}.parquet")
    return n


def make_data(root: Path, n: int, workers: int, one_csv: bool) -> dict[str, Path]:
    """The folders (and, for the in-memory peer, one CSV) of ``n`` incidents, written by a local cluster."""
    from odgeo.engine.choose import dask_client

    paths = {"csv": root / f"csv_{n}", "parquet": root / f"parquet_{n}"}
    chunks = [(k, k * ROWS_PER_FILE, min(ROWS_PER_FILE, n - k * ROWS_PER_FILE))
              for k in range(math.ceil(n / ROWS_PER_FILE))]
    with dask_client(workers=workers) as (client, _):
        for kind, folder in paths.items():
            folder.mkdir(parents=True, exist_ok=True)
            client.gather([client.submit(write_chunk, str(folder), k, s, m, kind, pure=False) for k, s, m in chunks])
    if one_csv:
        paths["one_csv"] = root / f"one_{n}.csv"
        with open(paths["one_csv"], "wb") as out:
            for i, part in enumerate(sorted(paths["csv"].glob("*.csv"))):
                data = part.read_bytes()
                out.write(data if i == 0 else data[data.index(b"\n") + 1:])
    return paths


_DASK_CHILD = r"""
import json, resource, sys, time
from distributed import get_task_stream, wait
from odgeo.engine.choose import dask_client
from odgeo.engine.dask_read import read_parts_dask
from odgeo.clusters.on_parts import dbscan_parts
from odgeo.density.on_parts import kernel_density_parts
from odgeo.engine.stages import count_cells_parts
from odgeo.projection import local_metric_crs
import numpy as np

source, workers, memory = sys.argv[1], int(sys.argv[2]), sys.argv[3]
out = {"steps": {}, "busy": {}}
with dask_client(workers=workers, worker_memory=memory) as (client, _):
    def step(name, func):
        start = time.perf_counter()
        with get_task_stream(client) as stream:
            result = func()
        out["steps"][name] = time.perf_counter() - start
        out["busy"][name] = sum(t["stop"] - t["start"] for task in stream.data
                                for t in task["startstops"] if t["action"] == "compute")
        return result
    def read():
        read_parts = read_parts_dask(source, client, timezone="UTC")
        wait(read_parts.reads)  # validated, rejects included, held on the workers
        return read_parts
    parts = step("read", read)
    def located_parts():
        futures = parts.located()
        wait(futures)  # the located parts made and held on the workers
        parts.reads = []  # the validated parts are let go: the stages need only these
        return futures
    located = step("located", located_parts)
    crs = local_metric_crs(np.array([-87.65]), np.array([41.85]))
    step("counts", lambda: count_cells_parts(client, located, resolution=8, period="month"))
    step("density", lambda: kernel_density_parts(client, located, crs=crs, bandwidth_m=500, cell_size_m=50))
    step("dbscan", lambda: dbscan_parts(client, located, crs=crs, eps_m=100, min_samples=15))
    out["worker_peak_mb"] = max(client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss).values()) / 1024
    out["n_input"] = parts.n_input
out["driver_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("RESULT", json.dumps(out))
"""

_MEMORY_CHILD = r"""
import json, resource, sys, time
from odgeo.density.kernel import kernel_density
from odgeo.clusters.grid import grid_dbscan
from odgeo.hexes import count_cells
from odgeo.incidents.read import read_incidents
from odgeo.projection import local_metric_crs, lonlat_of, project_points
from odgeo.schema import located
import numpy as np

out = {"steps": {}}
def step(name, func):
    start = time.perf_counter()
    result = func()
    out["steps"][name] = time.perf_counter() - start
    return result
read = step("read", lambda: read_incidents(sys.argv[1], timezone="UTC"))
used = step("located", lambda: located(read.incidents))
crs = local_metric_crs(np.array([-87.65]), np.array([41.85]))
step("counts", lambda: count_cells(used, resolution=8, period="month"))
x, y, _ = project_points(*lonlat_of(used.geometry), crs)
step("density", lambda: kernel_density(x, y, crs=crs, bandwidth_m=500, cell_size_m=50))
step("dbscan", lambda: grid_dbscan(x, y, 100.0, 15))
out["driver_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out["n_input"] = read.n_input
print("RESULT", json.dumps(out))
"""


_JOB_CHILD = r"""
import json, os, resource, subprocess, sys, tempfile, time
from distributed import get_task_stream
from odgeo.engine.choose import dask_client

source, workers, memory, odgeo = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
engine = ["--engine", "dask"] if workers else []

def run(extra):
    out = tempfile.mkdtemp()
    start = time.perf_counter()
    proc = subprocess.Popen([odgeo, "hotspots", source, "--timezone", "UTC", "--out", out, "--overwrite",
                             *engine, *extra], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status:
        print("RESULT", json.dumps({"error": (err.strip().splitlines() or ["failed"])[-1][:120]}))
        sys.exit()
    record = json.load(open(os.path.join(out, "run.json")))
    subprocess.run(["rm", "-rf", out])
    return {"wall": wall, "driver_peak_mb": usage.ru_maxrss / 1024, "timings": record["timings_s"]}

if workers:
    with dask_client(workers=workers, worker_memory=memory) as (client, _):
        with get_task_stream(client) as stream:
            result = run(["--scheduler", client.scheduler.address])
        result["busy"] = sum(t["stop"] - t["start"] for task in stream.data for t in task["startstops"]
                             if t["action"] == "compute")
        result["worker_peak_mb"] = max(client.run(
            lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss).values()) / 1024
else:
    result = run([])
print("RESULT", json.dumps(result))
"""


def job_rows(n: int, paths: dict[str, Path], args) -> list[list[str]]:
    """The whole ``odgeo hotspots`` on each input through Dask, and in memory on one CSV where it fits."""
    odgeo = str(Path(sys.executable).with_name("odgeo"))
    runs = [(kind, "dask", child(_JOB_CHILD, str(paths[kind]), str(args.workers), args.worker_memory, odgeo,
                                  timeout=args.timeout)) for kind in args.kinds]
    if "one_csv" in paths:
        runs.append(("one csv", "memory", child(_JOB_CHILD, str(paths["one_csv"]), "0", "", odgeo,
                                                timeout=args.timeout)))
    memory_wall = runs[-1][2].get("wall") if runs[-1][1] == "memory" else None
    rows = []
    for kind, engine, run in runs:
        if "error" in run:
            rows.append([f"{n:,}", kind, engine, run["error"], "", "", "", "", ""])
            continue
        steps = " ".join(f"{k} {v:.0f}" for k, v in run["timings"].items() if v >= 0.5)
        four_nodes = (f"{run['wall'] - run['busy'] / args.workers + run['busy'] / (4 * args.workers):.0f}"
                      if "busy" in run else "-")
        rows.append([f"{n:,}", kind, engine, steps, f"{run['wall']:.1f}",
                     f"{run['wall'] / memory_wall:.2f}x" if memory_wall else "-",
                     f"{run['driver_peak_mb']:.0f}", f"{run['worker_peak_mb']:.0f}" if "worker_peak_mb" in run else "-",
                     four_nodes])
    return rows


def child(code: str, *args: str, timeout: float) -> dict:
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"over {timeout:.0f} s"}
    wall = time.perf_counter() - start
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    if not lines:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1][:120]}
    result = json.loads(lines[-1][7:])
    result["wall"] = wall
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-memory", default="4GB")
    parser.add_argument("--memory-max", type=int, default=10_000_000, help="largest size run in memory too")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--tmp", help="folder for the data (default: a temporary folder)")
    parser.add_argument("--kinds", nargs="+", choices=["csv", "parquet"], default=["csv", "parquet"],
                        help="inputs to run through Dask: a folder of CSVs, a GeoParquet dataset")
    parser.add_argument("--job", action="store_true", help="also the whole odgeo hotspots, both engines")
    parser.add_argument("--job-only", action="store_true", help="only the whole odgeo hotspots")
    args = parser.parse_args()
    rows, per_million, jobs = [], [], []
    steps = ["read", "located", "counts", "density", "dbscan"]
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        for n in args.sizes:
            paths = make_data(Path(tmp), n, args.workers, one_csv=n <= args.memory_max)
            if args.job or args.job_only:
                jobs += job_rows(n, paths, args)
                print("job:", *("|".join(map(str, r)) for r in jobs if r[0] == f"{n:,}"), sep="\n  ", flush=True)
            if args.job_only:
                for path in paths.values():
                    subprocess.run(["rm", "-rf", str(path)], check=False)
                continue
            memory = child(_MEMORY_CHILD, str(paths["one_csv"]), timeout=args.timeout) if "one_csv" in paths else {}
            for kind in args.kinds:
                run = child(_DASK_CHILD, str(paths[kind]), str(args.workers), args.worker_memory,
                            timeout=args.timeout)
                if "error" in run:
                    rows.append([f"{n:,}", kind, "dask", run["error"], "", "", "", "", ""])
                    continue
                total = sum(run["steps"].values())
                busy = sum(run["busy"].values())
                four_nodes = total - busy / args.workers + busy / (4 * args.workers)
                ratio = (f"{total / sum(memory['steps'].values()):.2f}x" if memory.get("steps") else "-")
                rows.append([f"{n:,}", kind, "dask", " ".join(f"{run['steps'][s]:.1f}" for s in steps),
                             f"{total:.1f}", ratio, f"{run['driver_peak_mb']:.0f}", f"{run['worker_peak_mb']:.0f}",
                             f"{four_nodes:.1f}"])
                per_million.append((kind, n, total / (n / 1e6)))
            if memory.get("steps"):
                rows.append([f"{n:,}", "one csv", "memory", " ".join(f"{memory['steps'][s]:.1f}" for s in steps),
                             f"{sum(memory['steps'].values()):.1f}", "1x", f"{memory['driver_peak_mb']:.0f}", "-",
                             "-"])
            elif "error" in memory:
                rows.append([f"{n:,}", "one csv", "memory", memory["error"], "", "", "", "", ""])
            for path in paths.values():
                subprocess.run(["rm", "-rf", str(path)], check=False)
            print("done:", *("|".join(map(str, r)) for r in rows if r[0] == f"{n:,}"), sep="\n  ", flush=True)
    if jobs:
        table(f"Whole odgeo hotspots, {args.workers} local workers of {args.worker_memory} (run.json timings >= 0.5 s)",
              ["incidents", "input", "engine", "timings s", "wall s", "vs memory", "odgeo process MB",
               "worker peak MB", "4 nodes est. s"], jobs)
    if not rows:
        return
    table(f"Dask engine, {args.workers} local workers of {args.worker_memory} (steps: "
          + ", ".join(steps) + ")",
          ["incidents", "input", "engine", "steps s", "total s", "vs memory", "this process MB",
           "worker peak MB", "4 nodes est. s"], rows)
    if per_million:
        table("Time per million incidents (close to constant = linear growth)", ["input", "incidents", "s per 1M"],
              [[k, f"{n:,}", f"{t:.2f}"] for k, n, t in per_million])


if __name__ == "__main__":
    main()
