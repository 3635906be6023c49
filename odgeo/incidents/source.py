"""Where the incidents come from and how their rows are read, decided once.

An input is a file, a folder or a glob of files (read in parts on Dask), or a PostgreSQL
URL (read by the database). :meth:`InputSource.of` is the one place that tells them apart;
the command line, the engine choice and the readers take its answer instead of asking again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ParameterError
from ..io.postgis import is_database_url

if TYPE_CHECKING:
    from ..drugs.selection import DrugSelection

__all__ = ["SOURCE_KINDS", "InputSource", "ReadOptions", "is_partitioned"]

#: A single file, a folder or a glob of files (Dask reads them in parts), a PostgreSQL URL.
SOURCE_KINDS = ("file", "parts", "database")
_GLOB_CHARS = "*?["


def is_partitioned(source: str | Path) -> bool:
    """A folder or a glob pattern (a file's own name may hold ``?`` or ``[``): input only the parts reader takes."""
    text = str(source)
    path = Path(text)
    return path.is_dir() or (not path.exists() and any(ch in text for ch in _GLOB_CHARS))


@dataclass(frozen=True)
class ReadOptions:
    """How every row is read and validated, whichever engine reads it.

    Attributes
    ----------
    columns
        Column overrides by role (``"longitude"``, ``"occurred_at"`` ...); others are detected.
    crs
        CRS of a CSV's coordinate columns (None: EPSG:4326, degrees).
    timezone
        IANA time zone of dates written without an offset.
    layer
        Layer of a multi-layer vector file.
    date_format
        strftime format of the dates (None: guessed from every value).
    accept_implausible_dates
        Keep dates before 1990 or after today.
    where
        Conditions every row must meet (:mod:`odgeo.incidents.where`), e.g. ``"opioid_use == 'Yes'"``.
    drugs
        The drug groups to keep, read from the drug columns (:mod:`odgeo.drugs.selection`).
    place_column
        A column naming each incident's place (its town or county) that stands for coordinates: a
        row with it is kept without coordinates or an address (``odgeo report --area-col``).
    """

    columns: dict[str, str | None] | None = None
    crs: str | None = None
    timezone: str = "UTC"
    layer: str | None = None
    date_format: str | None = None
    accept_implausible_dates: bool = False
    where: tuple[str, ...] = ()
    drugs: DrugSelection | None = None
    place_column: str | None = None


@dataclass(frozen=True)
class InputSource:
    """An incident input, resolved: where it is, what kind it is, and how its rows are read.

    Attributes
    ----------
    location
        The path, glob or URL as given.
    kind
        One of :data:`SOURCE_KINDS`.
    table, sql
        With a database: the table (or view) to read, or a SELECT query.
    read
        How the rows are read and validated.
    """

    location: str
    kind: str
    table: str | None = None
    sql: str | None = None
    read: ReadOptions = field(default_factory=ReadOptions)

    @classmethod
    def of(cls, location: str | Path | InputSource, *, table: str | None = None, sql: str | None = None,
           read: ReadOptions | None = None) -> InputSource:
        """Resolve ``location`` (an InputSource is returned as it is).

        Parameters
        ----------
        location
            A file, a folder or a glob of files, or a PostgreSQL URL.
        table, sql
            With a PostgreSQL URL: the table, or a SELECT query, to read.
        read
            How the rows are read (None: every default).

        Returns
        -------
        InputSource
        """
        if isinstance(location, InputSource):
            return location
        text = str(location)
        kind = "database" if is_database_url(text) else "parts" if is_partitioned(text) else "file"
        if kind != "database" and (table is not None or sql is not None):
            raise ParameterError(f"`table` and `sql` apply to a database source (postgresql://...), not to {text}")
        return cls(text, kind, table, sql, read or ReadOptions())

    def __str__(self) -> str:
        return self.location
