"""Naloxone siting: 500 candidates, 100,000 incidents, 20 new sites, 400 m, beside spopt's MCLP.

    python benchmarks/sites_benchmark.py [--incidents 100000] [--candidates 500] [--n-sites 20]

odgeo: straight-line coverage (k-d tree), exact merging of demand points covered by
the same candidates, HiGHS through scipy's milp. spopt: ``MCLP.from_cost_matrix``
on the same instance (incidents at one place merged, as spopt takes a demand
weight per point), solved with its default PuLP/CBC solver; building its dense
cost matrix is timed separately. Target (issue 7): <= 10 s to a proven optimum (or
a gap <= 1%).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_benchmarks import city_points, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--candidates", type=int, default=500)
    parser.add_argument("--n-sites", type=int, default=20)
    parser.add_argument("--radius", type=float, default=400.0)
    args = parser.parse_args()

    from odgeo.projection import project_points
    from odgeo.sites.coverage import coverage_problem, solve_max_coverage
    from odgeo.sites.network import straight_cover

    lon, lat = city_points(args.incidents, seed=21)
    x, y, _ = project_points(np.round(lon, 5), np.round(lat, 5))
    rng = np.random.default_rng(21)
    pick = rng.choice(args.incidents, args.candidates, replace=False)
    cand = np.c_[x[pick], y[pick]] + rng.normal(0, 150, (args.candidates, 2))
    start = time.perf_counter()
    places, inverse = np.unique(np.c_[x, y], axis=0, return_inverse=True)
    weights = np.bincount(inverse.ravel(), minlength=len(places)).astype(float)
    cover = straight_cover(cand, places, args.radius)
    problem = coverage_problem(weights, cover)
    build = time.perf_counter() - start
    solution = solve_max_coverage(problem, args.n_sites, time_limit=60)
    ours = [f"{build:.2f}", f"{solution.seconds:.2f}", f"{build + solution.seconds:.2f}",
            f"{solution.covered_weight / weights.sum():.4f}", solution.method, f"{solution.gap:.4%}",
            f"{len(places):,} points -> {len(problem.weights):,} groups"]
    rows = [["odgeo (HiGHS)", *ours]]
    try:
        import pulp
        from scipy.spatial.distance import cdist
        from spopt.locate import MCLP
    except ImportError as err:
        rows.append(["spopt", f"not installed ({err.name}): pip install spopt", "", "", "", "", "", ""])
    else:
        start = time.perf_counter()
        cost = cdist(places, cand)
        build_peer = time.perf_counter() - start
        start = time.perf_counter()
        model = MCLP.from_cost_matrix(cost, weights, service_radius=args.radius, p_facilities=args.n_sites)
        model = model.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=600))
        solve_peer = time.perf_counter() - start
        chosen = [j for j in range(args.candidates) if model.fac2cli[j]]
        covered = np.asarray(cover[:, chosen].sum(axis=1)).ravel() > 0
        rows.append(["spopt MCLP (CBC)", f"{build_peer:.2f}", f"{solve_peer:.2f}", f"{build_peer + solve_peer:.2f}",
                     f"{weights[covered].sum() / weights.sum():.4f}", pulp.LpStatus[model.problem.status], "",
                     f"{len(places):,} points, dense {cost.shape[0]:,} x {cost.shape[1]} cost matrix"])
    table(f"Maximal covering: {args.incidents:,} incidents, {args.candidates} candidates, N = {args.n_sites}, "
          f"{args.radius:g} m (target <= 10 s, proven optimum or gap <= 1%)",
          ["solver", "build s", "solve s", "total s", "share reached", "status", "gap", "model"], rows)


if __name__ == "__main__":
    main()
