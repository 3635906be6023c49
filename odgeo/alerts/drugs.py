"""Drug-aware alerts: a spike per drug group, a drug's first appearance, and a drug's share rising.

The supply changes before the counts do: xylazine, carfentanil and nitazenes arrived in waves. With
``--watch-drugs`` the daily job reads each incident's suspected drug (:mod:`odgeo.drugs`) and adds,
for each group watched:

- **spikes** of that group alone: the same threshold rule and EARS methods as every other series,
  on the group's own daily counts (kinds ``threshold:<group>`` and ``ears:<group>``);
- a **first appearance** (kind ``first:<group>``): the group in the alert window, in an area or
  anywhere (``all``), and in none of the ``new_drug_months`` months before the window. It needs
  that much history; without it nothing is said (a short file cannot tell new from unseen);
- a **share rise** (kind ``share:<group>``), for the whole input: the group's share of the
  overdoses of the last ``share_days`` days against its share in the ``baseline_days`` before
  them (and, for a group of :data:`SHARE_PARENTS`, its share among its parent's overdoses too:
  kind ``share-among-fentanyl:xylazine``), by an exact one-sided binomial test (the recent
  count given the recent total, with the baseline share as p), alerting below ``share_p``. Exact,
  because a rare drug's counts are small (a normal approximation misstates their tail);
  one-sided, because a rising share is the signal.
  A group absent from the baseline has no share to rise from: that is a first appearance.

The kind carries the group after a colon, so the alert history keeps one alert per area, kind and
drug without a new column.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..drugs.columns import DrugFlags
from ..drugs.definitions import GROUP_LABELS
from ..drugs.text import TextFlags
from ..incidents.dates import shift_days
from .areas import ALL_AREAS, AlertAreas
from .spikes import ALERT_COLUMNS, DailySeries, alert_row, current_alerts, daily_series

__all__ = ["SHARE_AMONG", "SHARE_PARENTS", "DrugWatch", "drug_alerts", "drug_kind", "drug_label", "drug_of_kind",
           "share_p_value"]

#: Groups whose share is also tested within another group: xylazine among fentanyl, as MMWR reports it
#: (xylazine was found in up to 12.2% of fentanyl deaths in 2021, and 99.1% of xylazine deaths involved fentanyl).
SHARE_PARENTS = {"xylazine": "fentanyl"}
#: The kind of a share test within a parent group: ``share-among-fentanyl:xylazine``.
SHARE_AMONG = "share-among-"
#: Months a group must be absent before its appearance is "first" (a year, as ODMAP's weekly reviews look back).
NEW_DRUG_MONTHS = 12


@dataclass(frozen=True)
class DrugWatch:
    """What the daily job watches per drug group.

    Attributes
    ----------
    groups : tuple of str
        The drug groups watched (:data:`odgeo.drugs.DRUG_GROUPS` or a user's).
    new_drug_months : int
        A group unseen for this many months before the window appears "for the first time".
    share_days, baseline_days : int
        The recent days whose share is tested, and the days before them that give the baseline share.
    share_p : float
        The one-sided binomial p-value under which a share rise alerts.
    """

    groups: tuple[str, ...]
    new_drug_months: int = NEW_DRUG_MONTHS
    share_days: int = 7
    baseline_days: int = 56
    share_p: float = 0.01


def drug_kind(kind: str, group: str) -> str:
    """An alert kind for one drug group: ``first:xylazine``."""
    return f"{kind}:{group}"


def drug_of_kind(kind: str) -> tuple[str, str | None]:
    """The kind and the drug group of an alert kind (``("first", "xylazine")``; ``("threshold", None)``)."""
    base, _, group = str(kind).partition(":")
    return base, group or None


def drug_label(group: str) -> str:
    """A group as a sentence says it: "xylazine", "fentanyl and analogues"."""
    return GROUP_LABELS.get(group, group)


def share_p_value(count: int, total: int, baseline_share: float) -> float:
    """P(X >= count) for X binomial(total, baseline_share): R's ``binom.test(..., alternative = "greater")``."""
    if count <= 0:
        return 1.0
    if baseline_share <= 0:
        return 0.0
    from scipy import special  # a tenth of a second of imports, for the mornings that watch a drug

    return float(special.bdtrc(count - 1, total, baseline_share))


def drug_alerts(read: DrugFlags | TextFlags, times: pd.Series, areas: AlertAreas, series: DailySeries,
                as_of: pd.Timestamp, watch: DrugWatch, *, window_hours: float, rule, fixed, methods, ears_z,
                min_sd) -> tuple[pd.DataFrame, dict]:
    """The drug alerts of the alert day, and run.json's account of what was watched.

    Parameters
    ----------
    read : DrugFlags or TextFlags
        Each incident's drug groups (in the order of ``areas.members``' incident index), from
        :func:`odgeo.drugs.flag_columns` or :func:`odgeo.drugs.flag_text`.
    times : Series
        The incidents' times (tz-aware).
    areas : AlertAreas
    series : DailySeries
        Every incident's daily series (its window gives the window's bounds).
    as_of : Timestamp
    watch : DrugWatch
    window_hours, rule, fixed, methods, ears_z, min_sd
        As for :func:`odgeo.alerts.spikes.current_alerts`.

    Returns
    -------
    alerts : DataFrame
        Rows as :func:`current_alerts` makes them, kinds carrying their group.
    section : dict
        Per group: the window's count, the share test's figures, and what was not said and why;
        the records whose drug text names no group, and the words that matched no term.
    """
    flags = read.flags
    end = series.day_ends[-1]
    start = end - pd.Timedelta(hours=window_hours)
    rows: list[dict] = []
    section: dict = {"groups": list(watch.groups), "new_drug_months": watch.new_drug_months,
                     "share": {"recent_days": watch.share_days, "baseline_days": watch.baseline_days,
                               "max_p": watch.share_p, "test": "exact one-sided binomial (binom.test, greater)"},
                     "by_group": {}, "records_without_drug_text": int(read.empty),
                     "records_matching_no_term": int(read.matched_none),  # a new drug's name is a signal
                     "unmatched_words": {w: int(n) for w, n in read.unmatched_words.head(20).items()}}
    for group in watch.groups:
        flagged = flags[group].to_numpy()
        found: dict = {"n_in_window": 0}
        if flagged.any():
            spikes = _spikes(flagged, times, areas, as_of, window_hours, rule, fixed, methods, ears_z, min_sd)
            rows += [{**r, "kind": drug_kind(r["kind"], group)} for r in spikes]
            found["n_in_window"] = int(((times > start) & (times <= end)).to_numpy()[flagged].sum())
        rows += _first_appearances(group, flagged, times, areas, start, end, watch, found)
        rows += _share_rise(group, flagged, times, end, watch, found)
        parent = SHARE_PARENTS.get(group)
        if parent in flags.columns:
            rows += _share_rise(group, flagged, times, end, watch, found, among=flags[parent].to_numpy(),
                                parent=parent)
        section["by_group"][group] = found
    return pd.DataFrame(rows, columns=ALERT_COLUMNS), section


def _spikes(flagged: np.ndarray, times: pd.Series, areas: AlertAreas, as_of, window_hours, rule, fixed, methods,
            ears_z, min_sd) -> list[dict]:
    """The group's own threshold and EARS alerts (its neighbours' are the areas' own concern)."""
    position = np.cumsum(flagged) - 1
    who, where = areas.members
    keep = flagged[who]
    mine = replace(areas, members=(position[who[keep]], where[keep]))
    own = daily_series(times[flagged].reset_index(drop=True), mine, as_of, window_hours=window_hours)
    alerts, _, _ = current_alerts(own, mine, rule=rule, fixed=fixed, methods=methods, ears_z=ears_z, min_sd=min_sd)
    return [r for r in alerts.to_dict("records") if r["kind"] != "neighbour"]


def _first_appearances(group: str, flagged: np.ndarray, times: pd.Series, areas: AlertAreas, start, end,
                       watch: DrugWatch, found: dict) -> list[dict]:
    since = pd.Timestamp(start) - pd.DateOffset(months=watch.new_drug_months)
    if times.min() > since:
        found["first_appearance"] = (f"not looked for: the input starts {times.min():%Y-%m-%d}, less than "
                                     f"{watch.new_drug_months} months before the window")
        return []
    recent = flagged & (times > start).to_numpy() & (times <= end).to_numpy()
    before = flagged & (times > since).to_numpy() & (times <= start).to_numpy()
    if not recent.any():
        return []
    rows = []
    if not before.any():
        rows.append(alert_row(ALL_AREAS, drug_kind("first", group), start, end, int(recent.sum()), None))
    who, where = areas.members
    for a in np.unique(where[recent[who]]).tolist():
        inside = who[where == a]
        if not before[inside].any():
            rows.append(alert_row(areas.names[a], drug_kind("first", group), start, end,
                                  int(recent[inside].sum()), None))
    found["first_appearance"] = [r["area"] for r in rows]
    return rows


def _share_rise(group: str, flagged: np.ndarray, times: pd.Series, end, watch: DrugWatch, found: dict, *,
                among: np.ndarray | None = None, parent: str | None = None) -> list[dict]:
    """The share test of ``group`` among all overdoses, or among those of ``parent`` (``among`` its flags)."""
    recent_start = shift_days(pd.Timestamp(end), -watch.share_days)
    baseline_start = shift_days(recent_start, -watch.baseline_days)
    pool = np.ones(len(flagged), dtype=bool) if among is None else among
    recent = ((times > recent_start) & (times <= end)).to_numpy() & pool
    baseline = ((times > baseline_start) & (times <= recent_start)).to_numpy() & pool
    x, n = int((flagged & recent).sum()), int(recent.sum())
    x0, n0 = int((flagged & baseline).sum()), int(baseline.sum())
    figures: dict[str, object] = {"recent": [x, n], "baseline": [x0, n0]}
    found["share" if parent is None else f"share_among_{parent}"] = figures
    if n == 0 or n0 == 0 or x0 == 0 or x / n <= x0 / n0:
        return []
    p = share_p_value(x, n, x0 / n0)
    figures["p_value"] = p
    if p >= watch.share_p:
        return []
    kind = "share" if parent is None else f"{SHARE_AMONG}{parent}"
    return [alert_row(ALL_AREAS, drug_kind(kind, group), recent_start, end, x, round(x0 / n0 * n, 3))]
