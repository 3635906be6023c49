"""The commands: one module each (hotspots, emerging, sites, alerts, scan, outreach, geocode), and the steps they share.

Each command reads (:mod:`odgeo.jobs.common`), analyses with the stage packages, hands the
result to each stage's ``public.py`` with the run's gate (:mod:`odgeo.publish`) and writes
through :class:`odgeo.io.outputs.OutputFolder`.
"""

from .._exports import lazy_exports

_EXPORTS = {
    "run_hotspots": "hotspots",
    "analyse_hotspots": "hotspots",
    "HotspotSettings": "hotspots",
    "HotspotResult": "hotspots",
    "run_emerging": "emerging",
    "analyse_emerging": "emerging",
    "EmergingSettings": "emerging",
    "EmergingRun": "emerging",
    "run_sites": "sites",
    "analyse_sites": "sites",
    "SitesSettings": "sites",
    "SitesResult": "sites",
    "run_alerts": "alerts",
    "analyse_alerts": "alerts",
    "AlertSettings": "alerts",
    "AlertRun": "alerts",
    "run_scan": "scan",
    "analyse_scan": "scan",
    "ScanJobSettings": "scan",
    "ScanRun": "scan",
    "run_outreach": "outreach",
    "analyse_outreach": "outreach",
    "OutreachSettings": "outreach",
    "OutreachRun": "outreach",
    "geocode_table": "geocode",
    "write_geocoded": "geocode",
}

__all__ = [*_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
