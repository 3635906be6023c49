"""Small-count protection: coarsening and complementary suppression."""

from __future__ import annotations

import h3
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from odgeo.errors import ParameterError
from odgeo.publish.privacy import check_min_count, coarsen_cells, suppress_breakdowns

CENTRE = h3.latlng_to_cell(38.2, -97.4, 8)


def _counts(cells_counts: dict[str, int]) -> pd.DataFrame:
    frame = pd.DataFrame({"count": list(cells_counts.values())},
                         index=pd.Index(list(cells_counts), name="h3_cell"))
    return frame.sort_index()


def _fine_cells(area_geom, resolution=8) -> set[str]:
    """Fine cells whose centre lies in a published area."""
    return set(h3.geo_to_cells(area_geom.__geo_interface__, resolution))


def test_big_cells_stay_and_small_ones_merge_into_the_rest_of_their_parent():
    parent = h3.cell_to_parent(CENTRE, 7)
    children = sorted(h3.cell_to_children(parent, 8))
    counts = _counts({children[0]: 50, children[1]: 4, children[2]: 7})
    areas, report = coarsen_cells(counts, min_count=10)
    assert sorted(areas["count"]) == [11, 50]
    merged = areas[areas["merged"]].iloc[0]
    assert merged["h3_cell"] == parent and merged["h3_resolution"] == 7
    # The merged area is the parent's six other children (empty ones included), not the big one.
    assert merged["n_fine_cells"] == 6
    assert _fine_cells(merged.geometry) == set(children) - {children[0]}
    assert report.n_areas_suppressed == 0 and report.n_cells_merged == 2


def test_too_few_small_cells_absorb_the_smallest_sibling():
    parent = h3.cell_to_parent(CENTRE, 7)
    children = sorted(h3.cell_to_children(parent, 8))
    counts = _counts({children[0]: 50, children[1]: 12, children[2]: 3})
    areas, _ = coarsen_cells(counts, min_count=10)
    assert sorted(areas["count"]) == [15, 50]


def test_an_isolated_small_cell_is_suppressed_after_the_last_level():
    far = h3.latlng_to_cell(40.0, -100.0, 8)
    counts = _counts({CENTRE: 40, far: 3})
    areas, report = coarsen_cells(counts, min_count=10, levels=2)
    assert areas["count"].tolist() == [40]
    assert report.n_areas_suppressed == 1 and report.n_incidents_suppressed == 3
    assert report.coarsest_resolution == 6


def test_nothing_to_protect_changes_nothing():
    counts = _counts({c: 10 + i for i, c in enumerate(sorted(h3.grid_disk(CENTRE, 1)))})
    areas, report = coarsen_cells(counts, min_count=10)
    assert not areas["merged"].any() and report.n_published == 7
    assert dict(zip(areas["h3_cell"], areas["count"])) == counts["count"].to_dict()


@settings(max_examples=60, deadline=None)
@given(
    cells=st.dictionaries(st.integers(0, 360), st.integers(1, 30), min_size=1, max_size=60),
    min_count=st.integers(2, 25),
)
def test_property_no_small_area_no_overlap_nothing_lost(cells, min_count):
    disk = sorted(h3.grid_disk(CENTRE, 10))  # 331 cells
    counts = _counts({disk[k % len(disk)]: n for k, n in cells.items()})
    areas, report = coarsen_cells(counts, min_count=min_count)
    assert (areas["count"] >= min_count).all()
    assert areas["count"].sum() + report.n_incidents_suppressed == counts["count"].sum()
    # Published areas are disjoint: no count can be had by subtracting one from another.
    seen: set[str] = set()
    for geom in areas.geometry:
        cells_in = _fine_cells(geom)
        assert not (cells_in & seen)
        seen |= cells_in
    # Every fine cell with incidents is in exactly one published area or suppressed.
    published = {c for c in counts.index if c in seen}
    published_total = counts.loc[sorted(published), "count"].sum() if published else 0
    assert published_total == areas["count"].sum()


def _breakdown_table(rows: list[list[int]]) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=[f"m{i}" for i in range(len(rows[0]))])
    table.insert(0, "count", table.sum(axis=1))
    return table


def test_complementary_suppression_hides_a_second_value():
    table = _breakdown_table([[30, 4, 12, 0]])
    out, report = suppress_breakdowns(table, {"month": ["m0", "m1", "m2", "m3"]}, min_count=10)
    row = out.iloc[0]
    assert pd.isna(row["m1"]) and pd.isna(row["m2"])  # 4 hidden; 12 hidden with it
    assert row["m0"] == 30
    assert pd.isna(row["m3"])  # a 0 shown beside them would say each hidden month had at least one
    assert report["month"] == {"hidden": 1, "hidden_to_protect_others": 1, "hidden_zeros": 1}


@settings(max_examples=80, deadline=None)
@given(rows=st.lists(st.lists(st.integers(0, 40), min_size=2, max_size=8), min_size=1, max_size=10),
       min_count=st.integers(2, 20))
def test_property_hidden_values_cannot_be_recovered(rows, min_count):
    width = min(len(r) for r in rows)
    # Breakdowns belong to published areas, whose totals are at least min_count.
    rows = [r[:width] if sum(r[:width]) >= min_count else [r[0] + min_count] + r[1:width] for r in rows]
    table = _breakdown_table(rows)
    cols = [c for c in table.columns if c != "count"]
    out, _ = suppress_breakdowns(table, {"month": cols}, min_count=min_count)
    for i in range(len(table)):
        shown = out.loc[i, cols]
        hidden = shown.isna().to_numpy()
        values = table.loc[i, cols].to_numpy()
        assert not (values[~hidden] < min_count).any()  # no small value shown, no zero beside hidden ones
        assert hidden.sum() != 1 or values[hidden].sum() == 0  # a lone hidden value is the total minus the rest
        total_hidden = table.loc[i, "count"] - shown[~hidden].sum()
        assert total_hidden == 0 or total_hidden >= min_count


def test_min_count_must_be_a_whole_positive_number():
    assert check_min_count(10) == 10
    for bad in (0, -3, 2.5, "ten", None):
        with pytest.raises(ParameterError, match="`min_count`"):
            check_min_count(bad)


def test_merged_area_shapes_are_valid_polygons(sample_run):
    result, _ = sample_run
    areas = result.products.hexes
    assert areas.geometry.is_valid.all()
    cells = areas.geometry.to_numpy()
    assert shapely.union_all(cells).area == pytest.approx(shapely.area(cells).sum(), rel=1e-9)
