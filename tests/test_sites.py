"""Naloxone siting: the MILP against brute force, existing sites kept, the greedy gap, walking
distance across a river, weights, capacities, and the command on the sample city."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from odgeo_cli.main import cli
from scipy import sparse

from odgeo.errors import InputFileError, ParameterError
from odgeo.incidents.read import read_incidents
from odgeo.publish.leakscan import scan_public_outputs
from odgeo.sites.candidates import read_sites
from odgeo.sites.coverage import (
    coverage_problem,
    covered_weight,
    greedy,
    lp_bound,
    solve_capacitated,
    solve_max_coverage,
    solve_target_share,
)
from odgeo.sites.network import network_cover, network_from_lines, straight_cover
from odgeo.sites.weights import incident_weights, parse_weight_spec

from .conftest import SAMPLE, SAMPLE_TZ


def _instance(seed, n_demand=60, n_cand=9, n_exist=2, radius=300.0):
    rng = np.random.default_rng(seed)
    demand = rng.uniform(0, 2000, (n_demand, 2))
    weights = rng.integers(1, 5, n_demand).astype(float)
    cand = rng.uniform(0, 2000, (n_cand, 2))
    exist = rng.uniform(0, 2000, (n_exist, 2))
    return weights, straight_cover(cand, demand, radius), straight_cover(exist, demand, radius)


def _brute(weights, cand_cover, exist_cover, n):
    fixed = np.asarray(exist_cover.sum(axis=1)).ravel() > 0
    best = -1.0
    for combo in itertools.combinations(range(cand_cover.shape[1]), n):
        hit = fixed | (np.asarray(cand_cover[:, list(combo)].sum(axis=1)).ravel() > 0)
        best = max(best, float(weights[hit].sum()))
    return best


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n", [1, 3])
def test_milp_equals_brute_force(seed, n):
    weights, cand, exist = _instance(seed)
    solution = solve_max_coverage(coverage_problem(weights, cand, exist), n)
    assert solution.method == "milp (optimal)" and solution.gap == 0.0
    assert len(solution.chosen) == n
    assert solution.covered_weight == pytest.approx(_brute(weights, cand, exist, n))


@pytest.mark.parametrize("seed", range(4))
def test_greedy_is_within_its_reported_gap(seed):
    weights, cand, exist = _instance(seed, n_demand=120, n_cand=12)
    problem = coverage_problem(weights, cand, exist)
    chosen = greedy(problem, 4)
    value = covered_weight(problem, chosen)
    bound = lp_bound(problem, 4)
    gap = (bound - value) / bound
    optimum = _brute(weights, cand, exist, 4)
    assert bound >= optimum - 1e-9 >= value - 1e-9
    assert value >= (1 - gap) * optimum - 1e-9


def test_merging_identical_demand_changes_nothing():
    weights, cand, exist = _instance(1)
    problem = coverage_problem(weights, cand, exist)
    assert len(problem.weights) < len(weights)
    fixed = np.asarray(exist.sum(axis=1)).ravel() > 0
    reachable = ~fixed & (np.asarray(cand.sum(axis=1)).ravel() > 0)
    assert problem.fixed_weight == weights[fixed].sum() and problem.weights.sum() == weights[reachable].sum()
    for combo in itertools.combinations(range(cand.shape[1]), 2):  # any choice covers the same weight
        hit = fixed | (np.asarray(cand[:, list(combo)].sum(axis=1)).ravel() > 0)
        assert covered_weight(problem, combo) == pytest.approx(weights[hit].sum())


def test_target_share_is_the_fewest_sites():
    weights, cand, exist = _instance(2, n_cand=8)
    problem = coverage_problem(weights, cand, exist)
    reachable = (problem.fixed_weight + problem.weights.sum()) / weights.sum()
    share = round(0.8 * reachable, 3)
    solution = solve_target_share(problem, share)
    k = len(solution.chosen)
    assert solution.covered_weight >= share * weights.sum() - 1e-9
    assert _brute(weights, cand, exist, k - 1) < share * weights.sum() if k > 0 else True
    with pytest.raises(ParameterError, match="cannot be reached"):
        solve_target_share(problem, min(1.0, reachable + 0.05) if reachable < 0.95 else 1.0)


def test_capacities_bind():
    # One candidate covers 5 units of demand but serves at most 2; another covers 3 and serves 3.
    demand = np.array([5.0, 3.0])
    cover = sparse.csr_matrix(np.array([[1, 0], [0, 1]]))
    solution = solve_capacitated(demand, cover, np.array([2.0, 3.0]), np.array([False, False]), 1)
    assert solution.chosen == [1] and solution.covered_weight == pytest.approx(3.0)
    both = solve_capacitated(demand, cover, np.array([2.0, 3.0]), np.array([False, False]), 2)
    assert both.covered_weight == pytest.approx(5.0)
    existing = solve_capacitated(demand, cover, np.array([2.0, 3.0]), np.array([True, False]), 1)
    assert existing.chosen == [1] and existing.covered_weight == pytest.approx(5.0)  # the existing one stays open


def test_a_site_across_a_river_without_a_bridge_does_not_cover_the_other_bank():
    # Two streets 150 m apart along the banks; the only bridge is 3 km away.
    north = shapely.LineString([(0, 150), (4000, 150)])
    south = shapely.LineString([(0, 0), (4000, 0)])
    bridge = shapely.LineString([(3500, 0), (3500, 150)])
    site = np.array([[1000.0, 150.0]])
    incident = np.array([[1000.0, 0.0], [1200.0, 150.0]])
    assert straight_cover(site, incident, 400).toarray().ravel().tolist() == [1, 1]
    network = network_from_lines([north, south], "EPSG:32614")
    assert network_cover(network, site, incident, 400).toarray().ravel().tolist() == [0, 1]
    with_far_bridge = network_from_lines([north, south, bridge], "EPSG:32614")
    assert network_cover(with_far_bridge, site, incident, 400).toarray().ravel().tolist() == [0, 1]
    near_bridge = network_from_lines([north, south, shapely.LineString([(1100, 0), (1100, 150)])], "EPSG:32614")
    assert network_cover(near_bridge, site, incident, 400).toarray().ravel().tolist() == [1, 1]  # 100+150+100


def test_weights(sample_run):
    incidents = sample_run[0].incidents
    assert parse_weight_spec("fatal=3, recent=365") == {"fatal": 3.0, "recent": 365.0}
    with pytest.raises(ParameterError, match="unknown weight 'age'"):
        parse_weight_spec("age=2")
    with pytest.raises(ParameterError, match="positive number"):
        parse_weight_spec("fatal=-1")
    w, info = incident_weights(incidents, "fatal=3")
    fatal = (incidents["outcome"] == "fatal").to_numpy()
    assert set(w[fatal]) == {3.0} and set(w[~fatal]) == {1.0}
    w, info = incident_weights(incidents, "recent=365")
    age = (incidents["occurred_at"].max() - incidents["occurred_at"]).dt.total_seconds() / 86400
    assert np.allclose(w, 0.5 ** (age / 365))
    w, info = incident_weights(incidents, equity=str(SAMPLE / "neighbourhoods.geojson"), equity_col="population")
    assert w.min() >= 1.0 and w.max() == pytest.approx(2.0) and info["equity"]["index_min"] > 0


def test_site_files_are_checked(tmp_path):
    sites = read_sites(SAMPLE / "candidate_sites.csv", capacity_col="capacity_per_month")
    assert sites["site_id"].iloc[0] == "S004" and "capacity" in sites
    (tmp_path / "dup.csv").write_text("site_id,name,longitude,latitude\nA,x,-97.4,38.2\nA,y,-97.41,38.2\n")
    with pytest.raises(InputFileError, match="site id 'A' appears more than once"):
        read_sites(tmp_path / "dup.csv")
    (tmp_path / "bad.csv").write_text("site_id,name,longitude,latitude\nA,x,-97.4,38.2\nB,y,,38.2\n")
    with pytest.raises(InputFileError, match="row 2 has no usable coordinates"):
        read_sites(tmp_path / "bad.csv")


@pytest.fixture(scope="module")
def sites_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sites")
    result = CliRunner().invoke(cli, [
        "sites", str(SAMPLE / "incidents.csv"), "--timezone", SAMPLE_TZ, "--out", str(out),
        "--candidates", str(SAMPLE / "candidate_sites.csv"), "--existing", str(SAMPLE / "existing_sites.csv"),
        "--n-sites", "4", "--train-until", "2025-06-30"])
    assert result.exit_code == 0, result.output
    return result, out


def test_sites_command_on_the_sample_city(sites_run):
    result, out = sites_run
    features = json.loads((out / "sites.geojson").read_text())["features"]
    existing = [f["properties"] for f in features if f["properties"]["status"] == "existing"]
    new = [f["properties"] for f in features if f["properties"]["status"] == "new"]
    existing_ids = set(pd.read_csv(SAMPLE / "existing_sites.csv")["site_id"])
    assert {e["site_id"] for e in existing} == existing_ids  # never dropped
    assert [n["rank"] for n in new] == [1, 2, 3, 4] and not ({n["site_id"] for n in new} & existing_ids)
    gains = [n["marginal_gain"] for n in new]
    assert gains == sorted(gains, reverse=True)
    curve = pd.read_csv(out / "coverage.csv")
    assert curve["n_new_sites"].tolist() == [0, 1, 2, 3, 4] and curve["share"].is_monotonic_increasing
    assert new[-1]["cumulative_share"] == pytest.approx(curve["share"].iloc[-1], abs=1e-3)
    record = json.loads((out / "run.json").read_text())
    assert record["solution"]["method"] == "milp (optimal)"
    assert 0 < record["out_of_time"]["percent_of_best_possible"] <= 100
    assert "Hold-out check" in result.output


def test_sites_public_products_are_clean(sites_run):
    _, out = sites_run
    incidents = read_incidents(SAMPLE / "incidents.csv", timezone=SAMPLE_TZ).incidents
    places = pd.concat([read_sites(SAMPLE / "candidate_sites.csv"), read_sites(SAMPLE / "existing_sites.csv")])
    assert scan_public_outputs(out, incidents, public_places=places) == []
