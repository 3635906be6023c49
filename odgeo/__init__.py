"""odgeo: offline, scriptable overdose mapping.

Turn an incident file into H3 hexagon counts, a kernel density surface, hot spot
polygons, DBSCAN clusters and an HTML map, with every choice recorded::

    import odgeo
    read = odgeo.read_incidents("incidents.csv", timezone="America/Chicago")
    result = odgeo.analyse_hotspots(read)
    result.map  # shows inline in a notebook

The names below are imported on first use, so ``import odgeo`` is quick.
"""

from ._exports import lazy_exports
from ._version import __version__

_EXPORTS = {
    "read_incidents": "incidents.read",
    "filter_incidents": "incidents.selection",
    "IncidentRead": "incidents.read",
    "count_cells": "hexes",
    "points_to_cells": "hexes",
    "cells_to_polygons": "hexes",
    "kernel_density": "density.kernel",
    "auto_bandwidth": "density.kernel",
    "DensityGrid": "density.kernel",
    "hotspot_polygons": "density.hotspot_areas",
    "dbscan": "clusters.dbscan",
    "cluster_polygons": "clusters.dbscan",
    "coordinate_stacks": "clusters.dbscan",
    "project_points": "projection",
    "local_metric_crs": "projection",
    "build_map": "maps.webmap",
    "HotspotSettings": "jobs.hotspots",
    "HotspotResult": "jobs.hotspots",
    "analyse_hotspots": "jobs.hotspots",
    "run_hotspots": "jobs.hotspots",
    "write_hotspot_products": "jobs.hotspots",
    "ScanSettings": "scan.statistic",
    "ScanJobSettings": "jobs.scan",
    "ScanRun": "jobs.scan",
    "analyse_scan": "jobs.scan",
    "run_scan": "jobs.scan",
    "OutreachSettings": "jobs.outreach",
    "OutreachRun": "jobs.outreach",
    "analyse_outreach": "jobs.outreach",
    "run_outreach": "jobs.outreach",
    "EmergingSettings": "jobs.emerging",
    "EmergingRun": "jobs.emerging",
    "analyse_emerging": "jobs.emerging",
    "run_emerging": "jobs.emerging",
    "AlertSettings": "jobs.alerts",
    "AlertRun": "jobs.alerts",
    "analyse_alerts": "jobs.alerts",
    "run_alerts": "jobs.alerts",
    "SitesSettings": "jobs.sites",
    "SitesResult": "jobs.sites",
    "analyse_sites": "jobs.sites",
    "run_sites": "jobs.sites",
    "geocode_table": "jobs.geocode",
    "write_geocoded": "jobs.geocode",
    "OdgeoError": "errors",
}

__all__ = ["__version__", *_EXPORTS]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


import logging as _logging  # noqa: E402

_logging.getLogger(__name__).addHandler(_logging.NullHandler())
