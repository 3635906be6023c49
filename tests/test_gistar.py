"""Gi* against PySAL's esda, the FDR bins against scipy, validity on the sample city and on
complete spatial randomness, and the optimized mode's decisions."""

from __future__ import annotations

import json
import warnings

import esda  # PySAL, a test dependency: the independent reference
import h3
import numpy as np
import pandas as pd
import pytest
import shapely
from libpysal.weights import W
from scipy import stats

from odgeo.errors import NoDataError, ParameterError
from odgeo.gistar.scale import Decisions, morans_i_z, optimized_scale
from odgeo.gistar.statistic import (
    cell_spacing_m,
    confidence_bins,
    gi_star_cells,
    gi_star_z,
    neighbours,
    permutation_p,
    ring_for_distance,
)
from odgeo.hexes import count_cells, points_to_cells
from odgeo.jobs.hotspots import HotspotSettings, run_hotspots
from odgeo.publish.leakscan import scan_public_outputs

from .conftest import SAMPLE, SAMPLE_TZ


def _pysal_weights(nb):
    m = nb.matrix.tocsr()
    return W({i: [int(j) for j in m.indices[m.indptr[i]:m.indptr[i + 1]] if j != i] for i in range(m.shape[0])},
             silence_warnings=True)


@pytest.fixture(scope="module")
def sample_gistar(sample_run):
    """Gi* at resolution 9 (cells 350 m apart), 1 ring: the scale of the planted hot spots."""
    result, _ = sample_run
    counts = count_cells(result.incidents, resolution=9, by_outcome=False)["count"]
    return gi_star_cells(counts, resolution=9, rings=1)


@pytest.mark.parametrize("rings", [1, 2, 3])
def test_z_scores_equal_esda(sample_run, rings):
    counts = sample_run[0].counts["count"]
    frame = gi_star_cells(counts, resolution=8, rings=rings).frame
    cells = np.array([h3.str_to_int(c) for c in frame["h3_cell"]], dtype=np.uint64)
    nb = neighbours(cells, rings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = esda.G_Local(frame["count"].to_numpy(float), _pysal_weights(nb), transform="B", star=True,
                                 permutations=0)
    assert np.abs(reference.Zs - frame["gi_z"].to_numpy()).max() < 1e-8
    assert (frame["count"] == 0).sum() > 0  # empty cells of the study area take part


def test_permutation_p_values_agree_with_esda(sample_gistar):
    frame = sample_gistar.frame
    cells = np.array([h3.str_to_int(c) for c in frame["h3_cell"]], dtype=np.uint64)
    nb = neighbours(cells, 1)
    x = frame["count"].to_numpy(float)
    ours = permutation_p(x, nb, 999, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = esda.G_Local(x, _pysal_weights(nb), transform="B", star=True, permutations=999, seed=3)
    # Two independent random draws of the same distribution: close, not equal.
    assert np.abs(ours - reference.p_sim).max() < 0.1
    assert np.corrcoef(ours, reference.p_sim)[0, 1] > 0.98
    assert ours.min() == pytest.approx(1 / 1000) and reference.p_sim.min() == pytest.approx(1 / 1000)


def test_fdr_bins_match_scipy_benjamini_hochberg():
    rng = np.random.default_rng(5)
    z = np.r_[rng.normal(0, 1, 300), rng.normal(3.5, 0.5, 30), -rng.normal(3.5, 0.5, 10)]
    p = 2 * stats.norm.sf(np.abs(z))
    bins = confidence_bins(z, p, "fdr")
    adjusted = stats.false_discovery_control(p, method="bh")
    for level, alpha in ((3, 0.01), (2, 0.05), (1, 0.10)):
        assert np.array_equal(np.abs(bins) >= level, adjusted <= alpha)
    assert np.array_equal(np.sign(bins[bins != 0]), np.sign(z[bins != 0]))
    none = confidence_bins(z, p, "none")
    assert (np.abs(none) >= 2).sum() > (np.abs(bins) >= 2).sum()  # uncorrected flags more
    bonferroni = confidence_bins(z, p, "bonferroni")
    assert np.array_equal(np.abs(bonferroni) == 3, p <= 0.01 / len(p))


def test_planted_hot_spots_are_hot_and_far_cells_are_not(sample_gistar, truth):
    frame = sample_gistar.frame.set_index("h3_cell")
    for spot in truth["hot_spots"]:
        lon, lat = spot["centre"]
        assert frame.loc[h3.latlng_to_cell(lat, lon, 9), "gi_bin"] == 3, spot["name"]
    structures = [s["centre"] for s in truth["hot_spots"]] + [truth["tight_cluster"]["centre"],
                                                               truth["centroid_pileup"]["location"]]
    far = []
    for cell in frame.index:
        lat, lon = h3.cell_to_latlng(cell)
        if min(_metres(lon, lat, *c) for c in structures) > 2000:
            far.append(cell)
    assert len(far) > 10
    assert (frame.loc[far, "gi_bin"] < 3).all()


def _metres(lon1, lat1, lon2, lat2):
    return np.hypot((lon1 - lon2) * 111_320 * np.cos(np.radians(lat1)), (lat1 - lat2) * 110_540)


def test_false_discovery_rate_holds_on_complete_spatial_randomness():
    """Uniform points in a rectangle, the rectangle as the study area."""
    window = shapely.box(-97.43, 38.176, -97.37, 38.224)
    shares = {"fdr": [], "none": []}
    for seed in range(200):
        rng = np.random.default_rng(seed)
        lon = -97.40 + rng.uniform(-0.03, 0.03, 600)
        lat = 38.20 + rng.uniform(-0.024, 0.024, 600)
        cells, counts = np.unique(points_to_cells(lon, lat, 8), return_counts=True)
        series = pd.Series(counts, index=[h3.int_to_str(int(c)) for c in cells])
        for correction in shares:
            frame = gi_star_cells(series, resolution=8, rings=1, correction=correction, boundary=window).frame
            shares[correction].append((frame["gi_bin"].abs() >= 2).mean())
    fdr, none = np.mean(shares["fdr"]), np.mean(shares["none"])
    assert fdr <= 0.05
    assert none > 2 * fdr  # without correction, visibly more cells are flagged by chance
    print(f"CSR, 200 runs: flagged at 95% after FDR {fdr:.4f}, uncorrected {none:.4f}")


def test_ring_conversion():
    assert ring_for_distance(cell_spacing_m(8) * 2.4, 8) == 2
    assert ring_for_distance(10, 8) == 1
    with pytest.raises(ParameterError, match="distance band"):
        ring_for_distance(-5, 8)


def test_morans_i_equals_esda(sample_gistar):
    frame = sample_gistar.frame
    cells = np.array([h3.str_to_int(c) for c in frame["h3_cell"]], dtype=np.uint64)
    nb = neighbours(cells, 1)
    x = frame["count"].to_numpy(float)
    moran, z = morans_i_z(x, nb)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = esda.Moran(x, _pysal_weights(nb), transformation="B", permutations=0)
    assert moran == pytest.approx(reference.I, abs=1e-10)
    assert z == pytest.approx(reference.z_norm, abs=1e-8)


def test_optimized_mode_decides_and_writes_it_down(tmp_path):
    result = run_hotspots(SAMPLE / "incidents.csv", tmp_path, HotspotSettings(timezone=SAMPLE_TZ, method="optimized"))
    record = json.loads((tmp_path / "run.json").read_text())
    assert "restricted" in record["decisions"]  # measured on the incidents: not in the public record
    decisions = [d["decision"] for d in result.record.sections["decisions"]]
    assert decisions[0].startswith("3,984 located incidents")
    assert any(d.startswith("H3 resolution") for d in decisions)
    assert any("distance band" in d for d in decisions)
    assert record["parameters"]["gi_resolution"]["source"] == "auto"
    assert result.gistar.settings["resolution"] == record["parameters"]["gi_resolution"]["value"]
    assert record["privacy"]["gistar"]["correction"] == "fdr"
    assert scan_public_outputs(tmp_path, result.incidents) == []
    frame = result.gistar.frame.set_index("h3_cell")
    res = result.gistar.settings["resolution"]
    for spot in json.loads((SAMPLE / "truth.json").read_text())["hot_spots"]:
        lon, lat = spot["centre"]
        assert frame.loc[h3.latlng_to_cell(lat, lon, res), "gi_bin"] == 3, spot["name"]


def test_optimized_mode_refuses_too_few_or_uniform_data():
    x = np.arange(20, dtype=float)
    with pytest.raises(NoDataError, match="at least 30 located incidents"):
        optimized_scale(x, x, x, x, Decisions())


def test_gi_star_of_equal_counts_is_zero():
    cells = np.array(sorted(h3.str_to_int(c) for c in h3.grid_disk(h3.latlng_to_cell(38.2, -97.4, 8), 2)),
                     dtype=np.uint64)
    assert np.all(gi_star_z(np.full(len(cells), 4.0), neighbours(cells, 1)) == 0)


def test_gistar_file_public_has_bins_only_restricted_has_numbers(sample_run, restricted_run):
    public = json.loads((sample_run[1] / "gistar.geojson").read_text())["features"]
    assert set(public[0]["properties"]) == {"h3_cell", "gi_bin"}
    restricted = json.loads((restricted_run[1] / "gistar.geojson").read_text())["features"]
    assert set(restricted[0]["properties"]) == {"h3_cell", "count", "gi_z", "gi_p", "gi_bin"}
    assert {f["properties"]["gi_bin"] for f in public} <= set(range(-3, 4))
