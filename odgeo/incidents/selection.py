"""Choosing the incidents of a run: date and outcome filters, and moving rows to the rejects.

Every incident a filter leaves out becomes a reject with its code, so the run's
counts still add up (``n_input = n_used + n_unlocated + n_rejected``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from ..arrowtext import text_by_code
from ..errors import ParameterError
from ..schema import INCIDENT_ID, OCCURRED_AT, OUTCOME, SOURCE_ROW
from ..vocabulary import ASSUMED_OUTCOMES, OUTCOMES
from .dates import option_time, wall_clock
from .read import IncidentRead
from .where import WHERE_CODE

__all__ = ["RowCounts", "assume_outcome", "filter_incidents", "move_to_rejects"]

log = logging.getLogger(__name__)


def filter_incidents(
    read: IncidentRead,
    *,
    since: pd.Timestamp | str | None = None,
    until: pd.Timestamp | str | None = None,
    outcomes: list[str] | tuple[str, ...] | None = None,
    require_dates: str | None = None,
    as_of: pd.Timestamp | None = None,
) -> IncidentRead:
    """Keep incidents in a date range and of given outcomes; the rest become rejects.

    ``since`` and ``until`` are inclusive dates (or times) in the incidents' time
    zone; ``until="2025-06-30"`` keeps the whole of 30 June. Filtered rows go to
    the rejects with codes ``before_since``, ``after_until``, ``undated_filtered``
    (no date, with a date filter) or ``outcome_filtered``, so the counts still add up.

    Parameters
    ----------
    read
        The validated incidents and their rejects.
    since, until
        Inclusive bounds (dates or times); None for no bound.
    outcomes
        Outcomes to keep (fatal, nonfatal, unknown); None for all.
    require_dates
        The name of an analysis that needs every incident's date (a time series):
        undated incidents are then rejected as ``missing_date``.
    as_of
        The reference time of ``odgeo alerts`` (tz-aware): later incidents are
        rejected as ``after_as_of``.

    Returns
    -------
    IncidentRead
        The incidents kept, with the others added to the rejects.

    Raises
    ------
    ParameterError
        If a bound is not a date, ``until`` is before ``since``, or an outcome is unknown.
    """
    frame = read.incidents
    times = frame[OCCURRED_AT]
    tz = times.dt.tz
    drop = pd.Series("", index=frame.index, dtype=object)
    reasons: dict[str, tuple[str, str]] = {}
    if since is not None:
        start = _as_bound(since, tz, "`since`")
        mask = times < start
        drop[mask & (drop == "")] = "before_since"
        reasons["before_since"] = (OCCURRED_AT, "before the --since date (in run.json)")
    if until is not None:
        end = _as_bound(until, tz, "`until`", inclusive_day=True)
        if since is not None and end < _as_bound(since, tz, "`since`"):
            raise ParameterError(f"`until` ({until}) is before `since` ({since})")
        mask = times > end
        drop[mask & (drop == "")] = "after_until"
        reasons["after_until"] = (OCCURRED_AT, "after the --until date (in run.json)")
    if as_of is not None:
        drop[(times > as_of) & (drop == "")] = "after_as_of"
        reasons["after_as_of"] = (OCCURRED_AT, "after --as-of, the time the alerts are computed for (in run.json)")
    if require_dates:
        drop[times.isna()] = "missing_date"
        reasons["missing_date"] = (OCCURRED_AT, f"the date is empty; {require_dates} needs every incident's date")
    if since is not None or until is not None:
        drop[times.isna() & (drop == "")] = "undated_filtered"
        reasons["undated_filtered"] = (OCCURRED_AT, "no date, so the --since/--until filter cannot keep it")
    if outcomes:
        wanted = {o.strip().lower() for o in outcomes}
        unknown = wanted - set(OUTCOMES)
        if unknown:
            raise ParameterError(
                f"`outcomes` {', '.join(sorted(unknown))} is not an outcome; use fatal, nonfatal or unknown"
            )
        mask = ~frame[OUTCOME].isin(wanted)
        drop[mask & (drop == "")] = "outcome_filtered"
        reasons["outcome_filtered"] = (OUTCOME, f"outcome not in --outcome {','.join(sorted(wanted))}")
    return move_to_rejects(read, drop.to_numpy(dtype=object), reasons)


def move_to_rejects(read: IncidentRead, codes: np.ndarray, reasons: dict[str, tuple[str, str]]) -> IncidentRead:
    """Move the incidents whose ``codes`` entry is not "" to the rejects.

    ``reasons`` maps each code to (column, reason); the row counts still add up.
    """
    frame = read.incidents
    out = np.asarray(codes, dtype=object) != ""
    if not out.any():
        return read
    dropped = frame[out]
    extra = pd.DataFrame(
        {
            "row": dropped[SOURCE_ROW].to_numpy(),
            INCIDENT_ID: dropped[INCIDENT_ID].to_numpy(),
            "code": codes[out],
            "column": [reasons[c][0] for c in codes[out]],
            "reason": [reasons[c][1] for c in codes[out]],
        }
    )
    rejects = pd.concat([read.rejects, extra], ignore_index=True).sort_values("row", kind="stable")
    return IncidentRead(
        incidents=frame[~out].reset_index(drop=True),
        rejects=rejects.reset_index(drop=True),
        n_input=read.n_input,
        columns=read.columns,
        source=read.source,
        notes=read.notes,
    )


def _as_bound(value, tz, option: str, *, inclusive_day: bool = False) -> pd.Timestamp:
    try:
        stamp = option_time(value, option)
    except ParameterError:
        raise
    except (ValueError, TypeError) as err:  # a value ISO in shape but not a date (2024-13-45)
        raise ParameterError(f"{option} {value!r} is not a date; use YYYY-MM-DD") from err
    day_only = isinstance(value, str) and len(value.strip()) <= 10
    if inclusive_day and day_only:
        stamp = stamp + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    if stamp.tzinfo is None:
        stamp = wall_clock(stamp, tz)[0]  # a midnight the zone skips: the first time that exists
    return stamp


def outcomes_recorded(read: IncidentRead) -> bool:
    """Whether outcomes are known: a column, or `assume_outcome` (else every one is unknown, not non-fatal)."""
    return read.columns.get(OUTCOME) is not None or bool(read.notes.get(ASSUMED_NOTE))


#: The note that counts the rows whose outcome was given by ``assume_outcome``.
ASSUMED_NOTE = "outcome_assumed"


def assume_outcome(read: IncidentRead, outcome: str | None) -> IncidentRead:
    """Every incident has ``outcome`` (a file of deaths: ``"fatal"``); None: as read.

    For a file without an outcome column only: a column says each row's outcome itself,
    and a file of deaths that has one is filtered with ``outcomes`` instead.

    Raises
    ------
    ParameterError
        If ``outcome`` is not fatal or nonfatal, or the input has an outcome column.
    """
    if outcome is None:
        return read
    if outcome not in ASSUMED_OUTCOMES:
        raise ParameterError(f"`assume_outcome` must be fatal or nonfatal, not {outcome!r}")
    column = read.columns.get(OUTCOME)
    if column is not None:
        raise ParameterError(f"`assume_outcome` is for a file without an outcome column, and this one has "
                             f"{column!r}; keep the outcomes you want with `outcomes` {outcome} instead")
    frame = read.incidents.copy()
    frame[OUTCOME] = text_by_code([outcome], np.zeros(len(frame), dtype=np.int64)).to_numpy()
    notes = {k: v for k, v in read.notes.items() if k != "outcome_column_absent"}
    notes[ASSUMED_NOTE] = len(frame)
    return replace(read, incidents=frame, notes=notes)


def warn_about_notes(read: IncidentRead) -> None:
    """One warning for each reading decision a user should know of: dates not converted, outcomes not read."""
    n_dates = read.notes.get("utc_midnights_read_as_dates", 0)
    if n_dates:
        log.warning(f"{n_dates:,} dates of column {read.columns.get(OCCURRED_AT)!r} are midnight with a UTC offset "
                    "(dates exported as '2017/01/03 00:00:00+00'): read as those dates, not converted to the "
                    "`timezone`, which would move them to the day before; give `date_format` with %z to convert "
                    "them as written")
    n = read.notes.get("outcome_unrecognised_as_unknown", 0)
    column = read.columns.get(OUTCOME)
    if n and column is not None:
        log.warning(f"{n:,} value(s) of the outcome column {column!r} are not an outcome odgeo knows and count as "
                    "unknown (known: fatal, death, dead, deceased, died, yes, 1 / nonfatal, survived, alive, no, 0 / "
                    "unknown, empty); recode the column, or choose another with `columns[\"outcome\"]`")


#: Reject codes of rows left out by a filter or by the run's dates, in words (the others are faults).
LEFT_OUT_WORDS = {"after_as_of": "after the as-of time", "before_window": "before the study window",
                  "before_since": "before the since date", "after_until": "after the until date",
                  "undated_filtered": "undated under a date filter", "outcome_filtered": "of other outcomes",
                  WHERE_CODE: "not matching --where"}


@dataclass(frozen=True)
class RowCounts:
    """Where every input row went: ``n_input = n_used + n_unlocated + n_rejected``.

    A field of every command's result, written into run.json's ``counts`` section
    (:meth:`as_record`) and never read back from it.

    Attributes
    ----------
    n_input
        Rows read.
    n_used
        Located incidents analysed.
    n_unlocated
        Rows kept without coordinates (in no map; in the counts).
    n_rejected
        Rows set aside, each with a reason in rejects.csv.
    rejected_by_code
        Rejected rows per reason code.
    n_used_undated
        Used incidents without a date: in every product that does not break down by
        time, in no month, week or time filter.
    n_used_fatal
        Used incidents that were fatal.
    """

    n_input: int
    n_used: int
    n_unlocated: int
    n_rejected: int
    rejected_by_code: dict[str, int]
    n_used_undated: int = 0
    n_used_fatal: int = 0

    @classmethod
    def of(cls, read: IncidentRead, n_used: int, n_undated: int = 0, n_fatal: int = 0, *,
           unlocated_used: bool = False) -> RowCounts:
        """The counts of ``read`` (its rejects and unlocated rows) with ``n_used`` incidents used.

        ``unlocated_used``: the incidents without coordinates are among the used (counted by a
        place name, ``odgeo report --area-col``), so none is left unlocated.
        """
        by_code = read.rejects["code"].value_counts().sort_index()
        unlocated = 0 if unlocated_used else int(read.n_unlocated)
        rows = cls(int(read.n_input), int(n_used), unlocated, int(read.n_rejected),
                   {str(k): int(v) for k, v in by_code.items()}, int(n_undated), int(n_fatal))
        if rows.n_used + rows.n_unlocated + rows.n_rejected != rows.n_input:
            raise AssertionError(f"row counts do not add up: {rows}")  # a bug, never user error
        return rows

    def as_record(self) -> dict[str, Any]:
        """run.json's ``counts`` section."""
        return {"n_input": self.n_input, "n_used": self.n_used, "n_unlocated": self.n_unlocated,
                "n_rejected": self.n_rejected, "rejected_by_code": dict(self.rejected_by_code),
                "n_used_undated": self.n_used_undated, "n_used_fatal": self.n_used_fatal,
                "check": "n_input = n_used + n_unlocated + n_rejected"}

    def line(self) -> str:
        """The rows in words, the rows a filter or the run's dates leave out apart from the faults.

        "2,000 rows: 1,950 used, 30 without coordinates, 12 rejected; left out: 8 after the as-of time".
        """
        left_out = {c: n for c, n in self.rejected_by_code.items() if c in LEFT_OUT_WORDS and n}
        n_bad = self.n_rejected - sum(left_out.values())
        text = (f"{self.n_input:,} rows: {self.n_used:,} used, {self.n_unlocated:,} without coordinates, "
                f"{n_bad:,} rejected")
        if left_out:
            text += "; left out: " + ", ".join(f"{n:,} {LEFT_OUT_WORDS[c]}" for c, n in sorted(left_out.items()))
        return text
