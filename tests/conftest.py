"""Shared fixtures: the sample city and one run of the main job over it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_geodata"
SAMPLE_TZ = "America/Chicago"


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def truth() -> dict:
    return json.loads((SAMPLE / "truth.json").read_text())


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory):
    """The main job on the sample incidents, written to a temporary folder."""
    from odgeo.pipeline import HotspotSettings, run_hotspots

    out = tmp_path_factory.mktemp("sample_run")
    result = run_hotspots(SAMPLE / "incidents.csv", out, HotspotSettings(timezone=SAMPLE_TZ), overwrite=True)
    return result, out


@pytest.fixture(scope="session")
def restricted_run(tmp_path_factory):
    """The main job on the sample incidents for the restricted audience."""
    from odgeo.pipeline import HotspotSettings, run_hotspots

    out = tmp_path_factory.mktemp("restricted_run")
    settings = HotspotSettings(timezone=SAMPLE_TZ, audience="restricted")
    result = run_hotspots(SAMPLE / "incidents.csv", out, settings, overwrite=True)
    return result, out
