"""The odgeo exception hierarchy: domain errors that are also builtin errors."""

from __future__ import annotations

__all__ = [
    "ClusterError",
    "ColumnError",
    "DataError",
    "DatabaseError",
    "InputFileError",
    "NoDataError",
    "OdgeoError",
    "OutputError",
    "OutputExistsError",
    "ParameterError",
]


class OdgeoError(Exception):
    """Base class of every error odgeo raises on purpose.

    Messages name the file, column, row or parameter at fault and say what to do.
    """


class InputFileError(OdgeoError, OSError):
    """An input file is missing, unreadable or of an unsupported format."""


class ColumnError(OdgeoError, KeyError):
    """A required column is missing or a column override names no column."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ParameterError(OdgeoError, ValueError):
    """A parameter value is out of range or inconsistent with another."""


class OutputExistsError(OdgeoError, FileExistsError):
    """The output folder is not empty and overwriting was not asked for."""


class NoDataError(OdgeoError, ValueError):
    """Nothing is left to analyse (for example every row was rejected)."""


class OutputError(OdgeoError, OSError):
    """The output folder cannot be created or written (a file in the way, no space, no permission, locked)."""


class DataError(OdgeoError, ValueError):
    """The input's values cannot be analysed as they are (dates in two orders, a spread too wide to map)."""


class DatabaseError(OdgeoError, OSError):
    """A database cannot be reached, or a table or query in it cannot be read or written."""


class ClusterError(OdgeoError, RuntimeError):
    """A Dask cluster cannot be reached (``--scheduler``) or cannot finish the work (workers keep dying)."""
