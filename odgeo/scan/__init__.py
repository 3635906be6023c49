"""The space-time permutation scan (``odgeo scan``): the statistic, and the same scan as SaTScan input."""

from .._exports import lazy_exports

_EXPORTS = {
    "scan": "statistic",
    "ScanSettings": "statistic",
    "ScanResult": "statistic",
    "write_satscan_input": "satscan",
    "scan_cases": "cases",
    "ScanCases": "cases",
}

__all__ = [*_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
