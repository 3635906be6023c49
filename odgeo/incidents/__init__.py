"""Incidents: any input read into an IncidentFrame, with a reason for every row left out.

Reading (``tables``: CSV, zip, GeoJSON, GeoPackage, Shapefile, Parquet; ``database``: PostgreSQL),
the row checks (``row_checks``, ``dates``, ``coordtext``), validation into the IncidentFrame
(``read``), the run's selection (``selection``: dates and outcomes), what the input is (``source``: a
file, files read in parts, or a database, told apart once) and how far the incidents
spread (``extent``).
"""

from .._exports import lazy_exports

_EXPORTS = {
    "read_incidents": "read",
    "read_source": "read",
    "InputSource": "source",
    "ReadOptions": "source",
    "IncidentRead": "read",
    "filter_incidents": "selection",
    "RowCounts": "selection",
    "read_table": "tables",
    "RawTable": "tables",
    "check_spread": "extent",
    "parse_datetimes": "dates",
}

__all__ = [*_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
