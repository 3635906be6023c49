"""Geocoding as a step of the main job (``--reference``) and as a command of its own (``odgeo geocode``)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import defaults
from ..errors import ColumnError, ParameterError
from ..geocode.index import AddressIndex
from ..geocode.matcher import GEOCODE_COLUMNS, geocode_frame
from ..geocode.pending import DEFAULT_MIN_SCORE, geocode_pending, status_summary
from ..incidents.read import IncidentRead
from ..incidents.tables import read_table
from ..io.geopackage import GPKG_DATE
from ..io.outputs import atomic_file, write_error
from ..schema import (
    WGS84,
    find_column,
)

__all__ = [
    "OUTPUT_SUFFIXES",
    "apply_reference",
    "geocode_table",
    "write_geocoded",
]

OUTPUT_SUFFIXES = (".csv", ".gpkg", ".parquet", ".geoparquet")


def geocode_table(path, index: AddressIndex | None, *, address_col: str | None = None, city_col: str | None = None,
                  zip_col: str | None = None, online=None, state: str = "",
                  min_score: float = DEFAULT_MIN_SCORE) -> tuple[pd.DataFrame, dict]:
    """Every input column plus the geocode columns, one row per input row in the same order.

    With ``online`` (an :class:`~odgeo.geocode.online.OnlineGeocoder`), the rows the
    offline ladder left unmatched or under ``min_score`` (all rows without an
    index) are sent to the service, and its answer replaces theirs when it found one.

    Parameters
    ----------
    path
        The table of addresses (CSV or vector).
    index
        The offline reference index (None: online only).
    address_col, city_col, zip_col
        The columns (None: detected).
    online
        An online geocoder, or None (offline only).
    state
        The state sent to the online service with each address.
    min_score
        The smallest offline score kept before asking the service (0 to 1).

    Returns
    -------
    table : pandas.DataFrame
        The input with :data:`~odgeo.geocode.matcher.GEOCODE_COLUMNS`.
    summary : dict
        Counts by status and the scores, for the run record.
    """
    table = read_table(path)
    data = table.data
    columns = list(data.columns)
    address = find_column(columns, ("address", "fulladdress", "streetaddress", "incidentaddress", "addr",
                                    "location", "street"), address_col, path=table.path, option="`address_col`")
    if address is None:
        raise ColumnError(f"{table.path}: no address column found; name it with `address_col` "
                          f"(columns are {', '.join(columns)})")
    city = find_column(columns, ("city", "town", "municipality"), city_col, path=table.path, option="`city_col`")
    zip_code = find_column(columns, ("zip", "zipcode", "postcode", "postalcode", "zip5"), zip_col, path=table.path,
                           option="`zip_col`")
    cities = data[city] if city else pd.Series([""] * len(data))
    zips = data[zip_code] if zip_code else pd.Series([""] * len(data))
    if index is not None:
        result = geocode_frame(index, data[address], cities, zips).reset_index(drop=True)
    else:
        result = pd.DataFrame({"longitude": np.nan, "latitude": np.nan, "geocode_status": "unmatched",
                               "geocode_score": 0.0, "matched_address": "", "geocode_reason": "not tried offline"},
                              index=range(len(data)))
    sent = 0
    if online is not None:
        weak = np.flatnonzero(((result["geocode_status"] == "unmatched") | (result["geocode_score"] < min_score))
                              .to_numpy())
        queries = [f"{data[address].iloc[i]}|{cities.iloc[i]}|{state}|{zips.iloc[i]}" for i in weak]
        answers = online.geocode(queries)
        better = (answers["geocode_status"] != "unmatched").to_numpy()
        result.loc[weak[better], GEOCODE_COLUMNS] = answers.loc[better, GEOCODE_COLUMNS].to_numpy()
        sent = online.requests
    clash = [c for c in GEOCODE_COLUMNS if c in data.columns]
    out = pd.concat([data.drop(columns=clash).reset_index(drop=True), result.reset_index(drop=True)], axis=1)
    return out, status_summary(result) | {"columns": {"address": address, "city": city, "zip": zip_code},
                                          "online_requests": sent}


def write_geocoded(frame: pd.DataFrame, path: Path) -> Path:
    """CSV, GeoPackage or GeoParquet by the output's extension (unmatched rows have no geometry).

    Written under a temporary name and renamed when complete, so a kill never leaves half a file.

    Parameters
    ----------
    frame
        From :func:`geocode_table`.
    path
        The output file: .csv, .gpkg or .parquet.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise ParameterError(f"`out_dir` must end in {', '.join(OUTPUT_SUFFIXES)}, not {path.name!r}")
    try:
        with atomic_file(path) as tmp:
            _write_geocoded(frame, tmp, suffix)
    except OSError as err:
        raise write_error(err, path, "`out_dir`") from err
    return path


def _write_geocoded(frame: pd.DataFrame, path: Path, suffix: str) -> None:
    if suffix == ".csv":
        frame.to_csv(path, index=False, lineterminator="\n")
        return
    lon, lat = frame["longitude"].to_numpy(float), frame["latitude"].to_numpy(float)
    points = np.asarray(gpd.points_from_xy(lon, lat), dtype=object)
    points[~(np.isfinite(lon) & np.isfinite(lat))] = None
    geo = gpd.GeoDataFrame(frame, geometry=points, crs=WGS84)
    if suffix == ".gpkg":
        _write_gpkg_deterministic(geo, path)
    else:
        geo.to_parquet(path)


def _write_gpkg_deterministic(frame: gpd.GeoDataFrame, path: Path) -> None:
    """Built in memory and written by Python: on a full disk GDAL's SQLite fails with no errno."""
    import io

    import pyogrio

    before = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": GPKG_DATE})
    try:
        built = io.BytesIO()
        pyogrio.write_dataframe(frame, built, driver="GPKG", layer="geocoded")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": before})
    path.write_bytes(built.getvalue())


def apply_reference(read: IncidentRead, references, min_score, record, columns=None) -> IncidentRead:
    """The main job's geocoding step: locate pending incidents against ``references``, record what happened.

    ``columns``: the ``--reference-columns`` mapping (see :func:`odgeo.geocode.index.parse_reference_columns`).
    """
    from ..geocode.index import load_index

    if not references:
        return read
    min_score = record.pick("min_score", min_score, defaults.MIN_SCORE)
    with record.timed("geocode"):
        index, how = load_index(list(references), columns=columns)
        read, summary = geocode_pending(read, index, min_score=float(min_score))
    record.param("reference", [str(p) for p in references], "given",
                 {"index_cache": how["cache"], "built_now": how["built"], "sources": index.sources,
                  **({"columns": {r: "+".join(c) for r, c in columns.items()}} if columns else {})})
    record.sections["geocoding"] = summary
    return read
