"""What each audience sees of the report: the team every count; the public no count under ``min_count``, anywhere.

For the public:

- **rates.csv**: an area's count under ``min_count`` is hidden, and with it the smallest others
  until the hidden ones are not a single area and hold 0 or at least ``min_count`` together
  (the incidents outside every area count as hidden: the whole's count minus the shown areas
  then gives a sum, never one area). A hidden count hides its rate and interval (an exact
  interval is a function of the count), the year-ago count hides the same way, and a change is
  shown only where both counts are. Fatal counts per area are the team's; the public sees the
  whole's fatal and non-fatal counts in the headline, where they are shown only if every part
  of the whole (fatal, non-fatal, unknown) is 0 or at least ``min_count``;
- **trend.csv**: each period's count under ``min_count`` hidden with its rate, and a
  12-month-ending sum hidden when one of its periods is (else the sum minus the shown
  periods gives the hidden one);
- **drug groups**: the groups that nest no other (fentanyl, heroin, cocaine, ...), each shown
  only when it and the rest of the period's incidents are 0 or at least ``min_count``; the
  parents (any opioid, any stimulant) are the team's, since a parent minus its children is a
  count of the records with two drugs;
- **dates**: months, never days;
- **a series** (``--ledger``): every count is held per period (an area's count of 2025 Q3, the
  fatal count of 2025 Q3, the women of 2025 Q3 ...) and republished only once it has moved by
  ``min_count`` since it was last published, so that a quarter revised by late records, or
  shown again as the year-earlier quarter, gives nothing away by subtraction; rates, intervals,
  changes and 12-month sums are computed from the held counts, and an age-adjusted rate is
  republished only with its count. The rules above then apply to the held counts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..drugs.definitions import PARENTS
from ..publish.privacy import hidden_counts
from ..publish.public import PublicGate
from ..publish.restricted import Gate
from ..vocabulary import OUTCOMES
from .rates import crude_rates
from .tables import TOTAL_AREA, rates_of_counts

__all__ = ["in_series", "public_demographics", "public_drugs", "public_outcomes", "public_part", "public_rates",
           "public_trend", "shows_everything", "smallest_count"]

_RATE_COLUMNS = ["rate", "rate_low", "rate_high"]
_ADJUSTED_COLUMNS = ["age_adjusted_rate", "age_adjusted_low", "age_adjusted_high"]
_CHANGE_COLUMNS = ["earlier_rate", "rate_ratio", "ratio_low", "ratio_high", "change_p"]


def smallest_count(gate: Gate) -> int:
    """The smallest count the audience may see (0: every count)."""
    return gate.limit


def shows_everything(gate: Gate) -> bool:
    """Whether this audience gets every count (the team) or the gate's view (the public)."""
    return not isinstance(gate, PublicGate)


def _hidden_parts(values: np.ndarray, outside: int, limit: int) -> np.ndarray:
    """Which of an area table's counts to hide; ``outside`` (never published) takes part as hidden."""
    parts = np.append(values, outside).astype(np.int64)
    return hidden_counts(parts, min_count=limit, force=np.append(np.zeros(len(values), bool), outside > 0))[:-1]


def _month(text: pd.Series) -> pd.Series:
    return text.astype(str).str.slice(0, 7)


def in_series(gate: Gate) -> bool:
    """Whether this release is one of a series held by a ledger (its counts are as last published)."""
    return isinstance(gate, PublicGate) and gate.is_series


def _count_key(area: str, period_start: str) -> tuple[str, str]:
    """Where a series holds an area's count of a period; the whole's is its trend row's (one number, one key)."""
    if area == TOTAL_AREA:
        return "report periods", str(period_start)
    return "report areas", f"{area}|{period_start}"


def _held_rates(gate: PublicGate, table: pd.DataFrame, earlier_start: str, years: float) -> pd.DataFrame:
    """Each area's count of a period as the series last published it, and the rates computed from those."""
    out = table.copy()
    adjusted = [c for c in _ADJUSTED_COLUMNS if c in out.columns]
    for i, row in out.iterrows():
        now = gate.hold(*_count_key(row["area"], row["period_start"]), {"count": int(row["count"])},
                        riders={c: float(row[c]) for c in adjusted})
        was = gate.hold(*_count_key(row["area"], earlier_start), {"count": int(row["earlier_count"])})
        out.at[i, "count"], out.at[i, "earlier_count"] = now["count"], was["count"]
        for c in adjusted:
            out.at[i, c] = now[c]
    return rates_of_counts(out, years, min_count=gate.limit)


def public_rates(gate: Gate, table: pd.DataFrame, *, outside: int, earlier_outside: int, earlier_start: str = "",
                 years: float = 0.25) -> pd.DataFrame:
    """rates.csv for the audience (restricted: the table as computed).

    Parameters
    ----------
    gate : Gate
    table : DataFrame
        From :func:`odgeo.report.tables.rate_table` (the areas, then ``all``).
    outside, earlier_outside : int
        Incidents of the period, and of the year-ago one, in no area.
    earlier_start : str
        The first day of the year-earlier period (the key of its counts in a series).
    years : float
        The period's length in years (rates are recomputed from a series' held counts).

    Returns
    -------
    DataFrame
    """
    if shows_everything(gate):
        return table
    if in_series(gate):
        assert isinstance(gate, PublicGate)
        table = _held_rates(gate, table, earlier_start, years)
    limit = gate.limit
    areas = table["area"] != TOTAL_AREA
    out = table.drop(columns=["fatal"]).copy()
    for column, spill in (("count", outside), ("earlier_count", earlier_outside)):
        hide = np.zeros(len(table), dtype=bool)
        hide[areas.to_numpy()] = _hidden_parts(table.loc[areas, column].to_numpy(), spill, limit)
        total = table.loc[~areas, column].to_numpy()
        hide[(~areas).to_numpy()] = (total > 0) & (total < limit)
        if hide.any():  # a zero shown beside "fewer than" says each hidden one is at least 1
            hide |= table[column].to_numpy() == 0
        out[column] = pd.array(np.where(hide, pd.NA, table[column]), dtype="Int64")
        if column == "count":
            rate_columns = _RATE_COLUMNS + [c for c in _ADJUSTED_COLUMNS if c in out.columns]
            out[rate_columns] = out[rate_columns].astype(float)
            out.loc[hide, rate_columns] = np.nan
            out["reliability"] = np.where(hide & (table["reliability"] != "no population"), "suppressed",
                                          table["reliability"])
    both = out["count"].notna() & out["earlier_count"].notna()
    out[_CHANGE_COLUMNS] = out[_CHANGE_COLUMNS].astype(float)
    out.loc[~both.to_numpy(), _CHANGE_COLUMNS] = np.nan
    out["change"] = np.where(both, table["change"], "not shown: a count is hidden")
    out["period_start"], out["period_end"] = _month(out["period_start"]), _month(out["period_end"])
    # Each area's incidents without an age: small counts of their own, and hidden with a hidden count
    # (a zero beside those would bound them); the team's only.
    return out.drop(columns=["unknown_age"], errors="ignore")


def _held_trend(gate: PublicGate, table: pd.DataFrame, periods_per_year: int, person_time: float) -> pd.DataFrame:
    """Each period's counts as the series last published them, and its rate and 12-month sum from those."""
    out = table.copy()
    for i, row in out.iterrows():
        held = gate.hold("report periods", str(row["period_start"]),
                         {"count": int(row["count"]), "fatal": int(row["fatal"])})
        out.at[i, "count"], out.at[i, "fatal"] = held["count"], held["fatal"]
    rates = crude_rates(out["count"].to_numpy(dtype=np.int64), np.full(len(out), person_time))
    out[_RATE_COLUMNS] = rates[_RATE_COLUMNS].to_numpy()
    out["count_12_months_ending"] = out["count"].astype(float).rolling(periods_per_year).sum().to_numpy()
    return out


def public_trend(gate: Gate, table: pd.DataFrame, *, periods_per_year: int,
                 person_time: float = float("nan")) -> pd.DataFrame:
    """trend.csv for the audience: hidden small periods, and the 12-month sums that hold one.

    ``person_time``: the whole's residents times the period's length in years (rates are recomputed
    from a series' held counts).
    """
    if shows_everything(gate):
        return table
    if in_series(gate):
        assert isinstance(gate, PublicGate)
        table = _held_trend(gate, table, periods_per_year, person_time)
    limit = gate.limit
    out = table.copy()
    hide = ((table["count"] > 0) & (table["count"] < limit)).to_numpy()
    if hide.any():  # a zero shown beside "fewer than" says each hidden one is at least 1
        hide |= table["count"].to_numpy() == 0
    out["count"] = pd.array(np.where(hide, pd.NA, table["count"]), dtype="Int64")
    fatal = table["fatal"].to_numpy()
    fatal_hidden = hide | ((fatal > 0) & (fatal < limit)) | _complement_small(table, limit)
    if fatal_hidden.any():
        fatal_hidden |= fatal == 0
    out["fatal"] = pd.array(np.where(fatal_hidden, pd.NA, fatal), dtype="Int64")
    out[_RATE_COLUMNS] = out[_RATE_COLUMNS].astype(float)
    out.loc[hide, _RATE_COLUMNS] = np.nan
    holds_hidden = pd.Series(hide.astype(float)).rolling(periods_per_year, min_periods=1).sum().to_numpy() > 0
    rolling = table["count_12_months_ending"].to_numpy(dtype=float)
    out["count_12_months_ending"] = np.where(holds_hidden | ((rolling > 0) & (rolling < limit)), np.nan, rolling)
    out["period_start"], out["period_end"] = _month(out["period_start"]), _month(out["period_end"])
    return out


def _complement_small(table: pd.DataFrame, limit: int) -> np.ndarray:
    """Periods whose non-fatal remainder (count minus fatal) is under ``limit``: their fatal count would give it."""
    rest = (table["count"] - table["fatal"]).to_numpy()
    return (rest > 0) & (rest < limit)


def _held(gate: Gate, kind: str, key: str, values: dict[str, int]) -> dict[str, int]:
    """``values`` as a series last published them (as they are outside a series)."""
    if not in_series(gate):
        return values
    assert isinstance(gate, PublicGate)
    return gate.hold(kind, key, values)


def public_outcomes(gate: Gate, fatal: int, nonfatal: int, unknown: int, *,
                    period_start: str = "") -> dict[str, int | None]:
    """The period's fatal, non-fatal and unknown-outcome counts, each None when the audience may not see it.

    In a series they are held on the period's trend row (its fatal count is trend.csv's).
    """
    names = OUTCOMES
    if shows_everything(gate):
        return dict(zip(names, (fatal, nonfatal, unknown)))
    held = _held(gate, "report periods", period_start, dict(zip(names, (fatal, nonfatal, unknown))))
    values = np.array([held[n] for n in names], dtype=np.int64)
    hide = hidden_counts(values, min_count=gate.limit)
    return {n: (None if h else int(v)) for n, v, h in zip(names, values, hide)}


def public_demographics(gate: Gate, table: pd.DataFrame, *, period: str = "") -> pd.DataFrame:
    """The period's incidents by age group and by sex for the audience: each dimension as a set of parts.

    Within a dimension (whose counts add up to the period's total) a count under ``min_count`` is
    hidden with the smallest others until the hidden ones are not one and hold 0 or at least
    ``min_count`` together; a zero beside a hidden count is hidden too.
    """
    if shows_everything(gate):
        return table
    out = table.copy()
    out["count"] = [_held(gate, "report people", f"{period}|{d}|{g}", {"count": int(n)})["count"]
                    for d, g, n in zip(table["dimension"], table["group"], table["count"])]
    shown = []
    for _, part in out.groupby("dimension", sort=False):
        values = part["count"].to_numpy(dtype=np.int64)
        hide = hidden_counts(values, min_count=gate.limit)
        if hide.any():
            hide |= values == 0
        shown.append(pd.Series(np.where(hide, pd.NA, values), index=part.index))
    out["count"] = pd.array(pd.concat(shown).reindex(table.index) if shown else [], dtype="Int64")
    return out


def public_part(gate: Gate, part: int, total: int, *, key: str = "") -> int | None:
    """A count of some of ``total`` records, None when it or the rest is under ``min_count`` (and not 0).

    ``key``: what the count is, in a series (``2025Q4|pending``).
    """
    if shows_everything(gate):
        return part
    held = _held(gate, "report parts", key, {"part": part, "total": total})
    part, total = held["part"], held["total"]
    return None if 0 < part < gate.limit or 0 < total - part < gate.limit else part


def public_drugs(gate: Gate, counts: dict[str, int], total: int, *, period: str = "") -> dict[str, int | None]:
    """The period's records per drug group for the audience (see the module's rules); None where hidden."""
    if shows_everything(gate):
        return dict(counts)
    parents = set(PARENTS.values())
    return {group: None if group in parents else public_part(gate, int(n), total, key=f"{period}|drug|{group}")
            for group, n in counts.items()}
