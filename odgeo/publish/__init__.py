"""The publishing gate: what each audience may see, as policy that knows no stage.

The gate (``gate``: Products and the Gate interface; ``restricted`` and ``public``: the two
audiences; ``audience``: which one a run opens, checked and recorded), small-count protection
(``privacy``), the release ledger of a series (``ledger``), the public areas every public layer is
made from (``areas``), donut masking of restricted points (``geomask``) and the leak scanner
(``leakscan``, with ``release_diff`` for two releases of a series).
"""

from .._exports import lazy_exports

_EXPORTS = {
    "gate_for": "restricted",
    "open_gate": "audience",
    "pick_audience": "audience",
    "Gate": "gate",
    "Products": "gate",
    "RestrictedGate": "restricted",
    "PublicGate": "public",
    "Ledger": "ledger",
    "scan_public_outputs": "leakscan",
    "difference_releases": "release_diff",
    "donut_mask": "geomask",
}

__all__ = [*_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
