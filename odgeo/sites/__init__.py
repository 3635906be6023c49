"""Naloxone site selection (``odgeo sites``): candidates, incident weights, coverage, walking distance."""

from .._exports import lazy_exports

_EXPORTS = {
    "read_sites": "candidates",
    "incident_weights": "weights",
    "coverage_problem": "coverage",
    "solve_capacitated": "coverage",
    "network_cover": "network",
}

__all__ = [*_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
