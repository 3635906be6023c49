"""What each audience may see of geocoding: run.json's status tally, small counts hidden."""

from __future__ import annotations

import numpy as np

from ..publish.gate import Gate
from ..publish.privacy import hidden_counts
from ..publish.public import PublicGate

__all__ = ["geocoding_summary", "show_geocoding"]


def show_geocoding(gate: Gate) -> None:
    """Have the gate show run.json's ``geocoding`` section through :func:`geocoding_summary`."""
    gate.view_section("geocoding", lambda summary: geocoding_summary(gate, summary))


def geocoding_summary(gate: Gate, summary: dict) -> dict:
    """The geocoding summary for the gate's audience.

    Parameters
    ----------
    gate
        Restricted: the summary as it is. Public: the status counts (which add
        up to ``n``) suppressed complementarily, held by the ledger of a series.
    summary
        ``n``, ``by_status`` (rows per match status), ``n_located``, ``n_left_out``,
        ``median_score`` and the settings.

    Returns
    -------
    dict
        The summary; ``n_located`` and ``n_left_out`` (sums of statuses) are shown
        only when every status is, or one hidden status would be their difference.
    """
    if not isinstance(gate, PublicGate) or not isinstance(summary, dict):
        return summary
    m = gate.limit
    by_status = dict(summary.get("by_status") or {})
    values = {"n": int(summary.get("n") or 0), **{f"status:{k}": int(v) for k, v in by_status.items()}}
    values = gate.hold("geocoding", "rows", values)
    statuses = list(by_status)
    shown = np.array([values[f"status:{s}"] for s in statuses], dtype=np.int64)
    hidden = hidden_counts(shown, min_count=m) if len(shown) else np.zeros(0, dtype=bool)
    few = 0 < values["n"] < m
    if few:
        hidden[:] = True
    out = dict(summary)
    out["n"] = None if few else values["n"]
    out["by_status"] = {s: (None if h else values[f"status:{s}"]) for s, h in zip(statuses, hidden)}
    if hidden.any():
        out.update({k: None for k in ("n_located", "n_left_out") if k in out})
    if few:
        out["median_score"] = None  # a score measured on a handful of addresses
    return out
