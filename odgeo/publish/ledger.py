"""The release ledger: what earlier public releases published, so that a new one cannot be differenced.

Health departments publish the same data again and again (daily, weekly,
monthly). Two public releases a week apart, each safe alone, give away the
week's incidents by subtraction: an area whose count went from 31 to 32 holds
one new death. ``--ledger FILE`` makes successive public runs share a file that
holds, for every published number, the value last published:

- **The partition is kept.** Areas made by an earlier release keep their
  cells; incidents in cells no area covers form new areas (merged upwards
  as usual, never taking an earlier area's cells). No area's shape changes,
  so no count can be had by subtracting an old area from a new one.
- **Changes are held back until they are large.** A number (an area's count,
  an outcome, a month, a total in run.json) is republished only when it has
  moved by at least ``min_count`` from the value last published; until then
  the earlier value is published again. Between any two releases every
  published number is unchanged or has changed by at least ``min_count``.

What it does not protect against (see docs/privacy.md): an adversary who
learns from a change that *at least one* incident happened somewhere in an
area since the value was last updated; releases made with another ledger or
none; and the restricted audience, which it does not touch. The ledger holds
unpublished values (areas too small to show): keep it with the restricted data.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from ..errors import ParameterError
from ..hexes import cell_ints, cell_strs
from ..io.outputs import atomic_write_bytes, write_error
from .privacy import Area, partition_cells

__all__ = ["LEDGER_FORMAT", "Ledger"]

LEDGER_FORMAT = "odgeo-release-ledger"
#: What a ledger file holds, and of what kind.
_LEDGER_PARTS = {"min_count": int, "settings": dict, "partition": list, "held": dict, "releases": list}
LEDGER_VERSION = 1


@dataclass
class Ledger:
    """The values earlier public releases published, and the areas they used.

    Attributes
    ----------
    path
        Where the ledger is read from and saved to.
    min_count
        The ``--min-count`` of every release (a ledger serves one).
    settings
        Settings every release must share (the hexagon resolution, the period).
    partition
        The areas made so far: key cell, resolution, merged flag and fine cells.
    held
        Per table ("hexes", "totals", "boundaries"), per row key, per column: the
        value last published.
    releases
        One entry per release saved: when, from which file.
    """

    path: Path
    min_count: int
    settings: dict
    partition: list[dict] = field(default_factory=list)
    held: dict[str, dict[str, dict]] = field(default_factory=dict)
    releases: list[dict] = field(default_factory=list)

    @classmethod
    def open(cls, path: str | Path, *, min_count: int, settings: dict) -> Ledger:
        """The ledger at ``path``, or a new one when there is no file yet (the first release)."""
        path = Path(path)
        if not path.exists():
            return cls(path, int(min_count), dict(settings))
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ParameterError(f"`ledger` {path}: not a readable release ledger ({err})") from err
        if not isinstance(doc, dict) or doc.get("format") != LEDGER_FORMAT:
            raise ParameterError(f"`ledger` {path}: not an odgeo release ledger; give a new file name to start one")
        if doc.get("version") != LEDGER_VERSION:
            raise ParameterError(f"`ledger` {path}: ledger version {doc.get('version')!r}, this odgeo reads "
                                 f"{LEDGER_VERSION}")
        damaged = [name for name, kind in _LEDGER_PARTS.items() if not isinstance(doc.get(name), kind)
                   or isinstance(doc.get(name), bool)]
        if damaged:
            raise ParameterError(f"`ledger` {path} is damaged ({', '.join(damaged)} missing or of the wrong kind); "
                                 "restore it from a backup: a new ledger starts a new series, whose first release "
                                 "can be differenced with this one's")
        if doc["min_count"] != min_count:
            raise ParameterError(f"`ledger` {path} was made with `min_count` {doc['min_count']}; every release "
                                 f"sharing a ledger must use it (this run: {min_count})")
        for name, value in settings.items():
            if name != "fixed" and doc["settings"].get(name) != value:
                raise ParameterError(f"`ledger` {path} was made with {name} {doc['settings'].get(name)!r}; every "
                                     f"release sharing a ledger must use it (this run: {value!r})")
        return cls(path, doc["min_count"], doc["settings"], doc["partition"], doc["held"], doc["releases"])

    # --- areas -----------------------------------------------------------------------------------

    def areas_for(self, counts: pd.DataFrame, levels: int) -> list[Area]:
        """The earlier areas, and new ones for occupied cells no earlier area covers.

        New areas are added to the partition (saved with the ledger).
        """
        owner = {cell: i for i, area in enumerate(self.partition) for cell in area["cells"]}
        occupied = cell_strs(cell_ints(counts.index))
        members: dict[int, list[int]] = {}
        new = []
        for name, code in zip(occupied, cell_ints(counts.index).tolist()):
            if name in owner:
                members.setdefault(owner[name], []).append(int(code))
            else:
                new.append(name)
        areas = [_area_of(entry, members.get(i, []), counts) for i, entry in enumerate(self.partition)]
        if new:
            taken = frozenset(int(c) for c in cell_ints(list(owner)))
            made = partition_cells(counts.loc[new], min_count=self.min_count, levels=levels, taken=taken)
            self.partition.extend(_entry_of(a) for a in made)
            areas.extend(made)
        return areas

    # --- held values -----------------------------------------------------------------------------

    def hold(self, table: str, key: str, values: dict[str, int], riders: dict[str, float] | None = None) -> dict:
        """The values to publish for one row: each as last published unless it moved by ``min_count`` or more.

        ``riders``: figures computed from the same records (an age-adjusted rate beside its count),
        published as they are when a value is republished, else as they were then.
        """
        row = self.held.setdefault(table, {}).setdefault(key, {})
        out: dict = {}
        moved = False
        for column, value in values.items():
            value = int(value)
            last = row.get(column)
            if last is None or abs(value - last) >= self.min_count:
                moved = moved or last != value
                row[column] = last = value
            out[column] = last
        for column, figure in (riders or {}).items():
            if moved or f"rider:{column}" not in row:
                row[f"rider:{column}"] = None if figure != figure else float(figure)  # NaN: JSON null
            kept = row[f"rider:{column}"]
            out[column] = float("nan") if kept is None else kept
        return out

    def fixed(self, name: str, values: dict) -> dict:
        """Settings chosen from the data that a series keeps from its first release (``values`` the first time)."""
        return self.settings.setdefault("fixed", {}).setdefault(name, dict(values))

    def save(self, source: str, stage: Callable[[Path, Callable[[Path], None]], None] | None = None) -> None:
        """Write the ledger with one more release.

        Through ``stage`` (put in place with the run's products, :meth:`odgeo.io.outputs.OutputFolder.stage`),
        or atomically on its own (a crash leaves the earlier one).
        """
        self.releases.append({"release": len(self.releases) + 1, "source": source,
                              "saved_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")})
        doc = {"format": LEDGER_FORMAT, "version": LEDGER_VERSION, "min_count": self.min_count,
               "settings": self.settings, "releases": self.releases, "partition": self.partition,
               "held": self.held,
               "note": "restricted: holds values too small to publish; keep it with the incident data"}
        data = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode("utf-8")
        try:
            if stage is not None:
                stage(self.path, lambda path: _write_bytes(path, data))
            else:
                atomic_write_bytes(self.path, data)
        except OSError as err:
            raise write_error(err, self.path, "`ledger`") from err


def _write_bytes(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def _area_of(entry: dict, occupied: list[int], counts: pd.DataFrame) -> Area:
    cells = [int(c) for c in cell_ints(entry["cells"])]
    total = int(counts.loc[cell_strs(occupied), "count"].sum()) if occupied else 0
    key = int(cell_ints([entry["key"]])[0])
    return Area(key, int(entry["level"]), occupied, total, region=set(cells), merged=bool(entry["merged"]))


def _entry_of(area: Area) -> dict:
    return {"key": cell_strs([area.key])[0], "level": area.level, "merged": area.merged,
            "cells": sorted(cell_strs(sorted(area.cells())))}
