"""Maps: the self-contained HTML page (Leaflet), its layers and legend, and the static PNG."""

from .._exports import lazy_exports

_EXPORTS = {
    "build_map": "webmap",
    "basemap": "webmap",
    "write_map_png": "image",
    "summary_page": "summary",
}

__all__ = [*_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
