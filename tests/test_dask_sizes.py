"""What a part weighs on a Dask worker: counted by Dask (the dask.sizeof entry point) and held compactly.

Dask spills to disk, and pauses workers, by what ``dask.sizeof`` says a result weighs; a
part it counts as a few bytes is never spilled. These run in this process: the entry point
is the one every worker of an installed odgeo loads.
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from dask.sizeof import sizeof

from odgeo.engine.dask_read import _expanded, _held
from odgeo.incidents.read import WholeInput, begin_validation, start_validation, swap_reference, validate_table
from odgeo.incidents.tables import read_table

from .conftest import SAMPLE, SAMPLE_TZ

SETTINGS = {"columns": None, "crs": None, "timezone": SAMPLE_TZ, "date_format": None,
            "accept_implausible_dates": False}


def _even_sample(x, size, replace=True):
    """Dask's text-column sample, made the same on every call: evenly spaced cells, not random ones."""
    cells = np.asarray(x, dtype=object)
    return cells[np.linspace(0, len(cells) - 1, size).astype(int)]


def _first_items(seq, k):
    """Dask's sample of a long list, made the same on every call: its first items."""
    return list(seq)[:k]


@pytest.fixture(autouse=True)
def same_cells_every_time(monkeypatch):
    """Dask estimates text columns from 100 random cells and long lists from 10 random items (``random.sample``);
    two such estimates of one object differ by chance. Both draws are made fixed here."""
    import random

    monkeypatch.setattr(np.random, "choice", _even_sample)
    monkeypatch.setattr(random, "sample", _first_items)


def test_dask_counts_the_bytes_of_a_validated_part():
    raw = read_table(SAMPLE / "incidents.csv")
    read = validate_table(raw, timezone=SAMPLE_TZ)
    # At least what Dask counts of their frames (it samples text columns); without the entry point: 56 bytes.
    assert sizeof(raw) >= sizeof(raw.data) > 100_000
    assert sizeof(read) >= sizeof(read.incidents) + sizeof(read.rejects) > 100_000
    started = start_validation(raw, None, part=True)
    assert sizeof(started) >= sizeof(raw)


def test_a_part_waiting_between_rounds_holds_about_half_its_bytes():
    raw = read_table(SAMPLE / "incidents.csv")
    started = start_validation(raw, None, part=True)
    full = sizeof(started)
    held = started.held()
    assert held.table.data.shape == (0, raw.data.shape[1])  # the column names stay, for messages
    assert sizeof(held) < 0.7 * full
    begun = begin_validation(held.table, whole=WholeInput(location_text=False), started=held, **SETTINGS)
    before = sizeof(begun)
    whole = begun.held()  # the text of the ids, dates and coordinates goes: they are parsed
    assert sizeof(whole) < 0.8 * before
    lon, lat = whole.coordinate_sample()
    finished = whole.finish(swap_reference(lon, lat))
    expected = validate_table(read_table(SAMPLE / "incidents.csv"), timezone=SAMPLE_TZ)
    pd.testing.assert_frame_equal(finished.incidents, expected.incidents)
    pd.testing.assert_frame_equal(finished.rejects, expected.rejects)
    assert finished.notes == expected.notes and finished.n_input == expected.n_input


def test_the_held_read_is_the_read_again():
    raw = read_table(SAMPLE / "incidents.csv")
    raw.data.loc[raw.data.index[::2], "city"] = ""  # half the cities empty; the drugs all empty below
    raw.data["suspected_drug"] = ""
    read = validate_table(raw, timezone=SAMPLE_TZ)
    assert read.incidents["suspected_drug"].isna().all() and read.incidents["city"].notna().any()
    assert (~read.incidents.geometry.is_empty).sum() < len(read.incidents)  # unlocated rows too
    held = _held(read)
    assert "suspected_drug" not in held.incidents and "geometry" not in held.incidents
    assert held.incidents["outcome"].dtype == "category" and held.incidents["geocode_status"].dtype == "category"
    assert len(pickle.dumps(held)) < 0.9 * len(pickle.dumps(read))  # what a spill writes to disk
    again = _expanded(held)
    pd.testing.assert_frame_equal(again.incidents.drop(columns="geometry"), read.incidents.drop(columns="geometry"))
    assert np.array_equal(again.incidents.geometry.to_wkb(), read.incidents.geometry.to_wkb())
    pd.testing.assert_frame_equal(again.rejects, read.rejects)
