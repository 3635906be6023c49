"""odgeo scan: the space-time permutation scan against the formula, brute force and the null; the job."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats

from cli.main import cli
from odgeo.errors import ParameterError
from odgeo.jobs.scan import ScanJobSettings, run_scan
from odgeo.projection import distances_from_centre_km
from odgeo.publish.leakscan import scan_public_outputs
from odgeo.scan.statistic import BATCH, ScanSettings, scan

from .conftest import SAMPLE, SAMPLE_TZ


def _brute_force(loc, day, x, y, n_days, s: ScanSettings):
    """Every cylinder by the definition: (llr, observed, expected, centre, radius, first, last) of the best."""
    n = len(loc)
    if s.retrospective:
        windows = [(a, b) for b in range(n_days) for a in range(max(0, b - s.max_days + 1), b + 1)]
    else:
        windows = [(n_days - d, n_days - 1) for d in range(1, s.max_days + 1)]
    best = (0.0,)
    for i in range(len(x)):
        dist = np.hypot(x - x[i], y - y[i])
        for radius in sorted(set(dist[dist <= s.max_radius_m])):
            in_zone = (dist <= radius)[loc]
            if in_zone.sum() > 0.5 * n:
                continue
            for first, last in windows:
                in_window = (day >= first) & (day <= last)
                c, e = int((in_zone & in_window).sum()), in_zone.sum() * in_window.sum() / n
                if c >= s.min_cases and c > e:
                    llr = c * math.log(c / e) + ((n - c) * math.log((n - c) / (n - e)) if n > c else 0.0)
                    if llr > best[0] + 1e-12:
                        best = (llr, c, e, i, radius, first, last)
    return best


def _random_cases(rng, n_locations, n_cases, n_days, size=3000.0):
    x = rng.uniform(0, size, n_locations).round(-1)  # rounded: ties in distance happen
    y = rng.uniform(0, size, n_locations).round(-1)
    loc = np.r_[np.arange(n_locations), rng.integers(0, n_locations, n_cases - n_locations)]
    return loc, rng.integers(0, n_days, n_cases), x, y


def test_expected_count_and_llr_equal_the_formula_by_hand():
    # A at 0 m, B at 100 m, C far away; 5 days, clusters of at most 2 days within 200 m.
    x, y = np.array([0.0, 100.0, 5000.0]), np.zeros(3)
    loc = np.array([0, 0, 0, 1, 0] + [2] * 8)
    day = np.array([4, 4, 4, 4, 0] + [0, 0, 1, 1, 2, 2, 3, 3])
    result = scan(loc, day, x, y, 5, ScanSettings(max_days=2, max_radius_m=200, min_cases=3, permutations=99))
    # The cylinder {A, B} x day 4: 4 cases; zone 5 cases, day 4 holds 4 of all 13.
    e = 5 * 4 / 13
    llr = 4 * math.log(4 / e) + 9 * math.log(9 / (13 - e))
    best = result.most_likely
    assert (best["observed"], best["first_day"], best["last_day"], best["n_locations"]) == (4, 4, 4, 2)
    assert best["expected"] == pytest.approx(e, rel=1e-12)
    assert best["llr"] == pytest.approx(llr, rel=1e-12)


@pytest.mark.parametrize("retrospective", [False, True])
def test_fast_search_equals_brute_force_over_every_cylinder(retrospective):
    rng = np.random.default_rng(7)
    for _ in range(12):
        n_locations = int(rng.integers(5, 30))
        loc, day, x, y = _random_cases(rng, n_locations, int(rng.integers(n_locations + 5, 90)), 10)
        settings = ScanSettings(max_days=3, max_radius_m=900, min_cases=2, permutations=9,
                                retrospective=retrospective)
        result = scan(loc, day, x, y, 10, settings)
        found = _brute_force(loc, day, x, y, 10, settings)
        best = result.most_likely
        if found[0] == 0:
            assert best is None
            continue
        llr, c, e, _, radius, first, last = found
        assert best["llr"] == pytest.approx(llr, rel=1e-12)
        assert (best["observed"], best["first_day"], best["last_day"]) == (c, first, last)
        assert best["expected"] == pytest.approx(e, rel=1e-12)
        assert best["radius_m"] == pytest.approx(radius)
        # The replications run the same search on permuted days: the first one, by brute force.
        permuted = np.random.default_rng(settings.seed).permuted(
            np.broadcast_to(day, (min(BATCH, settings.permutations), len(day))), axis=1)[0]
        assert result.null_maxima[0] == pytest.approx(_brute_force(loc, permuted, x, y, 10, settings)[0], abs=1e-9)


def test_p_values_are_uniform_under_the_null():
    """Data with days at random (the null itself): p-values over 200 seeded data sets pass a KS test."""
    rng = np.random.default_rng(11)
    p_values = []
    for k in range(200):
        loc, day, x, y = _random_cases(rng, 25, 90, 14)
        result = scan(loc, day, x, y, 14, ScanSettings(max_days=3, max_radius_m=700, min_cases=2, permutations=99,
                                                        seed=k))
        p_values.append(result.most_likely["p_value"] if result.most_likely else 1.0)
    p_values = np.array(p_values)
    assert stats.kstest(p_values, "uniform").pvalue > 0.01
    assert 0.02 <= np.mean(p_values <= 0.1) <= 0.2  # about 10% at 0.1 (binomial 200, 0.1: 2.5% to 17.5%)


def test_a_planted_burst_is_found_where_and_when_it_was_planted():
    rng = np.random.default_rng(3)
    loc, day, x, y = _random_cases(rng, 300, 600, 30, size=8000.0)
    burst_x, burst_y = 4000 + rng.uniform(-150, 150, 8), 4000 + rng.uniform(-150, 150, 8)
    x, y = np.r_[x, burst_x], np.r_[y, burst_y]
    loc = np.r_[loc, np.arange(300, 308)]
    day = np.r_[day, [28, 28, 28, 29, 29, 29, 29, 29]]
    result = scan(loc, day, x, y, 30, ScanSettings(max_radius_m=1207, permutations=199))
    top = result.clusters.iloc[0]
    centre = int(top["centre"])
    assert math.hypot(x[centre] - 4000, y[centre] - 4000) < 300
    assert top["last_day"] == 29 and top["first_day"] in (28, 29)
    assert top["observed"] >= 5 and top["p_value"] <= 0.01
    assert top["recurrence_interval_days"] == pytest.approx(1 / top["p_value"])


def test_secondary_clusters_share_no_location_and_are_ranked():
    rng = np.random.default_rng(5)
    loc, day, x, y = _random_cases(rng, 200, 500, 30, size=10000.0)
    extra_x = np.r_[2000 + rng.uniform(-100, 100, 6), 8000 + rng.uniform(-100, 100, 6)]
    extra_y = np.r_[2000 + rng.uniform(-100, 100, 6), 8000 + rng.uniform(-100, 100, 6)]
    x, y = np.r_[x, extra_x], np.r_[y, extra_y]
    loc, day = np.r_[loc, np.arange(200, 212)], np.r_[day, [29] * 6 + [28, 28, 29, 29, 29, 29]]
    result = scan(loc, day, x, y, 30, ScanSettings(permutations=99, report_p=1.0))
    table = result.clusters
    assert len(table) >= 2 and table["llr"].is_monotonic_decreasing
    members = [set(result.zones.members_of(int(r.centre), int(r.end)).tolist()) for r in table.itertuples()]
    assert all(not (a & b) for i, a in enumerate(members) for b in members[i + 1:])
    assert {int(np.hypot(x[c] - 2000, y[c] - 2000) < 300) + int(np.hypot(x[c] - 8000, y[c] - 8000) < 300)
            for c in table["centre"][:2]} == {1}


def test_settings_out_of_range_are_named():
    with pytest.raises(ParameterError, match="`max_days`"):
        ScanSettings(window_days=5, max_days=9).check()
    with pytest.raises(ParameterError, match="`permutations`"):
        ScanSettings(permutations=3).check()


# --- the job ---------------------------------------------------------------------------------------


def _settings(**kw) -> ScanJobSettings:
    return ScanJobSettings(timezone=SAMPLE_TZ, permutations=199, **kw)


def test_sample_city_late_spike_is_the_most_likely_cluster(tmp_path, truth):
    run = run_scan(SAMPLE / "incidents.csv", tmp_path / "out", _settings(audience="restricted"))
    late = truth["late_spike"]
    top = run.clusters.iloc[0]
    assert distances_from_centre_km(np.array([top["center_longitude"], late["centre"][0]]),
                                    np.array([top["center_latitude"], late["centre"][1]])).max() < 0.3
    assert (top["start_date"], top["end_date"], int(top["observed"])) == (late["date"], late["date"], late["n"])
    assert top["p_value"] == pytest.approx(1 / 200)
    table = pd.read_csv(tmp_path / "out" / "scan_clusters.csv")
    assert list(table.columns[:13]) == ["cluster_id", "center_longitude", "center_latitude", "radius_m",
                                        "start_date", "end_date", "n_days", "n_locations", "observed", "expected",
                                        "llr", "p_value", "recurrence_interval_days"]
    assert "9 suspected overdoses in 1 day where" in table["sentence"][0]
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    counts = record["counts"]
    assert counts["n_used"] + counts["n_unlocated"] + counts["n_rejected"] == counts["n_input"]
    rejects = pd.read_csv(tmp_path / "out" / "rejects.csv")
    assert (rejects["code"] == "before_window").sum() == counts["rejected_by_code"]["before_window"] > 3000
    assert counts["n_used"] == record["scan"]["n_cases"]


def test_the_august_spike_is_found_as_of_its_last_day(tmp_path, truth):
    spike = truth["spike"]
    last = (pd.Timestamp(spike["start"]) + pd.Timedelta(days=spike["days"] - 1)).strftime("%Y-%m-%d")
    run = run_scan(SAMPLE / "incidents.csv", tmp_path / "out", _settings(audience="restricted", as_of=last))
    top = run.clusters.iloc[0]
    assert top["end_date"] == last and top["p_value"] <= 0.01 and top["observed"] >= 20
    assert distances_from_centre_km(np.array([top["center_longitude"], spike["centre"][0]]),
                                    np.array([top["center_latitude"], spike["centre"][1]])).max() < 0.5


def test_a_fixed_seed_gives_byte_identical_products(tmp_path):
    for name in ("a", "b"):
        run_scan(SAMPLE / "incidents.csv", tmp_path / name, _settings(audience="restricted", seed=4))
    for product in ("scan_clusters.csv", "scan_clusters.geojson", "map.html", "rejects.csv"):
        assert (tmp_path / "a" / product).read_bytes() == (tmp_path / "b" / product).read_bytes(), product


def test_public_products_hide_centres_and_small_counts(tmp_path):
    out = tmp_path / "public"
    run = run_scan(SAMPLE / "incidents.csv", out, _settings(min_count=10))
    table = pd.read_csv(out / "scan_clusters.csv")
    assert not {"center_longitude", "center_latitude", "radius_m", "n_locations"} & set(table.columns)
    assert table["observed"].isna().all() and table["llr"].isna().all()  # the late spike holds 9 < 10
    assert table["start_date"][0] == "2025-12" and table["p_value"][0] == pytest.approx(1 / 200)
    assert table["sentence"][0].startswith("Fewer than 10 suspected overdoses within 7 days")
    record = json.loads((out / "run.json").read_text())
    assert set(record["scan"]["most_likely"]) == {"p_value", "recurrence_interval_days"}
    assert "n_locations" not in record["scan"]
    assert scan_public_outputs(out, run.incidents, min_count=10,
                               identifying=run.incidents["incident_id"].astype(str)) == []
    shown = run_scan(SAMPLE / "incidents.csv", tmp_path / "low", _settings(min_count=5))
    assert int(shown.files["observed"].iloc[0]) == 9 and shown.files["start_date"].iloc[0] == "2025-12-31"


def test_a_satscan_export_inside_out_is_refused_before_any_work(tmp_path):
    # Issue 42: the export was written inside --out, then deleted by the folder swap while run.json listed it.
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["scan", str(SAMPLE / "incidents.csv"), "--timezone", SAMPLE_TZ, "--audience",
                                      "restricted", "--out", str(out), "--export-satscan", str(out / "satscan")])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        f"Error: --export-satscan {out / 'satscan'} is inside --out {out}, which each run replaces as a whole; "
        "keep --export-satscan outside the output folder")
    assert not out.exists()


def test_satscan_export_matches_the_analysis(tmp_path):
    export = tmp_path / "satscan"
    run = run_scan(SAMPLE / "incidents.csv", tmp_path / "out",
                   _settings(audience="restricted", export_satscan=str(export), max_radius_m=800, max_days=5))
    cas = pd.read_csv(export / "odgeo.cas", sep=" ", names=["id", "n", "date"])
    geo = pd.read_csv(export / "odgeo.geo", sep=" ", names=["id", "lat", "lon"])
    assert cas["n"].sum() == len(run.incidents) and set(cas["id"]) <= set(geo["id"])
    assert geo["lat"].between(37, 39).all() and geo["lon"].between(-98, -97).all()  # latitude first
    assert cas["date"].min() >= "2025/12/02" and cas["date"].max() == "2025/12/31"
    prm = (export / "odgeo.prm").read_text()
    for line in ("ModelType=2", "AnalysisType=4", "MaxSpatialSizeInDistanceFromCenter=0.8", "MaxTemporalSize=5",
                 "MonteCarloReps=199", "StartDate=2025/12/02", "EndDate=2025/12/31", "CoordinatesType=1",
                 "PValueReportType=1", "CriteriaForReportingSecondaryClusters=0", "ProspectiveStartDate=2025/12/31"):
        assert line in prm.splitlines(), line


def test_cli_scan_runs_and_refuses_a_public_export(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["scan", str(SAMPLE / "incidents.csv"), "--out", str(tmp_path / "out"),
                                 "--timezone", SAMPLE_TZ, "--permutations", "99", "--audience", "restricted"])
    assert result.exit_code == 0, result.output
    assert "1. 9 suspected overdoses in 1 day" in result.output
    refused = runner.invoke(cli, ["scan", str(SAMPLE / "incidents.csv"), "--out", str(tmp_path / "p"),
                                  "--timezone", SAMPLE_TZ, "--export-satscan", str(tmp_path / "s")])
    assert refused.exit_code != 0 and "--audience restricted" in refused.output
    assert "Traceback" not in refused.output and not (tmp_path / "s").exists()
    bad = runner.invoke(cli, ["scan", str(SAMPLE / "incidents.csv"), "--out", str(tmp_path / "q"),
                              "--timezone", SAMPLE_TZ, "--max-days", "40"])
    assert bad.exit_code != 0 and "--max-days" in bad.output and "Traceback" not in bad.output


def test_retrospective_scan_finds_the_august_spike_in_a_longer_window(tmp_path):
    run = run_scan(SAMPLE / "incidents.csv", tmp_path / "out",
                   _settings(audience="restricted", as_of="2025-09-10", window_days=60, retrospective=True))
    top = run.clusters.iloc[0]
    assert top["start_date"] >= "2025-08-10" and top["end_date"] <= "2025-08-17" and top["p_value"] <= 0.01
    assert Path(tmp_path / "out" / "map.html").exists()


def test_alerts_include_scan_clusters_as_kind_scan(tmp_path, truth):
    from odgeo.hexes import cell_of_point, cell_strs
    from odgeo.jobs.alerts import AlertSettings, run_alerts

    late = truth["late_spike"]
    cell = cell_strs([cell_of_point(*late["centre"], 7)])[0]
    run = run_alerts(SAMPLE / "incidents.csv", tmp_path / "r",
                     AlertSettings(timezone=SAMPLE_TZ, audience="restricted", scan=True, ears=("none",)))
    scan_rows = run.alerts[run.alerts["kind"] == "scan"]
    assert len(scan_rows) == 1 and scan_rows["area"].iloc[0] == cell and int(scan_rows["count"].iloc[0]) == 9
    assert "a space-time cluster that chance gives" in run.files.alerts["sentence"].iloc[-1]
    assert run.record.sections["scan"]["n_scan_alerts"] == 1
    public = run_alerts(SAMPLE / "incidents.csv", tmp_path / "p", AlertSettings(timezone=SAMPLE_TZ, scan=True))
    row = public.files.alerts[public.files.alerts["kind"] == "scan"].iloc[0]
    assert pd.isna(row["count"]) and row["window_start"] == "2025-12" and row["window_end"] == "2025-12-31"
    strict = run_alerts(SAMPLE / "incidents.csv", tmp_path / "s",
                        AlertSettings(timezone=SAMPLE_TZ, scan=True, scan_max_p=0.0005, ears=("none",)))
    assert not (strict.alerts["kind"] == "scan").any()  # 999 permutations cannot reach p < 0.001


def test_a_window_without_clusters_writes_empty_tables_and_no_day_in_public(tmp_path):
    """Found on Connecticut's deaths: no cylinder at all broke the cluster table and leaked the first day."""
    for audience in ("restricted", "public"):
        out = tmp_path / audience
        run = run_scan(SAMPLE / "incidents.csv", out, _settings(audience=audience, min_cases=500))
        assert run.result.most_likely is None and len(run.files) == 0
        assert list(pd.read_csv(out / "scan_clusters.csv").columns)[:2] == (
            ["cluster_id", "center_longitude"] if audience == "restricted" else ["cluster_id", "h3_cells"])
        section = json.loads((out / "run.json").read_text())["scan"]
        assert section["most_likely"] is None
    assert section["first_day"] == "2025-12" and "n_locations" not in section
    assert scan_public_outputs(out, run.incidents, min_count=10) == []


def test_date_only_incidents_after_the_as_of_day_are_rejected_not_scanned(tmp_path):
    """Found on Connecticut's deaths (dates without times): the next day's midnight is after --as-of."""
    rng = np.random.default_rng(2)
    days = pd.date_range("2025-03-01", "2025-03-31")
    frame = pd.DataFrame({"date": rng.choice(days, 120).astype("datetime64[ns]"),
                          "lon": -97.4 + rng.uniform(0, 0.05, 120), "lat": 38.2 + rng.uniform(0, 0.05, 120)})
    frame["date"] = frame["date"].dt.strftime("%Y-%m-%d")
    path = tmp_path / "deaths.csv"
    frame.to_csv(path, index=False)
    run = run_scan(path, tmp_path / "out", ScanJobSettings(timezone="America/New_York", as_of="2025-03-20",
                                                           audience="restricted", permutations=19))
    counts = run.record.sections["counts"]
    assert counts["rejected_by_code"]["after_as_of"] == int((frame["date"] > "2025-03-20").sum())
    assert counts["n_used"] == int(frame["date"].between("2025-02-19", "2025-03-20").sum())


def test_h3_locations_put_cases_at_cell_centres(tmp_path):
    from odgeo.hexes import cell_centres, points_to_cells

    run = run_scan(SAMPLE / "incidents.csv", tmp_path / "out", _settings(audience="restricted", locations="h3",
                                                                         location_resolution=9))
    lon, lat = run.incidents.geometry.x.to_numpy(), run.incidents.geometry.y.to_numpy()
    cells = np.unique(points_to_cells(lon, lat, 9))
    assert run.result.settings["n_locations"] == len(cells)
    top = run.clusters.iloc[0]
    centres = np.column_stack(cell_centres(cells))
    assert np.isclose(centres, [top["center_longitude"], top["center_latitude"]], atol=1e-6).all(axis=1).any()
    assert top["end_date"] == "2025-12-31" and top["p_value"] == pytest.approx(1 / 200)
    with pytest.raises(ParameterError, match="`location_resolution`"):
        run_scan(SAMPLE / "incidents.csv", tmp_path / "bad", _settings(location_resolution=9))


def test_a_table_too_large_for_memory_is_refused_with_the_options_to_change():
    rng = np.random.default_rng(0)
    loc, day, x, y = _random_cases(rng, 30_000, 30_000, 3000)
    with pytest.raises(ParameterError, match="lower `max_days`"):
        scan(loc, day, x, y, 3000, ScanSettings(window_days=3000, max_days=3000, retrospective=True))


def test_every_circle_holds_the_locations_satscan_s_holds():
    # Issue 42: on 1 of 14 real windows a location at a circle's edge was inside SaTScan's circle and
    # outside odgeo's (measured in the UTM plane). The reference is SaTScan's published conversion
    # (LatLong.cpp: a = 6367 km; x = a cos(l) cos(d), y = a sin(l) cos(d), z = a sin(d)), by hand.
    from odgeo.projection import project_points
    from odgeo.scan.cases import satscan_xyz
    from odgeo.scan.statistic import build_zones

    lon = np.r_[-97.4, -97.4 + np.linspace(0.0136, 0.0140, 400)]  # due east, straddling 1,207 m
    lat = np.full(len(lon), 38.2)
    a, d, lam = 6367.0e3, np.radians(lat), np.radians(lon)
    points = np.column_stack([a * np.cos(lam) * np.cos(d), a * np.sin(lam) * np.cos(d), a * np.sin(d)])
    inside = np.linalg.norm(points - points[0], axis=1) <= 1207.0
    zones = build_zones(*satscan_xyz(lon, lat)[:2], np.ones(len(lon), dtype=np.int64), 1207.0,
                        z=satscan_xyz(lon, lat)[2])
    assert set(zones.members[zones.start[0]:zones.start[1]].tolist()) == set(np.flatnonzero(inside).tolist())
    x, y, _ = project_points(lon, lat)
    plane = np.hypot(x - x[0], y - y[0]) <= 1207.0
    assert (plane != inside).sum() > 0  # in the plane some locations fall on the other side of the edge
