"""Residents per jurisdiction, and per jurisdiction and age group, read from small CSV tables.

A report's rates need each jurisdiction's residents. Polygons often carry them (``--boundaries``);
when they do not, or when the jurisdictions are only names in the incident file (``--area-col``),
``--area-population FILE`` gives them: one row per name. Age-adjusted rates need residents per age
group: ``--population-by-age FILE``, one row per name and age group (the long form of a census
table such as ACS B01001 or the Census Bureau's county characteristics, summed to the groups).

Age groups are written ``15-24``, ``65+`` (or ``65 and over``), ``<1`` or ``0``; their bounds must
fall on the US 2000 standard population's (0, 1, 5, 15, 25, ... 85), so that each group takes the
standard's weight of the years it covers (CDC WONDER and NCHS adjust to those 11 groups).
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..boundaries.counts import NAME_ALIASES
from ..boundaries.population import POPULATION_ALIASES
from ..drugs.columns import carried
from ..errors import ColumnError, InputFileError, ParameterError
from ..schema import AGE_ALIASES, SEX_COLUMN_ALIASES, find_column, name_key
from .rates import US_2000_STANDARD

__all__ = ["AGE", "AREA_NAME", "DEFAULT_AGE_GROUPS", "SEX", "AgeGroups", "age_groups",
           "read_population_by_age", "read_populations", "report_columns"]

#: The columns the report carries on the incidents beyond their roles: jurisdiction name, age, sex.
AREA_NAME, AGE, SEX = "area_name", "age", "sex"
_AGE_COLUMN_ALIASES = (*AGE_ALIASES, "ageband", "agegroup", "agerange", "agecategory")

_AREA_ALIASES = (*NAME_ALIASES, "area", "town", "city", "county", "countyname", "jurisdiction", "municipality")
_AGE_ALIASES = ("agegroup", "ageband", "age", "agerange", "agecategory", "ages")
#: The standard population's group bounds (years; the last is open).
_STANDARD_BOUNDS = [(0, 1), (1, 5), (5, 15), (15, 25), (25, 35), (35, 45), (45, 55), (55, 65), (65, 75), (75, 85),
                    (85, math.inf)]
_RANGE = re.compile(r"^(\d+)\s*(?:-|–|to)\s*(\d+)(?:\s*years?)?$")
_OPEN = re.compile(r"^(\d+)\s*(?:\+|years?\s*(?:and|&)\s*(?:over|older)|and\s*(?:over|older)|or\s*older|plus)$")
_UNDER = re.compile(r"^(?:<|under|less\s*than)\s*(\d+)(?:\s*years?)?$")


def report_columns(columns: list[str], *, area_col: str | None, age_col: str | None, sex_col: str | None,
                   taken: set[str], path, drug_columns: tuple[str, ...] = ()) -> dict[str, str | None]:
    """The incident columns of the jurisdiction's name, the age and the sex (None where absent).

    Parameters
    ----------
    columns : list of str
        The incident file's columns.
    area_col, age_col, sex_col : str, optional
        Given columns (each must exist); age and sex are otherwise detected by name among the
        columns not ``taken`` by an incident role.
    taken : set of str
    path
        The incident file, for messages.
    drug_columns : tuple of str
        The drug columns (``drug_columns``), each carried as :func:`odgeo.drugs.columns.carried`.

    Returns
    -------
    dict
        ``area_name``, ``age``, ``sex`` and each drug column's carrier (:func:`odgeo.drugs.columns.carried`)
        to a column or None.
    """
    free = [c for c in columns if c not in taken]
    return {
        **{carried(c): find_column(columns, (), c, path=path, option="`drug_columns`") for c in drug_columns},
        AREA_NAME: find_column(columns, (), area_col, path=path, option="`area_col`"),
        AGE: find_column(columns if age_col else free, _AGE_COLUMN_ALIASES, age_col, path=path, option="`age_col`"),
        SEX: find_column(columns if sex_col else free, SEX_COLUMN_ALIASES, sex_col, path=path, option="`sex_col`"),
    }


def _read_csv(path: str | Path, option: str) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"`{option}`: {path} is not a file; give a CSV table")
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise InputFileError(f"`{option}` {path}: not a readable CSV table ({str(err).splitlines()[0]})") from err


def _column(frame: pd.DataFrame, aliases, path, option: str, what: str) -> str:
    found = find_column(list(frame.columns), aliases, None, path=path, option=f"`{option}`")
    if found is None:
        raise ColumnError(f"`{option}` {path}: no {what} column (looked for {', '.join(aliases)}); columns are "
                          f"{', '.join(map(str, frame.columns))}")
    return found


def _residents(frame: pd.DataFrame, column: str, path, option: str) -> np.ndarray:
    text = frame[column].str.replace(",", "", regex=False).str.strip()
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~(values >= 0))
    if len(bad):
        raise InputFileError(f"`{option}` {path}: row {bad[0] + 2}, column {column!r} holds "
                             f"{frame[column].iloc[bad[0]]!r}; expected a number of residents >= 0 "
                             f"({len(bad)} such rows)")
    return values


def read_populations(path: str | Path, *, option: str = "area_population") -> pd.DataFrame:
    """Residents per jurisdiction: a CSV with a name column and a population column.

    Parameters
    ----------
    path : str or Path
        The table (name columns recognised: name, area, town, county, ...; population columns:
        population, pop, POP100, ...).
    option : str
        The setting that gave it, for messages.

    Returns
    -------
    DataFrame
        ``name`` (as written) and ``population`` (float), one row per name.
    """
    frame = _read_csv(path, option)
    name = _column(frame, _AREA_ALIASES, path, option, "name")
    population = _column(frame, POPULATION_ALIASES, path, option, "population")
    out = pd.DataFrame({"name": frame[name].str.strip(), "population": _residents(frame, population, path, option)})
    twice = name_key(out["name"]).duplicated()
    if twice.any():
        first = int(np.flatnonzero(twice)[0])
        raise InputFileError(f"`{option}` {path}: row {first + 2} names {out['name'].iloc[first]!r} again; give "
                             "each jurisdiction one row")
    return out


@dataclass(frozen=True)
class AgeGroups:
    """Age groups as a population table gives them: labels, bounds in years, and their standard weights."""

    labels: tuple[str, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]  # exclusive; inf for an open group

    @property
    def weights(self) -> np.ndarray:
        """The US 2000 standard population of the years each group covers."""
        standard = US_2000_STANDARD.to_numpy(dtype=float)
        return np.array([sum(w for (a, b), w in zip(_STANDARD_BOUNDS, standard) if a >= lo and b <= hi)
                         for lo, hi in zip(self.low, self.high)])

    def of_ages(self, values: pd.Series) -> np.ndarray:
        """Each value's group (index into ``labels``), -1 when unknown or in no group.

        A value is an age in years ("34", "34.5") or a band ("25-34", "65+") lying inside one group.
        """
        text = values.fillna("").astype(str).str.strip()
        out = np.full(len(text), -1, dtype=np.int64)
        lows, highs = np.array(self.low), np.array(self.high)
        for value, rows in text.groupby(text, sort=False).indices.items():
            bounds = _bounds(value)
            if bounds is None:
                continue
            inside = np.flatnonzero((lows <= bounds[0]) & (bounds[1] <= highs))
            if len(inside):
                out[rows] = inside[0]
        return out


def _bounds(label: str) -> tuple[float, float] | None:
    """An age group's bounds, [low, high) in years; None when the text is not one."""
    text = label.strip().lower()
    try:
        age = float(text)
    except ValueError:
        pass
    else:
        return (age, age + 1) if age.is_integer() else (math.floor(age), math.floor(age) + 1)
    if m := _RANGE.match(text):
        return float(m[1]), float(m[2]) + 1
    if m := _OPEN.match(text):
        return float(m[1]), math.inf
    if m := _UNDER.match(text):
        return 0.0, float(m[1])
    return None


def age_groups(labels, *, path=None, option: str = "population_by_age") -> AgeGroups:
    """Parse age group labels; their bounds must fall on the standard's and not overlap.

    Parameters
    ----------
    labels : list of str
        ``15-24``, ``65+``, ``<1``, ``85 and over`` ...
    path, option
        For messages.

    Returns
    -------
    AgeGroups
        Sorted by their lower bound.
    """
    edges = {a for a, _ in _STANDARD_BOUNDS} | {math.inf}
    where = f"`{option}`" + (f" {path}" if path is not None else "")
    parsed = []
    for label in dict.fromkeys(labels):
        bounds = _bounds(label)
        if bounds is None:
            raise InputFileError(f"{where}: age group {label!r} is not one; write them as 15-24, 65+ "
                                 "or <1")
        if bounds[0] not in edges or bounds[1] not in edges:
            raise InputFileError(f"{where}: age group {label!r} does not start and end on the US 2000 "
                                 "standard's groups (0, 1-4, 5-14, 15-24, ... 75-84, 85+); merge it so that it does")
        parsed.append((bounds[0], bounds[1], label))
    parsed.sort()
    for (_, end, first), (start, _, second) in itertools.pairwise(parsed):
        if start < end:
            raise InputFileError(f"{where}: age groups {first!r} and {second!r} overlap")
    return AgeGroups(tuple(p[2] for p in parsed), tuple(p[0] for p in parsed), tuple(p[1] for p in parsed))


def read_population_by_age(path: str | Path, *, option: str = "population_by_age") -> tuple[pd.DataFrame,
                                                                                              AgeGroups]:
    """Residents per jurisdiction and age group: a CSV with name, age group and population columns.

    Returns
    -------
    table : DataFrame
        One row per name (as first written), one column per age group (in ``groups`` order);
        a group a name lacks holds 0.
    groups : AgeGroups
    """
    frame = _read_csv(path, option)
    name = _column(frame, _AREA_ALIASES, path, option, "name")
    age = _column(frame, _AGE_ALIASES, path, option, "age group")
    population = _column(frame, POPULATION_ALIASES, path, option, "population")
    groups = age_groups(frame[age].str.strip().tolist(), path=path, option=option)
    residents = _residents(frame, population, path, option)
    long = pd.DataFrame({"key": name_key(frame[name]), "name": frame[name].str.strip(),
                         "group": frame[age].str.strip(), "population": residents})
    twice = long.duplicated(["key", "group"])
    if twice.any():
        first = int(np.flatnonzero(twice)[0])
        raise InputFileError(f"`{option}` {path}: row {first + 2} gives {long['name'].iloc[first]!r} aged "
                             f"{long['group'].iloc[first]} again; give each name and age group one row")
    wide = long.pivot_table(index="key", columns="group", values="population", aggfunc="sum", fill_value=0.0)
    names = long.drop_duplicates("key").set_index("key")["name"]
    table = wide.reindex(columns=list(groups.labels), fill_value=0.0)
    table.insert(0, "name", names.reindex(table.index).to_numpy())
    return table.reset_index(drop=True), groups


#: Age groups of the demographics section when no population by age gives them.
DEFAULT_AGE_GROUPS = age_groups(["0-14", "15-24", "25-34", "35-44", "45-54", "55-64", "65+"])
