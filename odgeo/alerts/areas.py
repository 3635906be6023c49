"""The areas ``odgeo alerts`` watches: polygons from a file, or coarse H3 cells, with their neighbours.

Each incident counts in every polygon that contains it (as :mod:`odgeo.boundaries.counts`
counts them); polygons of the file that share a name are one area. Without a
polygon file the areas are the H3 cells (default resolution 7, about 5 km2)
that hold at least one incident of the input. Neighbours are areas whose
polygons touch (or H3 cells one ring apart), or the pairs of a CSV file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import defaults
from ..boundaries.counts import dissolve_by_name, read_boundaries
from ..errors import InputFileError
from ..hexes import cell_centres, cell_disks, cell_strs, cells_to_polygons, points_to_cells
from ..incidents.tables import read_table
from ..projection import lonlat_of
from ..schema import WGS84, name_key
from ..vocabulary import near_words

__all__ = ["ALL_AREAS", "DEFAULT_ALERT_RESOLUTION", "AlertAreas", "h3_areas", "named_areas", "polygon_areas",
           "read_neighbour_pairs"]

#: The series of the whole input, always watched.
ALL_AREAS = "all"
DEFAULT_ALERT_RESOLUTION = defaults.ALERT_RESOLUTION.value


@dataclass
class AlertAreas:
    """Named areas, their outlines (EPSG:4326), which incidents each holds, and their neighbours."""

    names: list[str]
    outlines: gpd.GeoSeries
    source: dict  # how the areas were made (file and column, or H3 resolution), for run.json and history
    members: tuple[np.ndarray, np.ndarray]  # (incident index, area index) pairs
    neighbours: dict[int, set[int]]
    places: dict[str, str] = field(default_factory=dict)  # a name in words, where the name is a code (H3)

    def place(self, name: str) -> str:
        """An area as a sentence names it: its name, "the whole input", or "the area near ..." for a cell."""
        return "the whole input" if name == ALL_AREAS else self.places.get(name, name)

    def frame(self) -> gpd.GeoDataFrame:
        """One row per area: name and outline."""
        return gpd.GeoDataFrame({"name": self.names}, geometry=self.outlines.to_numpy(), crs=WGS84)

    def n_outside(self, n_incidents: int) -> int:
        """Incidents in no area (they count only in ``all``)."""
        return int(n_incidents - len(np.unique(self.members[0])))


def polygon_areas(path: str | Path, incidents: gpd.GeoDataFrame, *, name_col: str | None = None,
                  layer: str | None = None) -> AlertAreas:
    """Areas from a polygon file, with touching polygons as neighbours.

    Parameters
    ----------
    path
        A polygon file (GeoPackage, Shapefile, GeoJSON, ...).
    incidents
        The located incidents, assigned to the polygon that holds each.
    name_col
        The column naming the areas (None: detected); polygons sharing a name are one area.
    layer
        The layer of a multi-layer file (None: the only one).

    Returns
    -------
    AlertAreas
        The areas, their outlines (EPSG:4326), members and neighbours.
    """
    frame, columns = read_boundaries(path, name_col=name_col, layer=layer, option="`area_name_col`",
                                     what="`areas`", with_population=False)  # alerts count, never divide
    if frame.empty:
        raise InputFileError(f"{path}: no polygons; `areas` needs a polygon file (counties, ZIP areas ...)")
    if (frame["name"] == ALL_AREAS).any():
        raise InputFileError(f"{path}: an area is named {ALL_AREAS!r}, the name of the whole input's series; "
                             "rename it or choose another `area_name_col`")
    merged = dissolve_by_name(frame)  # several polygons of one name are one area
    names = merged["name"].tolist()
    outlines = gpd.GeoSeries(merged.geometry.to_numpy(), crs=WGS84)
    points = gpd.GeoDataFrame(geometry=incidents.geometry.to_numpy(), crs=WGS84)
    hits = gpd.sjoin(points, gpd.GeoDataFrame(geometry=outlines.to_numpy(), crs=WGS84), how="inner",
                     predicate="intersects")
    members = (hits.index.to_numpy(dtype=np.int64), hits["index_right"].to_numpy(dtype=np.int64))
    tree = shapely.STRtree(outlines.to_numpy())
    left, right = tree.query(outlines.to_numpy(), predicate="intersects")
    neighbours: dict[int, set[int]] = {i: set() for i in range(len(names))}
    for a, b in zip(left.tolist(), right.tolist()):
        if a != b:
            neighbours[a].add(b)
    source = {"kind": "polygons", "file": Path(path).name, "name_column": columns["name"], "n_areas": len(names),
              **{k: v for k, v in columns.items() if k == "repaired_polygons"}}
    return AlertAreas(names, outlines, source, members, neighbours)


def named_areas(path: str | Path, names: pd.Series, *, name_col: str | None = None, column: str = "",
                layer: str | None = None) -> AlertAreas:
    """Areas of a polygon file, each incident in the one its own column names (a ZIP code, a county).

    For records without coordinates (an emergency department's visits by patient ZIP or county): the
    polygons give the outlines and the neighbours; names are compared without case or surrounding space,
    and an incident naming no polygon counts only in the whole input's series.

    Parameters
    ----------
    path
        The polygon file.
    names
        Each incident's area name, in the incidents' order.
    name_col
        The polygons' name column (None: detected).
    column
        The incident column the names come from, for run.json.
    layer
        The layer of a multi-layer file.

    Returns
    -------
    AlertAreas
    """
    empty = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=WGS84))
    areas = polygon_areas(path, empty, name_col=name_col, layer=layer)
    index = pd.Series(np.arange(len(areas.names)), index=name_key(areas.names).to_numpy())
    found = index[~index.index.duplicated()].reindex(name_key(names).to_numpy()).fillna(-1).to_numpy(dtype=np.int64)
    inside = np.flatnonzero(found >= 0)
    areas.members = (inside.astype(np.int64), found[inside])
    # (How many name no polygon is the series' n_incidents_outside_areas; the source stays the history's key.)
    areas.source = {**areas.source, "kind": "names", "area_column": column}
    return areas


def h3_areas(incidents: gpd.GeoDataFrame, resolution: int = DEFAULT_ALERT_RESOLUTION) -> AlertAreas:
    """The H3 cells holding incidents, as areas; cells one ring apart are neighbours.

    Parameters
    ----------
    incidents
        The located incidents (any CRS).
    resolution
        The H3 resolution of the areas (7: about 5 km² each).

    Returns
    -------
    AlertAreas
        One area per occupied cell, named by its H3 index; its place in words is near its centre.
    """
    lon, lat = lonlat_of(incidents.geometry)
    cell_of = points_to_cells(lon, lat, resolution)
    cells, area_of = np.unique(cell_of, return_inverse=True)
    names = cell_strs(cells)
    position = {int(c): i for i, c in enumerate(cells)}
    neighbours = {i: {position[int(c)] for c in disk if int(c) in position and int(c) != int(cells[i])}
                  for i, disk in enumerate(cell_disks(cells, 1))}
    outlines = gpd.GeoSeries(cells_to_polygons(names).to_numpy(), crs=WGS84)
    source = {"kind": "h3", "resolution": int(resolution), "n_areas": len(names)}
    centre_lon, centre_lat = cell_centres(cells)
    places = {n: near_words(x, y) for n, x, y in zip(names, centre_lon.tolist(), centre_lat.tolist())}
    return AlertAreas(names, outlines, source, (np.arange(len(cell_of)), area_of.astype(np.int64)), neighbours,
                      places)


def read_neighbour_pairs(path: str | Path, names: list[str]) -> dict[int, set[int]]:
    """Neighbours from a CSV of area name pairs (first two columns; each pair works both ways)."""
    table = read_table(Path(path)).data
    if table.shape[1] < 2:
        raise InputFileError(f"{path}: `neighbours` needs two columns of area names (area, neighbour)")
    index = {n: i for i, n in enumerate(names)}
    out: dict[int, set[int]] = {i: set() for i in range(len(names))}
    first, second = (table.iloc[:, k].astype(str).str.strip() for k in (0, 1))
    for row, (a, b) in enumerate(zip(first, second), start=2):
        for name in (a, b):
            if name not in index:
                raise InputFileError(f"{path}: row {row}: {name!r} is not an area of `areas` "
                                     f"(areas are {', '.join(names[:5])}{' ...' if len(names) > 5 else ''})")
        if a != b:
            out[index[a]].add(index[b])
            out[index[b]].add(index[a])
    return out


def area_series_index(areas: AlertAreas) -> pd.Index:
    """The series names in order: every area, then ``all``."""
    return pd.Index([*areas.names, ALL_AREAS])
