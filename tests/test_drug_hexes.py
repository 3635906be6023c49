"""``odgeo hotspots --by-drug``: a hexagon column per drug group, and what the public may see of it.

Counts are checked against h3's own cell of each point and the drugs written by hand; the public rule
against the differences an adversary takes (the count minus a group, a parent group minus its child).
"""

from __future__ import annotations

import json

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from odgeo_cli.main import cli

from odgeo.publish.leakscan import scan_public_outputs
from odgeo.publish.privacy import suppress_parts
from odgeo.publish.release_diff import difference_releases

from .conftest import SAMPLE, SAMPLE_TZ

#: Hand-read groups of each suspected-drug text of the test file.
TEXTS = {"fentanyl": {"opioid", "fentanyl"}, "heroin": {"opioid", "heroin"},
         "fentanyl and xylazine": {"opioid", "fentanyl", "xylazine"}, "cocaine": {"stimulant", "cocaine"},
         "unknown": set()}


def _hand_file(tmp_path, n=400, seed=46):
    rng = np.random.default_rng(seed)
    centres = [(-97.40, 38.20), (-97.43, 38.22), (-97.37, 38.18)]
    which = rng.integers(0, 3, n)
    lon = np.array([centres[k][0] for k in which]) + rng.normal(0, 0.004, n)
    lat = np.array([centres[k][1] for k in which]) + rng.normal(0, 0.004, n)
    texts = rng.choice(list(TEXTS), n)
    frame = pd.DataFrame({"incident_id": [f"X{i}" for i in range(n)], "occurred_at": "2025-03-04 10:00",
                          "longitude": lon.round(6), "latitude": lat.round(6), "suspected_drug": texts})
    path = tmp_path / "incidents.csv"
    frame.to_csv(path, index=False)
    return path, frame


def test_each_group_column_counts_its_incidents_per_cell(tmp_path):
    path, frame = _hand_file(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["hotspots", str(path), "--out", str(out), "--audience", "restricted",
                                      "--by-drug", "fentanyl,xylazine,opioid,cocaine"])
    assert result.exit_code == 0, result.output
    hexes = gpd.read_file(out / "hexes.geojson").set_index("h3_cell")
    resolution = h3.get_resolution(hexes.index[0])
    cells = [h3.latlng_to_cell(y, x, resolution) for x, y in zip(frame["longitude"], frame["latitude"])]
    for group in ("fentanyl", "xylazine", "opioid", "cocaine"):
        involved = frame["suspected_drug"].map(lambda t, g=group: g in TEXTS[t])
        expected = pd.Series(cells)[involved.to_numpy()].value_counts()
        got = hexes[f"drug_{group}"]
        assert got.sum() == involved.sum()
        assert (got[got > 0].sort_index() == expected.sort_index()).all()
    record = json.loads((out / "run.json").read_text())
    assert record["parameters"]["by_drug"]["value"] == ["fentanyl", "xylazine", "opioid", "cocaine"]


def test_the_public_rule_by_hand():
    table = pd.DataFrame({"count": [12, 30, 30, 40, 40],
                          "drug_opioid": [12, 25, 0, 25, 40],
                          "drug_fentanyl": [10, 15, 0, 20, 12]})
    shown, report = suppress_parts(table, ["drug_opioid", "drug_fentanyl"],
                                   parents={"drug_fentanyl": "drug_opioid"}, min_count=10)
    # 12 of 12 opioid leaves 0 (shown); 10 of 12 fentanyl leaves 2; 25 of 30 opioid leaves 5; a zero is
    # hidden like a breakdown's; 20 fentanyl of 25 opioid leaves 5 opioid overdoses that are not fentanyl.
    assert shown["drug_opioid"].astype("Float64").fillna(-1).tolist() == [12, -1, -1, 25, 40]
    assert shown["drug_fentanyl"].astype("Float64").fillna(-1).tolist() == [-1, 15, -1, -1, 12]
    assert report == {"hidden": 0, "hidden_to_protect_others": 3, "hidden_zeros": 2}


def test_no_public_hexagon_gives_a_small_count_by_subtraction(tmp_path):
    out = tmp_path / "public"
    result = CliRunner().invoke(cli, ["hotspots", str(SAMPLE / "incidents.csv"), "--out", str(out), "--timezone",
                                      SAMPLE_TZ, "--by-drug", "opioid,fentanyl,heroin", "--boundaries",
                                      str(SAMPLE / "neighbourhoods.geojson")])
    assert result.exit_code == 0, result.output
    for layer in ("hexes.geojson", "areas.geojson"):
        table = gpd.read_file(out / layer)
        shown_any = False
        for part, whole in (("drug_fentanyl", "count"), ("drug_heroin", "count"), ("drug_opioid", "count"),
                            ("drug_fentanyl", "drug_opioid"), ("drug_heroin", "drug_opioid")):
            both = table[part].notna() & table[whole].notna()
            left = table.loc[both, whole] - table.loc[both, part]
            assert ((left == 0) | (left >= 10)).all(), f"{layer}: {whole} - {part}"
            assert (table[part].dropna() >= 10).all()
            shown_any |= bool(table[part].notna().any())
        assert shown_any, layer


def test_the_leak_scanner_finds_a_group_beside_its_count(tmp_path):
    folder = tmp_path / "planted"
    folder.mkdir()
    square = [[[-97.4, 38.2], [-97.39, 38.2], [-97.39, 38.21], [-97.4, 38.2]]]
    features = [{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": square},
                 "properties": {"count": 12, "drug_opioid": 11, "drug_fentanyl": None}},
                {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": square},
                 "properties": {"count": 40, "drug_opioid": 30, "drug_fentanyl": 24}}]
    (folder / "hexes.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    incidents = gpd.GeoDataFrame({"occurred_at": pd.to_datetime(["2025-01-01"], utc=True)},
                                 geometry=gpd.points_from_xy([-97.0], [38.0]), crs="EPSG:4326")
    leaks = scan_public_outputs(folder, incidents, min_count=10)
    found = sorted(leak.detail for leak in leaks if leak.kind == "complement")
    assert found == ["count = 12.0 and drug_opioid = 11.0 leave 1.0",
                     "drug_opioid = 30.0 and drug_fentanyl = 24.0 leave 6.0"]


@pytest.mark.parametrize(("groups", "words"), [("fentanyl,carfentanyl", "'carfentanyl' is not a drug group")])
def test_an_unknown_group_is_one_line(tmp_path, groups, words):
    result = CliRunner().invoke(cli, ["hotspots", str(SAMPLE / "incidents.csv"), "--out", str(tmp_path / "o"),
                                      "--by-drug", groups])
    assert result.exit_code != 0 and words in result.output and "Traceback" not in result.output


def test_one_more_fentanyl_overdose_cannot_be_had_by_differencing(tmp_path):
    """Two weekly releases, the second with one more overdose: without a ledger its group column moves by 1."""
    path, frame = _hand_file(tmp_path, n=900)
    extra = frame.iloc[[0]].assign(incident_id="NEW", suspected_drug="fentanyl")
    later = tmp_path / "later.csv"
    pd.concat([frame, extra]).to_csv(later, index=False)
    runs = {}
    for name, source, ledger in (("n1", path, None), ("n2", later, None), ("l1", path, "l.json"),
                                 ("l2", later, "l.json")):
        args = ["hotspots", str(source), "--out", str(tmp_path / name), "--by-drug", "fentanyl,opioid"]
        result = CliRunner().invoke(cli, args + (["--ledger", str(tmp_path / ledger)] if ledger else []))
        assert result.exit_code == 0, result.output
        runs[name] = tmp_path / name
    found = [leak.detail for leak in difference_releases(runs["n1"], runs["n2"])]
    assert any("drug_fentanyl" in detail for detail in found), found
    assert difference_releases(runs["l1"], runs["l2"]) == []


def test_boundary_areas_count_each_group_inside_them(tmp_path):
    path, frame = _hand_file(tmp_path)
    west = shapely.box(-97.45, 38.15, -97.40, 38.25)
    east = shapely.box(-97.40, 38.15, -97.35, 38.25)
    polygons = gpd.GeoDataFrame({"name": ["West", "East"], "population": [5000, 6000]}, geometry=[west, east],
                                crs="EPSG:4326")
    boundaries = tmp_path / "areas.geojson"
    polygons.to_file(boundaries)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["hotspots", str(path), "--out", str(out), "--audience", "restricted",
                                      "--by-drug", "fentanyl,xylazine", "--boundaries", str(boundaries)])
    assert result.exit_code == 0, result.output
    areas = gpd.read_file(out / "areas.geojson").set_index("name")
    points = shapely.points(frame["longitude"].to_numpy(), frame["latitude"].to_numpy())
    for group in ("fentanyl", "xylazine"):
        involved = frame["suspected_drug"].map(lambda t, g=group: g in TEXTS[t]).to_numpy()
        for name, shape in (("West", west), ("East", east)):
            assert areas.loc[name, f"drug_{group}"] == int((shapely.intersects(shape, points) & involved).sum())
