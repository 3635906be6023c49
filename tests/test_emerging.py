"""Emerging hot spots: Mann-Kendall against scipy and brute force, space-time Gi* against a
loop over bins, categories on planted patterns, and the command on the sample city."""

from __future__ import annotations

import json

import geopandas as gpd
import h3
import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from odgeo_cli.main import cli
from scipy import stats

from odgeo.errors import NoDataError
from odgeo.gistar.emerging import CATEGORIES, categorise, emerging_hot_spots, mann_kendall, space_time_gi_star
from odgeo.gistar.statistic import neighbours
from odgeo.jobs.emerging import EmergingSettings, run_emerging
from odgeo.publish.leakscan import scan_public_outputs

from .conftest import SAMPLE, SAMPLE_TZ


def test_mann_kendall_matches_scipy_and_brute_force():
    rng = np.random.default_rng(2)
    series = np.vstack([rng.normal(size=24) + k * np.arange(24) * 0.1 for k in range(-3, 4)])
    mk = mann_kendall(series)
    t = np.arange(24)
    for i, row in enumerate(series):
        brute = sum(np.sign(row[j] - row[k]) for k in range(24) for j in range(k + 1, 24))
        assert mk["s"][i] == brute
        tau, p = stats.kendalltau(t, row, method="asymptotic")
        assert mk["tau"][i] == pytest.approx(tau, abs=1e-12)  # no ties: tau-a equals tau-b
        assert mk["p"][i] == pytest.approx(p, abs=0.03)  # ours has the continuity correction
    flat = mann_kendall(np.zeros((1, 12)))
    assert flat["p"][0] == 1.0 and flat["tau"][0] == 0.0


def _disk(rings=6):
    centre = h3.latlng_to_cell(38.2, -97.4, 8)
    return np.array(sorted(h3.str_to_int(c) for c in h3.grid_disk(centre, rings)), dtype=np.uint64), centre


def test_space_time_gi_star_equals_a_loop_over_bins():
    cells, _ = _disk(2)
    nb = neighbours(cells, 1)
    rng = np.random.default_rng(0)
    cube = rng.poisson(2.0, size=(6, len(cells))).astype(float)
    z = space_time_gi_star(cube, nb, time_window=1)
    n, x = cube.size, cube.ravel()
    mean, s = x.mean(), x.std()
    m = nb.matrix.toarray()
    for t in range(6):
        for c in range(len(cells)):
            steps = [u for u in (t - 1, t) if u >= 0]
            total = sum(cube[u] @ m[c] for u in steps)
            w = len(steps) * m[c].sum()
            expected = (total - mean * w) / (s * np.sqrt((n * w - w * w) / (n - 1)))
            assert z[t, c] == pytest.approx(expected, abs=1e-10)


def _planted(pattern: str, steps: int = 24, seed: int = 0):
    """A background of Poisson(1) per cell and step, and a pattern planted in a cell and its ring."""
    cells, centre = _disk()
    rng = np.random.default_rng(seed)
    cube = rng.poisson(1.0, size=(steps, len(cells))).astype(float)
    spot = np.searchsorted(cells, [h3.str_to_int(c) for c in h3.grid_disk(centre, 1)])
    t = np.arange(steps)
    rate = {"steady": np.full(steps, 8.0), "growing": 4.0 + 0.5 * t,
            "faded": np.where(t < steps - 2, 8.0, 0.0), "new": np.where(t == steps - 1, 14.0, 0.0)}[pattern]
    for step in range(steps):
        cube[step, spot] = rng.poisson(rate[step], size=len(spot)) + (0 if pattern != "new" else cube[step, spot])
    names = [h3.int_to_str(int(c)) for c in cells]
    result = emerging_hot_spots(cube, names, [f"s{i}" for i in range(steps)], neighbours(cells, 1))
    return result.table.set_index("h3_cell").loc[centre]


@pytest.mark.parametrize("pattern, expected", [
    ("steady", {"persistent hot spot"}),
    ("growing", {"intensifying hot spot", "new hot spot"}),
    ("faded", {"historical hot spot", "sporadic hot spot"}),
    ("new", {"new hot spot"}),
])
def test_planted_patterns_get_their_category(pattern, expected):
    for seed in range(3):
        row = _planted(pattern, seed=seed)
        assert row["category"] in expected, (pattern, seed, row.to_dict())


def test_category_rules_on_hand_made_histories():
    # steps x cells: each column is one cell's history of hot (1), cold (-1) or neither (0).
    histories = np.array([
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 1],  # new
        [0, 0, 0, 0, 0, 0, 0, 0, 1, 1],  # consecutive
        [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],  # persistent (no trend)
        [0, 1, 0, 1, 0, 0, 1, 0, 0, 1],  # sporadic
        [-1, 0, 0, 1, 0, 0, 1, 0, 0, 1],  # oscillating
        [1, 1, 1, 1, 1, 1, 1, 1, 1, 0],  # historical
        [0, 0, 0, 0, 0, 0, 0, 0, 0, -1],  # new cold
    ]).T
    hot, cold = histories == 1, histories == -1
    zeros = np.zeros(histories.shape[1])
    got = categorise(hot, cold, zeros, np.ones_like(zeros)).tolist()
    assert got == ["new hot spot", "consecutive hot spot", "persistent hot spot", "sporadic hot spot",
                   "oscillating hot spot", "historical hot spot", "new cold spot"]
    rising = categorise(hot, cold, np.ones_like(zeros), np.zeros_like(zeros))
    assert rising[2] == "intensifying hot spot"
    assert categorise(hot, cold, -np.ones_like(zeros), np.zeros_like(zeros))[2] == "diminishing hot spot"


@pytest.fixture(scope="module")
def emerging_public(tmp_path_factory):
    out = tmp_path_factory.mktemp("emerging")
    run = run_emerging(SAMPLE / "incidents.csv", out, EmergingSettings(timezone=SAMPLE_TZ, resolution=9))
    return run, out


def test_sample_city_categories(emerging_public, truth):
    run, out = emerging_public
    record = json.loads((out / "run.json").read_text())
    assert record["emerging"]["step"] == "month" and record["emerging"]["n_steps"] == 24
    doc = json.loads((out / "emerging.geojson").read_text())
    props = doc["features"][0]["properties"]
    # Public: a category per published area (cells merged to hold 10), no trend statistics.
    assert set(props) == {"h3_cell", "h3_resolution", "merged", "n_fine_cells", "category"}
    areas = gpd.GeoDataFrame.from_features(doc["features"], crs="EPSG:4326")
    steady_area = areas[areas.contains(shapely.Point(truth["hot_spots"][0]["centre"]))]
    assert steady_area["category"].iloc[0].endswith("hot spot")
    table = run.result.table.set_index("h3_cell")
    assert set(table["category"]) <= set(CATEGORIES)
    steady, growing, fading = (table.loc[h3.latlng_to_cell(s["centre"][1], s["centre"][0], 9)]
                               for s in truth["hot_spots"])
    assert steady["category"] == "persistent hot spot"
    # The growing spot starts from almost nothing: hot only in its later months, trend up.
    assert growing["category"].endswith("hot spot") and growing["mk_tau"] > 0.3 and growing["mk_p"] < 0.05
    assert fading["mk_tau"] < -0.3 and fading["mk_p"] < 0.05
    assert scan_public_outputs(out, run.incidents) == []


def test_restricted_emerging_carries_counts(tmp_path):
    result = CliRunner().invoke(cli, ["emerging", str(SAMPLE / "incidents.csv"), "--out", str(tmp_path),
                                      "--timezone", SAMPLE_TZ, "--audience", "restricted", "--step", "week"])
    assert result.exit_code == 0, result.output
    assert "Cube:" in result.output and "weeks" in result.output
    props = json.loads((tmp_path / "emerging.geojson").read_text())["features"][0]["properties"]
    assert "count" in props
    assert "RESTRICTED" in (tmp_path / "map.html").read_text()


def test_too_few_steps_is_one_clear_line(tmp_path):
    csv = tmp_path / "short.csv"
    csv.write_text("occurred_at,longitude,latitude\n2025-01-01,-97.4,38.2\n2025-01-20,-97.41,38.21\n")
    with pytest.raises(NoDataError, match="at least 10 time steps"):
        run_emerging(csv, tmp_path / "out", EmergingSettings())


def test_emerging_map_opens_on_the_cells(emerging_public):
    import re

    _, out = emerging_public
    page = (out / "map.html").read_text()
    match = re.search(r"fitBounds\(\s*\[\[([-\d.]+), ([-\d.]+)\], \[([-\d.]+), ([-\d.]+)\]\]", page)
    assert match, "the map does not fit its bounds"
    south, west, north, east = map(float, match.groups())
    assert 38.1 < south < north < 38.3 and -97.5 < west < east < -97.3
