"""Post-overdose outreach (``odgeo outreach``): linking the sources, the worklist, places to canvass, the funnel."""

from .._exports import lazy_exports

_EXPORTS = {
    "link_records": "linkage",
    "overdose_events": "events",
    "build_worklist": "worklist",
    "canvass_places": "places",
    "read_attempts": "funnel",
    "funnel_table": "funnel",
    "practice_checks": "funnel",
}

__all__ = [*_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
