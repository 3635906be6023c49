"""What each audience may see of ``odgeo alerts`` (:func:`alert_files`).

The public sees:


- alerts: area names and dates (no times); counts and thresholds under
  ``min_count`` hidden (the sentence says "fewer than N": an alert in a small
  area is still news); a scan alert with a hidden count starts in a month;
- ears.csv: the alarms of the alert day only (a history of every day's alarms would
  say, day by day, where two or more overdoses happened in a quiet area): area, date
  and method, no counts (a zero beside hidden counts says "hidden" means 1 or more)
  and no baseline figures, which are built from the small daily counts;
- run.json: no incident totals (a daily series, see ``Gate.daily_series``), no
  days reaching a threshold, and no count of H3 areas;
- where the areas are H3 cells (which exist because incidents fell in them),
  only the cells in alert and ``all`` are listed, so the files do not draw
  where incidents happened;
- drug alerts (``--watch-drugs``) only where their count is at least ``min_count``:
  a rare drug is where small counts hide, and "the first xylazine overdose in an area"
  says its count is 1 or more whatever the table hides.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..incidents.dates import end_day
from ..publish.gate import AlertFiles, Gate
from ..publish.privacy import hidden_counts
from ..publish.public import PublicGate

__all__ = [
    "alert_files",
    "public_alert_section",
    "public_alert_table",
    "public_daily_hidden",
    "public_drug_alerts",
    "public_ears_table",
    "public_thresholds",
]


def alert_files(gate: Gate, alerts: pd.DataFrame, ears: pd.DataFrame, counts: np.ndarray, names: list[str],
                days: list[str], thresholds: dict, *, cells_are_areas: bool) -> AlertFiles:
    """The tables of ``odgeo alerts`` for the gate's audience.

    Parameters
    ----------
    gate
        Restricted: exact counts and times of every area. Public: area names and
        dates, small counts hidden (see this module's notes).
    alerts, ears
        The restricted alerts.csv and ears.csv tables.
    counts
        Daily counts, days x (areas + ``all``).
    names, days
        The series' names (``all`` last) and the days' labels.
    thresholds
        run.json's per-area threshold derivation.
    cells_are_areas
        True when the areas are H3 cells (which exist because incidents fell in them).

    Returns
    -------
    AlertFiles
        What may be written and said, with the time format of the audience's sentences.
    """
    if not isinstance(gate, PublicGate):
        return AlertFiles(alerts, ears, thresholds, None, None, "%d %b %H:%M")
    shown = {*alerts["area"], names[-1]} if cells_are_areas else None
    gate.view_section("alerts", public_alert_section)
    gate.view_section("drug_alerts", public_drug_section)
    hidden = public_daily_hidden(counts, len(names) - 1, gate.limit)
    return AlertFiles(public_alert_table(alerts, gate.limit), public_ears_table(ears, days[-1], shown),
                      public_thresholds(thresholds, gate.limit, shown), shown, hidden, "%d %b")


def public_drug_alerts(gate: Gate, alerts: pd.DataFrame) -> pd.DataFrame:
    """The alerts the audience may know of: for the public, no drug alert with a count under ``min_count``."""
    if not isinstance(gate, PublicGate) or alerts.empty:
        return alerts
    drug = alerts["kind"].astype(str).str.contains(":", regex=False)
    small = pd.to_numeric(alerts["count"], errors="coerce").fillna(0) < gate.limit
    return alerts[~(drug & small)].reset_index(drop=True)


def public_alert_table(alerts: pd.DataFrame, min_count: int) -> pd.DataFrame:
    """alerts.csv for the public: dates, not times; counts and thresholds under ``min_count`` hidden.

    A zero is hidden too: shown beside hidden counts, a zero says that "hidden" means 1 or more.
    """
    out = alerts.copy()
    for col in ("count", "prior_count"):
        if col in out:
            values = pd.to_numeric(out[col], errors="coerce").astype(float)
            out[col] = values.where(~(values < min_count)).astype("Int64")
    limit = pd.to_numeric(out["threshold_or_expected"], errors="coerce").astype(float)
    out["threshold_or_expected"] = limit.where(~((limit > 0) & (limit < min_count))).round(0).astype("Int64")
    for col in ("window_start", "window_end", "first_seen", "last_seen", "ended_at"):
        if col in out:
            out[col] = [_date(v, end=col != "window_start") for v in out[col]]
    # A scan cluster's first day with a hidden count would date its first incidents: the month only.
    vague = (out["kind"] == "scan").to_numpy() & out["count"].isna().to_numpy()
    out.loc[vague, "window_start"] = [str(v)[:7] if v else v for v in out.loc[vague, "window_start"]]
    return out


def public_daily_hidden(counts: np.ndarray, n_areas: int, min_count: int) -> np.ndarray:
    """Which daily counts (days x areas + all) the public may not see, so none is recovered by subtraction."""
    hidden = np.zeros(counts.shape, dtype=bool)
    for day in np.flatnonzero(((counts > 0) & (counts < min_count)).any(axis=1)):
        parts = counts[day, :n_areas]
        outside = max(int(counts[day, n_areas] - parts.sum()), 0)  # incidents in no area
        hide = hidden_counts(np.r_[parts, outside], min_count=min_count)
        hidden[day, :n_areas] = hide[:n_areas]
        hidden[day, n_areas] = 0 < counts[day, n_areas] < min_count
    return hidden


def public_ears_table(table: pd.DataFrame, alert_day: str, shown_areas: set[str] | None) -> pd.DataFrame:
    """ears.csv for the public: the alert day's alarms (area, date, method), no counts and no baselines.

    A day's count beside the alarm, or a zero beside hidden counts, would say how many
    overdoses a quiet area had; the alarm says only that it had more than its baseline allows.
    """
    out = table[(table["date"] == alert_day) & table["alarm"].astype(bool)]
    if shown_areas is not None:
        out = out[out["area"].isin(shown_areas)]
    return out[["area", "date", "method", "alarm"]].reset_index(drop=True)


def drug_panel(gate: Gate, section: dict | None) -> dict | None:
    """What summary.html's drug panel may say: the team every figure, the public what is watched."""
    if section is None or not isinstance(gate, PublicGate):
        return section
    return public_drug_section(section)


def public_drug_section(section: dict) -> dict:
    """run.json's drug_alerts for the public: what is watched and how, not what was found per group.

    The groups' counts, shares and first appearances are the team's: a first appearance the
    alerts table withholds (a count under ``min_count``) would be told here.
    """
    return {k: v for k, v in section.items() if k in ("groups", "new_drug_months", "share")}


def public_alert_section(section: dict) -> dict:
    """run.json's alerts section for the public: H3 areas are not counted.

    With H3 areas the cells are those holding incidents, so their number rises on the
    morning of the first incident in a new cell.
    """
    areas = dict(section.get("areas", {}))
    if areas.get("kind") == "h3":
        areas.pop("n_areas", None)
    return {**section, "areas": areas}


def public_thresholds(derivation: dict, min_count: int, shown_areas: set[str] | None) -> dict:
    """run.json's thresholds: the rule and the numbers, those under ``min_count`` hidden.

    The days that reached the threshold are left out: none, beside a threshold at its floor,
    says the area never had more than the floor less one.
    """
    out = {}
    for name, d in derivation.items():
        if shown_areas is not None and name not in shown_areas:
            continue
        out[name] = {k: (None if k in ("threshold", "kth_highest_daily_count") and int(v) < min_count else v)
                     for k, v in d.items() if k != "days_reaching_threshold"}
    return out


def _date(value, end: bool) -> str | None:
    if value is None or pd.isna(value):
        return None
    stamp = pd.Timestamp(value)
    return (end_day(stamp) if end else stamp).strftime("%Y-%m-%d")  # a window ending at midnight: the day before
