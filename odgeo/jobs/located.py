"""The located incidents a job analyses, and where their per-incident stages run.

The main job asks the same three things of its incidents whatever holds them:
H3 counts, a kernel density and DBSCAN. :class:`InMemoryIncidents` answers from a
GeoDataFrame in this process (``--engine memory``); :class:`ClusterIncidents` from
parts held on a Dask cluster (``--engine dask``, :mod:`odgeo.engine.stages`), with only
the incidents' coordinates, dates and outcomes here (25 bytes an incident, about 50 with
the projected coordinates and labels the analysis adds, where a GeoDataFrame's shapely
points take about 240). Both give the same results: counts
and DBSCAN labels exactly, the density to floating-point error.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from ..clusters import dbscan as clusters_mod
from ..density.kernel import DensityGrid, kernel_density
from ..hexes import count_cells
from ..projection import lonlat_of
from ..schema import OCCURRED_AT, OUTCOME, WGS84

__all__ = ["ClusterIncidents", "InMemoryIncidents", "LocatedIncidents"]


class LocatedIncidents(ABC):
    """Located incidents in input order: their coordinates, dates and outcomes, and the per-incident stages."""

    lon: np.ndarray
    lat: np.ndarray

    def __len__(self) -> int:
        return len(self.lon)

    @property
    @abstractmethod
    def dates(self) -> pd.Series:
        """Each incident's time (tz-aware; NaT when undated)."""

    @property
    @abstractmethod
    def frame(self) -> gpd.GeoDataFrame:
        """The incidents as a GeoDataFrame (occurred_at, outcome, points): for the steps that need geometries."""

    @abstractmethod
    def n_fatal(self) -> int:
        """Fatal incidents."""

    @abstractmethod
    def count_cells(self, *, resolution: int, by_outcome: bool = True, period: str | None = None,
                    keep: np.ndarray | None = None) -> pd.DataFrame:
        """:func:`odgeo.hexes.count_cells` of the incidents (those where ``keep`` is True, if given)."""

    @abstractmethod
    def kernel_density(self, x: np.ndarray, y: np.ndarray, *, crs: pyproj.CRS, bandwidth_m: float,
                       cell_size_m: float, kernel: str) -> DensityGrid:
        """:func:`odgeo.density.kernel.kernel_density` of the incidents, projected (``x``, ``y``) to ``crs``."""

    @abstractmethod
    def dbscan(self, x: np.ndarray, y: np.ndarray, *, crs: pyproj.CRS, eps_m: float,
               min_samples: int) -> tuple[np.ndarray, np.ndarray]:
        """:func:`odgeo.clusters.dbscan.dbscan` labels and core flags of the incidents, projected to ``crs``."""


class InMemoryIncidents(LocatedIncidents):
    """Located incidents in a GeoDataFrame of this process (an IncidentFrame, every column kept)."""

    def __init__(self, used: gpd.GeoDataFrame):
        self.used = used
        self.lon, self.lat = lonlat_of(used.geometry)

    @property
    def dates(self) -> pd.Series:
        """The ``occurred_at`` column."""
        return self.used[OCCURRED_AT]

    @property
    def frame(self) -> gpd.GeoDataFrame:
        """The IncidentFrame itself."""
        return self.used

    def n_fatal(self) -> int:
        """Rows whose outcome is fatal."""
        return int((self.used[OUTCOME] == "fatal").sum())

    def count_cells(self, *, resolution, by_outcome=True, period=None, keep=None):
        """:func:`odgeo.hexes.count_cells` of the frame (its rows where ``keep``)."""
        return count_cells(self.used if keep is None else self.used[keep], resolution=resolution,
                           by_outcome=by_outcome, period=period)

    def kernel_density(self, x, y, *, crs, bandwidth_m, cell_size_m, kernel):
        """:func:`odgeo.density.kernel.kernel_density` of ``x``, ``y``."""
        return kernel_density(x, y, crs=crs, bandwidth_m=bandwidth_m, cell_size_m=cell_size_m, kernel=kernel)

    def dbscan(self, x, y, *, crs, eps_m, min_samples):
        """:func:`odgeo.clusters.dbscan.dbscan` of ``x``, ``y``."""
        return clusters_mod.dbscan(x, y, eps_m=eps_m, min_samples=min_samples)


@dataclass(eq=False)
class ClusterIncidents(LocatedIncidents):
    """Located incidents held in parts on a Dask cluster, their points, dates and outcomes also here.

    Attributes
    ----------
    client
        The ``distributed.Client`` of the cluster holding ``parts``.
    parts
        Futures of the parts in input order, each in :func:`odgeo.engine.stages.points_of`'s form.
    points
        The parts one after the other, in this process (the same form).
    sizes
        Incidents in each part.
    """

    client: Any
    parts: list
    points: pd.DataFrame
    sizes: list[int]
    lon: np.ndarray = field(init=False)
    lat: np.ndarray = field(init=False)

    def __post_init__(self):
        from ..engine.stages import LAT, LON

        self.lon, self.lat = self.points[LON].to_numpy(), self.points[LAT].to_numpy()

    @property
    def dates(self) -> pd.Series:
        """The ``occurred_at`` column of ``points``."""
        return self.points[OCCURRED_AT]

    @cached_property
    def frame(self) -> gpd.GeoDataFrame:
        """``points`` with shapely points (about 240 bytes an incident: made once, when a step asks)."""
        return gpd.GeoDataFrame({OCCURRED_AT: self.points[OCCURRED_AT],
                                 OUTCOME: self.points[OUTCOME].astype(object)},
                                geometry=shapely.points(self.lon, self.lat), crs=WGS84)

    def n_fatal(self) -> int:
        """Incidents whose outcome is fatal."""
        return int((self.points[OUTCOME] == "fatal").sum())

    def count_cells(self, *, resolution, by_outcome=True, period=None, keep=None):
        """Counts per part on the workers, added up (:func:`odgeo.engine.stages.count_cells_parts`)."""
        from ..engine.stages import count_cells_parts

        return count_cells_parts(self.client, self._kept(keep), resolution=resolution, by_outcome=by_outcome,
                                 period=period)

    def kernel_density(self, x, y, *, crs, bandwidth_m, cell_size_m, kernel):
        """Each part binned on its worker, one FFT (:func:`odgeo.density.on_parts.kernel_density_parts`)."""
        from ..density.on_parts import kernel_density_parts

        return kernel_density_parts(self.client, self.parts, crs=crs, bandwidth_m=bandwidth_m,
                                    cell_size_m=cell_size_m, kernel=kernel)

    def dbscan(self, x, y, *, crs, eps_m, min_samples):
        """DBSCAN in strips of the map on the workers (:func:`odgeo.clusters.on_parts.dbscan_parts`)."""
        from ..clusters.on_parts import dbscan_parts

        clusters_mod.check_dbscan_parameters(eps_m, min_samples)
        return dbscan_parts(self.client, self.parts, crs=crs, eps_m=float(eps_m), min_samples=int(min_samples))

    def _kept(self, keep: np.ndarray | None) -> list:
        """The parts, or each part's rows where ``keep`` (over all incidents, in input order) is True."""
        if keep is None:
            return self.parts
        cuts = np.cumsum(self.sizes)[:-1]
        return [self.client.submit(_rows, part, pick, pure=False)
                for part, pick in zip(self.parts, np.split(np.asarray(keep, dtype=bool), cuts))]


def _rows(part: pd.DataFrame, pick: np.ndarray) -> pd.DataFrame:
    return part[pick].reset_index(drop=True)
