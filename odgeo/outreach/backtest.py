"""The worklist's backtest: whether the priority order would have reached people before their next overdose.

For every morning of the ``days`` before ``as_of`` (at ``as_of``'s clock time), the worklist is
made from what was known then and the team visits the first ``capacity`` rows; whoever it visited
leaves that ordering's list until their next overdose (every visit counted as reaching them: the
attempts file says who was reached under the order the team used, not under another). A
person whose overdose was followed by another within ``horizon_days`` was reached in time when
some morning between the two put them in the day's visits. The share of those people reached in
time is compared between orderings: the priority with the weights given, most recent first (what a
list sorted by time gives), and each part alone. Active clusters are left out (a scan per morning).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from .worklist import PRIORITY_PARTS, WorklistSettings, build_worklist

__all__ = ["BacktestResult", "backtest_worklist"]


@dataclass
class BacktestResult:
    """The comparison (``table``: one row per ordering) and what it was measured on."""

    table: pd.DataFrame  # ordering, weights, reached_in_time, share
    n_mornings: int
    n_repeats: int  # people whose overdose in the period was followed by another within the horizon
    capacity: int
    horizon_days: float


def backtest_worklist(events: pd.DataFrame, as_of: pd.Timestamp, settings: WorklistSettings, *, days: int = 180,
                      capacity: int = 10, horizon_days: float = 30.0,
                      orderings: dict[str, dict[str, float]] | None = None) -> BacktestResult:
    """Replay ``days`` mornings of worklists and score each ordering on the repeats that followed.

    Parameters
    ----------
    events
        One row per overdose with ``worklist_id`` (:func:`odgeo.outreach.events.overdose_events`).
    as_of
        The last morning; the others are the days before it at the same clock time.
    settings
        The worklist's windows and the weights of the priority ordering.
    days
        How many mornings to replay.
    capacity
        Visits a morning (the first rows of each list).
    horizon_days
        A next overdose this soon after one counts as a repeat to prevent.
    orderings
        Name → weights to compare (default: the weights given, most recent first, each part alone).

    Returns
    -------
    BacktestResult
        One row per ordering: the people with a repeat reached in time and their share.
    """
    mornings = [as_of - pd.Timedelta(days=k) for k in range(days - 1, -1, -1)]
    targets = _repeats(events, mornings[0] - pd.Timedelta(days=settings.catchup_days), as_of, horizon_days)
    orderings = orderings or {"priority (the weights given)": settings.weights,
                 "most recent first": {"recency": 1.0},
                 **{f"{part} alone, then most recent": {part: 1.0, "recency": 1e-6}
                    for part in PRIORITY_PARTS if part not in ("recency", "cluster")}}
    no_attempts = pd.DataFrame({"worklist_id": pd.Series(dtype=object), "attempted_at": pd.Series(
        dtype=f"datetime64[ns, {as_of.tz}]"), "result": pd.Series(dtype=object), "reached": pd.Series(dtype=bool)})
    visited: dict[str, list[tuple[str, pd.Timestamp]]] = {name: [] for name in orderings}
    last_visit: dict[str, dict[str, pd.Timestamp]] = {name: {} for name in orderings}
    for morning in mornings:  # one list a morning; each ordering drops whom it visited and re-sorts by its weights
        listed = build_worklist(events, no_attempts, morning, replace(settings, capacity=None), parts=True)
        if listed.empty:
            continue
        for name, weights in orderings.items():
            seen = listed["worklist_id"].map(last_visit[name]).astype(f"datetime64[ns, {as_of.tz}]")
            waiting = listed[~(seen >= listed["overdose_at"]).to_numpy()]  # visited since this overdose: off
            score = sum(float(weights.get(k, 0.0)) * waiting[f"part_{k}"] for k in PRIORITY_PARTS)
            order = np.lexsort((waiting["due_by"].to_numpy(), -score.to_numpy()))
            for wid in waiting["worklist_id"].to_numpy()[order[:capacity]]:
                visited[name].append((wid, morning))
                last_visit[name][wid] = morning
    rows = []
    for name, weights in orderings.items():
        seen = pd.DataFrame(visited[name], columns=["worklist_id", "morning"])
        hit = _reached_in_time(targets, seen)
        rows.append({"ordering": name, "weights": ", ".join(f"{k} {v:g}" for k, v in weights.items() if v >= 0.01),
                     "reached_in_time": hit, "share": round(hit / len(targets), 4) if len(targets) else None})
    return BacktestResult(pd.DataFrame(rows), len(mornings), len(targets), capacity, horizon_days)


def _repeats(events: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, horizon_days: float) -> pd.DataFrame:
    """Each non-fatal overdose from ``start`` followed by the person's next within the horizon (by ``end``)."""
    ordered = events.sort_values(["worklist_id", "occurred_at"], kind="stable")
    nxt = ordered.groupby("worklist_id")["occurred_at"].shift(-1)
    gap = nxt - ordered["occurred_at"]
    keep = (~ordered["fatal"] & (ordered["occurred_at"] >= start) & nxt.notna() & (nxt <= end)
            & (gap <= pd.Timedelta(days=horizon_days)))
    return pd.DataFrame({"worklist_id": ordered.loc[keep, "worklist_id"].to_numpy(),
                         "index_at": ordered.loc[keep, "occurred_at"].to_numpy(),
                         "repeat_at": nxt[keep].to_numpy()})


def _reached_in_time(targets: pd.DataFrame, seen: pd.DataFrame) -> int:
    """How many targets had a morning in the day's visits after their overdose and before the next."""
    if targets.empty or seen.empty:
        return 0
    both = targets.reset_index().merge(seen, on="worklist_id")
    ok = (both["morning"] > both["index_at"]) & (both["morning"] < both["repeat_at"])
    return int(np.unique(both.loc[ok, "index"]).size)
