"""Linking the sources: one overdose seen by EMS and by police, one person overdosing again.

Events: two records of different sources are the same overdose when they lie within
``minutes`` and ``metres`` of each other and nothing they both state contradicts it (sex, age
within 2 years, date of birth). Among the candidates each record keeps its best (agreeing
fields first, then closeness); a pair that is each side's best by a clear margin is linked,
one whose runner-up comes too close is left for review (``status`` "review" in linkage.csv),
never merged silently. This is the blocked space-time comparison of the Massachusetts and North
Carolina ambulance–ED linkages, with their deterministic demographic checks.

Persons: records are one person when a source gives them one person id, when they share date
of birth, sex and name key (:func:`odgeo.outreach.persons.name_key`), or when they are one
event. The groups are the connected components of those links.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

__all__ = ["LINK_COLUMNS", "LinkSettings", "Linkage", "candidate_pairs", "link_records"]

#: linkage.csv's columns (restricted: record ids, never a name).
LINK_COLUMNS = ["kind", "status", "source_a", "record_a", "source_b", "record_b", "minutes_apart", "metres_apart",
                "agreeing", "basis"]
#: A pair is linked when each side's runner-up scores at least this much lower (one agreeing field is 1).
MARGIN = 0.5
_AGE_SLACK = 2.0
_PAIR_CHUNK = 2_000_000  # candidate pairs scored at a time (memory stays flat on a state's five years)


@dataclass(frozen=True)
class LinkSettings:
    """How close two records must be to be one overdose."""

    minutes: float = 60.0
    metres: float = 300.0


@dataclass
class Linkage:
    """The linked records: an event and a person number per record, the links, the per-pair report."""

    event: np.ndarray  # records of one overdose share a number
    person: np.ndarray  # records of one person share a number
    links: pd.DataFrame  # linkage.csv
    report: list[dict] = field(default_factory=list)  # per source pair


def candidate_pairs(a: pd.DataFrame, b: pd.DataFrame, settings: LinkSettings) -> pd.DataFrame:
    """Every pair (row of ``a``, row of ``b``) within the time and distance tolerance, with its agreement.

    ``a`` and ``b`` hold ``t_ns`` (int64, UTC), ``x_m``, ``y_m`` (metres, one projection; NaN: no
    place), ``sex``, ``age``, ``birth_date`` and ``name_key``. Returns ``i``, ``j`` (positions),
    ``minutes``, ``metres``, ``agree`` (fields both state alike) and ``score``; contradicted pairs are left out.
    """
    found = [_scored(a, b, i, j, settings)
             for i, j in window_pairs(a["t_ns"].to_numpy(), b["t_ns"].to_numpy(), settings.minutes)]
    if not found:
        return pd.DataFrame(columns=["i", "j", "minutes", "metres", "agree", "score"])
    return pd.concat(found, ignore_index=True)


def window_pairs(ta: np.ndarray, tb: np.ndarray, minutes: float) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The blocking: every (i, j) with ``|ta[i] - tb[j]|`` within ``minutes`` (int64 ns), in chunks of ~2M pairs."""
    tol = int(minutes * 60e9)
    order = np.argsort(tb, kind="stable")
    sorted_b = tb[order]
    lo = np.searchsorted(sorted_b, ta - tol, "left")
    n = np.searchsorted(sorted_b, ta + tol, "right") - lo
    step = max(1, _PAIR_CHUNK // max(1, int(n.mean()) if len(n) else 1))
    for first in range(0, len(ta), step):
        counts = n[first:first + step]
        i = np.repeat(np.arange(first, first + len(counts)), counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        yield i, order[np.repeat(lo[first:first + step], counts) + offsets]


def _scored(a: pd.DataFrame, b: pd.DataFrame, i: np.ndarray, j: np.ndarray, settings: LinkSettings) -> pd.DataFrame:
    minutes = np.abs(a["t_ns"].to_numpy()[i] - b["t_ns"].to_numpy()[j]) / 60e9
    metres = np.hypot(a["x_m"].to_numpy()[i] - b["x_m"].to_numpy()[j], a["y_m"].to_numpy()[i] - b["y_m"].to_numpy()[j])
    near = metres <= settings.metres  # NaN (no place) is never near
    i, j, minutes, metres = i[near], j[near], minutes[near], metres[near]
    agree = np.zeros(len(i))
    conflict = np.zeros(len(i), bool)
    for col in ("sex", "birth_date", "name_key"):
        va, vb = a[col].to_numpy()[i], b[col].to_numpy()[j]
        both = pd.notna(va) & pd.notna(vb) & (va != "") & (vb != "")
        same = both & (va == vb)
        agree += same
        if col != "name_key":  # a name is typed many ways; a sex or a birth date that differs is another person
            conflict |= both & ~same
    age_a, age_b = a["age"].to_numpy(float)[i], b["age"].to_numpy(float)[j]
    both = ~np.isnan(age_a) & ~np.isnan(age_b)
    agree += both & (np.abs(age_a - age_b) <= _AGE_SLACK)
    conflict |= both & (np.abs(age_a - age_b) > _AGE_SLACK)
    keep = ~conflict
    closeness = minutes / settings.minutes + metres / settings.metres  # 0 (same moment and place) to 2
    return pd.DataFrame({"i": i[keep], "j": j[keep], "minutes": minutes[keep], "metres": metres[keep],
                         "agree": agree[keep], "score": (agree - closeness / 2)[keep]})


def _resolve(pairs: pd.DataFrame) -> pd.Series:
    """Each pair's status: "matched" (each side's clear best), "review" (best, runner-up too close) or ""."""
    if pairs.empty:
        return pd.Series([], dtype=object)
    status = np.full(len(pairs), "", dtype=object)
    score = pairs["score"].to_numpy()
    best_a, second_a = _best_two(pairs["i"].to_numpy(), score)
    best_b, second_b = _best_two(pairs["j"].to_numpy(), score)
    mutual = best_a & best_b
    clear = (second_a < score - MARGIN) & (second_b < score - MARGIN)
    status[mutual & clear] = "matched"
    status[mutual & ~clear] = "review"
    return pd.Series(status, index=pairs.index)


def _best_two(key: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whether each pair is its record's best (first on ties), and the record's runner-up score (-inf: none)."""
    order = np.lexsort((-score, key))
    k, s = key[order], score[order]
    first = np.r_[True, k[1:] != k[:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(len(k)), 0))  # each row's record's first row
    has_second = np.r_[first[:-1] & (k[1:] == k[:-1]), False]  # a record's best row followed by its own next
    second_of_start = np.where(has_second, np.r_[s[1:], -np.inf], -np.inf)
    best = np.zeros(len(key), bool)
    best[order[first]] = True
    runner = np.empty(len(key))
    runner[order] = second_of_start[start]
    return best, runner


def link_records(records: pd.DataFrame, settings: LinkSettings = LinkSettings()) -> Linkage:
    """Link the records of every source: events across each pair of sources, then persons.

    Parameters
    ----------
    records
        One row per record: ``source``, ``record_id``, ``t_ns``, ``x_m``, ``y_m``, ``person_id``,
        ``birth_date``, ``sex``, ``age``, ``name_key`` (see :func:`candidate_pairs`).
    settings
        The time and distance tolerance.

    Returns
    -------
    Linkage
    """
    records = records.reset_index(drop=True)
    n = len(records)
    edges_i: list[np.ndarray] = []
    edges_j: list[np.ndarray] = []
    link_rows: list[pd.DataFrame] = []
    report = []
    sources = list(dict.fromkeys(records["source"]))
    for sa, sb in combinations(sources, 2):
        ia = np.flatnonzero((records["source"] == sa).to_numpy())
        ib = np.flatnonzero((records["source"] == sb).to_numpy())
        pairs = candidate_pairs(records.iloc[ia], records.iloc[ib], settings)
        status = _resolve(pairs)
        pairs = pairs.assign(status=status.to_numpy(), i=ia[pairs["i"].to_numpy(int)], j=ib[pairs["j"].to_numpy(int)])
        kept = pairs[pairs["status"] != ""]
        matched = kept[kept["status"] == "matched"]
        edges_i.append(matched["i"].to_numpy(int))
        edges_j.append(matched["j"].to_numpy(int))
        link_rows.append(_event_rows(records, kept))
        report.append(_pair_report(sa, sb, records, ia, ib, pairs, matched, kept))
    event = _components(n, edges_i, edges_j)
    person_i, person_j, person_rows = _person_edges(records)
    person = _components(n, edges_i + person_i, edges_j + person_j)
    links = pd.concat([*link_rows, person_rows], ignore_index=True) if link_rows or len(person_rows) else \
        pd.DataFrame(columns=LINK_COLUMNS)
    return Linkage(event=event, person=person, links=links.reindex(columns=LINK_COLUMNS), report=report)


def _event_rows(records: pd.DataFrame, kept: pd.DataFrame) -> pd.DataFrame:
    i, j = kept["i"].to_numpy(int), kept["j"].to_numpy(int)
    return pd.DataFrame({
        "kind": "same overdose", "status": kept["status"].to_numpy(),
        "source_a": records["source"].to_numpy()[i], "record_a": records["record_id"].to_numpy()[i],
        "source_b": records["source"].to_numpy()[j], "record_b": records["record_id"].to_numpy()[j],
        "minutes_apart": kept["minutes"].round(1).to_numpy(), "metres_apart": kept["metres"].round(0).to_numpy(),
        "agreeing": kept["agree"].astype(int).to_numpy(), "basis": "time and place",
    })


def _pair_report(sa, sb, records, ia, ib, pairs, matched, kept) -> dict:
    def comparable(idx):
        return int((records["x_m"].iloc[idx].notna() & (records["t_ns"].iloc[idx] > 0)).sum())

    na, nb = comparable(ia), comparable(ib)
    m = len(matched)
    return {"sources": [sa, sb], "records": [len(ia), len(ib)], "comparable": [na, nb],
            "candidate_pairs": len(pairs), "matched": m, "review": int((kept["status"] == "review").sum()),
            "share_matched": [round(m / na, 4) if na else None, round(m / nb, 4) if nb else None]}


def _person_edges(records: pd.DataFrame) -> tuple[list[np.ndarray], list[np.ndarray], pd.DataFrame]:
    """Links between records of one person id (within a source), or of one birth date, sex and name key."""
    idx = np.arange(len(records))
    keys = {
        "person id": records["source"].astype(str) + "\x1f" + records["person_id"].astype(str),
        "birth date, sex and name key": (records["birth_date"].astype(str) + "\x1f" + records["sex"].astype(str)
                                         + "\x1f" + records["name_key"].astype(str)),
    }
    present = {
        "person id": (records["person_id"] != "").to_numpy(),
        "birth date, sex and name key": (records["birth_date"].notna() & (records["sex"] != "")
                                         & (records["name_key"] != "")).to_numpy(),
    }
    ei, ej, rows = [], [], []
    for basis, key in keys.items():
        sel = present[basis]
        frame = pd.DataFrame({"key": key.to_numpy()[sel], "row": idx[sel], "t": records["t_ns"].to_numpy()[sel]})
        frame = frame.sort_values(["key", "t", "row"], kind="stable")
        same = frame["key"].to_numpy()[1:] == frame["key"].to_numpy()[:-1]
        i, j = frame["row"].to_numpy()[:-1][same], frame["row"].to_numpy()[1:][same]
        ei.append(i)
        ej.append(j)
        rows.append(pd.DataFrame({
            "kind": "same person", "status": "matched",
            "source_a": records["source"].to_numpy()[i], "record_a": records["record_id"].to_numpy()[i],
            "source_b": records["source"].to_numpy()[j], "record_b": records["record_id"].to_numpy()[j],
            "minutes_apart": np.round(np.abs(records["t_ns"].to_numpy()[j] - records["t_ns"].to_numpy()[i]) / 60e9, 1),
            "metres_apart": np.nan, "agreeing": np.nan, "basis": basis}))
    return ei, ej, pd.concat(rows, ignore_index=True)


def _components(n: int, edges_i: list[np.ndarray], edges_j: list[np.ndarray]) -> np.ndarray:
    i = np.concatenate(edges_i) if edges_i else np.array([], int)
    j = np.concatenate(edges_j) if edges_j else np.array([], int)
    graph = sparse.coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    return connected_components(graph, directed=False)[1]
