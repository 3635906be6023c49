"""What each audience may see of ``odgeo sites``: the sites, the coverage curve and the out-of-time check."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from ..publish.gate import Gate
from ..publish.public import PublicGate

__all__ = ["coverage_curve", "out_of_time", "show_sites", "site_layer"]


def site_layer(gate: Gate, sites: gpd.GeoDataFrame, n_incidents: int) -> gpd.GeoDataFrame:
    """The naloxone sites layer for the gate's audience.

    Restricted: every site with its figures. Public: per-site counts under
    ``min_count`` hidden, and shares only while every gain before them is shown:
    a site's circle is a small, known area, and ``cumulative_share`` at rank k
    minus the share at rank k-1 is the k-th marginal gain over the total, so from
    the first hidden gain on, no share is published; the shares shown are rounded
    down as coverage.csv's and run.json's are, so the three name one figure. A
    count of 0 is hidden with the small ones (shown beside them, it says they are 1 or more).

    Parameters
    ----------
    gate
        The run's gate.
    sites
        Existing and chosen sites with ``rank``, ``covered``, ``marginal_gain`` and ``cumulative_share``.
    n_incidents
        The incidents the shares are of.

    Returns
    -------
    geopandas.GeoDataFrame
        The sites as the audience may see them.
    """
    if not isinstance(gate, PublicGate):
        return sites

    m = gate.limit
    out = sites.copy()
    for col in ("covered", "marginal_gain"):
        if col not in out:
            continue
        values = pd.to_numeric(out[col], errors="coerce")
        small = values.notna() & (values < m)
        out[col] = values.astype(object).where(~small, None)
    if "cumulative_share" in out and "rank" in out:
        ranked = pd.to_numeric(out["rank"], errors="coerce")
        gains = pd.to_numeric(out["marginal_gain"], errors="coerce") if "marginal_gain" in out else None
        first_hidden = np.inf
        if gains is not None:
            hidden_ranks = ranked[ranked.notna() & gains.isna()]
            first_hidden = float(hidden_ranks.min()) if len(hidden_ranks) else np.inf
        shares = pd.to_numeric(out["cumulative_share"], errors="coerce")
        rounded = pd.Series(_whole_steps(shares.to_numpy(), m, n_incidents), index=out.index)
        out["cumulative_share"] = rounded.astype(object).where(
            shares.notna() & ~(ranked.notna() & (ranked >= first_hidden)), None)
    return out


def coverage_curve(gate: Gate, curve: pd.DataFrame, n_incidents: int) -> pd.DataFrame:
    """coverage.csv: the share reached by the best k new sites, for the gate's audience.

    Restricted: shares to four decimals. Public: shares rounded down to whole
    multiples of ``min_count`` incidents, since the best k sites and the best k+1
    differ by the incidents one more site reaches: exact shares would state that
    number, however small.

    Parameters
    ----------
    gate
        The run's gate.
    curve
        One row per number of new sites, with ``share`` (0 to 1).
    n_incidents
        The incidents the shares are of.

    Returns
    -------
    pandas.DataFrame
        The curve with ``share`` rounded for the audience.
    """
    if not isinstance(gate, PublicGate):
        return curve.assign(share=curve["share"].round(4))
    return curve.assign(share=_whole_steps(curve["share"].to_numpy(), gate.limit, n_incidents))


def _whole_steps(shares: np.ndarray, min_count: int, n_incidents: int) -> np.ndarray:
    """Shares rounded down to whole multiples of ``min_count`` incidents (four decimals)."""
    step = min_count / n_incidents if n_incidents else 1.0
    return (np.floor(np.asarray(shares, dtype=float) / step + 1e-9) * step).round(4)


#: Shares of incidents in run.json's solution section.
_SOLUTION_SHARES = ("share_reached", "share_reached_by_existing", "share_of_monthly_demand_served")


def show_sites(gate: Gate, n_incidents: int) -> None:
    """Register how run.json's weights and solution sections are shown to the gate's audience.

    Public: the shares reached are rounded down like coverage.csv's (the final share minus
    the last published cumulative share was the hidden gains, exactly), and the total weight
    is left out (with every incident counting 1, it is the number of incidents used).

    Parameters
    ----------
    gate
        The run's gate.
    n_incidents
        The incidents the shares are of.
    """
    if not isinstance(gate, PublicGate):
        return
    m = gate.limit

    def solution(section: dict) -> dict:
        shares = {k: float(_whole_steps(np.array([section[k]]), m, n_incidents)[0])
                  for k in _SOLUTION_SHARES if section.get(k) is not None}
        return {**section, **shares}

    gate.view_section("weights", lambda info: {k: v for k, v in info.items() if k != "total_weight"})
    gate.view_section("solution", solution)


def out_of_time(gate: Gate, evaluation: dict) -> dict:
    """The ``--train-until`` evaluation for the gate's audience (with ``hidden`` when it may not be shown).

    Parameters
    ----------
    gate
        Restricted: the evaluation in full. Public: the later-period share reached,
        only when neither the reached nor the missed incidents are few.
    evaluation
        ``n_later``, ``share_of_later_reached``, ``meaning`` and the other figures.

    Returns
    -------
    dict
        The evaluation, or its meaning and why the figures are hidden.
    """
    if not isinstance(gate, PublicGate):
        return evaluation
    m = gate.limit
    n = evaluation.get("n_later") or 0
    reached = round((evaluation.get("share_of_later_reached") or 0) * n)
    if n < m or 0 < reached < m or 0 < n - reached < m:
        return {"meaning": evaluation.get("meaning"),
                "hidden": f"fewer than {m} later incidents, or fewer than {m} reached or missed"}
    return evaluation
