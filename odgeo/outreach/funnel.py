"""The funnel an outreach team reports, from its own record of contact attempts, and the practice rules it keeps.

The attempts file has one row per try: whom (a worklist id, or the incident id of a source
record), when, how (phone, text, visit), where, the result (no answer, not found, wrong
address, refused, engaged, engaged through family or friends), naloxone kits left, referrals
made and accepted, and whether care started. An attempt belongs to the person's latest overdose
before it (an episode). Per month of the overdose, and over all months pooled (sums of numerators
over sums of denominators, never an average of monthly percentages):

eligible → attempted → reached (engaged or refused) → engaged → referred → started care,
with the time from overdose to first attempt and the share tried within 72 hours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import ColumnError
from ..incidents.dates import parse_datetimes
from ..incidents.tables import read_table
from ..schema import normalise_name

__all__ = ["ATTEMPT_ALIASES", "FUNNEL_STAGES", "RESULTS", "Attempts", "funnel_table", "practice_checks",
           "read_attempts"]

#: The attempts file's columns, recognised by name (normalised), best first.
ATTEMPT_ALIASES: dict[str, tuple[str, ...]] = {
    "worklist_id": ("worklistid",),
    "incident_id": ("incidentid", "incidentnumber", "recordid", "casenumber", "referralid", "reportnumber"),
    "attempted_at": ("attemptedat", "attemptdate", "attemptdatetime", "contactdate", "date", "datetime", "time"),
    "mode": ("mode", "contactmode", "method"),
    "place": ("place", "location", "placetried", "locationtried"),
    "result": ("result", "outcome", "contactresult", "status"),
    "naloxone_kits": ("naloxonekits", "kits", "kitsleft", "narcankits", "naloxoneleft", "leavebehindnarcanamount"),
    "referrals_made": ("referralsmade", "referrals", "referralmade"),
    "referrals_accepted": ("referralsaccepted", "acceptedreferrals", "referralaccepted"),
    "care_started": ("carestarted", "initiatedcare", "treatmentstarted", "moudstarted"),
}
#: Each result as read (normalised words) → the result the funnel counts.
RESULTS: dict[str, str] = {
    **dict.fromkeys(["noanswer", "nocontact", "voicemail", "leftmessage", "unreachable"], "no answer"),
    **dict.fromkeys(["notfound", "notathome", "nobodyhome", "nothome"], "not found"),
    **dict.fromkeys(["wrongaddress", "wrongnumber", "badaddress", "moved"], "wrong address"),
    **dict.fromkeys(["refused", "declined", "refusedservices"], "refused"),
    **dict.fromkeys(["engaged", "contacted", "reached", "engageddirectly"], "engaged"),
    **dict.fromkeys(["engagedthroughfamily", "engagedthroughfriend", "engagedthroughfamilyorfriend",
                     "engagedvianetwork", "engagedthroughnetwork", "familycontacted", "engagednetwork"],
                    "engaged through family or friends"),
}
CONTACT_RESULTS = ("refused", "engaged", "engaged through family or friends")
FUNNEL_STAGES = ("eligible", "attempted", "reached", "engaged", "referred", "started_care")
_YES = {"yes", "y", "true", "1"}


@dataclass
class Attempts:
    """The attempts read: usable rows (with ``worklist_id``) and rejected ones with a reason."""

    rows: pd.DataFrame
    rejects: pd.DataFrame  # row (1-based), reason
    n_input: int


def read_attempts(path, *, timezone: str, ids_of_records: dict[str, str], known_ids: set[str]) -> Attempts:
    """Read the team's attempts file; each row ends in ``rows`` or in ``rejects`` with its reason.

    Parameters
    ----------
    path
        CSV (or any table :func:`odgeo.incidents.tables.read_table` reads).
    timezone
        The time zone of times written without an offset.
    ids_of_records
        Source record id (incident id) → worklist id, for files that name the record followed up.
    known_ids
        The worklist ids of this run's persons.

    Returns
    -------
    Attempts
        The usable rows (``worklist_id``, ``attempted_at``, ``mode``, ``place``, ``result``, the counts,
        ``care_started``, ``reached``, ``engaged``), the rejected rows with their reasons, the rows read.

    Raises
    ------
    ColumnError
        If the file has no worklist or incident id column, no time or no result.
    """
    raw = read_table(path).data
    roles = _attempt_columns(list(raw.columns), path)
    n = len(raw)
    text = {role: (raw[col].fillna("").astype(str).str.strip() if col else pd.Series([""] * n, dtype=object))
            for role, col in roles.items()}
    reasons = pd.Series([""] * n, dtype=object)
    wid = text["worklist_id"].copy()
    by_record = text["incident_id"].map(lambda rid: ids_of_records.get(rid, ""))
    wid = wid.where(wid != "", by_record)
    reasons[(text["worklist_id"] == "") & (text["incident_id"] == "")] = "no worklist or incident id"
    unknown = (reasons == "") & ~wid.isin(known_ids)
    reasons[unknown] = np.where(text["worklist_id"][unknown] != "", "worklist id not among this run's persons",
                                "incident id not in any source")
    times = pd.Series(parse_datetimes(text["attempted_at"], timezone, column="attempted_at").values.to_numpy(),
                      index=raw.index)
    reasons[(reasons == "") & times.isna()] = "time missing or not a date"
    result = text["result"].map(lambda v: RESULTS.get(normalise_name(v), ""))
    reasons[(reasons == "") & (result == "")] = "result not one of: " + ", ".join(sorted(set(RESULTS.values())))
    numbers = {c: pd.to_numeric(text[c].where(text[c] != "", "0"), errors="coerce")
               for c in ("naloxone_kits", "referrals_made", "referrals_accepted")}
    for col, values in numbers.items():
        reasons[(reasons == "") & (values.isna() | (values < 0))] = f"{col} is not a count"
    ok = (reasons == "").to_numpy()
    rows = pd.DataFrame({
        "row": np.arange(1, n + 1), "worklist_id": wid, "attempted_at": times, "mode": text["mode"].str.lower(),
        "place": text["place"], "result": result,
        **{c: v.fillna(0).astype(int) for c, v in numbers.items()},
        "care_started": text["care_started"].map(lambda v: normalise_name(v) in _YES),
    })[ok].reset_index(drop=True)
    rows["reached"] = rows["result"].isin(CONTACT_RESULTS)
    rows["engaged"] = rows["result"].str.startswith("engaged")
    rejects = pd.DataFrame({"row": np.flatnonzero(~ok) + 1, "reason": reasons[~ok].to_numpy()})
    return Attempts(rows.sort_values("attempted_at", kind="stable").reset_index(drop=True), rejects, n)


def _attempt_columns(columns: list[str], path) -> dict[str, str | None]:
    by_norm: dict[str, str] = {}
    for col in columns:
        by_norm.setdefault(normalise_name(col), col)
    found: dict[str, str | None] = {}
    used: set[str] = set()
    for role, aliases in ATTEMPT_ALIASES.items():
        chosen: str | None = next((by_norm[a] for a in aliases if a in by_norm and by_norm[a] not in used), None)
        found[role] = chosen
        if chosen:
            used.add(chosen)
    missing = [what for what, ok in (("a worklist_id or incident_id column", found["worklist_id"] or
                                      found["incident_id"]), ("an attempted_at column", found["attempted_at"]),
                                     ("a result column", found["result"])) if not ok]
    if missing:
        raise ColumnError(f"{path}: the attempts file needs {' and '.join(missing)}; columns are: "
                          f"{', '.join(map(str, columns))} (see docs/outreach.md)")
    return found


def episodes_of(events: pd.DataFrame, attempts: pd.DataFrame, as_of: pd.Timestamp) -> tuple[pd.DataFrame,
                                                                                             pd.DataFrame]:
    """The non-fatal overdoses up to ``as_of`` (episodes) and the attempts, each with its episode's event."""
    episodes = events[~events["fatal"] & (events["occurred_at"] <= as_of)].sort_values("occurred_at")
    tried = attempts[attempts["attempted_at"] <= as_of].sort_values("attempted_at")
    if tried.empty:
        return episodes, tried.assign(event=pd.Series(dtype=float))
    left = tried.assign(worklist_id=tried["worklist_id"].astype(str), _t=_utc_ns(tried["attempted_at"]))
    right = pd.DataFrame({"worklist_id": episodes["worklist_id"].astype(str),
                          "_t": _utc_ns(episodes["occurred_at"]), "event": episodes["event"]})
    matched = pd.merge_asof(left, right.sort_values("_t"), on="_t", by="worklist_id", direction="backward")
    return episodes, matched.drop(columns="_t")


def _utc_ns(times: pd.Series) -> pd.Series:
    return times.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")


def funnel_table(events: pd.DataFrame, attempts: pd.DataFrame, as_of: pd.Timestamp, by: str = "month") -> pd.DataFrame:
    """funnel.csv: one row per month of the overdose (or per area) and a pooled ``all`` row.

    Parameters
    ----------
    events
        One row per overdose, with ``worklist_id`` (:func:`odgeo.outreach.events.overdose_events`).
    attempts
        The usable attempts (:func:`read_attempts`).
    as_of
        Overdoses and attempts after it are not known yet.
    by
        "month" (of the overdose) or "area" (the events' ``area`` column: ZIP, else an H3 cell).

    Returns
    -------
    pandas.DataFrame
        ``month`` (or ``area``), the episodes at each of :data:`FUNNEL_STAGES`, ``tried_within_72h``, naloxone kits
        left, the median hours from overdose to first attempt, and ``share_*`` of eligible (pooled).
    """
    episodes, tried = episodes_of(events, attempts, as_of)
    per = tried.dropna(subset=["event"]).groupby("event")
    first = per["attempted_at"].min()
    flags = pd.DataFrame({
        "attempted": per.size() > 0, "reached": per["reached"].any(), "engaged": per["engaged"].any(),
        "referred": per["referrals_made"].sum() > 0, "started_care": per["care_started"].any(),
        "kits": per["naloxone_kits"].sum(), "first": first,
    }).reindex(episodes["event"])
    hours = (flags["first"].to_numpy() - episodes["occurred_at"].to_numpy()) / pd.Timedelta(hours=1)
    table = pd.DataFrame({
        by: (episodes["occurred_at"].dt.strftime("%Y-%m") if by == "month" else episodes[by]).to_numpy(),
        "eligible": 1,
        **{s: flags[s].eq(True).to_numpy().astype(int) for s in FUNNEL_STAGES[1:]},
        "tried_within_72h": np.nan_to_num(hours <= 72, nan=0).astype(int),
        "hours": hours, "naloxone_kits_left": flags["kits"].fillna(0).to_numpy().astype(int),
    })
    counts = [*FUNNEL_STAGES, "tried_within_72h", "naloxone_kits_left"]
    monthly = table.groupby(by)[counts].sum()
    monthly["median_hours_to_first_attempt"] = table.groupby(by)["hours"].median()
    total = table[counts].sum().to_frame("all").T
    total["median_hours_to_first_attempt"] = table["hours"].median()
    out = pd.concat([monthly, total]).rename_axis(by).reset_index()
    for stage in [*FUNNEL_STAGES[1:], "tried_within_72h"]:
        out[f"share_{stage}"] = (out[stage] / out["eligible"]).where(out["eligible"] > 0).round(4)
    out["median_hours_to_first_attempt"] = out["median_hours_to_first_attempt"].round(1)
    return out


def practice_checks(events: pd.DataFrame, attempts: pd.DataFrame, as_of: pd.Timestamp,
                    max_attempts: int) -> pd.DataFrame:
    """The attempts that break a practice rule (PRONTO's guidance): one row per finding.

    More tries for one overdose than ``max_attempts``; naloxone or materials left where no contact
    was made (someone else may read them: a disclosure risk); tries after the person was engaged.

    Parameters
    ----------
    events, attempts, as_of
        As for :func:`funnel_table`.
    max_attempts
        The cap on tries per overdose.

    Returns
    -------
    pandas.DataFrame
        ``worklist_id``, ``attempted_at``, ``check`` and ``detail``, in time order.
    """
    _, tried = episodes_of(events, attempts, as_of)
    tried = tried.dropna(subset=["event"])
    rows = []
    for _event, mine in tried.groupby("event", sort=False):
        if len(mine) > max_attempts:
            rows.append({"worklist_id": mine["worklist_id"].iloc[0], "attempted_at": mine["attempted_at"].iloc[-1],
                         "check": "more tries than the cap",
                         "detail": f"{len(mine)} tries for one overdose (cap {max_attempts})"})
        engaged_at = mine.loc[mine["engaged"], "attempted_at"].min()
        if pd.notna(engaged_at):
            for when in mine.loc[mine["attempted_at"] > engaged_at, "attempted_at"]:
                rows.append({"worklist_id": mine["worklist_id"].iloc[0], "attempted_at": when,
                             "check": "tried after engagement", "detail": "the person was already engaged"})
    left = tried[(tried["naloxone_kits"] > 0) & ~tried["reached"]]
    for row in left.itertuples(index=False):
        rows.append({"worklist_id": row.worklist_id, "attempted_at": row.attempted_at,
                     "check": "materials left without contact",
                     "detail": f"{row.naloxone_kits} kit(s) left after '{row.result}': a disclosure risk"})
    table = pd.DataFrame(rows, columns=["worklist_id", "attempted_at", "check", "detail"])
    return table.sort_values(["attempted_at", "worklist_id"], kind="stable").reset_index(drop=True)
