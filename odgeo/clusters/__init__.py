"""Spatial clusters of incidents: DBSCAN (grid, compiled), ST-DBSCAN, HDBSCAN, and their outlines."""

from .._exports import lazy_exports

_EXPORTS = {
    "cluster_polygons": "dbscan",
    "coordinate_stacks": "dbscan",
    "grid_dbscan": "grid",
    "dbscan_parts": "on_parts",
}

__all__ = [*_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
