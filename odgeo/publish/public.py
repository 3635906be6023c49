"""The public gate: aggregates safe for a wide audience (see docs/privacy.md and :mod:`odgeo.publish.restricted`).

Areas come from :mod:`odgeo.publish.privacy` (and, for a release series, from
:mod:`odgeo.publish.ledger`); every layer is made from them by
:mod:`odgeo.publish.areas`; the metadata (run.json, rejects.csv, the
sites' figures) is reduced here so that every count is 0 or at least
``min_count`` and none can be had back by subtraction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..drugs.definitions import part_parents
from ..hexes import H3_CELL
from ..schema import OUTCOMES
from .areas import drug_part_columns, period_columns
from .gate import Gate, Products
from .ledger import Ledger
from .privacy import (
    COARSEN_LEVELS,
    LOG_MASK,
    Area,
    areas_frame,
    hidden_counts,
    masked_log,
    partition_cells,
    suppress_breakdowns,
    suppress_parts,
)
from .record_numbers import number_kind, plain_path

__all__ = ["PublicGate"]


class PublicGate(Gate):
    """Aggregates safe for a wide audience (see docs/privacy.md)."""

    audience = "public"

    def __init__(self, min_count: int, ledger: Ledger | None = None):
        self.limit = int(min_count)
        self.ledger = ledger
        self._n_suppressed = 0
        self._n_published: int | None = None
        self._section_views: dict[str, Callable[[Any], Any]] = {}
        self._daily = False
        self._undeclared: set[str] = set()

    # sentences ----------------------------------------------------------------------------------

    def count(self, n: int | None) -> str:
        """A count for a sentence: 'fewer than N' (zero too), or 'an undisclosed number of' when hidden.

        A zero written beside "fewer than N" would say that "fewer than N" means 1 or more.
        """
        if n is None:
            return "an undisclosed number of"
        if isinstance(n, str):
            return n
        return f"fewer than {self.limit}" if n < self.limit else f"{int(n):,}"

    def label(self, products: Products) -> Products:
        """Marked public, with the notes the map gives on the protection."""
        products.hidden_under = self.limit
        products.audience_label = "public (aggregates only)"
        products.notes = [f"Areas with fewer than {self.limit} overdoses are merged with neighbouring "
                          "hexagons or, where still too few, not shown; smaller figures show as 'hidden'."]
        if self.ledger is not None:
            products.notes.append(f"Figures are updated once they have changed by at least {self.limit} "
                                  "since the last release, so they may lag the data by fewer than that.")
        return products

    # totals -------------------------------------------------------------------------------------

    def totals(self, counts: dict) -> dict:
        """Row counts with every count 0 or at least ``min_count`` (complementary suppression).

        :attr:`n_suppressed` incidents are in areas too small to show; ``n_used`` is
        hidden when that is a small number (it is ``n_used`` minus the sum of the areas).
        """
        if self._daily:
            return _withheld_totals(counts)
        m = self.limit
        by_code = dict(counts["rejected_by_code"])
        values = {"n_input": counts["n_input"], "n_used": counts["n_used"], "n_unlocated": counts["n_unlocated"],
                  "n_rejected": counts["n_rejected"], "n_used_undated": counts["n_used_undated"],
                  "n_used_fatal": counts.get("n_used_fatal", 0), "n_incidents_suppressed": self.n_suppressed,
                  **{f"rejected:{k}": v for k, v in by_code.items()}}
        if self.ledger is not None:
            values = self.ledger.hold("totals", "rows", values)
        parts = ["n_used", "n_unlocated", "n_rejected"]
        part_values = np.array([values[p] for p in parts], dtype=np.int64)
        # n_used minus the published areas' sum is the suppressed count: a small one hides n_used.
        hidden = _hide(part_values, m, np.array([0 < values["n_incidents_suppressed"] < m, False, False]))
        total_hidden = values["n_input"] < m or hidden.sum() == 1 or 0 < part_values[hidden].sum() < m
        if total_hidden:
            hidden[:] = True
        shown: dict[str, Any] = {"n_input": None if total_hidden else values["n_input"]}
        shown.update({p: (None if h else int(v)) for p, h, v in zip(parts, hidden, part_values)})
        codes = sorted(by_code)
        code_hidden = _hide(np.array([values[f"rejected:{c}"] for c in codes], dtype=np.int64), m)
        if shown["n_rejected"] is None:
            code_hidden[:] = True
        out = dict(shown)
        out["rejected_by_code"] = {c: (None if h else int(values[f"rejected:{c}"])) for c, h in zip(codes, code_hidden)}
        for name in ("n_used_undated", "n_incidents_suppressed"):
            out[name] = None if 0 < values[name] < m else int(values[name])
        fatal, used = values["n_used_fatal"], values["n_used"]
        out["n_used_in_published_areas"] = self._n_published
        out["n_used_fatal"] = None if (0 < fatal < m or 0 < used - fatal < m or out["n_used"] is None) else int(fatal)
        out["check"] = "n_input = n_used + n_unlocated + n_rejected"
        out["hidden"] = (f"null: a count under {m}, or one hidden so that it cannot be had by subtraction; "
                         "the restricted run record has every count")
        if self.ledger is not None:
            out["check"] += f" (each held until it changes by {m} or more, so the sum may be off by less)"
        return out

    def published_areas(self, areas: list[Area], counts: pd.DataFrame):
        """The areas holding ``min_count`` (kept), as shown with their breakdowns suppressed, and what was hidden."""
        m = self.limit
        table = self._held_areas(areas, counts)
        kept_mask = table["count"] >= m
        kept = table[kept_mask].reset_index(drop=True)
        self._n_suppressed = int(table.loc[~kept_mask, "count"].sum())
        self._n_published = int(kept["count"].sum())
        groups = {"outcome": [c for c in OUTCOMES if c in kept.columns], "period": period_columns(kept)}
        shown, hidden = suppress_breakdowns(kept, groups, min_count=m)
        parts = drug_part_columns(kept)
        if parts:  # overlapping parts of the count: each judged alone, with what it leaves (docs/drugs.md)
            shown, hidden["drug"] = suppress_parts(shown.assign(**{c: kept[c] for c in parts}), parts,
                                                    parents=part_parents(parts), min_count=m)
        return kept, shown, hidden

    def count_hexes(self, counts: pd.DataFrame) -> gpd.GeoDataFrame:
        """The published areas of these counts (cells merged upwards to ``min_count``; :mod:`odgeo.publish.privacy`).

        None in a daily series: areas remade each morning bound the day's overdoses in them
        (an area that appears, or whose merge changes, says how many joined it).
        """
        shown = self.published_areas(partition_cells(counts, min_count=self.limit), counts)[1]
        return shown.iloc[:0] if self._daily else shown

    # what the stages' public functions ask of the gate ---------------------------------------------

    @property
    def is_series(self) -> bool:
        """True when releases are held by a ledger (``--ledger``): each one is differenced against the last."""
        return self.ledger is not None

    def areas_for(self, counts: pd.DataFrame) -> list[Area]:
        """The areas to publish these cell counts in: the series' own (ledger), or cells merged to ``min_count``."""
        if self.ledger is not None:
            return self.ledger.areas_for(counts, COARSEN_LEVELS)
        return partition_cells(counts, min_count=self.limit)

    def keep_first(self, name: str, values: dict) -> dict:
        """Values chosen from the data (a bandwidth, a scale): a series keeps those of its first release."""
        return values if self.ledger is None else self.ledger.fixed(name, values)

    def hold(self, kind: str, key: str, values: dict, riders: dict | None = None) -> dict:
        """Figures of one area: under a ledger, each republished only once it has moved by ``min_count``.

        ``riders`` (figures computed from the same records) are republished with them (see
        :meth:`odgeo.publish.ledger.Ledger.hold`); the result holds both.
        """
        if self.ledger is None:
            return {**values, **(riders or {})}
        return self.ledger.hold(kind, key, values, riders)

    @property
    def n_suppressed(self) -> int:
        """Incidents in areas too small to show (after :meth:`published_areas`)."""
        return self._n_suppressed

    def ledger_note(self) -> str:
        """run.json's line on the ledger: which release of which series this is, or why there is none."""
        if self.ledger is None:
            return ("none: this release is safe alone; differences between releases of the same data can "
                    "reveal single incidents (use --ledger for repeated releases)")
        return (f"release {len(self.ledger.releases) + 1} of {self.ledger.path.name}: earlier areas kept, "
                f"each figure republished only once it has changed by {self.limit} or more")

    def _held_areas(self, areas: list[Area], counts: pd.DataFrame) -> gpd.GeoDataFrame:
        table = areas_frame(areas, counts)
        if self.ledger is None:
            return table
        values = list(counts.columns)
        for i, row in table.iterrows():
            held = self.ledger.hold("hexes", row[H3_CELL], {c: int(row[c]) for c in values})
            for c in values:
                table.at[i, c] = held[c]
        return table

    def rejects(self, rejects: pd.DataFrame, totals: dict) -> pd.DataFrame:
        """Totals by code, no rows: which rows were rejected says which were that day's, or fatal."""
        reasons = rejects.drop_duplicates("code").set_index("code")["reason"] if len(rejects) else pd.Series(dtype=str)
        by_code = totals["rejected_by_code"]
        return pd.DataFrame({"code": list(by_code), "n_rows": pd.array(list(by_code.values()), dtype="Int64"),
                             "reason": [_generic_reason(reasons.get(c, "")) for c in by_code]})

    def log_text(self, messages: list[str]) -> str:
        """Every warning with its numbers masked (:func:`odgeo.publish.privacy.masked_log`)."""
        if not messages:
            return "No warnings.\n"
        head = (f"The numbers of these warnings are shown as {LOG_MASK}: they are exact counts. "
                "The restricted run's log.txt has them.\n")
        return head + "".join(f"{masked_log(m)}\n" for m in messages)

    def run_record(self, doc: dict) -> dict:
        """run.json for the public: every count 0 or at least ``min_count``, nothing measured on one incident."""
        out: dict[str, Any] = {}
        for key, value in doc.items():
            if key == "parameters":
                out[key] = {name: self._series_parameter(name, _public_parameter(p)) for name, p in value.items()}
            elif key == "counts":
                out[key] = self.totals(value)
            elif key == "coordinate_stacks" and isinstance(value, list):
                out[key] = {"n_stacks": len(value), "n_incidents": sum(r["n_incidents"] for r in value),
                            "detail": "per-stack rows are in the restricted run record"}
            elif key == "spread" and isinstance(value, dict):
                # The farthest incident's distance is a fact about one incident: a release a day later
                # that states another says where the new extreme incident is.
                out[key] = {k: v for k, v in value.items() if k != "max_distance_from_median_centre_km"}
            elif key in self._section_views:
                out[key] = self._section_views[key](value)
            elif key == "data_notes" and isinstance(value, dict):
                # Tallies of kept rows by what was odd about them: "outcome_column_absent" is every row
                # used (a total the gate may hide), "undated" a small part of it. Which notes, not how many.
                out[key] = dict.fromkeys(value, DATA_NOTE_WITHHELD)
            elif key == "decisions":
                out[key] = "in the restricted run record (the choices are measured on the incidents)"
            elif key == "input" and isinstance(value, dict) and "files" in value:
                # Rows per file add up to n_input: one file's count beside the others' is a small difference.
                out[key] = {**value, "files": [{k: v for k, v in f.items() if k != "n_rows"} for f in value["files"]]}
            else:
                out[key] = value
        out = self._protect_numbers(out)
        if self._undeclared:
            out["withheld_numbers"] = {"paths": sorted(self._undeclared), "why": UNDECLARED_WITHHELD}
        return out

    def _series_parameter(self, name: str, param: dict) -> dict:
        """Under a ledger, a parameter chosen from the data shows the series' first value.

        A bandwidth that moves from one release to the next says the incidents' spread did;
        this release's own choice is in the restricted run record.
        """
        if self.ledger is None or param.get("source") != "auto":
            return param
        kept = self.ledger.fixed(f"parameter:{name}", {"value": param["value"]})["value"]
        return {**param, "value": kept, "series": "the value the series' first release chose from the data"}

    def _protect_numbers(self, value, path: str = ""):
        """Every number of the record, by what :func:`number_kind` declares it.

        A count is held by the ledger, then null when in (0, min_count) (always null in a daily
        series); a public figure stays; any other number is withheld (null) and, unless declared
        withheld, its path listed under ``withheld_numbers``.
        """
        if isinstance(value, dict):
            return {k: self._protect_numbers(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self._protect_numbers(v, f"{path}[{i}]") for i, v in enumerate(value)]
        if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, bool):
            return value
        kind = number_kind(path)
        if kind == "public":
            return value
        if kind == "count" and float(value).is_integer():
            if self._daily:
                return None
            if self.ledger is not None:
                value = self.ledger.hold("record", path, {"value": int(value)})["value"]
            return None if 0 < int(value) < self.limit else int(value)
        if kind != "withheld":
            self._undeclared.add(plain_path(path))
        return None

    def view_section(self, key: str, view: Callable[[Any], Any]) -> None:
        """Show run.json's section ``key`` through ``view`` (its stage's public function), then protect its numbers."""
        self._section_views[key] = view

    def daily_series(self) -> None:
        """No incident totals in a daily series' public products (see :meth:`Gate.daily_series`)."""
        self._daily = True

    def finish(self, source: str, stage=None) -> None:
        """Save the ledger, when there is one, with this release (staged with the products when given)."""
        if self.ledger is not None:
            self.ledger.save(source, stage=stage)


#: What a public run.json says in place of a data note's number of rows.
DATA_NOTE_WITHHELD = "noted; the number of rows is in the restricted run record"
#: Why a number run.json does not declare (odgeo.publish.record_numbers) is null in a public record.
UNDECLARED_WITHHELD = ("not declared as a count or a public figure in odgeo.publish.record_numbers, so withheld; "
                       "the restricted run record has it")
#: Why a daily series' public products carry no totals.
DAILY_WITHHELD = ("withheld from the public products of a daily series: two mornings' totals differ by one "
                  "day's incidents; the restricted run record has every count")


def _withheld_totals(counts: dict) -> dict:
    """The row counts' keys, every value withheld (a daily series, see :meth:`Gate.daily_series`)."""
    out: dict[str, Any] = {k: None for k in counts if k.startswith("n_")}
    out["rejected_by_code"] = dict.fromkeys(counts["rejected_by_code"])
    out["check"] = "n_input = n_used + n_unlocated + n_rejected"
    out["hidden"] = DAILY_WITHHELD
    return out


def _hide(values: np.ndarray, min_count: int, force: np.ndarray | None = None) -> np.ndarray:
    return hidden_counts(values, min_count=min_count, force=force) if len(values) else np.zeros(0, dtype=bool)


def _generic_reason(reason: str) -> str:
    """A reject reason without the row's own values (the first clause, which names the problem)."""
    return str(reason).split(":")[0].split("(")[0].strip()


def _public_parameter(param: dict) -> dict:
    """An automatic parameter's reason keeps its rule, not the figures measured on the incidents."""
    reason = param.get("reason")
    if param.get("source") == "auto" and isinstance(reason, dict):
        param = {**param, "reason": {k: v for k, v in reason.items() if k == "rule"}}
    return param
