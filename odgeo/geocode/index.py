"""The geocoder's reference index: address points and street centerlines, normalised once and cached.

References: OpenAddresses CSV (``LON, LAT, NUMBER, STREET, UNIT, CITY, POSTCODE``) or
any point layer with number and street columns; TIGER-style centerlines
(``FULLNAME, LFROMADD, LTOADD, RFROMADD, RTOADD, ZIPL, ZIPR``, lines). Several at
once. Streets are keyed by their normalised name (:func:`odgeo.addresses.normalise_street`)
and ZIP. The index is cached on disk under a key made of the files' SHA-256 and
the index version, so a second run loads it instead of building it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
import shapely

from ..errors import ColumnError, InputFileError
from ..projection import local_metric_crs
from ..schema import WGS84, find_column
from ..tables import file_sha256, read_table, read_vector_layer
from .addresses import normalise_street

log = logging.getLogger(__name__)

__all__ = ["INDEX_VERSION", "AddressIndex", "build_index", "cache_dir", "load_index"]

INDEX_VERSION = 2  # bump when AddressIndex changes (2: the class moved to odgeo.geocode.index)
_NUMBER_COLS = ("number", "addrnum", "housenum", "housenumber", "addnumber", "addressnumber", "stnum")
_STREET_COLS = ("street", "streetname", "fullname", "stname", "fullstreet", "road")
_ZIP_COLS = ("postcode", "zip", "zipcode", "postalcode", "zip5")
_CITY_COLS = ("city", "municipality", "placename", "town")


@dataclass
class AddressIndex:
    """Streets (key -> id), address points sorted by street and number, centerline segments."""

    crs: pyproj.CRS
    street_keys: list[tuple[str, str, str, str, str]]  # (predir, name, suffix, postdir, zip)
    by_name: dict[str, list[int]]
    pt_street: np.ndarray  # per point, sorted by (street, number)
    pt_number: np.ndarray
    pt_x: np.ndarray
    pt_y: np.ndarray
    street_start: np.ndarray  # first point of each street in the sorted arrays (len = n_streets + 1)
    seg_street: np.ndarray
    seg_ranges: np.ndarray  # (n, 4): left from, left to, right from, right to (NaN where absent)
    seg_lines: np.ndarray  # shapely LineStrings in ``crs``
    street_centre: np.ndarray  # (n_streets, 2)
    zip_centre: dict[str, tuple[float, float]]
    sources: list[dict] = field(default_factory=list)

    @property
    def n_points(self) -> int:
        """Number of address points."""
        return len(self.pt_number)

    def points_of(self, street: int) -> slice:
        """The slice of the points of one street."""
        return slice(int(self.street_start[street]), int(self.street_start[street + 1]))

    def to_lonlat(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Index coordinates (metres) back to longitude and latitude."""
        back = pyproj.Transformer.from_crs(self.crs, WGS84, always_xy=True)
        return back.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))


def cache_dir() -> Path:
    """Where reference indexes are cached: ``$ODGEO_CACHE/geocode`` or ``~/.cache/odgeo/geocode``."""
    return Path(os.environ.get("ODGEO_CACHE") or Path.home() / ".cache" / "odgeo") / "geocode"


def load_index(paths: list[str | Path], *, cache: bool = True) -> tuple[AddressIndex, dict]:
    """The index of the reference files, from the cache when it holds them; returns (index, how)."""
    files = [Path(p) for p in paths]
    for p in files:
        if not p.is_file():
            raise InputFileError(f"{p}: no such reference file")
    key = hashlib.sha256(f"v{INDEX_VERSION}".encode() + b"".join(file_sha256(p).encode() for p in files)).hexdigest()
    cached = cache_dir() / f"{key[:32]}.pickle"
    if cache:
        found = _read_cache(cached)
        if found is not None:
            return found, {"cache": str(cached), "built": False}
    index = build_index(files)
    kept = cache and _write_cache(cached, index)
    return index, {"cache": str(cached) if kept else None, "built": True}


# A cache file is this header, the SHA-256 of the payload, then the pickled index: a file cut
# short or damaged fails the checksum and is rebuilt rather than trusted.
_CACHE_MAGIC = b"odgeo-index-cache\n"


def _read_cache(path: Path) -> AddressIndex | None:
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as err:
        log.warning("cannot read the geocoder cache %s (%s); rebuilding the index", path, err.strerror)
        return None
    head = len(_CACHE_MAGIC)
    digest, payload = blob[head:head + 64], blob[head + 64:]
    if blob[:head] != _CACHE_MAGIC or hashlib.sha256(payload).hexdigest().encode() != digest:
        log.warning("the geocoder cache %s is damaged or from another version; rebuilding it", path.name)
        return None
    try:
        return pickle.loads(payload)  # our own file, its checksum verified
    except (pickle.UnpicklingError, ImportError, AttributeError) as err:
        # Written by an odgeo whose classes lived elsewhere: build it anew.
        log.warning("the geocoder cache %s was written by another odgeo version (%s); rebuilding it", path.name, err)
        return None


def _write_cache(path: Path, index: AddressIndex) -> bool:
    """Write the cache atomically (unique temporary name); an unwritable cache is a warning, not a failure."""
    from ..outputs import atomic_write_bytes

    payload = pickle.dumps(index, protocol=pickle.HIGHEST_PROTOCOL)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, _CACHE_MAGIC + hashlib.sha256(payload).hexdigest().encode() + payload)
    except OSError as err:
        log.warning("cannot write the geocoder cache in %s (%s); the index will be built again next time "
                    "(set ODGEO_CACHE to a writable folder)", path.parent, err.strerror or err)
        return False
    return True


def build_index(paths: list[Path]) -> AddressIndex:
    """Read and normalise every reference file into one index."""
    points: list[pd.DataFrame] = []
    lines: list[pd.DataFrame] = []
    sources: list[dict] = []
    for path in paths:
        kind, frame = _read_reference(path)
        (points if kind == "points" else lines).append(frame)
        sources.append({"path": str(path), "kind": kind, "rows": len(frame)})
    pts = pd.concat(points, ignore_index=True) if points else pd.DataFrame(columns=["lon", "lat", "number",
                                                                                     "street", "zip", "city"])
    segs = pd.concat(lines, ignore_index=True) if lines else None
    lon_all = np.r_[pts["lon"].to_numpy(float), *([np.asarray(shapely.get_x(shapely.centroid(segs["geometry"])))]
                                                   if segs is not None else [])]
    lat_all = np.r_[pts["lat"].to_numpy(float), *([np.asarray(shapely.get_y(shapely.centroid(segs["geometry"])))]
                                                   if segs is not None else [])]
    if not len(lon_all):
        raise InputFileError("the reference files hold no usable addresses or streets")
    crs = local_metric_crs(lon_all, lat_all)
    to_m = pyproj.Transformer.from_crs(WGS84, crs, always_xy=True)
    keys: dict[tuple, int] = {}

    def street_id(street: str, zip_code: str) -> int:
        key = (*normalise_street(street), zip_code)
        return keys.setdefault(key, len(keys))

    pt_street = np.array([street_id(s, z) for s, z in zip(pts["street"], pts["zip"])], dtype=np.int64)
    x, y = to_m.transform(pts["lon"].to_numpy(float), pts["lat"].to_numpy(float))
    seg_street = np.zeros(0, dtype=np.int64)
    seg_ranges = np.zeros((0, 4))
    seg_lines = np.zeros(0, dtype=object)
    if segs is not None:
        seg_street = np.array([street_id(s, z) for s, z in zip(segs["street"], segs["zip"])], dtype=np.int64)
        seg_ranges = segs[["lf", "lt", "rf", "rt"]].to_numpy(float)
        seg_lines = shapely.transform(np.asarray(segs["geometry"].values, dtype=object),
                                      lambda c: np.column_stack(to_m.transform(c[:, 0], c[:, 1])))
    order = np.lexsort((pts["number"].to_numpy(np.int64), pt_street))
    n_streets = len(keys)
    start = np.searchsorted(pt_street[order], np.arange(n_streets + 1))
    centre = _street_centres(n_streets, pt_street, np.asarray(x), np.asarray(y), seg_street, seg_lines)
    zips = pd.DataFrame({"zip": pts["zip"], "x": x, "y": y}).groupby("zip")[["x", "y"]].mean()
    by_name: dict[str, list[int]] = {}
    for key, sid in keys.items():
        by_name.setdefault(key[1], []).append(sid)
    return AddressIndex(crs, list(keys), by_name, pt_street[order], pts["number"].to_numpy(np.int64)[order],
                        np.asarray(x)[order], np.asarray(y)[order], start, seg_street, seg_ranges, seg_lines,
                        centre, {str(z): (float(r.x), float(r.y)) for z, r in zips.iterrows() if z}, sources)


def _street_centres(n, pt_street, x, y, seg_street, seg_lines) -> np.ndarray:
    sx = np.bincount(pt_street, weights=x, minlength=n)
    sy = np.bincount(pt_street, weights=y, minlength=n)
    count = np.bincount(pt_street, minlength=n).astype(float)
    if len(seg_lines):
        mid = shapely.line_interpolate_point(seg_lines, 0.5, normalized=True)
        sx += np.bincount(seg_street, weights=shapely.get_x(mid), minlength=n)
        sy += np.bincount(seg_street, weights=shapely.get_y(mid), minlength=n)
        count += np.bincount(seg_street, minlength=n)
    count[count == 0] = np.nan
    return np.c_[sx / count, sy / count]


def _read_reference(path: Path) -> tuple[str, pd.DataFrame]:
    """("points" | "lines", frame with lon/lat/number/street/zip/city or street/zip/ranges/geometry)."""
    columns = []
    if path.suffix.lower() in (".csv", ".txt", ".tsv"):
        table = read_table(path)
        data = table.data
        columns = list(data.columns)
        geometry = None
    else:
        frame = read_vector_layer(path)
        kinds = set(frame.geometry.geom_type)
        data = pd.DataFrame(frame.drop(columns=frame.geometry.name))
        columns = list(data.columns)
        geometry = frame.geometry
        if kinds <= {"LineString", "MultiLineString"}:
            return "lines", _lines(path, data, geometry)
    number, street = find_column(columns, _NUMBER_COLS), find_column(columns, _STREET_COLS)
    if number is None or street is None:
        raise ColumnError(f"{path}: a reference needs house number and street columns (for example NUMBER and "
                          f"STREET as OpenAddresses, or FULLNAME with LFROMADD... for centerlines); columns are "
                          f"{', '.join(map(str, columns))}")
    if geometry is not None:
        lon, lat = np.asarray(shapely.get_x(geometry.values)), np.asarray(shapely.get_y(geometry.values))
    else:
        lon_col = find_column(columns, ("lon", "longitude", "x", "lng"))
        lat_col = find_column(columns, ("lat", "latitude", "y"))
        if lon_col is None or lat_col is None:
            raise ColumnError(f"{path}: no LON/LAT columns for the address points")
        lon = pd.to_numeric(data[lon_col], errors="coerce").to_numpy(float)
        lat = pd.to_numeric(data[lat_col], errors="coerce").to_numpy(float)
    numbers = pd.to_numeric(data[number].astype(str).str.extract(r"^\s*(\d+)")[0], errors="coerce")
    zip_col, city_col = find_column(columns, _ZIP_COLS), find_column(columns, _CITY_COLS)
    out = pd.DataFrame({"lon": lon, "lat": lat, "number": numbers, "street": data[street].astype(str),
                        "zip": data[zip_col].astype(str).str[:5] if zip_col else "",
                        "city": data[city_col].astype(str) if city_col else ""})
    return "points", out[np.isfinite(out["lon"]) & np.isfinite(out["lat"]) & out["number"].notna()]


def _lines(path: Path, data: pd.DataFrame, geometry) -> pd.DataFrame:
    columns = list(data.columns)
    street = find_column(columns, _STREET_COLS)
    names = {k: find_column(columns, (k,)) for k in ("lfromadd", "ltoadd", "rfromadd", "rtoadd")}
    if street is None or any(v is None for v in names.values()):
        raise ColumnError(f"{path}: centerlines need FULLNAME, LFROMADD, LTOADD, RFROMADD and RTOADD columns")
    zip_col = find_column(columns, ("zipl", "zip", "zipr", "postcode"))
    lines = geometry.explode(index_parts=False)
    data = data.loc[lines.index].reset_index(drop=True)
    out = pd.DataFrame({"street": data[street].astype(str),
                        "zip": data[zip_col].astype(str).str[:5] if zip_col else "",
                        "lf": pd.to_numeric(data[names["lfromadd"]], errors="coerce"),
                        "lt": pd.to_numeric(data[names["ltoadd"]], errors="coerce"),
                        "rf": pd.to_numeric(data[names["rfromadd"]], errors="coerce"),
                        "rt": pd.to_numeric(data[names["rtoadd"]], errors="coerce")})
    out["geometry"] = np.asarray(lines.values, dtype=object)
    return out
