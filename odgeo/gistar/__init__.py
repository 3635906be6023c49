"""Getis-Ord Gi*: the statistic on H3 cells, choosing its scale, and emerging hot spots (``odgeo emerging``)."""

from .._exports import lazy_exports

_EXPORTS = {
    "gi_star_cells": "statistic",
    "GiStar": "statistic",
    "optimized_scale": "scale",
    "emerging_hot_spots": "emerging",
}

__all__ = [*_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
