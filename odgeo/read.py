"""Read an incident file of any supported format into a raw table of text columns.

CSV (any common delimiter, UTF-8 with or without BOM, UTF-16, Windows-1252),
GeoJSON, GeoPackage, Shapefile and GeoParquet. Vector geometries become two
text columns of longitude and latitude, so every format then goes through the
same row validation (:mod:`odgeo.validate`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputFileError
from .schema import WGS84

__all__ = ["RawTable", "read_table", "read_vector_layer", "file_sha256", "VECTOR_SUFFIXES", "GEOMETRY_LON", "GEOMETRY_LAT"]

log = logging.getLogger(__name__)

VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".zip", ".parquet", ".geoparquet", ".fgb")
CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".psv")
#: Names of the coordinate columns made from a vector file's point geometries.
GEOMETRY_LON = "geometry_longitude"
GEOMETRY_LAT = "geometry_latitude"

_DELIMITERS = ",;\t|"
_SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class RawTable:
    """An input file read as text.

    Attributes
    ----------
    data
        One row per input record, every column as text (missing values are "").
    path
        The file read.
    format
        "csv" or the vector driver used.
    encoding, delimiter
        What was detected for a CSV (None for vector files).
    geometry_problems
        For vector files: row position to a reason its geometry cannot be used
        as a point (for example a polygon).
    sha256
        Checksum of the file read (for the run record).
    """

    data: pd.DataFrame
    path: Path
    format: str
    sha256: str = ""
    encoding: str | None = None
    delimiter: str | None = None
    geometry_problems: dict[int, str] | None = None


def read_table(path: str | Path, *, layer: str | None = None) -> RawTable:
    """Read ``path`` into a :class:`RawTable`.

    Parameters
    ----------
    path
        A CSV/TSV file or a vector file (GeoJSON, GeoPackage, Shapefile, GeoParquet).
    layer
        The layer to read from a multi-layer vector file (default: the first).

    Raises
    ------
    InputFileError
        If the file does not exist, is empty or cannot be read as any format.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise InputFileError(f"{path}: is a folder; give an incident file")
    if path.stat().st_size == 0:
        raise InputFileError(f"{path}: the file is empty")
    suffix = "".join(path.suffixes[-1:]).lower()
    if suffix in VECTOR_SUFFIXES:
        return _read_vector(path, layer=layer)
    return _read_csv(path)


def _decode(raw: bytes, path: Path) -> tuple[str, str]:
    """Decode bytes by BOM, then UTF-8, then Windows-1252; return (text, encoding)."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16"), "utf-16"
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    for encoding in ("utf-8", "cp1252"):
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    log.info("%s: neither UTF-8 nor Windows-1252; reading as Latin-1", path.name)
    return raw.decode("latin-1"), "latin-1"


def _sniff_delimiter(sample: str, path: Path) -> str:
    if path.suffix.lower() == ".tsv":
        return "\t"
    lines = [ln for ln in sample.splitlines()[:50] if ln.strip()]
    if not lines:
        raise InputFileError(f"{path}: the file holds no text rows")
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=_DELIMITERS).delimiter
    except csv.Error:
        # Fall back to the candidate most frequent in the header line.
        counts = {d: lines[0].count(d) for d in _DELIMITERS}
        return max(counts, key=counts.get) if max(counts.values()) else ","


def _read_csv(path: Path) -> RawTable:
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise InputFileError(f"{path}: cannot read the file ({err.strerror})") from err
    if b"\x00" in raw[:4096] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputFileError(
            f"{path}: looks like a binary file, not CSV; give a CSV or a vector file "
            f"({', '.join(VECTOR_SUFFIXES)})"
        )
    text, encoding = _decode(raw, path)
    delimiter = _sniff_delimiter(text[:_SNIFF_BYTES], path)
    try:
        data = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            skipinitialspace=True,
            on_bad_lines="error",
        )
    except pd.errors.ParserError as err:
        raise InputFileError(f"{path}: not a readable CSV ({err}); check quoting and delimiters") from err
    except pd.errors.EmptyDataError as err:
        raise InputFileError(f"{path}: the file holds no header row") from err
    data.columns = [str(c).strip() for c in data.columns]
    data = _drop_trailing_blank_lines(data)
    log.debug("%s: %d rows, encoding %s, delimiter %r", path.name, len(data), encoding, delimiter)
    return RawTable(data=data.reset_index(drop=True), path=path, format="csv",
                    sha256=hashlib.sha256(raw).hexdigest(), encoding=encoding, delimiter=delimiter)


def _drop_trailing_blank_lines(data: pd.DataFrame) -> pd.DataFrame:
    """Blank lines at the very end of a file are formatting, not records."""
    if data.empty:
        return data
    blank = (data == "").all(axis=1).to_numpy()
    last = len(blank)
    while last and blank[last - 1]:
        last -= 1
    return data.iloc[:last]


def read_vector_layer(path: str | Path, *, layer: str | None = None):
    """A vector file (GeoJSON, GeoPackage, Shapefile, GeoParquet ...) as a GeoDataFrame in EPSG:4326.

    A layer without a CRS is taken as EPSG:4326 (logged).
    """
    import geopandas as gpd

    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    try:
        if path.suffix.lower() in (".parquet", ".geoparquet"):
            frame = gpd.read_parquet(path)
        else:
            frame = gpd.read_file(path, layer=layer, engine="pyogrio")
    except Exception as err:  # pyogrio/arrow raise many types; the message is what matters
        raise InputFileError(f"{path}: cannot read as a vector file ({err})") from err
    if frame.crs is None:
        log.info("%s has no CRS; assuming %s", path.name, WGS84)
        return frame.set_crs(WGS84)
    return frame if frame.crs.equals(WGS84) else frame.to_crs(WGS84)


def _read_vector(path: Path, *, layer: str | None) -> RawTable:
    import shapely

    frame = read_vector_layer(path, layer=layer)
    fmt = "GeoParquet" if path.suffix.lower() in (".parquet", ".geoparquet") else path.suffix.lower().lstrip(".")
    problems: dict[int, str] = {}
    geoms = frame.geometry
    kinds = geoms.geom_type.to_numpy()
    present = geoms.notna().to_numpy() & ~geoms.is_empty.to_numpy()
    is_point = (kinds == "Point") & present
    for pos in np.flatnonzero(present & ~is_point):
        problems[int(pos)] = f"geometry is a {kinds[pos]}, expected a point"
    arr = np.asarray(geoms.values, dtype=object)
    lon = np.full(len(frame), np.nan)
    lat = np.full(len(frame), np.nan)
    lon[is_point] = shapely.get_x(arr[is_point])
    lat[is_point] = shapely.get_y(arr[is_point])
    data = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    data = data.apply(_as_text)
    data[GEOMETRY_LON] = [repr(float(v)) if np.isfinite(v) else "" for v in lon]
    data[GEOMETRY_LAT] = [repr(float(v)) if np.isfinite(v) else "" for v in lat]
    return RawTable(data=data.reset_index(drop=True), path=path, format=fmt,
                    sha256=file_sha256(path), geometry_problems=problems)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _as_text(column: pd.Series) -> pd.Series:
    """One attribute column as text, missing values as "" (dates in ISO 8601)."""
    if isinstance(column.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(column):
        out = column.map(lambda v: v.isoformat() if pd.notna(v) else "")
    else:
        out = column.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    return out.astype(object)
