"""Steps every command shares: choosing the incidents, checking the output folder, the rejects file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd

from .errors import NoDataError, OutputExistsError
from .incidents import REJECT_COLUMNS, IncidentRead, filter_incidents, read_incidents
from .runrecord import RunRecord
from .schema import INCIDENT_ID, OCCURRED_AT, located

__all__ = ["JobSettings", "read_job_input", "select_incidents", "row_counts", "check_out_dir", "date_span", "rejects_for", "save_map_and_record"]


@dataclass(frozen=True)
class JobSettings:
    """What every command takes: input columns, filters, geocoding, audience and map (None: the default).

    Attributes
    ----------
    columns, crs, timezone, layer
        Column overrides by role (see :func:`odgeo.schema.detect_columns`), the input
        CRS of coordinate columns, the time zone of naive dates, the vector layer.
    since, until, outcomes
        Filters (inclusive dates; outcomes among fatal, nonfatal, unknown).
    reference, min_score
        Address points and/or street centerlines to geocode the incidents that have
        an address and no coordinates (see :mod:`odgeo.geocoder`); matches scoring
        under ``min_score`` (default 0.5) go to the rejects.
    audience, min_count
        "public" (default) or "restricted"; the smallest count published for the
        public (default 10; see docs/privacy.md).
    title, tiles
        Map title and basemap (None: OpenStreetMap; "none": no basemap).
    """

    columns: dict[str, str | None] = field(default_factory=dict)
    crs: str | None = None
    timezone: str | None = None
    layer: str | None = None
    since: str | None = None
    until: str | None = None
    outcomes: tuple[str, ...] | None = None
    reference: tuple[str, ...] = ()
    min_score: float | None = None
    audience: str | None = None
    min_count: int | None = None
    title: str | None = None
    tiles: str | None = None


def read_job_input(path, settings: JobSettings, record: RunRecord,
                   say: Callable[[str], None] = lambda step: None) -> IncidentRead:
    """Read the incident file, record it, and geocode what lacks coordinates when references are given."""
    from .geocodejob import apply_reference

    say("reading incidents")
    with record.timed("read"):
        read = read_incidents(path, columns=settings.columns, crs=settings.crs,
                              timezone=settings.timezone or "UTC", layer=settings.layer)
    record.sections["input"] = read.source
    if settings.reference:
        say("geocoding addresses without coordinates")
        read = apply_reference(read, settings.reference, settings.min_score, record)
    return read


def select_incidents(read: IncidentRead, settings: JobSettings, record: RunRecord) -> tuple[IncidentRead, gpd.GeoDataFrame]:
    """Apply the date and outcome filters; return the read and the located incidents used.

    Records the filters, the columns and the row counts (which must add up);
    no located incident left is a NoDataError that says where the rows went.
    """
    record.param("timezone", settings.timezone or "UTC", "given" if settings.timezone else "default")
    record.param("since", settings.since, "given" if settings.since else "default")
    record.param("until", settings.until, "given" if settings.until else "default")
    record.param("outcomes", list(settings.outcomes) if settings.outcomes else None,
                 "given" if settings.outcomes else "default")
    read = filter_incidents(read, since=settings.since, until=settings.until, outcomes=settings.outcomes)
    used = located(read.incidents).reset_index(drop=True)
    record.sections["columns"] = read.columns
    record.sections["counts"] = row_counts(read, len(used))
    if read.notes:
        record.sections["data_notes"] = read.notes
    if used.empty:
        by_code = ", ".join(f"{n} {code}" for code, n in record.sections["counts"]["rejected_by_code"].items())
        raise NoDataError(
            f"{read.source.get('path', 'input')}: no located incidents to analyse "
            f"({read.n_input} rows: {read.n_unlocated} without coordinates, {read.n_rejected} rejected"
            + (f": {by_code}" if by_code else "") + ")"
        )
    return read, used


def row_counts(read: IncidentRead, n_used: int) -> dict:
    """Where every input row went; ``n_input = n_used + n_unlocated + n_rejected``."""
    by_code = read.rejects["code"].value_counts().sort_index()
    counts = {
        "n_input": read.n_input,
        "n_used": n_used,
        "n_unlocated": read.n_unlocated,
        "n_rejected": read.n_rejected,
        "rejected_by_code": {str(k): int(v) for k, v in by_code.items()},
        "check": "n_input = n_used + n_unlocated + n_rejected",
    }
    if counts["n_used"] + counts["n_unlocated"] + counts["n_rejected"] != counts["n_input"]:
        raise AssertionError(f"row counts do not add up: {counts}")  # a bug, never user error
    return counts


def check_out_dir(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputExistsError(f"{out_dir} is a file; give a folder for --out")
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise OutputExistsError(f"{out_dir} is not empty; choose another folder or add --overwrite")


def date_span(used: gpd.GeoDataFrame) -> str:
    """The incidents' months in words: "Jan 2024 to Dec 2025"."""
    times = used[OCCURRED_AT]
    first, last = times.min(), times.max()
    return f"{first:%b %Y}" if (first.year, first.month) == (last.year, last.month) else f"{first:%b %Y} to {last:%b %Y}"


def rejects_for(rejects: pd.DataFrame, audience: str) -> pd.DataFrame:
    """The rejects table to write: without incident ids for the public audience."""
    if audience == "restricted":
        return rejects[REJECT_COLUMNS]
    return rejects[[c for c in REJECT_COLUMNS if c != INCIDENT_ID]]


def save_map_and_record(fmap, record: RunRecord, out_dir: Path, written: list[Path]) -> list[Path]:
    """Write map.html, then run.json listing every file written (itself included)."""
    from .writers import write_json

    fmap.save(str(out_dir / "map.html"))
    written = [*written, out_dir / "map.html"]
    doc = record.as_dict()
    doc["outputs"] = sorted(p.name for p in [*written, out_dir / "run.json"])
    return [*written, write_json(doc, out_dir / "run.json")]
