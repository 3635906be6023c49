"""The worklist: whom the team visits today, in which order, by when, and why.

One row per person with a non-fatal overdose in the ``catchup_days`` before ``as_of`` who has
not since been reached (engaged, or refused: a refusal is respected) and has not since died.
Tiers follow the 24–72 hour practice (North Carolina PORT, Huntington QRT): ``new`` under
``new_hours``, ``due`` up to ``window_hours``, then ``overdue`` (past the due-by time, never
tried) or ``catch-up`` (tried, not reached), until ``catchup_days``. Times are elapsed hours,
so a day with a clock change counts 24 real hours, not 23 or 25.

The priority is a sum of parts, each between 0 and 1 and weighted (:data:`PRIORITY_PARTS`,
written to run.json with their sources); each row's reason sentence names the parts that count.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["PRIORITY_PARTS", "TIERS", "WORKLIST_HEAD", "WorklistSettings", "build_worklist", "hours_words"]

TIERS = ("new", "due", "overdue", "catch-up")
#: worklist.csv's first columns, in order.
WORKLIST_HEAD = ["worklist_id", "tier", "due_by", "priority", "reason"]

#: Each part of the priority: its weight by default, what it is, and why it counts.
PRIORITY_PARTS: dict[str, dict] = {
    "recency": {"weight": 1.0, "part": "1 at the overdose, falling evenly to 0 at the end of the catch-up days",
                "source": "King County EMS cohort (Hood et al. 2023): 43 repeat overdoses and 4 deaths per 1,000 "
                          "person-months in the first month, 10-15 from the third"},
    "repeat": {"weight": 1.0, "part": "1 when the person overdosed before within `repeat_days` (default 365)",
               "source": "Marion County, Indiana (Ray et al. 2018): repeat overdoses carry about twice the risk of "
                         "death (HR 2.07 all-cause, 3.06 drug-related)"},
    "refused_transport": {"weight": 1.0, "part": "1 when the person refused transport",
                          "source": "Zozula et al.: non-transport after naloxone goes with more later non-fatal "
                                    "overdoses; 42% of naloxone encounters refused transport"},
    "unhoused": {"weight": 0.25, "part": "1 when the person is unhoused (the team goes to the overdose location)",
                 "source": "PRONTO guidance on unhoused people; unhoused people are harder to reach later"},
    "cluster": {"weight": 0.5, "part": "1 when the overdose lies inside an active space-time cluster",
                "source": "Project SOON (Baltimore): outreach to active scan clusters"},
}


@dataclass(frozen=True)
class WorklistSettings:
    """The windows, weights and capacity of a worklist (see the module docstring)."""

    new_hours: float = 24.0
    window_hours: float = 72.0
    catchup_days: float = 7.0
    repeat_days: float = 365.0
    capacity: int | None = None
    weights: dict[str, float] = field(default_factory=lambda: {k: v["weight"] for k, v in PRIORITY_PARTS.items()})


def build_worklist(events: pd.DataFrame, attempts: pd.DataFrame, as_of: pd.Timestamp,
                   settings: WorklistSettings = WorklistSettings(),
                   cluster_p: pd.Series | None = None, parts: bool = False) -> pd.DataFrame:
    """The worklist at ``as_of``, highest priority first.

    Parameters
    ----------
    events
        One row per overdose (:func:`odgeo.outreach.events.overdose_events`) with ``worklist_id``.
    attempts
        The team's contact attempts (:func:`odgeo.outreach.funnel.read_attempts`): ``worklist_id``,
        ``attempted_at``, ``result``; those after ``as_of`` are not known yet and are ignored.
    as_of
        The moment the list is made (timezone-aware).
    settings
        Windows, weights and capacity.
    cluster_p
        Per event number, the p-value of the active cluster holding it (absent: none).
    parts
        Also give each priority part's value (columns ``part_recency`` ...), for the backtest.

    Returns
    -------
    pandas.DataFrame
        :data:`WORKLIST_HEAD`, then ``today``, ``overdose_at``, ``hours_since``, ``visit_where``,
        ``visit_at``, the contact columns, ``records``, ``attempts_so_far``, ``last_result``,
        ``earlier_overdoses``.
    """
    catchup = pd.Timedelta(days=settings.catchup_days)
    known = events[events["occurred_at"] <= as_of]
    died = set(known.loc[known["fatal"], "worklist_id"])
    recent = known[~known["fatal"] & (known["occurred_at"] > as_of - catchup) & ~known["worklist_id"].isin(died)]
    latest = recent.sort_values("occurred_at", kind="stable").groupby("worklist_id").tail(1)
    tries = _tries_since(latest, attempts, as_of)
    latest = latest[~latest["worklist_id"].isin(tries.index[tries["reached"]])]  # engaged or refused: off the list
    earlier = _earlier(known, latest, pd.Timedelta(days=settings.repeat_days))
    rows = [_row(ev, tries, earlier, as_of, settings, cluster_p, parts) for ev in latest.itertuples(index=False)]
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=[*WORKLIST_HEAD, "today"])
    table = table.sort_values(["priority", "due_by"], ascending=[False, True], kind="stable").reset_index(drop=True)
    capacity = settings.capacity
    table.insert(len(WORKLIST_HEAD), "today", ["yes" if capacity is None or k < capacity else "no"
                                              for k in range(len(table))])
    return table


def _tries_since(latest: pd.DataFrame, attempts: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Per worklist id, the tries since its latest overdose known at ``as_of``: how many, reached, the last result."""
    tried = attempts[attempts["attempted_at"] <= as_of]
    both = tried.merge(latest[["worklist_id", "occurred_at"]], on="worklist_id")
    both = both[both["attempted_at"] >= both["occurred_at"]].sort_values("attempted_at", kind="stable")
    per = both.groupby("worklist_id")
    return pd.DataFrame({"n": per.size(), "reached": per["reached"].any(), "last": per["result"].last()})


def _earlier(known: pd.DataFrame, latest: pd.DataFrame, within: pd.Timedelta) -> pd.DataFrame:
    """Per worklist id, the overdoses in the ``within`` before its latest: how many, and the first one's time."""
    pairs = known[["worklist_id", "occurred_at"]].merge(
        latest[["worklist_id", "occurred_at"]].rename(columns={"occurred_at": "index_at"}), on="worklist_id")
    pairs = pairs[(pairs["occurred_at"] < pairs["index_at"]) & (pairs["occurred_at"] >= pairs["index_at"] - within)]
    per = pairs.groupby("worklist_id")
    return pd.DataFrame({"n": per.size(), "first": per["occurred_at"].min()})


def _row(ev, tries: pd.DataFrame, earlier: pd.DataFrame, as_of: pd.Timestamp, settings: WorklistSettings,
         cluster_p: pd.Series | None, with_parts: bool) -> dict:
    hours = (as_of - ev.occurred_at) / pd.Timedelta(hours=1)
    n_tries = int(tries["n"].get(ev.worklist_id, 0))
    if hours < settings.new_hours:
        tier = "new"
    elif hours <= settings.window_hours:
        tier = "due"
    else:
        tier = "catch-up" if n_tries else "overdue"
    n_earlier = int(earlier["n"].get(ev.worklist_id, 0))
    p = None if cluster_p is None else cluster_p.get(ev.event)
    parts = {"recency": max(0.0, 1.0 - hours / (settings.catchup_days * 24)), "repeat": float(n_earlier > 0),
             "refused_transport": float(ev.refused_transport), "unhoused": float(ev.unhoused),
             "cluster": float(p is not None)}
    priority = sum(settings.weights.get(k, 0.0) * v for k, v in parts.items())
    home = ev.residence if ev.residence and not ev.unhoused else ""
    place = home or ev.address or (f"{ev.lat:.5f}, {ev.lon:.5f}" if pd.notna(ev.lon) else "")
    first = earlier["first"].get(ev.worklist_id) if n_earlier else None
    return {
        "worklist_id": ev.worklist_id, "tier": tier,
        "due_by": ev.occurred_at + pd.Timedelta(hours=settings.window_hours),
        "priority": round(priority, 2),
        "reason": _reason(hours, n_earlier, first, ev, p),
        "overdose_at": ev.occurred_at, "hours_since": round(hours, 1),
        "visit_where": "residence" if home else "overdose location", "visit_at": place,
        **ev.contact,
        "records": ev.records, "attempts_so_far": n_tries,
        "last_result": str(tries["last"].get(ev.worklist_id, "")) if n_tries else "",
        "earlier_overdoses": n_earlier,
        **({f"part_{k}": v for k, v in parts.items()} if with_parts else {}),
    }


def hours_words(hours: float) -> str:
    """"19 h ago", "3 days ago" (whole hours under two days, "under an hour ago" under one)."""
    if hours < 1:
        return "under an hour ago"
    return f"{int(hours)} h ago" if hours < 48 else f"{hours / 24:.0f} days ago"


def _reason(hours: float, n_earlier: int, first: pd.Timestamp | None, ev, p: float | None) -> str:
    words = [hours_words(hours)]
    if n_earlier and first is not None:  # "second overdose in 60 days": the days since the first of them
        days = (ev.occurred_at - first) / pd.Timedelta(days=1)
        nth = {1: "second", 2: "third"}.get(n_earlier, f"{n_earlier + 1}th")
        words.append(f"{nth} overdose in {max(1, int(np.ceil(days)))} days")
    if ev.refused_transport:
        words.append("refused transport")
    if ev.unhoused:
        words.append("unhoused: go to the overdose location")
    if p is not None:
        words.append(f"inside an active cluster, p = {p:.2g}")
    return "; ".join(words)
