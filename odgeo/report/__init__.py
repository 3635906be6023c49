"""The periodic report (``odgeo report``): rates with exact intervals, change, trend and reliability labels."""

from .._exports import lazy_exports

_EXPORTS = {
    "US_2000_STANDARD": "rates",
    "crude_rates": "rates",
    "age_adjusted_rate": "rates",
    "rate_ratio": "rates",
    "annual_percent_change": "rates",
    "reliability": "rates",
}

__all__ = [*_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
