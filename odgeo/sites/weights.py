"""How much each incident counts when choosing sites: fatal, recent and vulnerable-area weights."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import ColumnError, ParameterError
from ..incidents.tables import read_vector_layer
from ..schema import OCCURRED_AT, OUTCOME, WGS84

__all__ = ["incident_weights", "parse_weight_spec"]

_KEYS = {"fatal": "multiplier of fatal incidents", "recent": "half-life in days"}


def parse_weight_spec(spec: str | None) -> dict[str, float]:
    """``"fatal=3,recent=365"`` -> {"fatal": 3.0, "recent": 365.0}; clear errors otherwise."""
    out: dict[str, float] = {}
    for part in [p.strip() for p in (spec or "").split(",") if p.strip()]:
        key, _, value = part.partition("=")
        key = key.strip().lower()
        if key not in _KEYS:
            raise ParameterError(f"`weight`: unknown weight {key!r}; use fatal=MULTIPLIER and/or recent=HALF_LIFE_DAYS")
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not number > 0 or not np.isfinite(number):
            raise ParameterError(f"`weight` {key} must be a positive number ({_KEYS[key]}), not {value!r}")
        out[key] = number
    return out


def incident_weights(incidents: gpd.GeoDataFrame, spec: str | None = None, *, equity: str | None = None,
                     equity_col: str | None = None) -> tuple[np.ndarray, dict]:
    """Weight per incident (1 by default) and a description of what was applied (for run.json).

    - ``fatal=M``: fatal incidents count M times.
    - ``recent=H``: an incident H days older than the latest counts half, 2H days a quarter
      (exponential decay: weight x 0.5 ** (age / H)).
    - ``equity`` polygons with a numeric ``equity_col`` (such as a social vulnerability
      index): the column is rescaled to 0-1 over the layer and an incident inside a
      polygon counts (1 + that value) times, so the most vulnerable area counts double.

    Parameters
    ----------
    incidents
        The located incidents.
    spec
        "fatal=M", "recent=H" or both, comma-separated (None: every incident counts 1).
    equity
        A polygon file (None: no equity weighting).
    equity_col
        Its numeric column.

    Returns
    -------
    weights : numpy.ndarray
        One weight per incident.
    info : dict
        What was applied, for run.json.
    """
    weights = np.ones(len(incidents))
    parts = parse_weight_spec(spec)
    info: dict = {"base": "every incident counts 1"}
    if "fatal" in parts:
        fatal = (incidents[OUTCOME] == "fatal").to_numpy()
        weights[fatal] *= parts["fatal"]
        info["fatal"] = {"multiplier": parts["fatal"], "n_fatal": int(fatal.sum())}
    if "recent" in parts:
        times = incidents[OCCURRED_AT]
        age = ((times.max() - times).dt.total_seconds() / 86400.0).to_numpy()
        decay = 0.5 ** (age / parts["recent"])
        undated = ~np.isfinite(decay)
        # An undated incident weighs as much as the average dated one: its age is unknown.
        decay[undated] = decay[~undated].mean() if (~undated).any() else 1.0
        weights *= decay
        info["recent"] = {"half_life_days": parts["recent"], "decay": "0.5 ** (age in days / half-life)",
                          "reference_date": f"{times.max():%Y-%m}" if (~undated).any() else None,
                          "n_undated_at_mean_weight": int(undated.sum())}
    if equity:
        factor, equity_info = _equity_factor(incidents, equity, equity_col)
        weights *= factor
        info["equity"] = equity_info
    info["total_weight"] = round(float(weights.sum()), 3)
    return weights, info


def _equity_factor(incidents: gpd.GeoDataFrame, path: str, column: str | None) -> tuple[np.ndarray, dict]:
    if not column:
        raise ParameterError("`equity` needs `equity_col`: the column of the index to weigh by")
    layer = read_vector_layer(path)
    if column not in layer.columns:
        raise ColumnError(f"{path}: no column {column!r} (`equity_col`); columns are "
                          f"{', '.join(c for c in layer.columns if c != layer.geometry.name)}")
    values = pd.to_numeric(layer[column], errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(values).any():
        raise ColumnError(f"{path}: column {column!r} holds no numbers")
    lo, hi = np.nanmin(values), np.nanmax(values)
    scaled = np.where(np.isfinite(values), (values - lo) / (hi - lo) if hi > lo else 0.0, 0.0)
    points = gpd.GeoDataFrame(geometry=incidents.geometry.to_crs(WGS84).to_numpy(), crs=WGS84)
    hits = gpd.sjoin(points, gpd.GeoDataFrame({"scaled": scaled}, geometry=layer.geometry.to_numpy(), crs=WGS84),
                     how="left", predicate="within")
    hits = hits[~hits.index.duplicated(keep="first")]
    factor = 1.0 + hits["scaled"].fillna(0.0).to_numpy()
    return factor, {"file": str(path), "column": column, "rule": "weight x (1 + index rescaled to 0-1)",
                    "index_min": float(lo), "index_max": float(hi),
                    "n_incidents_outside_layer": int(hits["scaled"].isna().sum())}
