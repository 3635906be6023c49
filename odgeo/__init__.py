"""odgeo: offline overdose mapping."""
from ._version import __version__
