"""A leak scanner for public products: reads every file written and reports what must not be there.

It fails on what a reader of the files could use to single someone out:

- an incident's location: a coordinate pair equal to an incident's longitude
  and latitude at the precision the file prints it (4 decimals, about 11 m,
  or finer), in either order, and any point geometry at all (but the sites of
  ``sites.geojson``, public places by what the product is; a site standing on an
  incident's coordinates is still a finding unless ``public_places`` declares it);
- a small count: a count-like property of a map or GeoJSON feature in
  (0, min_count);
- a property that is not one of the public ones (an input column slipping through);
- a date finer than a month: any day-level date in a data file (but the daily
  products of ``odgeo alerts`` and ``odgeo scan``, alerts.csv, ears.csv and
  scan_clusters.*, whose every count is checked instead, and the day those
  products are for in run.json), and any incident's own date anywhere (the HTML
  includes library code with dates of its own);
- a value of an identifying column (ids, names, free text) given by the caller;
- in run.json, a count of incidents or rows in (0, min_count), and figures
  measured on the incidents (standard distances, the farthest incident);
- in a CSV, a row-number column or a count in (0, min_count);
- in log.txt, any number that is not part of a date, a time or a name (the warnings' counts are exact);
- in a page (HTML, or a PDF's text read by poppler's pdftotext), a count of overdoses in (0, min_count);
- a count column (the monthly ones taken together) showing 0 beside hidden values,
  which says that each hidden one is at least 1;
- a threshold, EARS baseline or upper bound in (0, min_count): it bounds the counts
  compared with it;
- a sentence giving a window's length in days where its row shows only the month
  the window starts in;
- with a study area, a Gi* or emerging feature outside it.

:func:`odgeo.publish.release_diff.difference_releases` compares two releases
of the same series (what subtracting them gives away).

Used by the test suite on every public run it makes; usable on any folder:
``odgeo leakscan OUT_DIR INCIDENTS.csv``.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np

from ..drugs.definitions import PART_PREFIX, part_parents
from ..errors import InputFileError
from ..hexes import PERIOD_COLUMN
from ..projection import lonlat_of
from ..schema import OCCURRED_AT, has_location
from .gate import PUBLIC_PROPERTIES
from .privacy import log_numbers
from .product_text import product_text
from .record_numbers import is_incident_count_key, number_kind

__all__ = ["COUNT_PROPERTIES", "CSV_COUNTS", "Leak", "feature_collections", "first_line", "numbers_in_record",
           "scan_public_outputs"]

#: Feature properties that hold numbers of incidents.
COUNT_PROPERTIES = frozenset({"count", "fatal", "nonfatal", "unknown", "n_incidents", "covered", "marginal_gain",
                              "observed"})
#: Properties the map adds: per-period counts of a hexagon, tooltip sentences, styling flags, an area's km².
MAP_PROPERTIES = frozenset({"months", "sentence", "artefact", "km2", "per_km2"})
#: Count columns of the public tables (checked here, and compared across releases by :mod:`.release_diff`).
CSV_COUNTS = COUNT_PROPERTIES | {"n_rows", "prior_count"} | {
    # odgeo outreach's funnel.csv: people at each step (the public file shows only the eligible and shares)
    "eligible", "attempted", "reached", "engaged", "referred", "started_care", "tried_within_72h",
    # odgeo report's rates.csv and trend.csv
    "earlier_count", "count_12_months_ending", "unknown_age"}
#: Columns computed from a count (a rate and its exact interval give the count back): never beside a hidden one.
FROM_COUNT = {"rate": "count", "rate_low": "count", "rate_high": "count", "earlier_rate": "earlier_count",
              "age_adjusted_rate": "count", "age_adjusted_low": "count", "age_adjusted_high": "count"}
#: Files only a restricted run writes: each row is a person or a record (odgeo outreach).
RESTRICTED_FILES = frozenset({"worklist.csv", "linkage.csv", "practice_checks.csv", "attempts_rejects.csv"})
_SENTENCE_COUNT = re.compile(r"(\d[\d,]*) (?:overdoses?|incidents?|fatal)\b")
_NUMBER = re.compile(r"-?\d{1,3}\.(\d+)")
_PAIR_GAP = re.compile(r"^[\s,\]\[\"']{1,6}$")
_DAY = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_POINT = re.compile(r"\"type\"\s*:\s*\"(Multi)?Point\"|odgeo-points")


@dataclass(frozen=True)
class Leak:
    """One finding: the file, its kind and what was found."""

    file: str
    kind: str  # "coordinate", "point", "small count", "property", "date", "identifier", "unreadable", ...
    detail: str

    def __str__(self) -> str:
        return f"{self.file}: {self.kind}: {self.detail}"


def scan_public_outputs(folder: str | Path, incidents: gpd.GeoDataFrame, *, min_count: int = 10,
                        identifying: Iterable[str] = (), public_places: gpd.GeoDataFrame | None = None,
                        study_area=None, progress: Callable[[str], None] | None = None) -> list[Leak]:
    """Every leak found in the files of ``folder`` (empty list: none).

    Parameters
    ----------
    folder
        A public output folder.
    incidents
        The incidents behind the products (an IncidentFrame: geometry in EPSG:4326
        and ``occurred_at``).
    min_count
        The smallest count a public product may show.
    identifying
        Values of columns that must never appear (values shorter than 5 characters
        are skipped: they would match unrelated text).
    public_places
        Points that may be published (naloxone sites: pharmacies, libraries): point
        geometries are allowed in ``sites.geojson`` and their coordinates are not taken
        for an incident's even where one happened there.
    study_area
        The run's --study-area (a shapely polygon, EPSG:4326): no Gi* or emerging
        feature may lie outside it.
    progress
        Called with a few words before each file is read (None: silent).

    Returns
    -------
    list of Leak
        The file, the kind and what was found, for each finding.
    """
    located = incidents[has_location(incidents.geometry)]
    lon, lat = lonlat_of(located.geometry)
    keys = {p: set(zip(np.round(lon * 10**p).astype(np.int64).tolist(),
                       np.round(lat * 10**p).astype(np.int64).tolist())) for p in (4, 5, 6)}
    if public_places is not None and len(public_places):
        plon, plat = lonlat_of(public_places.geometry)
        for p in keys:
            keys[p] -= set(zip(np.round(plon * 10**p).astype(np.int64).tolist(),
                               np.round(plat * 10**p).astype(np.int64).tolist()))
    days = set(located[OCCURRED_AT].dropna().dt.strftime("%Y-%m-%d"))
    secrets = _Secrets.of({str(v) for v in identifying if len(str(v)) >= 5})
    folder = Path(folder)
    files = [p for p in sorted(folder.iterdir()) if p.is_file()]
    if not any(p.suffix.lower() in PRODUCT_SUFFIXES for p in files):
        raise InputFileError(f"{folder}: no odgeo product in it (run.json, map.html, .geojson, .csv, .tif, .png); "
                             "give the output folder of an odgeo run")
    alert_days = _product_days(folder)
    checks = _FileChecks(keys, days, secrets, alert_days, min_count, public_places is not None, study_area)
    leaks: list[Leak] = []
    for path in files:
        if progress is not None:
            progress(f"checking {path.name}")
        try:
            leaks += checks.leaks(path)
        except (ValueError, OSError) as err:  # not JSON, not UTF-8, not a TIFF or PNG, a cut or empty file
            # A scanner that cannot read a file cannot vouch for it: that is a finding, not a pass.
            leaks.append(Leak(path.name, "unreadable", f"not the file odgeo writes under this name "
                                                       f"({first_line(err)}); a public folder should hold only "
                                                       "odgeo's products"))
    return leaks


#: What odgeo writes into an output folder.
PRODUCT_SUFFIXES = (".json", ".geojson", ".csv", ".html", ".tif", ".tiff", ".png", ".txt", ".gpkg")


def first_line(err: BaseException) -> str:
    """An error's kind and the first line of its message, for a finding about a file that cannot be read."""
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0]}" if text else type(err).__name__


@dataclass(frozen=True)
class _FileChecks:
    """Every check of one file of a public folder (see :func:`scan_public_outputs`)."""

    keys: dict[int, set]
    days: set[str]
    secrets: _Secrets
    alert_days: set[str]
    min_count: int
    places_declared: bool
    study_area: object

    def leaks(self, path: Path) -> list[Leak]:
        text, name, leaks = product_text(path), path.name, []
        leaks += [Leak(name, "coordinate", d) for d in _coordinate_pairs(text, self.keys)]
        leaks += [Leak(name, "coordinate", d) for d in _point_layer_pairs(text, self.keys)]
        if _POINT.search(text) and name != "sites.geojson":  # sites are public places by what the product is
            leaks.append(Leak(name, "point", "a point geometry"))
        for collection in feature_collections(text, path):
            leaks += [Leak(name, kind, d) for kind, d in _feature_problems(collection, self.min_count)
                      if not (kind == "date" and name in DAILY_PRODUCTS)]
            leaks += [Leak(name, "zero beside hidden", d) for d in _zeros_beside_hidden(_feature_counts(collection))]
        if path.suffix.lower() in (".html", ".htm", ".pdf"):  # counts written as words on the page
            leaks += [Leak(name, "small count", f"'{m.group(0)}' in the page") for m in _SENTENCE_COUNT.finditer(text)
                      if 0 < int(m.group(1).replace(",", "")) < self.min_count]
        leaks += [Leak(name, "date", d) for d in _dates(text, path, self.days) if d.split()[-1] not in self.alert_days]
        leaks += [Leak(name, "identifier", repr(s)) for s in self.secrets.found_in(text)]
        if name == "run.json":
            leaks += [Leak(name, kind, d) for kind, d in _record_problems(json.loads(text), self.min_count)]
        if name == "log.txt":  # a warning's exact counts: two mornings' logs difference to one day's rows
            leaks += [Leak(name, "count in a message", n) for n in log_numbers(text)]
        if name in RESTRICTED_FILES:
            leaks.append(Leak(name, "restricted file", "a person-level file of a restricted outreach run"))
        if path.suffix.lower() == ".csv":
            leaks += [Leak(name, kind, d) for kind, d in _csv_problems(path, self.min_count)]
        if self.study_area is not None and name in ("gistar.geojson", "emerging.geojson"):
            leaks += [Leak(name, "footprint", d) for d in _outside(path, self.study_area)]
        return leaks


_MEASURED = ("standard_distance_m", "median_distance_m", "max_distance_from_median_centre_km")


#: Figures that bound the counts of the day beside them: thresholds, baselines, EARS upper bounds.
BOUND_COLUMNS = frozenset({"threshold_or_expected", "upper_bound", "baseline_mean", "baseline_sd",
                           "threshold", "kth_highest_daily_count"})


def _bound(where: str, value: float, min_count: int) -> str | None:
    """A finding when a threshold or baseline under ``min_count`` is shown: it bounds hidden counts."""
    if 0 < value < min_count:
        return (f"{where} = {value:g}: a threshold or baseline under {min_count} bounds the counts it is "
                "compared with (an area not in alert had fewer, one in alarm more)")
    return None


def _parts_problems(doc: dict, min_count: int):
    """A report's breakdowns of a period's total (age groups, sexes) whose hidden parts the total gives back."""
    report = doc.get("report")
    periods = report.get("by_period") if isinstance(report, dict) else None
    for period, figures in (periods.items() if isinstance(periods, dict) else ()):
        total = figures.get("n_incidents") if isinstance(figures, dict) else None
        breakdowns = (figures.get("demographics") if isinstance(figures, dict) else None) or {}
        for dimension, parts in breakdowns.items():
            if not isinstance(total, int) or not isinstance(parts, dict):
                continue
            hidden = [k for k, v in parts.items() if v is None]
            rest = total - sum(v for v in parts.values() if isinstance(v, int))
            where = f"run.json report.by_period.{period}.demographics.{dimension}"
            if len(hidden) == 1 and rest:
                yield "complement", f"{where}: {hidden[0]} is hidden alone, and the total minus the others gives {rest}"
            elif hidden and 0 < rest < min_count:
                yield "complement", f"{where}: the hidden parts hold {rest} together (total minus the shown)"
            elif hidden and any(v == 0 for v in parts.values()):
                yield "shown zero", f"{where}: a zero shown beside hidden counts says each holds at least 1"


def _record_problems(doc: dict, min_count: int):
    """Small counts, bounds, and figures measured on single incidents, anywhere in a run record."""
    yield from _parts_problems(doc, min_count)
    drugs = doc.get("drug_alerts")
    if isinstance(drugs, dict) and drugs.get("by_group"):
        yield "drug findings", ("run.json drug_alerts.by_group says which drugs appeared where and how often, "
                                "beside an alerts table that withholds the small ones")
    text = json.dumps(doc)
    for key in _MEASURED:
        if f'"{key}"' in text:
            yield "measured", f"run.json holds {key}"
    for where, value in numbers_in_record(doc):
        kind = number_kind(where)
        bound = (_bound(f"run.json {where}", value, min_count)
                 if where.startswith("thresholds.") and where.rsplit(".", 1)[-1] in BOUND_COLUMNS else None)
        if bound:
            yield "bound", bound
        elif kind == "count" and 0 < value < min_count:
            yield "small count", f"run.json {where} = {value:g}"
        elif kind in ("undeclared", "withheld"):
            yield "undeclared number", (f"run.json {where} = {value:g} is neither a protected count nor a "
                                        "declared public figure (odgeo.publish.record_numbers)")


def numbers_in_record(value, path: str = ""):
    """(path, value) of every number in a run record."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from numbers_in_record(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from numbers_in_record(v, f"{path}[{i}]")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield path, value


def _csv_problems(path: Path, min_count: int):
    import pandas as pd

    table = pd.read_csv(path)
    if "row" in table.columns:
        yield "row numbers", "a 'row' column says which input rows were rejected"
    counts = [c for c in table.columns if c in CSV_COUNTS or is_incident_count_key(str(c))]
    for col in counts:
        values = pd.to_numeric(table[col], errors="coerce")
        small = values[(values > 0) & (values < min_count)]
        if len(small):
            yield "small count", f"{col} = {small.iloc[0]:g}"
    if {"window_start", "sentence"} <= set(table.columns):
        # A row that shows only the month its window starts in, with a sentence giving the window's
        # length in days, dates its first day by subtraction (route 3 of issue 41).
        month_only = table["window_start"].astype(str).str.fullmatch(r"\d{4}-\d{2}")
        dated = table["sentence"].astype(str).str.contains(r"\bwithin \d+ days?\b", regex=True)
        if (month_only & dated).any():
            yield "date", (f"a sentence gives the length in days of a window whose start shows only its month "
                           f"({table.loc[month_only & dated, 'sentence'].iloc[0][:80]!r})")
    columns = {str(c): [None if pd.isna(v) else v for v in table[c]] for c in counts}
    yield from (("zero beside hidden", d) for d in _zeros_beside_hidden(columns))
    for derived, source in FROM_COUNT.items():
        if derived in table.columns and source in table.columns:
            count = pd.to_numeric(table[source], errors="coerce")
            beside = pd.to_numeric(table[derived], errors="coerce").notna() & (count.isna() | (count < min_count)
                                                                               & (count > 0))
            if beside.any():
                yield "small count", f"{derived} shown where {source} is hidden or under {min_count}"
    if "eligible" in table.columns and ({"month", "area"} & set(table.columns)):
        yield from _funnel_problems(table, min_count)
    for col in (c for c in table.columns if c in BOUND_COLUMNS):
        shown = pd.to_numeric(table[col], errors="coerce").dropna()
        bounds = [b for b in (_bound(col, float(v), min_count) for v in shown) if b]
        if bounds:
            yield "bound", bounds[0]


def _funnel_problems(table, min_count: int):
    """A funnel's pooled row minus its shown months gives the hidden months: together they must reach min_count.

    And a share shown beside a hidden denominator is that denominator's numerator over an unknown: it
    says little, but a share of 1 or 0 says every one or none of a small group.
    """
    import pandas as pd

    eligible = pd.to_numeric(table["eligible"], errors="coerce")
    pooled = table["month" if "month" in table.columns else "area"].astype(str) == "all"
    if pooled.any() and eligible[pooled].notna().all():
        gap = float(eligible[pooled].iloc[0]) - float(eligible[~pooled].fillna(0).sum())
        if 0 < gap < min_count:
            yield "subtraction", f"the pooled row minus the shown months leaves {gap:g}"
    shares = [c for c in table.columns if str(c).startswith("share_")]
    hidden = eligible.isna() | (eligible < min_count)
    for col in shares:
        if pd.to_numeric(table.loc[hidden, col], errors="coerce").notna().any():
            yield "small count", f"{col} shown for a month whose eligible count is hidden or under {min_count}"
            break


def _outside(path: Path, study_area) -> list[str]:
    import shapely

    features = json.loads(path.read_text()).get("features", [])
    if not features:
        return []
    frame = gpd.GeoDataFrame.from_features(features, crs="EPSG:4326")
    # A cell counts as inside when its centre is (as H3 fills a polygon); a hair of tolerance. The
    # centre in degrees is right for this test: a cell is a few hundred metres across.
    centres = shapely.centroid(frame.geometry.to_numpy())
    outside = ~shapely.within(centres, shapely.buffer(study_area, 1e-9))
    return [f"{int(outside.sum())} feature(s) outside the study area"] if outside.any() else []


_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class _Secrets:
    """Values of identifying columns, found standing alone in a text in one pass over its words.

    Each value is looked up by its longest word (its anchor): the text's words are read
    once, and a value is checked in place only where its anchor stands. One search of the
    text per value took 175 s for 5,105 ids over a 42 MB Gi* layer.
    """

    anchors: dict[str, list[tuple[str, int]]]  # anchor word -> (value, where the anchor starts in it)
    wordless: tuple[str, ...]  # values without a word character, searched whole

    @classmethod
    def of(cls, values: Iterable[str]) -> _Secrets:
        anchors: dict[str, list[tuple[str, int]]] = {}
        wordless = []
        for value in sorted(values):
            words = list(_WORD.finditer(value))
            if not words:
                wordless.append(value)
                continue
            anchor = max(words, key=lambda m: len(m.group()))
            anchors.setdefault(anchor.group(), []).append((value, anchor.start()))
        return cls(anchors, tuple(wordless))

    def found_in(self, text: str) -> list[str]:
        """The values standing alone in ``text`` (not inside a longer word)."""
        found = {v for v in self.wordless if _as_word(v).search(text)}
        if not self.anchors or not (set(_WORD.findall(text)) & self.anchors.keys()):
            return sorted(found)
        for match in _WORD.finditer(text):
            for value, offset in self.anchors.get(match.group(), ()):
                start = match.start() - offset
                if (value not in found and start >= 0 and text.startswith(value, start)
                        and not _is_word_char(text, start - 1) and not _is_word_char(text, start + len(value))):
                    found.add(value)
        return sorted(found)


def _is_word_char(text: str, i: int) -> bool:
    return 0 <= i < len(text) and (text[i].isalnum() or text[i] == "_")


def _as_word(value: str) -> re.Pattern:
    """The value standing alone (not inside a longer word: 'Overdose' is not in 'Overdoses')."""
    return re.compile(rf"(?<!\w){re.escape(value)}(?!\w)")


def _coordinate_pairs(text: str, keys: dict[int, set]) -> list[str]:
    found = []
    matches = list(_NUMBER.finditer(text))
    for a, b in itertools.pairwise(matches):
        if not _PAIR_GAP.match(text[a.end():b.start()]):
            continue
        # Both numbers of a pair are written at one precision; the shorter lost trailing zeros.
        p = min(max(len(a.group(1)), len(b.group(1))), 6)
        if p < 4:
            continue
        x, y = float(a.group(0)), float(b.group(0))
        for first, second in ((x, y), (y, x)):
            if (round(first * 10**p), round(second * 10**p)) in keys[p]:
                found.append(f"{a.group(0)}, {b.group(0)} is an incident's location at {p} decimals")
    return found


def _point_layer_pairs(text: str, keys: dict[int, set]) -> list[str]:
    """Coordinates in odgeo's compact point layer (integers of 1e-5 degrees)."""
    found, decoder = [], json.JSONDecoder()
    for match in re.finditer(r"\{\"lon\":\[", text):
        try:
            obj, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        for lon, lat in zip(obj.get("lon", []), obj.get("lat", [])):
            if (int(lon), int(lat)) in keys[5]:
                found.append(f"{lon / 1e5}, {lat / 1e5} (point layer) is an incident's location at 5 decimals")
    return found


def feature_collections(text: str, path: Path) -> list[dict]:
    """GeoJSON FeatureCollections in a file: the file itself, or those embedded in a page."""
    if path.suffix.lower() in (".geojson", ".json") and '"FeatureCollection"' in text[:200]:
        collection = json.loads(text)
        if not (isinstance(collection, dict) and isinstance(collection.get("features"), list)
                and all(isinstance(f, dict) for f in collection["features"])):
            raise ValueError("a FeatureCollection whose features are not a list of features")
        return [collection]
    out, decoder = [], json.JSONDecoder()
    for match in re.finditer(r"\{\s*\"(type|features)\"", text):
        try:
            obj, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and obj.get("type") == "FeatureCollection" and isinstance(obj.get("features"), list):
            out.append(obj)
    return out


def _feature_problems(collection: dict, min_count: int):
    allowed = PUBLIC_PROPERTIES | MAP_PROPERTIES
    for feature in collection.get("features", []):
        properties = feature.get("properties") if isinstance(feature, dict) else None
        for key, value in (properties if isinstance(properties, dict) else {}).items():
            periodic = bool(PERIOD_COLUMN.match(str(key)))
            part = str(key).startswith(PART_PREFIX)
            if key not in allowed and not periodic and not part:
                yield "property", f"{key!r} is not a public property"
            numbers = []
            if key in COUNT_PROPERTIES or periodic or part:
                numbers = [value]
            elif key == "months" and isinstance(value, list):
                numbers = value
            elif isinstance(value, str):
                numbers = [m.replace(",", "") for m in _SENTENCE_COUNT.findall(value)]
            for number in numbers:
                n = _as_count(number)
                if n is not None and 0 < n < min_count:
                    yield "small count", f"{key} = {value!r}"
                    break
            if isinstance(value, str) and _DAY.search(value):
                yield "date", f"{key} = {value!r}"
        yield from _part_problems(properties if isinstance(properties, dict) else {}, min_count)


def _part_problems(properties: dict, min_count: int):
    """A drug group's count beside the feature's (or its parent group's): their difference is a count too."""
    parts = [k for k in properties if str(k).startswith(PART_PREFIX)]
    parents = part_parents(parts)
    for key in parts:
        part = _as_count(properties[key])
        for whole_key in ("count", parents.get(key)):
            whole = _as_count(properties.get(whole_key)) if whole_key else None
            if part is not None and whole is not None and 0 < whole - part < min_count:
                yield "complement", f"{whole_key} = {whole} and {key} = {part} leave {whole - part}"


def _feature_counts(collection: dict) -> dict[str, list]:
    """Each count property of a layer: its values over the features (None where hidden).

    The monthly columns and the map's month lists are one ("months"): a 0 shown for one
    month says what a hidden month holds as much as a 0 in the same month elsewhere.
    """
    columns: dict[str, list] = {}
    for feature in collection.get("features", []):
        properties = feature.get("properties") if isinstance(feature, dict) else None
        for key, value in (properties if isinstance(properties, dict) else {}).items():
            if PERIOD_COLUMN.match(str(key)):
                columns.setdefault("months", []).append(value)
            elif key in COUNT_PROPERTIES or str(key).startswith(PART_PREFIX):
                columns.setdefault(str(key), []).append(value)
            elif key == "months" and isinstance(value, list):
                columns.setdefault("months", []).extend(value)
    return columns


def _zeros_beside_hidden(columns: dict[str, list]) -> list[str]:
    """Count columns that show 0 for some areas and hide others: "hidden" then means 1 to min_count - 1.

    Where a product hides small counts it must hide zeros alike (or show neither), else a
    reader learns that every hidden count is at least one incident.
    """
    found = []
    for column, values in columns.items():
        shown_zero = any(_as_count(v) == 0 for v in values)
        hidden = any(v is None or (isinstance(v, str) and not v.strip()) for v in values)
        if shown_zero and hidden:
            found.append(f"{column} shows 0 beside hidden values: a hidden {column} is then at least 1")
    return found


def _as_count(value) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).replace(",", "")
    return float(text) if re.fullmatch(r"\d+(\.\d+)?", text) else None


def _product_days(folder: Path) -> set[str]:
    """The day the daily products are for (odgeo alerts, odgeo scan): the last of ears.csv, run.json's as_of."""
    if not any((folder / name).exists() for name in DAILY_PRODUCTS):
        return set()
    days = set()
    ears = folder / "ears.csv"
    if ears.exists():
        found = _DAY.findall(ears.read_text(encoding="utf-8", errors="replace"))
        days |= {max(found)} if found else set()
    record = folder / "run.json"
    try:  # a damaged run.json is reported by its own check
        doc = json.loads(record.read_text(encoding="utf-8")) if record.exists() else {}
    except (ValueError, OSError):
        doc = {}
    as_of = doc.get("parameters", {}).get("as_of", {}) if isinstance(doc, dict) else {}
    days |= set(_DAY.findall(str(as_of.get("value") if isinstance(as_of, dict) else "")))
    return days


#: Files that are daily by design (public alerts name their day; their counts obey min_count).
DAILY_PRODUCTS = frozenset({"alerts.csv", "ears.csv", "scan_clusters.csv", "scan_clusters.geojson"})


def _dates(text: str, path: Path, days: set[str]) -> list[str]:
    if path.name in DAILY_PRODUCTS:
        return []
    if path.suffix.lower() in (".html", ".htm"):
        return [f"incident date {d}" for d in sorted(days) if d in text]
    return [f"day-level date {d}" for d in sorted(set(_DAY.findall(text)))]
