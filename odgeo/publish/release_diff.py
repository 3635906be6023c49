"""Two releases of one public series, subtracted as an adversary would: what the difference gives away.

A published figure that changed by less than ``min_count`` (but changed), or an area whose
shape changed, gives single incidents away by subtraction. Areas are matched by what they
are (hexagons by cell, ``--boundaries`` polygons by shape); run.json's counts by their
place in the record; the public tables' counts by their row's key. Used by
``odgeo leakscan --previous`` and ``--series``; the checks of one folder alone are in
:mod:`odgeo.publish.leakscan`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path

from ..drugs.definitions import PART_PREFIX
from ..hexes import PERIOD_COLUMN
from .leakscan import COUNT_PROPERTIES, CSV_COUNTS, Leak, feature_collections, first_line, numbers_in_record
from .record_numbers import SERIES_COUNT_PATHS, number_kind, plain_path

__all__ = ["CSV_ROW_KEYS", "difference_releases"]


def difference_releases(previous: str | Path, current: str | Path, *, min_count: int = 10) -> list[Leak]:
    """What subtracting the earlier release ``previous`` from ``current`` gives away.

    Areas are matched by what they are (hexes.geojson by cell, areas.geojson by
    polygon shape, whatever its name); a figure that moved
    by less than ``min_count`` (but moved), and an area whose cells changed,
    are findings; so are counts of incidents anywhere in run.json, and counts in
    the public tables (rows rejected by reason, alerts by area and kind, EARS by
    area and method), that moved by less than ``min_count``.

    Parameters
    ----------
    previous, current
        Two public output folders of one series, the earlier first.
    min_count
        The smallest count a public product may show.

    Returns
    -------
    list of Leak
        The findings (empty: none).
    """
    previous, current = Path(previous), Path(current)
    comparisons: list[tuple[str, Callable[[Path, Path], list[Leak]]]] = [
        (name, functools.partial(_area_differences, key=key, min_count=min_count))
        for name, key in (("hexes.geojson", "h3_cell"), ("areas.geojson", "geometry"), ("places.geojson", "h3_cell"))]
    comparisons.append(("run.json", functools.partial(_record_differences, min_count=min_count)))
    comparisons += [(a.name, functools.partial(_csv_differences, min_count=min_count))
                    for a in sorted(previous.glob("*.csv"))]
    leaks: list[Leak] = []
    for name, compare in comparisons:
        a, b = previous / name, current / name
        if not (a.exists() and b.exists()):
            continue
        try:
            leaks += compare(a, b)
        except (ValueError, OSError) as err:  # either release's file is damaged: it cannot be compared
            leaks.append(Leak(name, "unreadable", f"cannot be compared with {a} ({first_line(err)})"))
    return leaks


def _area_differences(previous: Path, current: Path, key: str, min_count: int) -> list[Leak]:
    """Areas of one layer, matched by ``key``, whose shape or counts moved by 1 to ``min_count`` - 1.

    ``key`` "geometry" matches polygons by their shape: names repeat (districts of several
    polygons) and change between boundary files, shapes are what a reader subtracts.
    """
    name, leaks = current.name, []
    old = {_area_key(f, key): f for f in _features(previous)}
    for feature in _features(current):
        props = feature["properties"]
        before = old.get(_area_key(feature, key))
        if before is None:
            continue
        label = props.get(key) if key != "geometry" else props.get("name", "a polygon")
        if props.get("n_fine_cells") != before["properties"].get("n_fine_cells"):
            leaks.append(Leak(name, "difference", f"area {label} changed shape"))
        for column, value in props.items():
            if column in COUNT_PROPERTIES or PERIOD_COLUMN.match(str(column)) or str(column).startswith(PART_PREFIX):
                earlier = before["properties"].get(column)
                if isinstance(value, int) and isinstance(earlier, int) and 0 < abs(value - earlier) < min_count:
                    leaks.append(Leak(name, "difference", f"{label} {column}: {earlier} -> {value}"))
    return leaks


def _area_key(feature: dict, key: str):
    if key != "geometry":
        return feature["properties"].get(key)
    import shapely

    shape = shapely.geometry.shape(feature["geometry"]) if feature.get("geometry") else None
    if shape is None:
        return None
    return shapely.normalize(shapely.set_precision(shape, 1e-6)).wkb


def _features(path: Path) -> list[dict]:
    """The features of a GeoJSON layer, each with a properties object (a ValueError when it is not one)."""
    collections = feature_collections(path.read_text(encoding="utf-8"), path)
    if len(collections) != 1:
        raise ValueError("not one GeoJSON FeatureCollection")
    return [f for f in collections[0]["features"] if isinstance(f.get("properties"), dict)]


def _record_differences(previous: Path, current: Path, min_count: int) -> list[Leak]:
    """Counts of incidents in run.json that moved by 1 to ``min_count`` - 1."""
    docs = []
    for path in (previous, current):
        doc = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(doc, dict):
            raise ValueError(f"{path.name} holds a JSON {type(doc).__name__}, not an object")
        docs.append(doc)
    earlier = {where: value for where, value in numbers_in_record(docs[0])
               if number_kind(where) == "count" or plain_path(where) in SERIES_COUNT_PATHS}
    leaks = [Leak("run.json", "difference", f"{where}: {earlier[where]} -> {value}")
             for where, value in numbers_in_record(docs[1])
             if earlier.get(where) is not None and 0 < abs(value - earlier[where]) < min_count]
    chosen = [_chosen_from_data(doc) for doc in docs]
    leaks += [Leak("run.json", "difference", f"parameters.{name}, chosen from the data, moved: {chosen[0][name]} -> "
                                             f"{value} (it follows the incidents' spread; a series keeps its first "
                                             "choice under a ledger)")
              for name, value in chosen[1].items() if name in chosen[0] and chosen[0][name] != value]
    return leaks


def _chosen_from_data(doc: dict) -> dict[str, float]:
    """The numeric parameters a run chose from its incidents (source "auto"), by name."""
    params = doc.get("parameters")
    return {name: p["value"] for name, p in (params.items() if isinstance(params, dict) else ())
            if isinstance(p, dict) and p.get("source") == "auto" and isinstance(p.get("value"), (int, float))
            and not isinstance(p.get("value"), bool)}


#: What names a row of a public table from one release to the next (other tables: their text columns).
CSV_ROW_KEYS = {"rejects.csv": ("code",), "alerts.csv": ("area", "kind"), "ears.csv": ("area", "method"),
                "funnel.csv": ("month",), "funnel_by_area.csv": ("area",),
                "rates.csv": ("area", "period_start"), "trend.csv": ("period_start",)}


def _csv_differences(previous: Path, current: Path, min_count: int) -> list[Leak]:
    """Counts of one table's rows that moved by 1 to ``min_count`` - 1 between two releases."""
    before, after = _csv_counts(previous), _csv_counts(current)
    return [Leak(current.name, "difference", f"{row} {column}: {before[row, column]} -> {value}")
            for (row, column), value in after.items()
            if (row, column) in before and 0 < abs(value - before[row, column]) < min_count]


def _csv_counts(path: Path) -> dict[tuple[str, str], int]:
    import pandas as pd

    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    counts = [c for c in table.columns if c in CSV_COUNTS]
    keys = CSV_ROW_KEYS.get(path.name) or tuple(c for c in table.columns if c not in counts and c != "sentence")
    keys = tuple(k for k in keys if k in table.columns)
    found = {}
    for _, row in table.iterrows():
        name = " ".join(row[k] for k in keys)
        for column in counts:
            if row[column].isdigit():
                found[name, column] = int(row[column])
    return found
