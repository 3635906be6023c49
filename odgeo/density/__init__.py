"""Density: kernel density in metres and the hot spot areas drawn from it (``odgeo hotspots``)."""

from .._exports import lazy_exports

_EXPORTS = {
    "kernel_density": "kernel",
    "auto_bandwidth": "kernel",
    "DensityGrid": "kernel",
    "hotspot_polygons": "hotspot_areas",
    "kernel_density_parts": "on_parts",
}

__all__ = [*_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
