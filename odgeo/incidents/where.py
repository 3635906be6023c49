"""``where``: keep the rows whose column holds (or does not hold) given values, before anything else.

Tempe's EMS file marks each call's opioid use Yes, No or Unknown; an analysis of opioid
overdoses keeps ``opioid_use == 'Yes'``. A condition is

- ``COLUMN == VALUE`` or ``COLUMN = VALUE`` (also ``COLUMN = V1, V2``: any of them);
- ``COLUMN != VALUE`` (also several: none of them);
- ``COLUMN in (V1, V2)`` and ``COLUMN not in (V1, V2)``.

Values may be quoted ('Yes', "Fentanyl, suspected") and are compared as text, trimmed and
ignoring case; an empty value ('') matches an empty cell. A column name matches ignoring case
when only one column does. A column with spaces is written in
backticks (```Opioid Use` == 'Yes'``). Several conditions (the option repeated) must all hold.
The rows left out become rejects with code ``where_filtered`` and the condition as reason,
so the row counts still add up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..errors import ColumnError, ParameterError

__all__ = ["WHERE_CODE", "RowFilter", "check_columns", "parse_where"]

#: The reject code of a row a ``where`` condition leaves out.
WHERE_CODE = "where_filtered"

_CONDITION = re.compile(r"^\s*(?P<column>`[^`]+`|[^=!<>`]+?)\s*(?P<op>==|!=|=|\s+not\s+in\s+|\s+in\s+)\s*"
                        r"(?P<values>.*?)\s*$", flags=re.IGNORECASE | re.DOTALL)
_VALUE = re.compile(r"""\s*(?:'([^']*)'|"([^"]*)"|([^,'"]*?))\s*(?:,|$)""")


@dataclass(frozen=True)
class RowFilter:
    """One parsed condition: ``column`` holds one of ``values`` (``keep``), or none of them (not ``keep``)."""

    column: str
    keep: bool
    values: tuple[str, ...]
    text: str  # as given, for the rejects' reason and run.json

    def leaves_out(self, column: pd.Series) -> np.ndarray:
        """True for the rows this condition leaves out."""
        text = column.astype("string").fillna("").str.strip().str.casefold()
        hit = text.isin([v.strip().casefold() for v in self.values]).to_numpy(dtype=bool)
        return ~hit if self.keep else hit


def parse_where(text: str) -> RowFilter:
    """A :class:`RowFilter` from a condition's text (module docstring); an error that says the forms.

    Raises
    ------
    ParameterError
        If the text is not one of the forms, or names no value.
    """
    found = _CONDITION.match(text or "")
    forms = "COLUMN == 'VALUE', COLUMN != 'VALUE', COLUMN in ('V1', 'V2') or COLUMN = V1,V2"
    if not found or not found.group("column").strip("` "):
        raise ParameterError(f"`where` {text!r} is not a condition; write {forms}")
    op = " ".join(found.group("op").lower().split())
    raw = found.group("values").strip()
    if op in ("in", "not in"):
        if not (raw.startswith(("(", "[")) and raw.endswith((")", "]"))):
            raise ParameterError(f"`where` {text!r}: put the values of '{op}' in brackets, e.g. ('Yes', 'Unknown')")
        raw = raw[1:-1]
    values = tuple(_values(raw))
    if not values:
        raise ParameterError(f"`where` {text!r} names no value; write {forms}")
    return RowFilter(found.group("column").strip().strip("`"), op in ("==", "=", "in"), values, text.strip())


def _values(raw: str) -> list[str]:
    out, pos = [], 0
    while pos < len(raw):
        match = _VALUE.match(raw, pos)
        if match is None or match.end() == pos:
            break
        single, double, bare = match.groups()
        out.append(single if single is not None else double if double is not None else bare)
        pos = match.end()
    return [v for v in out if v is not None and (v != "" or "''" in raw or '""' in raw)]


def check_columns(filters: list[RowFilter], columns: list[str], path) -> list[RowFilter]:
    """The filters with their columns as the file spells them (a name matches ignoring case when only one does).

    Raises
    ------
    ColumnError
        If a condition names no column of the file, naming the columns there are.
    """
    out = []
    for f in filters:
        same = [c for c in columns if c.casefold() == f.column.casefold()]
        if f.column not in columns and len(same) != 1:
            shown = ", ".join(columns[:12]) + (" ..." if len(columns) > 12 else "")
            raise ColumnError(f"{path}: `where` {f.text!r} names column {f.column!r}, which is not in the file "
                              f"(its columns: {shown})")
        out.append(f if f.column in columns else replace(f, column=same[0]))
    return out
