"""The offline geocoder: address parsing, the reference index, the matching ladder, and the opt-in online services."""

from .._exports import lazy_exports

_EXPORTS = {
    "build_index": "index",
    "load_index": "index",
    "AddressIndex": "index",
    "geocode_frame": "matcher",
    "geocode_one": "matcher",
    "parse_address": "addresses",
    "geocode_pending": "pending",
    "OnlineGeocoder": "online",
    "geocoding_summary": "public",
}

__all__ = [*_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
