"""odgeo: offline, scriptable overdose mapping.

Turn an incident file into H3 hexagon counts, a kernel density surface, hot spot
polygons, DBSCAN clusters and an HTML map, with every choice recorded::

    import odgeo
    read = odgeo.read_incidents("incidents.csv", timezone="America/Chicago")
    result = odgeo.analyse_hotspots(read)
    result.map  # shows inline in a notebook

The names below are imported on first use, so ``import odgeo`` is quick.
"""

from importlib import import_module

from ._version import __version__

_EXPORTS = {
    "read_incidents": "incidents",
    "filter_incidents": "selection",
    "IncidentRead": "incidents",
    "count_cells": "hexes",
    "points_to_cells": "hexes",
    "cells_to_polygons": "hexes",
    "kernel_density": "density",
    "auto_bandwidth": "density",
    "DensityGrid": "density",
    "hotspot_polygons": "hotspot_areas",
    "dbscan": "clusters",
    "cluster_polygons": "clusters",
    "coordinate_stacks": "clusters",
    "project_points": "projection",
    "local_metric_crs": "projection",
    "build_map": "maps.webmap",
    "HotspotSettings": "jobs.hotspots",
    "HotspotResult": "jobs.hotspots",
    "analyse_hotspots": "jobs.hotspots",
    "run_hotspots": "jobs.hotspots",
    "write_hotspot_products": "jobs.hotspots",
    "ScanSettings": "scan",
    "ScanJobSettings": "jobs.scan",
    "analyse_scan": "jobs.scan",
    "run_scan": "jobs.scan",
    "OdgeoError": "errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'odgeo' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)


import logging as _logging  # noqa: E402

_logging.getLogger(__name__).addHandler(_logging.NullHandler())
