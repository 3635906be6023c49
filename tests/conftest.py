"""Shared fixtures: the sample city and one run of the main job over it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

# CI runs the property tests with fixed examples, so a submission passes or fails on its own merits;
# locally they draw new examples each run and so keep finding new cases.
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_geodata"
SAMPLE_TZ = "America/Chicago"


def message_lines(text: str) -> list[str]:
    """What a user reads as messages: a slow step's progress line ("odgeo: reading incidents...") left out.

    A step that takes over 2 s says so on its own line; on a loaded machine any step may, so a
    test of "one line" counts the other lines.
    """
    return [line for line in text.strip().splitlines() if not line.startswith("odgeo: ")]


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def truth() -> dict:
    return json.loads((SAMPLE / "truth.json").read_text())


@pytest.fixture(scope="session", autouse=True)
def geocode_cache(tmp_path_factory):
    """The geocoder's index cache in a folder of the session's own (empty at the start)."""
    with pytest.MonkeyPatch.context() as patch:
        folder = tmp_path_factory.mktemp("odgeo_cache")
        patch.setenv("ODGEO_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="session")
def dask_cluster_client():
    """A client of a real LocalCluster: two worker processes of one thread each, on the loopback."""
    import distributed  # the 'dask' extra, in 'test': a missing install fails here, loudly

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0", worker_dashboard_address="127.0.0.1:0"
                                  ) as cluster, distributed.Client(cluster) as client:
        yield client


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory):
    """The main job on the sample incidents, written to a temporary folder."""
    from odgeo.jobs.hotspots import HotspotSettings, run_hotspots

    out = tmp_path_factory.mktemp("sample_run")
    result = run_hotspots(SAMPLE / "incidents.csv", out, HotspotSettings(timezone=SAMPLE_TZ), overwrite=True)
    return result, out


@pytest.fixture(scope="session")
def restricted_run(tmp_path_factory):
    """The main job on the sample incidents for the restricted audience."""
    from odgeo.jobs.hotspots import HotspotSettings, run_hotspots

    out = tmp_path_factory.mktemp("restricted_run")
    settings = HotspotSettings(timezone=SAMPLE_TZ, audience="restricted")
    result = run_hotspots(SAMPLE / "incidents.csv", out, settings, overwrite=True)
    return result, out


@pytest.fixture(scope="session", autouse=True)
def every_public_output_is_scanned():
    """Every folder of public products any test writes is scanned for leaks at the end of the session.

    The writers of every command are wrapped to note the folder, the incidents behind it and its
    min_count; a leak in any of them fails the session, whichever test made the run.
    """
    from unittest import mock

    import geopandas as gpd

    from odgeo.jobs import alerts as alertsjob
    from odgeo.jobs import common as jobs
    from odgeo.jobs import emerging as emergingjob
    from odgeo.jobs import hotspot_analysis
    from odgeo.jobs import hotspots as pipeline
    from odgeo.jobs import outreach as outreachjob
    from odgeo.jobs import report as reportjob
    from odgeo.jobs import scan as scanjob
    from odgeo.jobs import sites as sitesjob
    from odgeo.publish.leakscan import scan_public_outputs

    used_by_record: dict[int, object] = {}
    folders: list[tuple[Path, object, int]] = []
    real_select, real_save, real_record = jobs.select_incidents, jobs.save_map_and_record, jobs.save_record

    def select(read, settings, record, **kwargs):
        read, used, rows = real_select(read, settings, record, **kwargs)
        used_by_record[id(record)] = used
        return read, used, rows

    def note(record, out_dir):
        audience = record.parameters.get("audience")
        if audience is not None and audience.value == "public" and id(record) in used_by_record:
            min_count = record.parameters["min_count"].value if "min_count" in record.parameters else 10
            folders.append((Path(getattr(out_dir, "final", out_dir)), used_by_record[id(record)], min_count))

    def save(fmap, record, out_dir, written, gate):
        out = real_save(fmap, record, out_dir, written, gate)
        note(record, out_dir)
        return out

    def save_record(record, out_dir, written, gate):
        out = real_record(record, out_dir, written, gate)
        note(record, out_dir)
        return out

    patches = [mock.patch.object(module, "select_incidents", select)
               for module in (hotspot_analysis, emergingjob, alertsjob, scanjob, outreachjob, reportjob)]
    patches += [mock.patch.object(module, "save_map_and_record", save)
                for module in (pipeline, emergingjob, sitesjob, alertsjob, scanjob, outreachjob)]
    patches.append(mock.patch.object(reportjob, "save_record", save_record))
    for patch in patches:
        patch.start()
    yield folders
    for patch in patches:
        patch.stop()
    problems = []
    for folder, used, min_count in folders:
        if not folder.exists():
            continue
        sites = folder / "sites.geojson"
        places = gpd.read_file(sites) if sites.exists() else None
        ids = [*used["incident_id"].astype(str), *used.get("record_id", [])]  # outreach: "source:id" and id
        leaks = scan_public_outputs(folder, used, min_count=min_count, public_places=places, identifying=ids)
        problems += [f"{folder}: {leak}" for leak in leaks]
    assert not problems, "public products leak:\n" + "\n".join(problems[:20])
