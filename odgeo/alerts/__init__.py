"""Spike alerts (``odgeo alerts``): the watched areas, daily series and thresholds, EARS, the history, the backtest."""

from .._exports import lazy_exports

_EXPORTS = {
    "daily_series": "spikes",
    "current_alerts": "spikes",
    "thresholds": "spikes",
    "AlertHistory": "history",
    "h3_areas": "areas",
    "polygon_areas": "areas",
    "send_summary": "notify",
}

__all__ = [*_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
