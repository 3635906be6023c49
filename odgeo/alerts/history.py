"""The alert history of a daily job (``odgeo alerts --history FILE``): ODMAP's spike alert history.

Every alert keeps its first and last run (``first_seen``, ``last_seen``, the
reference times); an alert still firing on the next run is ``ongoing`` (and is
notified again only when its count grew), one no longer firing is ``ended`` at
that run, one firing again later is a new alert. Running the same reference
time twice changes nothing: a rerun compares with the counts of the run before.

The file is CSV (one ``# odgeo-alert-history`` header line with what the
history belongs to, then the alerts) or SQLite (``.sqlite``, ``.sqlite3``,
``.db``: tables ``meta`` and ``alerts``), written atomically.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputFileError, ParameterError
from ..io.outputs import write_error

__all__ = ["HISTORY_COLUMNS", "AlertHistory", "history_key"]

FORMAT = "odgeo-alert-history"
VERSION = 2  # 2: one ``ears`` alert lists its ``methods`` (1 had one alert per method)
HISTORY_COLUMNS = ["alert_id", "area", "kind", "methods", "status", "window_start", "window_end", "count",
                   "threshold_or_expected", "related_areas", "first_seen", "last_seen", "ended_at", "prior_count"]
_TIMES = ("window_start", "window_end", "first_seen", "last_seen", "ended_at")
SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")


def history_key(areas_source: dict, names: list[str], columns: dict) -> dict:
    """What a history belongs to: the areas (how they were made, their names) and the input's columns.

    H3 areas are the cells of one resolution: the cells holding incidents grow day by day, so
    the key is the resolution, not the list of cells; polygon areas are their file's names.
    """
    if areas_source.get("kind") == "h3":
        defined = [{k: v for k, v in areas_source.items() if k != "n_areas"}, []]
    else:
        defined = [areas_source, names]
    digest = hashlib.sha256(json.dumps(defined, sort_keys=True, default=str).encode()).hexdigest()
    return {"areas": {k: v for k, v in areas_source.items() if k != "n_areas"}, "areas_sha256": digest[:16],
            "columns": {k: v for k, v in columns.items() if v}}


@dataclass
class AlertHistory:
    """Alerts across runs; see the module docstring."""

    path: Path
    key: dict
    last_as_of: pd.Timestamp | None = None
    table: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=HISTORY_COLUMNS))

    @classmethod
    def single_run(cls) -> AlertHistory:
        """A history of this run alone (no --history): every alert is new, nothing is saved."""
        return cls(Path(), {})

    @classmethod
    def open(cls, path: str | Path, key: dict, timezone: str) -> AlertHistory:
        """The history at ``path`` (a new one when the file does not exist); an error if it is another's."""
        path = Path(path)
        if not path.exists():
            return cls(path, key)
        meta, table = _read_sqlite(path) if path.suffix.lower() in SQLITE_SUFFIXES else _read_csv(path)
        if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") not in (1, VERSION):
            raise InputFileError(f"{path}: not an odgeo alert history (version {VERSION}); give a new `history` file")
        made_for = meta.get("key")
        if not isinstance(made_for, dict):
            raise InputFileError(f"{path}: the history's key is damaged; restore it from a backup or start a new "
                                 "`history` file")
        if meta["version"] == 1:
            table = _from_version_1(table)
        for part, what in (("areas_sha256", "other areas"), ("columns", "another input's columns")):
            if made_for.get(part) != key[part]:
                raise InputFileError(f"`history` {path} was made for {what} ({made_for.get(part)}); "
                                     "use one history per input and area set, or a new file")
        missing = [c for c in HISTORY_COLUMNS if c not in table.columns]
        if missing:
            raise InputFileError(f"{path}: the history lacks columns {', '.join(missing)}; it is damaged: restore "
                                 "it from a backup or start a new `history` file")
        try:
            for col in _TIMES:
                table[col] = pd.to_datetime(table[col], utc=True).dt.tz_convert(timezone)
            last = pd.Timestamp(meta["last_as_of"]).tz_convert(timezone) if meta.get("last_as_of") else None
            table["count"] = table["count"].astype("int64")
            table["threshold_or_expected"] = pd.to_numeric(table["threshold_or_expected"]).astype(float)
            table["prior_count"] = pd.to_numeric(table["prior_count"]).astype("Int64")
        except (ValueError, TypeError, KeyError) as err:
            raise InputFileError(f"{path}: the history is damaged ({err}); restore it from a backup or start a "
                                 "new `history` file") from err
        for col in ("related_areas", "methods"):
            table[col] = table[col].fillna("").astype(str)
        return cls(path, key, last, table[HISTORY_COLUMNS].reset_index(drop=True))

    def update(self, current: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
        """Merge this run's firing alerts; return alerts.csv's rows (firing now, or ended by this run)."""
        if self.last_as_of is not None and as_of < self.last_as_of:
            raise ParameterError(f"`as_of` {as_of:%Y-%m-%d %H:%M} is before the history's last run "
                                 f"({self.last_as_of:%Y-%m-%d %H:%M}); a history only moves forward")
        rerun = self.last_as_of is not None and as_of == self.last_as_of
        table = self.table.copy()
        keys = list(zip(current["area"], current["kind"]))
        open_rows = {(a, k): i for i, (a, k, status) in enumerate(zip(table["area"], table["kind"], table["status"]))
                     if status != "ended" or table.at[i, "ended_at"] == as_of}
        firing = set(keys)
        new_rows: list[dict] = []
        for row, key in zip(current.itertuples(index=False), keys):
            i = open_rows.get(key)
            if i is None:
                new_rows.append({"alert_id": _new_id(table, new_rows, row.area, row.kind, as_of), "area": row.area,
                                 "kind": row.kind, "methods": row.methods, "status": "new",
                                 "window_start": row.window_start,
                                 "window_end": row.window_end, "first_seen": as_of, "last_seen": as_of,
                                 "ended_at": pd.NaT, "count": int(row.count), "prior_count": pd.NA,
                                 "threshold_or_expected": row.threshold_or_expected,
                                 "related_areas": row.related_areas})
                continue
            if not (rerun and table.at[i, "last_seen"] == as_of):
                table.at[i, "prior_count"] = table.at[i, "count"]
            for col, value in (("count", int(row.count)), ("threshold_or_expected", row.threshold_or_expected),
                               ("methods", row.methods),
                               ("related_areas", row.related_areas), ("window_start", row.window_start),
                               ("window_end", row.window_end), ("last_seen", as_of), ("ended_at", pd.NaT)):
                table.at[i, col] = value
            table.at[i, "status"] = "new" if table.at[i, "first_seen"] == as_of else "ongoing"
        drop = []
        for key, i in open_rows.items():
            if key in firing:
                continue
            if table.at[i, "first_seen"] == as_of:
                drop.append(i)  # a rerun no longer finds an alert only this reference time had
            else:
                table.at[i, "status"], table.at[i, "ended_at"] = "ended", as_of
        table = table.drop(index=drop)
        if new_rows:
            table = _appended(table, pd.DataFrame(new_rows, columns=HISTORY_COLUMNS))
        self.table, self.last_as_of = table.reset_index(drop=True), as_of
        now = (self.table["last_seen"] == as_of) | (self.table["ended_at"] == as_of)
        return self.table[now].reset_index(drop=True)

    def save(self, stage: Callable[[Path, Callable[[Path], None]], None] | None = None) -> None:
        """Write the history atomically.

        Through ``stage`` (put in place with the run's products, :meth:`odgeo.io.outputs.OutputFolder.stage`),
        or on its own through a temporary file beside it renamed over it.
        """
        meta = {"format": FORMAT, "version": VERSION, "key": self.key,
                "last_as_of": self.last_as_of.isoformat() if self.last_as_of is not None else None}
        table = self.table.copy()
        for col in _TIMES:
            table[col] = table[col].map(lambda t: t.isoformat() if pd.notna(t) else "")
        try:
            if stage is not None:
                stage(self.path, lambda path: self._write_to(path, meta, table))
            else:
                self._write(meta, table)
        except OSError as err:
            raise write_error(err, self.path, "`history`") from err
        except sqlite3.Error as err:  # SQLite's own words for ENOSPC: "database or disk is full"
            full = OSError(errno.ENOSPC if "full" in str(err) else errno.EIO, str(err))
            raise write_error(full, self.path, "`history`") from err

    def _write(self, meta: dict, table: pd.DataFrame) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        os.close(fd)
        try:
            self._write_to(Path(tmp), meta, table)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _write_to(self, path: Path, meta: dict, table: pd.DataFrame) -> None:
        if self.path.suffix.lower() in SQLITE_SUFFIXES:
            _write_sqlite(path, meta, table)
        else:
            with open(path, "w", encoding="utf-8", newline="") as out:
                out.write(f"# {json.dumps(meta, sort_keys=True)}\n")
                table.to_csv(out, index=False, lineterminator="\n")


def _new_id(table: pd.DataFrame, new_rows: list[dict], area: str, kind: str, as_of: pd.Timestamp) -> str:
    """AREA:KIND:DATE (the first run's date), with a suffix when an alert of that day came before."""
    base = f"{area}:{kind}:{as_of:%Y-%m-%d}"
    taken = set(table["alert_id"]) | {r["alert_id"] for r in new_rows}
    n, out = 1, base
    while out in taken:
        n += 1
        out = f"{base}-{n}"
    return out


def _from_version_1(table: pd.DataFrame) -> pd.DataFrame:
    """A version-1 history's table in version 2: its ``ears_c1`` .. ``ears_c3`` alerts become ``ears`` alerts.

    Open alerts of one area (one per method in version 1) become one, with the earliest
    ``first_seen`` and every method; ended ones keep their rows. Their ids are kept.
    """
    if "kind" not in table or "status" not in table:
        return table  # damaged: the check for missing columns says so
    table = table.copy()
    kinds = table["kind"].astype(str)
    ears = kinds.str.startswith("ears_")
    table["methods"] = np.where(ears, kinds.str[len("ears_"):].str.upper(), "")
    table.loc[ears, "kind"] = "ears"
    live = ears & (table["status"] != "ended")
    keep = []
    for _, group in table[live].groupby("area", sort=False):
        first = group.sort_values(["first_seen", "alert_id"]).index[0]
        table.at[first, "methods"] = ", ".join(sorted(group["methods"]))
        keep.append(first)
    return table[~live | table.index.isin(keep)].reset_index(drop=True)


def _read_csv(path: Path) -> tuple[dict, pd.DataFrame]:
    try:
        with open(path, encoding="utf-8") as handle:
            first = handle.readline()
            meta = json.loads(first[1:]) if first.startswith("#") else {}
            table = pd.read_csv(handle, dtype=str, keep_default_na=False, na_values=[""])
    except (UnicodeDecodeError, json.JSONDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise InputFileError(f"{path}: not an odgeo alert history ({type(err).__name__}); give a new `history` "
                             "file or restore this one") from err
    return meta, table


def _read_sqlite(path: Path) -> tuple[dict, pd.DataFrame]:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
            meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
            table = pd.read_sql_query("SELECT * FROM alerts", con)  # dtype=str would make NULL "None" (pandas 2.1)
    except (sqlite3.Error, pd.errors.DatabaseError) as err:
        if "locked" in str(err):  # another program has it open for writing (odgeo runs take turns: FileLock)
            raise InputFileError(f"`history` {path} is locked by another program ({err}); close it and run "
                                 "again") from err
        raise InputFileError(f"{path}: not an odgeo alert history ({err}); give a new `history` file") from err
    try:
        meta = {k: json.loads(v) for k, v in meta.items()}
    except (json.JSONDecodeError, TypeError) as err:  # TypeError: a NULL value
        raise InputFileError(f"{path}: the history's meta table is damaged; start a new `history` file") from err
    table = table.astype(object).where(table.notna(), None)
    return meta, table.replace({"": None})


def _write_sqlite(path: Path, meta: dict, table: pd.DataFrame) -> None:
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        con.executemany("INSERT INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in meta.items()])
        table.astype(object).where(table.notna(), None).to_sql("alerts", con, index=False)
    con.close()


def _appended(table: pd.DataFrame, added: pd.DataFrame) -> pd.DataFrame:
    """``table`` then ``added``; a column of only gaps on one side takes the other side's type.

    pandas 2 leaves empty frames and all-gap columns out when it chooses a concatenation's
    types, and warns that it will stop; matching the types first makes the result not depend on it.
    """
    if table.empty:
        return added.reset_index(drop=True)
    table, added = table.copy(), added.copy()
    for col in HISTORY_COLUMNS:
        if added[col].isna().all():
            added[col] = pd.Series(index=added.index, dtype=table[col].dtype)
        elif table[col].isna().all():
            table[col] = pd.Series(index=table.index, dtype=added[col].dtype)
    return pd.concat([table, added], ignore_index=True)
