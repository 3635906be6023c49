"""Where products go: deterministic writers, the output folder swapped in whole, PostGIS tables."""

from .._exports import lazy_exports

_EXPORTS = {
    "write_csv": "writers",
    "write_geojson": "writers",
    "write_density_geotiff": "writers",
    "write_json": "writers",
    "OutputFolder": "outputs",
    "atomic_write_bytes": "outputs",
    "PostgisDestination": "postgis",
}

__all__ = [*_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
