"""Boundaries: incidents counted per polygon (neighbourhoods, tracts), with rates from a population."""

from .._exports import lazy_exports

_EXPORTS = {
    "read_boundaries": "counts",
    "area_counts": "counts",
    "add_rates": "counts",
    "read_population": "population",
}

__all__ = [*_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
