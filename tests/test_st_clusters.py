"""ST-DBSCAN against scikit-learn on the space-time distance; ST-DBSCAN and HDBSCAN in odgeo hotspots."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import DBSCAN, HDBSCAN

from cli.main import cli
from odgeo.clusters.st_dbscan import st_dbscan
from odgeo.errors import ParameterError
from odgeo.jobs.cluster_steps import first_seen_numbering, hdbscan_labels
from odgeo.jobs.hotspots import HotspotSettings, run_hotspots

from .conftest import SAMPLE, SAMPLE_TZ


def _scene(seed: int, n: int):
    """Blobs in space and days, background, duplicates (one address, one day), some undated points."""
    rng = np.random.default_rng(seed)
    k = n // 2
    centres = rng.uniform(0, 2000, (5, 3)) * [1, 1, 0.02]
    pick = rng.integers(0, 5, k)
    blob = centres[pick] + rng.normal(0, 1, (k, 3)) * [rng.uniform(20, 120), rng.uniform(20, 120), 1.0]
    rest = rng.uniform(0, 2000, (n - k, 3)) * [1, 1, 0.02]
    pts = np.vstack([blob, rest])
    pts[:, :2], pts[:, 2] = np.round(pts[:, :2], 1), np.round(pts[:, 2], 2)  # exact-eps distances happen
    dup = rng.integers(0, n, n // 6)
    pts = np.vstack([pts, pts[dup]])
    pts[rng.random(len(pts)) < 0.03, 2] = np.nan
    return pts[:, 0], pts[:, 1], pts[:, 2]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 600), st.floats(10, 300), st.floats(0.05, 5), st.integers(1, 12))
def test_labels_equal_scikit_learn_on_the_space_time_distance(seed, n, eps, eps_days, min_samples):
    x, y, t = _scene(seed, n)
    labels, core = st_dbscan(x, y, t, eps_m=eps, eps_days=eps_days, min_samples=min_samples)
    dated = np.isfinite(t)
    assert (labels[~dated] == -1).all() and not core[~dated].any()  # undated points are noise
    xd, yd, td = x[dated], y[dated], t[dated]
    distance = np.maximum(np.hypot(xd[:, None] - xd, yd[:, None] - yd) / eps, np.abs(td[:, None] - td) / eps_days)
    if not len(xd):
        return
    ref = DBSCAN(eps=1.0, min_samples=min_samples, metric="precomputed").fit(distance)
    ref_core = np.zeros(len(xd), dtype=bool)
    ref_core[ref.core_sample_indices_] = True
    mine, mine_core = labels[dated], core[dated]
    assert np.array_equal(mine_core, ref_core)
    assert np.array_equal(mine[mine_core], ref.labels_[mine_core])
    assert np.array_equal(mine == -1, ref.labels_ == -1)  # border points differ at most in which cluster


def test_one_address_on_one_day_is_a_cluster_of_duplicates():
    x, y, t = np.zeros(6), np.zeros(6), np.full(6, 100.0)
    labels, core = st_dbscan(x, y, t, eps_m=50, eps_days=1, min_samples=5)
    assert (labels == 0).all() and core.all()
    labels, _ = st_dbscan(x, y, np.arange(6) * 10.0, eps_m=50, eps_days=1, min_samples=5)
    assert (labels == -1).all()  # the same address on days far apart: no space-time cluster


def test_bad_distances_are_named():
    with pytest.raises(ParameterError, match="--eps-days"):
        st_dbscan(np.zeros(2), np.zeros(2), np.zeros(2), eps_m=10, eps_days=0, min_samples=2)


def _sample(tmp_path, name, **kw):
    return run_hotspots(SAMPLE / "incidents.csv", tmp_path / name,
                        HotspotSettings(timezone=SAMPLE_TZ, audience="restricted", eps_m=250, min_samples=10, **kw))


def test_st_dbscan_finds_the_august_spike_that_dbscan_merges_into_the_chronic_cluster(tmp_path, truth):
    spike = set(truth["spike"]["incident_ids"])
    space = _sample(tmp_path, "dbscan")
    time = _sample(tmp_path, "st", cluster_method="st-dbscan", eps_days=2)
    ids = time.incidents["incident_id"].to_numpy()
    in_spike = np.isin(ids, list(spike))

    def cluster_of_spike(labels):
        values, counts = np.unique(labels[in_spike], return_counts=True)
        return values[np.argmax(counts)]

    merged = cluster_of_spike(space.labels)
    assert merged >= 0 and (space.labels == merged).sum() > 1000  # DBSCAN: part of the neighbourhood's cluster
    found = cluster_of_spike(time.labels)
    members = time.labels == found
    assert found >= 0 and members.sum() <= 40 and (members & in_spike).sum() >= 28
    row = time.clusters[time.clusters["cluster_id"] == found + 1].iloc[0]
    assert row["duration_days"] < truth["spike"]["days"]
    record = json.loads((tmp_path / "st" / "run.json").read_text())
    assert record["parameters"]["cluster_method"]["value"] == "st-dbscan"
    assert record["parameters"]["eps_days"]["value"] == 2
    html = (tmp_path / "st" / "map.html").read_text()
    assert f"31 overdoses within {row['radius_m']:,.0f} m over 4 days, 12 Aug to 15 Aug 2025" in html
    assert "ST-DBSCAN clusters (places and days)" in html
    assert 100 <= row["radius_m"] <= 400  # planted within 220 m of its centre


def test_hdbscan_labels_are_scikit_learns_with_membership_strength(tmp_path):
    run = _sample(tmp_path, "hd", cluster_method="hdbscan", min_cluster_size=30)
    x, y = run.incidents.geometry.to_crs(run.grid.crs).x, run.incidents.geometry.to_crs(run.grid.crs).y
    ref = HDBSCAN(min_cluster_size=30, min_samples=10, copy=True).fit(np.column_stack([x, y]))
    assert np.array_equal(run.labels, first_seen_numbering(ref.labels_))
    assert len(run.clusters) == ref.labels_.max() + 1
    assert run.clusters["mean_probability"].between(0, 1).all()
    first = run.clusters.iloc[0]
    assert first["mean_probability"] == pytest.approx(ref.probabilities_[run.labels == 0].mean(), abs=1e-3)
    assert run.clusters["persistence"].between(0, 1).all() and run.clusters["persistence"].max() > 0
    html = (tmp_path / "hd" / "map.html").read_text()
    assert "HDBSCAN clusters" in html and "DBSCAN clusters" not in html.replace("HDBSCAN clusters", "")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hdbscan_labels_equal_scikit_learns_and_persistence_follows_each_cluster(seed):
    rng = np.random.default_rng(seed)
    tight = rng.normal(0, 15, (200, 2))  # dense and far from everything: persists over every density
    loose = rng.normal(0, 150, (200, 2)) + [3000, 0]
    noise = rng.uniform(-1000, 5000, (150, 2))
    dup = np.repeat(tight[:5], 3, axis=0)  # one address, several incidents
    xy = np.vstack([noise, loose, tight, dup])
    labels, is_core, strengths = hdbscan_labels(xy[:, 0], xy[:, 1], min_cluster_size=20, min_samples=8)
    ref = HDBSCAN(min_cluster_size=20, min_samples=8, copy=True).fit(xy)
    assert np.array_equal(labels, first_seen_numbering(ref.labels_))
    assert np.allclose(strengths.probability, ref.probabilities_)
    assert np.array_equal(is_core, (labels >= 0) & (ref.probabilities_ >= 1.0))
    of_tight, of_loose = np.bincount(labels[400:600][labels[400:600] >= 0]).argmax(), np.bincount(
        labels[150:350][labels[150:350] >= 0]).argmax()
    assert strengths.persistence[of_tight] > strengths.persistence[of_loose]
    assert len(strengths.persistence) == labels.max() + 1 and (strengths.persistence >= 0).all()



def testfirst_seen_numbering_orders_clusters_by_their_first_point():
    assert first_seen_numbering(np.array([3, -1, 0, 3, 2, 0])).tolist() == [0, -1, 1, 0, 2, 1]


def test_cli_cluster_method_options_are_checked(tmp_path):
    runner = CliRunner()
    out = runner.invoke(cli, ["hotspots", str(SAMPLE / "incidents.csv"), "--out", str(tmp_path / "a"),
                              "--timezone", SAMPLE_TZ, "--eps-days", "2"])
    assert out.exit_code != 0 and "--eps-days applies to --cluster-method st-dbscan" in out.output
    out = runner.invoke(cli, ["hotspots", str(SAMPLE / "incidents.csv"), "--out", str(tmp_path / "b"),
                              "--timezone", SAMPLE_TZ, "--cluster-method", "st-dbscan", "--eps", "250",
                              "--min-samples", "10"])
    assert out.exit_code == 0, out.output
    public = json.loads((tmp_path / "b" / "clusters.geojson").read_text())["features"]
    assert public and all("duration_days" not in f["properties"] for f in public)
    assert all(len(f["properties"]["first_month"]) == 7 for f in public)
