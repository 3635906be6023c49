"""Gi* and emerging hot spots: odgeo beside PySAL's esda doing the same work in the same run.

    python benchmarks/stats_benchmark.py [--esda-timeout 600]

- Gi* for 50,000 H3 cells (1 ring), analytic inference: odgeo (neighbours from
  H3 rings, one sparse product) vs ``esda.G_Local(star=True, transform="B",
  permutations=0)`` on the same weights (building the libpysal W is not timed);
- the same with 999 conditional permutations (esda in a child process with a
  time limit: without numba it runs in pure Python);
- emerging hot spots for 5,000 cells x 52 weeks: odgeo (space-time Gi*,
  Mann-Kendall, categories) vs the naive route: esda's G_Local for each week
  and scipy's kendalltau for each cell.

Targets (issue 4): Gi* analytic <= 1 s; 999 permutations <= 30 s; emerging <= 30 s.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
import warnings
from pathlib import Path

import h3
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_benchmarks import table


def _cells(n_target: int, resolution: int = 9) -> np.ndarray:
    centre = h3.latlng_to_cell(38.2, -97.4, resolution)
    k = 1
    while 3 * k * (k + 1) + 1 < n_target:
        k += 1
    return np.array(sorted(h3.str_to_int(c) for c in h3.grid_disk(centre, k)), dtype=np.uint64)


def _weights(nb):
    from libpysal.weights import W

    m = nb.matrix.tocsr()
    return W({i: [int(j) for j in m.indices[m.indptr[i]:m.indptr[i + 1]] if j != i] for i in range(m.shape[0])},
             silence_warnings=True)


def _esda_gi(x, w, permutations, queue):
    import esda

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        esda.G_Local(x, w, transform="B", star=True, permutations=permutations, seed=1)
        queue.put(time.perf_counter() - start)


def _timed_child(target, args, timeout: float) -> str:
    ctx = mp.get_context("spawn")  # fork after BLAS threads have started can hang the child
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    try:
        return f"{queue.get(timeout=timeout):.2f}"
    except Exception:  # queue.Empty: the time limit passed (or the child died)
        return f"> {timeout:.0f}" if proc.is_alive() else "failed"
    finally:
        proc.terminate()
        proc.join()


def bench_gistar(esda_timeout: float) -> None:
    from odgeo.gistar.statistic import confidence_bins, gi_star_z, neighbours, permutation_p

    cells = _cells(50_000)
    x = np.random.default_rng(0).poisson(2.0, len(cells)).astype(float)
    start = time.perf_counter()
    nb = neighbours(cells, 1)
    z = gi_star_z(x, nb)
    from scipy import stats

    confidence_bins(z, 2 * stats.norm.sf(np.abs(z)), "fdr")
    ours = time.perf_counter() - start
    w = _weights(nb)
    peer = _timed_child(_esda_gi, (x, w, 0), esda_timeout)
    rows = [[f"{len(cells):,}", "analytic", f"{ours:.2f}", peer]]
    start = time.perf_counter()
    permutation_p(x, nb, 999, seed=1)
    ours_perm = time.perf_counter() - start
    peer_perm = _timed_child(_esda_gi, (x, w, 999), esda_timeout)
    rows.append([f"{len(cells):,}", "999 permutations", f"{ours_perm:.2f}", peer_perm])
    table("Gi* on H3 cells, 1 ring (targets: analytic <= 1 s, 999 permutations <= 30 s)",
          ["cells", "inference", "odgeo s", "esda s"], rows)


def bench_emerging() -> None:
    import esda
    from scipy import stats

    from odgeo.gistar.emerging import emerging_hot_spots
    from odgeo.gistar.statistic import neighbours

    cells = _cells(5_000)
    rng = np.random.default_rng(0)
    cube = rng.poisson(1.0, (52, len(cells))).astype(float)
    names = [h3.int_to_str(int(c)) for c in cells]
    start = time.perf_counter()
    nb = neighbours(cells, 1)
    emerging_hot_spots(cube, names, [f"w{i}" for i in range(52)], nb)
    ours = time.perf_counter() - start
    w = _weights(nb)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zs = np.vstack([esda.G_Local(cube[t], w, transform="B", star=True, permutations=0).Zs for t in range(52)])
    t = np.arange(52)
    for c in range(len(cells)):
        stats.kendalltau(t, zs[:, c])
    peer = time.perf_counter() - start
    table("Emerging hot spots, 5,000 cells x 52 weeks (target <= 30 s)",
          ["cells x steps", "odgeo s", "esda G_Local per week + scipy kendalltau per cell, s", "ratio"],
          [[f"{len(cells):,} x 52", f"{ours:.2f}", f"{peer:.2f}", f"{peer / ours:.1f}x"]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--esda-timeout", type=float, default=600, help="seconds allowed to each esda run")
    args = parser.parse_args()
    print(f"odgeo statistics benchmarks, python {sys.version.split()[0]}")
    bench_gistar(args.esda_timeout)
    bench_emerging()


if __name__ == "__main__":
    main()
