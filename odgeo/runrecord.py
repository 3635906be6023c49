"""The run record (run.json).

Parameters with their reasons, counts that add up, software versions and timings.
"""

from __future__ import annotations

import logging
import platform
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from ._version import __version__
from .defaults import Default

__all__ = ["Parameter", "RunRecord", "software_versions"]

_PACKAGES = ("numpy", "pandas", "geopandas", "shapely", "pyproj", "pyogrio", "h3", "rasterio",
             "scikit-learn", "scipy", "folium")


@dataclass(frozen=True)
class Parameter:
    """A parameter's value and where it came from: given, default or auto (with reason)."""

    value: Any
    source: str  # "given", "default" or "auto"
    reason: object = None

    def as_dict(self) -> dict:
        """The parameter as run.json holds it."""
        out = {"value": self.value, "source": self.source}
        if self.reason is not None:
            out["reason"] = self.reason
        return out


@dataclass
class RunRecord:
    """Collects what a run did; :meth:`as_dict` is what run.json holds."""

    command: str
    parameters: dict[str, Parameter] = field(default_factory=dict)
    sections: dict[str, Any] = field(default_factory=dict)  # JSON-able values, by section name
    timings: dict[str, float] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)  # the run's warnings, for log.txt (not run.json)

    def param(self, name: str, value, source: str, reason=None):
        """Record a parameter with its source; return the value."""
        self.parameters[name] = Parameter(value, source, reason)
        return value

    def pick(self, name: str, given, default, reason=None):
        """``given`` when not None (recorded as given), else ``default`` (recorded with its reason).

        ``default`` may be a :class:`odgeo.defaults.Default`, which brings its own reason.
        """
        if isinstance(default, Default):
            default, reason = default.value, reason or default.reason
        if given is None:
            return self.param(name, default, "default", reason)
        return self.param(name, given, "given")

    @contextmanager
    def timed(self, step: str):
        """Time a step into ``timings``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[step] = round(time.perf_counter() - start, 4)

    @contextmanager
    def keeping_warnings(self, logger: str = "odgeo"):
        """Keep the warnings ``logger`` gives while this block runs in :attr:`messages` ("WARNING: ...").

        Kept whatever the console shows (``odgeo -q`` prints only errors; log.txt has every warning).
        """
        log = logging.getLogger(logger)
        shown = next((h.formatter for h in log.handlers if h.formatter is not None), None)
        handler = _Keeper(self.messages, shown)  # in the words the console shows (the command line's flags)
        level = log.level
        if log.getEffectiveLevel() > logging.WARNING:
            log.setLevel(logging.WARNING)
        log.addHandler(handler)
        try:
            yield
        finally:
            log.removeHandler(handler)
            log.setLevel(level)

    def as_dict(self) -> dict:
        """What run.json holds."""
        return {
            "odgeo_version": __version__,
            "command": self.command,
            "parameters": {k: v.as_dict() for k, v in self.parameters.items()},
            **self.sections,
            "software": software_versions(),
            "timings_s": self.timings,
        }


def software_versions() -> dict[str, str]:
    """Versions of Python and of the libraries that shape the results."""
    versions = {"python": platform.python_version(), "odgeo": __version__}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


class _Keeper(logging.Handler):
    """A handler that appends each warning or error, formatted as the console shows it, to a list."""

    def __init__(self, messages: list[str], formatter: logging.Formatter | None):
        super().__init__(logging.WARNING)
        self.messages = messages
        self.setFormatter(formatter or logging.Formatter("%(levelname)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(self.format(record))
