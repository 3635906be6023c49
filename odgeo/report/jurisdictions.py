"""The report's jurisdictions and people: areas from polygons or names, residents, ages and sexes.

A report counts in jurisdictions given as polygons (``boundaries``) or named by an incident
column (``area_col``), with residents from the polygons, from a table per name
(``area_population``) or summed over a table per name and age group (``population_by_age``).
The incidents' ages and sexes (carried on them as ``age`` and ``sex`` by the reader) give the
age-adjusted rates and the people of the period.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

import geopandas as gpd
import numpy as np
import pandas as pd

from ..boundaries.counts import dissolve_by_name, read_boundaries
from ..errors import ParameterError
from ..publish.restricted import Gate
from ..runrecord import RunRecord
from ..schema import sex_of
from .populations import (
    AGE,
    AREA_NAME,
    DEFAULT_AGE_GROUPS,
    SEX,
    AgeGroups,
    name_key,
    read_population_by_age,
    read_populations,
)
from .public import shows_everything
from .tables import area_of_incidents, area_of_names

__all__ = ["JurisdictionSettings", "incident_ages", "incident_sexes", "jurisdictions"]

log = logging.getLogger(__name__)


class JurisdictionSettings(Protocol):
    """The settings that say where the jurisdictions and their residents come from (``ReportSettings`` has them)."""

    @property
    def boundaries(self) -> str | None:
        """Polygons of the jurisdictions."""
    @property
    def boundary_name_col(self) -> str | None:
        """Their name column."""
    @property
    def boundary_population_col(self) -> str | None:
        """Their population column."""
    @property
    def dissolve_boundaries(self) -> bool | None:
        """Count polygons sharing a name as one."""
    @property
    def area_col(self) -> str | None:
        """The incident column naming each one's jurisdiction."""
    @property
    def area_population(self) -> str | None:
        """A CSV of residents per name."""
    @property
    def population_by_age(self) -> str | None:
        """A CSV of residents per name and age group."""


def jurisdictions(settings: JurisdictionSettings, record: RunRecord, used: gpd.GeoDataFrame,
                   gate: Gate) -> tuple[pd.DataFrame, np.ndarray]:
    """The jurisdictions (``name``, ``population``, polygons when given) and each incident's (-1: none).

    Parameters
    ----------
    settings : JurisdictionSettings
    record : RunRecord
        Gets the ``boundaries`` section (where the areas and residents came from).
    used : GeoDataFrame
        The incidents used (with ``area_name`` when ``area_col`` is given).
    gate : Gate
        The audience's gate: a public report lists only the jurisdictions of ``area_population``.

    Returns
    -------
    areas : DataFrame
        ``name`` and ``population`` (a GeoDataFrame with the polygons of ``boundaries``).
    where : array of int
        Each incident's area (index into ``areas``; -1 in none).
    """
    populations = read_populations(settings.area_population) if settings.area_population else None
    if settings.area_col:
        areas = _named_areas(settings, used, populations, gate)
        where = area_of_names(used[AREA_NAME], areas)
        record.sections["boundaries"] = {
            "area_col": settings.area_col, "n_areas": len(areas),
            "names_from": "area_population" if populations is not None else "the incidents"}
    else:
        areas = _polygon_areas(settings, record)
        where = area_of_incidents(used, areas)
    if populations is not None:
        given = pd.Series(populations["population"].to_numpy(), index=name_key(populations["name"]).to_numpy())
        areas = areas.assign(population=given.reindex(name_key(areas["name"]).to_numpy()).to_numpy())
        record.sections["boundaries"]["population"] = Path(str(settings.area_population)).name
    elif settings.population_by_age and areas["population"].isna().all():
        by_age, _ = read_population_by_age(settings.population_by_age)
        total = pd.Series(by_age.drop(columns="name").sum(axis=1).to_numpy(), index=name_key(by_age["name"]).to_numpy())
        areas = areas.assign(population=total.reindex(name_key(areas["name"]).to_numpy()).to_numpy())
        record.sections["boundaries"]["population"] = f"{Path(str(settings.population_by_age)).name}, summed over ages"
    record.sections["boundaries"]["n_areas_without_population"] = int(areas["population"].isna().sum())
    if areas["population"].isna().all():
        log.warning("no residents per jurisdiction, so the report has counts and changes but no rates; give them "
                    "with `area_population` (or the boundaries' `boundary_population_col`)")
    return areas, where


def _named_areas(settings: JurisdictionSettings, used: gpd.GeoDataFrame, populations: pd.DataFrame | None,
                 gate: Gate) -> pd.DataFrame:
    """Jurisdictions named by ``area_col``: those of ``population``, else every name the incidents give."""
    if AREA_NAME not in used.columns:
        raise ParameterError(f"`area_col` {settings.area_col}: the input has no such column")
    if populations is not None:
        return pd.DataFrame({"name": populations["name"], "population": np.nan})
    if not shows_everything(gate):
        raise ParameterError(f"`area_col` {settings.area_col}: a public report lists its jurisdictions from "
                             "`area_population` FILE; names found only in the incidents would tell that each had an "
                             "overdose (or make a restricted report with `audience` restricted)")
    names = pd.Series(used[AREA_NAME], dtype=object).fillna("").astype(str).str.strip()
    first = names[names != ""].groupby(name_key(names[names != ""]).to_numpy(), sort=True).first()
    return pd.DataFrame({"name": first.to_numpy(), "population": np.nan})


def _polygon_areas(settings: JurisdictionSettings, record: RunRecord) -> gpd.GeoDataFrame:
    assert settings.boundaries is not None
    areas, columns = read_boundaries(settings.boundaries, name_col=settings.boundary_name_col,
                                     population_col=settings.boundary_population_col)
    if settings.dissolve_boundaries:
        areas = dissolve_by_name(areas)
    elif areas["name"].duplicated().any():
        raise ParameterError(f"`boundaries` {settings.boundaries}: column {columns['name']!r} names "
                             f"{areas['name'].nunique()} areas for {len(areas)} polygons; choose a column of unique "
                             "names with `boundary_name_col`, or count each name as one area with "
                             "`dissolve_boundaries`")
    record.sections["boundaries"] = {"path": Path(settings.boundaries).name, "columns": columns,
                                     "n_areas": len(areas)}
    return areas


def incident_ages(settings: JurisdictionSettings, record: RunRecord,
                  used: gpd.GeoDataFrame) -> tuple[np.ndarray, AgeGroups, pd.DataFrame | None]:
    """Each incident's age group (-1 unknown), the groups, and residents by age when given.

    Parameters
    ----------
    settings : JurisdictionSettings
    record : RunRecord
        Gets the ``age_adjustment`` section with residents by age.
    used : GeoDataFrame
        The incidents used (with ``age`` when the input has an age column).

    Returns
    -------
    ages : array of int
        Index into the groups; -1 unknown.
    groups : AgeGroups
        Those of ``population_by_age``, else :data:`DEFAULT_AGE_GROUPS`.
    by_age : DataFrame or None
        Residents per name and group.
    """
    by_age, groups = (read_population_by_age(settings.population_by_age) if settings.population_by_age
                      else (None, DEFAULT_AGE_GROUPS))
    if AGE not in used.columns:
        if by_age is not None:
            raise ParameterError("`population_by_age` needs each incident's age, and the input has no age column; "
                                 "name it with `age_col`")
        return np.full(len(used), -1, dtype=np.int64), groups, None
    ages = groups.of_ages(pd.Series(used[AGE], dtype=object))
    if by_age is not None and len(ages) and (ages < 0).all():
        column = record.sections.get("input", {}).get("report_columns", {}).get(AGE)
        raise ParameterError(f"`population_by_age`: no value of the age column {column!r} reads as an age in years "
                             f"or an age group of {Path(str(settings.population_by_age)).name} "
                             f"({', '.join(groups.labels)}); name the age column with `age_col`")
    if by_age is not None:
        record.sections["age_adjustment"] = {
            "population_by_age": Path(str(settings.population_by_age)).name, "standard": "US 2000 (NCHS)",
            "groups": dict(zip(groups.labels, groups.weights.astype(int).tolist()))}
    return ages, groups, by_age


def incident_sexes(used: gpd.GeoDataFrame) -> pd.Series | None:
    """Each incident's sex as :func:`odgeo.schema.sex_of` reads it ("M", "F", ""), read once per distinct value.

    None when the input has no sex column.
    """
    if SEX not in used.columns:
        return None
    codes, values = pd.factorize(pd.Series(used[SEX], dtype=object))
    read = np.array([sex_of(v) for v in values] + [""], dtype=object)
    return pd.Series(read[codes], index=used.index)  # code -1 (missing): the last, ""
