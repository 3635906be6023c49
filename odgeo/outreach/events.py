"""From linked records to overdoses and persons: one row per overdose, whichever sources saw it.

An overdose seen by EMS and by police is one event: its time is the earliest record's, it was
fatal if any record says so, and transport was refused or the person unhoused if any record
says so. Its place is the first located record's (EMS first, in the order the sources were
given), and the person's home the latest non-empty one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import pandas as pd

__all__ = ["EVENT_COLUMNS", "overdose_events", "person_anchor", "worklist_ids"]

#: One row per overdose (see :func:`overdose_events`).
EVENT_COLUMNS = ["event", "person", "occurred_at", "fatal", "refused_transport", "unhoused", "lon", "lat",
                 "address", "residence", "zip", "records", "contact"]


def overdose_events(records: pd.DataFrame, keep_columns: list[str]) -> pd.DataFrame:
    """One row per overdose from records carrying ``event`` and ``person`` numbers (:mod:`.linkage`).

    Parameters
    ----------
    records
        One row per record: ``event``, ``person``, ``source``, ``record_id``, ``source_rank`` (the
        sources' order), ``occurred_at``, ``outcome``, ``refused_transport``, ``unhoused``, ``lon``,
        ``lat``, ``address``, ``residence`` and the ``keep_columns``.
    keep_columns
        Contact columns carried as given (the first non-empty value of the overdose's records).

    Returns
    -------
    pandas.DataFrame
        :data:`EVENT_COLUMNS`, one row per event number.
    """
    ordered = records.sort_values(["event", "source_rank", "occurred_at"], kind="stable")
    event = ordered["event"]
    grouped = ordered.groupby("event", sort=True)
    located = ordered[ordered["lon"].notna()].groupby("event", sort=True)
    events = pd.DataFrame({
        "person": grouped["person"].first(),
        "occurred_at": grouped["occurred_at"].min(),
        "fatal": (ordered["outcome"] == "fatal").groupby(event).any(),
        "refused_transport": grouped["refused_transport"].any(),
        "unhoused": grouped["unhoused"].any(),
        "lon": located["lon"].first(), "lat": located["lat"].first(),
        "address": _first_text(ordered, "address"),
        "residence": _first_text(ordered, "residence"),
        "zip": _first_text(ordered, "zip") if "zip" in ordered else pd.Series(dtype=object),
        "records": _joined(ordered["source"].astype(str) + ":" + ordered["record_id"].astype(str), event),
    })
    for col in ("address", "residence", "zip"):
        events[col] = events[col].fillna("")
    contact = pd.DataFrame({col: _first_text(ordered, col) for col in keep_columns}, index=events.index).fillna("")
    events["contact"] = contact.to_dict("records") if keep_columns else [{} for _ in range(len(events))]
    return events.rename_axis("event").reset_index()[EVENT_COLUMNS]


def _joined(text: pd.Series, event: pd.Series) -> pd.Series:
    """Per event, its records' texts joined with "; " in order (one column per rank: no Python call per event)."""
    rank = event.groupby(event, sort=False).cumcount().to_numpy()
    out = pd.Series(text[rank == 0].to_numpy(), index=event[rank == 0].to_numpy())
    for k in range(1, int(rank.max()) + 1 if len(rank) else 0):
        more = pd.Series(text[rank == k].to_numpy(), index=event[rank == k].to_numpy())
        out = out + ("; " + more).reindex(out.index).fillna("")
    return out.sort_index()


def _first_text(ordered: pd.DataFrame, col: str) -> pd.Series:
    """Per event, the first non-empty text of ``col`` in the records' order (events with none are absent)."""
    text = ordered[col].fillna("").astype(str).str.strip()
    given = (text != "").to_numpy()
    return text[given].groupby(ordered["event"][given], sort=True).first()


def person_anchor(records: pd.DataFrame) -> pd.Series:
    """Per person number, the key its worklist id is made from, stable while the person's records stay.

    The smallest of the person's source person ids, else of their birth date, sex and name keys,
    else the earliest record: a new record joining the person changes none of these unless it
    brings a key of a stronger kind.
    """
    pid = _smallest(records.loc[records["person_id"] != "", ["person", "source", "person_id"]], "id")
    dsn_ok = records["birth_date"].notna() & (records["sex"] != "") & (records["name_key"] != "")
    dsn = _smallest(records.loc[dsn_ok, ["person", "birth_date", "sex", "name_key"]], "dsn")
    first = records[["person", "occurred_at", "source", "record_id"]].sort_values(["person", "occurred_at"],
                                                                                 kind="stable")
    first = first.drop_duplicates("person")
    earliest = pd.Series(("rec\x1f" + first["source"].astype(str) + "\x1f" + first["record_id"].astype(str)).to_numpy(),
                         index=first["person"].to_numpy())
    return pid.combine_first(dsn).combine_first(earliest).reindex(earliest.index)


def _smallest(keys: pd.DataFrame, kind: str) -> pd.Series:
    """Per person, the smallest key (its other columns, in order), as text ``kind`` + the columns."""
    columns = [c for c in keys.columns if c != "person"]
    first = keys.sort_values(["person", *columns], kind="stable").drop_duplicates("person")  # a sort, not a min each
    text = pd.Series(kind, index=first.index)
    for col in columns:  # dates written out by hand: an id may not change with the pandas release
        value = first[col].dt.strftime("%Y-%m-%d") if pd.api.types.is_datetime64_any_dtype(first[col]) else \
            first[col].astype(str)
        text = text + "\x1f" + value
    return pd.Series(text.to_numpy(), index=first["person"].to_numpy())


def worklist_ids(anchors: pd.Series, key: bytes) -> pd.Series:
    """The pseudonymous ids: "W-" and 10 characters of an HMAC-SHA256 of each anchor under the team's key."""
    def one(text: str) -> str:
        digest = hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()
        return "W-" + base64.b32encode(digest).decode()[:10]

    return anchors.map(one)
