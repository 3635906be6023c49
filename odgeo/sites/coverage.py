"""Maximal covering location: which new sites, added to the existing ones, reach the most incidents.

Demand points carry weights (incidents); a site covers a demand point within
the radius (straight-line or along the streets: the caller gives the coverage
as a sparse demand x site matrix). Existing sites are always open, so what
they cover is fixed and leaves the model. Demand points covered by exactly
the same set of candidates are merged (their weights added): an exact
reduction that shrinks the model by orders of magnitude.

The model (Church and ReVelle 1974), solved with HiGHS through scipy's ``milp``::

    maximise  sum_i w_i z_i
    subject to z_i <= sum_{j covers i} y_j     for each demand group i
               sum_j y_j = N
               y_j in {0, 1}, 0 <= z_i <= 1

with a time limit; the optimality gap HiGHS proves is reported. When HiGHS
returns no solution, the greedy choice is used and reported as such, with its
gap measured against the LP relaxation's bound.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from ..errors import ParameterError

__all__ = [
    "CoverageProblem",
    "Solution",
    "coverage_problem",
    "covered_weight",
    "greedy",
    "solve_capacitated",
    "solve_max_coverage",
    "solve_target_share",
]


@dataclass
class CoverageProblem:
    """Demand groups not covered by existing sites, and which candidates cover each."""

    weights: np.ndarray  # per group
    cover: sparse.csr_matrix  # groups x candidates, 1 where the candidate covers the group
    fixed_weight: float  # weight already covered by the existing sites
    total_weight: float  # all demand

    @property
    def n_candidates(self) -> int:
        """Number of candidate sites."""
        return self.cover.shape[1]


def coverage_problem(weights: np.ndarray, cover: sparse.csr_matrix, existing: sparse.csr_matrix | None = None
                     ) -> CoverageProblem:
    """Reduce demand x candidate coverage to the groups that matter.

    Parameters
    ----------
    weights
        Each demand point's weight.
    cover
        Demand x candidate matrix, 1 where the candidate covers the point.
    existing
        Demand x existing-site coverage (None: no existing sites).

    Returns
    -------
    CoverageProblem
        Demand groups not covered by existing sites (points with the same candidates,
        their weights summed) and which candidates cover each.
    """
    weights = np.asarray(weights, dtype=float)
    cover = sparse.csr_matrix(cover, dtype=np.int8)
    fixed = np.zeros(len(weights), dtype=bool)
    if existing is not None and existing.shape[1]:
        fixed = np.asarray(sparse.csr_matrix(existing).sum(axis=1)).ravel() > 0
    free = ~fixed & (np.diff(cover.indptr) > 0)
    sub = cover[free]
    # Identical rows (same set of covering candidates) merge into one group.
    keys = [sub.indices[sub.indptr[i]:sub.indptr[i + 1]].tobytes() for i in range(sub.shape[0])]
    uniq, inverse = (np.unique(np.array(keys, dtype=object), return_inverse=True) if keys
                     else (np.zeros(0, dtype=object), np.zeros(0, int)))
    group_w = np.bincount(inverse, weights=weights[free], minlength=len(uniq)) if keys else np.zeros(0)
    first = np.zeros(len(uniq), dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(inverse))[::-1]
    groups = sub[first] if len(uniq) else sparse.csr_matrix((0, cover.shape[1]), dtype=np.int8)
    return CoverageProblem(group_w, sparse.csr_matrix(groups), float(weights[fixed].sum()), float(weights.sum()))


@dataclass
class Solution:
    """Chosen sites, the weight they cover and how the solver got there."""

    chosen: list[int]  # candidate indices, in no particular order
    covered_weight: float  # including what the existing sites cover
    method: str  # "milp (optimal)", "milp (time limit)", "greedy (fallback)"
    gap: float  # relative optimality gap proven (0 = optimal)
    seconds: float
    details: dict = field(default_factory=dict)


def covered_weight(problem: CoverageProblem, chosen) -> float:
    """Weight covered by the existing sites and the chosen candidates."""
    if len(chosen) == 0:
        return problem.fixed_weight
    hit = np.asarray(problem.cover[:, list(chosen)].sum(axis=1)).ravel() > 0
    return problem.fixed_weight + float(problem.weights[hit].sum())


def _model(problem: CoverageProblem, n_sites: int):
    g, c = problem.cover.shape
    # Variables: y (c candidates), then z (g groups). Objective: minimise -w.z.
    objective = np.r_[np.zeros(c), -problem.weights]
    link = sparse.hstack([-problem.cover.astype(float), sparse.identity(g)], format="csr")  # z - sum y <= 0
    count = sparse.csr_matrix(np.r_[np.ones(c), np.zeros(g)][None, :])
    constraints = [LinearConstraint(link, -np.inf, 0.0), LinearConstraint(count, n_sites, n_sites)]
    integrality = np.r_[np.ones(c), np.zeros(g)]
    return objective, constraints, integrality, Bounds(0, 1)


def solve_max_coverage(problem: CoverageProblem, n_sites: int, *, time_limit: float = 60.0,
                       mip_rel_gap: float = 1e-6) -> Solution:
    """The N candidates that, with the existing sites, cover the most weight."""
    c = problem.n_candidates
    if not 0 <= n_sites <= c:
        raise ParameterError(f"`n_sites` must be between 0 and the {c} candidates, not {n_sites}")
    start = time.perf_counter()
    if n_sites == 0 or len(problem.weights) == 0:
        chosen = greedy(problem, n_sites)
        return Solution(chosen, covered_weight(problem, chosen), "trivial (nothing to choose)", 0.0,
                        time.perf_counter() - start)
    objective, constraints, integrality, bounds = _model(problem, n_sites)
    result = milp(objective, constraints=constraints, integrality=integrality, bounds=bounds,
                  options={"time_limit": float(time_limit), "mip_rel_gap": mip_rel_gap, "disp": False})
    seconds = time.perf_counter() - start
    if result.x is not None:
        chosen = sorted(int(j) for j in np.flatnonzero(result.x[:c] > 0.5))
        value = covered_weight(problem, chosen)
        gap = float(getattr(result, "mip_gap", 0.0) or 0.0)
        optimal = result.status == 0
        return Solution(chosen, value, "milp (optimal)" if optimal else "milp (time limit)",
                        gap if not optimal or gap > mip_rel_gap else 0.0, seconds,
                        {"solver": "HiGHS via scipy.optimize.milp", "status": result.message,
                         "groups": len(problem.weights), "candidates": c})
    chosen = greedy(problem, n_sites)
    value = covered_weight(problem, chosen)
    bound = lp_bound(problem, n_sites)
    gap = (bound - value) / bound if bound > 0 else 0.0
    return Solution(chosen, value, "greedy (fallback)", float(gap), time.perf_counter() - start,
                    {"reason": result.message, "lp_bound": bound})


def lp_bound(problem: CoverageProblem, n_sites: int) -> float:
    """An upper bound on the covered weight: the LP relaxation plus the fixed weight."""
    objective, constraints, _, _ = _model(problem, n_sites)
    a_ub = constraints[0].A
    a_eq = constraints[1].A
    res = linprog(objective, A_ub=a_ub, b_ub=np.zeros(a_ub.shape[0]), A_eq=a_eq, b_eq=[n_sites],
                  bounds=(0, 1), method="highs")
    return problem.fixed_weight + (-res.fun if res.status == 0 else float(problem.weights.sum()))


def greedy(problem: CoverageProblem, n_sites: int) -> list[int]:
    """Add, one at a time, the candidate that covers the most weight not yet covered."""
    cover = problem.cover.tocsc()
    uncovered = np.ones(len(problem.weights), dtype=bool)
    chosen: list[int] = []
    for _ in range(n_sites):
        gains = cover.T @ (problem.weights * uncovered)
        gains[chosen] = -1
        best = int(np.argmax(gains))
        chosen.append(best)
        uncovered[cover[:, best].indices] = False
    return chosen


def solve_target_share(problem: CoverageProblem, share: float, *, time_limit: float = 60.0) -> Solution:
    """The fewest candidates that, with the existing sites, cover ``share`` of the weight."""
    if not 0 < share <= 1:
        raise ParameterError(f"`target` must be a share between 0 and 1 (for example 0.5), not {share!r}")
    need = share * problem.total_weight - problem.fixed_weight
    start = time.perf_counter()
    if need <= 0:
        return Solution([], problem.fixed_weight, "existing sites suffice", 0.0, time.perf_counter() - start)
    reachable = problem.fixed_weight + problem.weights.sum()
    if reachable + 1e-9 < share * problem.total_weight:
        raise ParameterError(f"`target` {share:g} cannot be reached: all candidates and existing sites together "
                             f"reach {reachable / problem.total_weight:.1%} of the incidents")
    g, c = problem.cover.shape
    objective = np.r_[np.ones(c), np.zeros(g)]
    link = sparse.hstack([-problem.cover.astype(float), sparse.identity(g)], format="csr")
    reach = sparse.csr_matrix(np.r_[np.zeros(c), problem.weights][None, :])
    result = milp(objective, constraints=[LinearConstraint(link, -np.inf, 0.0), LinearConstraint(reach, need, np.inf)],
                  integrality=np.r_[np.ones(c), np.zeros(g)], bounds=Bounds(0, 1),
                  options={"time_limit": float(time_limit), "disp": False})
    if result.x is None:
        raise ParameterError(f"`target`: no solution within {time_limit:g} s ({result.message})")
    chosen = sorted(int(j) for j in np.flatnonzero(result.x[:c] > 0.5))
    return Solution(chosen, covered_weight(problem, chosen),
                    "milp (optimal)" if result.status == 0 else "milp (time limit)",
                    float(getattr(result, "mip_gap", 0.0) or 0.0) if result.status != 0 else 0.0,
                    time.perf_counter() - start)


def solve_capacitated(demand: np.ndarray, cover: sparse.csr_matrix, capacity: np.ndarray, existing: np.ndarray,
                      n_sites: int, *, time_limit: float = 60.0) -> Solution:
    """Capacitated coverage: sites serve at most their capacity of the demand they cover.

    Maximises the demand served: each demand point's demand is shared among the
    open sites covering it, no site serving more than its capacity.

    Parameters
    ----------
    demand
        Per demand point (incidents per month, weighted).
    cover
        Demand x site (existing and candidate sites together).
    capacity
        Per site (kits per month).
    existing
        A boolean per site (always open).
    n_sites
        How many candidate sites to open.
    time_limit
        The solver's limit in seconds.

    Returns
    -------
    Solution
        The sites chosen, the demand served and how the solver got there.
    """
    cover = sparse.csr_matrix(cover)
    demand = np.asarray(demand, dtype=float)
    capacity = np.asarray(capacity, dtype=float)
    existing = np.asarray(existing, dtype=bool)
    n_dem, n_site = cover.shape
    if not 0 <= n_sites <= int((~existing).sum()):
        raise ParameterError(f"`n_sites` must be between 0 and the {int((~existing).sum())} candidates")
    start = time.perf_counter()
    coo = cover.tocoo()
    pairs = len(coo.data)
    # Variables: y (n_site), then x per (demand, site) pair.
    objective = np.r_[np.zeros(n_site), -np.ones(pairs)]
    rows_d = sparse.csr_matrix((np.ones(pairs), (coo.row, n_site + np.arange(pairs))), shape=(n_dem, n_site + pairs))
    served = sparse.csr_matrix((np.ones(pairs), (coo.col, n_site + np.arange(pairs))), shape=(n_site, n_site + pairs))
    cap = sparse.hstack([sparse.diags(-capacity), sparse.csr_matrix((n_site, pairs))], format="csr")
    count = sparse.csr_matrix(np.r_[(~existing).astype(float), np.zeros(pairs)][None, :])
    constraints = [LinearConstraint(rows_d, -np.inf, demand), LinearConstraint(served + cap, -np.inf, 0.0),
                   LinearConstraint(count, n_sites, n_sites)]
    lower = np.r_[existing.astype(float), np.zeros(pairs)]
    upper = np.r_[np.ones(n_site), np.full(pairs, np.inf)]
    result = milp(objective, constraints=constraints, integrality=np.r_[np.ones(n_site), np.zeros(pairs)],
                  bounds=Bounds(lower, upper), options={"time_limit": float(time_limit), "disp": False})
    if result.x is None:
        raise ParameterError(f"capacitated coverage found no solution within {time_limit:g} s ({result.message})")
    chosen = sorted(int(j) for j in np.flatnonzero((result.x[:n_site] > 0.5) & ~existing))
    value = float(-result.fun)
    optimal = result.status == 0
    return Solution(chosen, value, "milp (optimal)" if optimal else "milp (time limit)",
                    0.0 if optimal else float(getattr(result, "mip_gap", 0.0) or 0.0), time.perf_counter() - start,
                    {"served_per_site_per_month": [round(float(v), 3) for v in
                                                   np.asarray(served[:, n_site:] @ result.x[n_site:]).ravel()],
                     "demand_per_month": round(float(demand.sum()), 3)})
