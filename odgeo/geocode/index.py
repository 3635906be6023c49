"""The geocoder's reference index: address points and street centerlines, normalised once and cached.

References: OpenAddresses CSV (``LON, LAT, NUMBER, STREET, UNIT, CITY, POSTCODE``) or GeoJSON,
any point layer with number and street columns (named by ``columns`` where they are not
detected); TIGER/Line centerlines (``FULLNAME``, ``LFROMADD ...`` of EDGES or ``LFROMHN ...`` of
ADDRFEAT, ``ZIPL, ZIPR``; a zipped shapefile as downloaded). Several at
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

from ..errors import ColumnError, InputFileError, ParameterError
from ..incidents.tables import file_sha256, read_table, read_vector_layer
from ..projection import local_metric_crs
from ..schema import WGS84, find_column
from .addresses import normalise_street

log = logging.getLogger(__name__)

__all__ = ["INDEX_VERSION", "REFERENCE_ROLES", "AddressIndex", "build_index", "cache_dir", "load_index",
           "parse_reference_columns"]

INDEX_VERSION = 3  # bump when AddressIndex changes (3: centerline sides keyed by their own ZIP)
_NUMBER_COLS = ("number", "addrnum", "housenum", "housenumber", "addnumber", "addressnumber", "stnum")
_STREET_COLS = ("street", "streetname", "fullname", "stname", "fullstreet", "road")
_ZIP_COLS = ("postcode", "zip", "zipcode", "postalcode", "zip5")
_CITY_COLS = ("city", "municipality", "placename", "town")
# Centerline address ranges: TIGER/Line EDGES (LFROMADD ...) and ADDRFEAT (LFROMHN ...) spell them apart.
_RANGE_COLS = {"lfrom": ("lfromadd", "lfromhn"), "lto": ("ltoadd", "ltohn"),
               "rfrom": ("rfromadd", "rfromhn"), "rto": ("rtoadd", "rtohn")}
#: What ``--reference-columns`` can name, and the columns looked for when it does not.
REFERENCE_ROLES = {"number": _NUMBER_COLS, "street": _STREET_COLS, "zip": _ZIP_COLS, "city": _CITY_COLS,
                   "lon": ("lon", "longitude", "x", "lng"), "lat": ("lat", "latitude", "y"), **_RANGE_COLS,
                   "zipl": ("zipl",), "zipr": ("zipr",)}


def parse_reference_columns(text: str | None) -> dict[str, tuple[str, ...]]:
    """``"number=ADD_NUMBER,street=ST_PREDIR+ST_NAME+ST_POSTYP"`` -> {role: columns}; "+" joins columns.

    Raises
    ------
    ParameterError
        For an unknown role or a part that is not ``role=COLUMN``.
    """
    mapping: dict[str, tuple[str, ...]] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        role, sep, cols = part.partition("=")
        role, columns = role.strip().lower(), tuple(c.strip() for c in cols.split("+") if c.strip())
        if not sep or not columns:
            raise ParameterError(f"`reference_columns`: {part.strip()!r} is not ROLE=COLUMN (for example "
                                 "number=ADD_NUMBER,street=ST_NAME)")
        if role not in REFERENCE_ROLES:
            raise ParameterError(f"`reference_columns`: {role!r} is not one of {', '.join(REFERENCE_ROLES)}")
        mapping[role] = columns
    return mapping


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


def load_index(paths: list[str | Path], *, cache: bool = True,
               columns: dict[str, tuple[str, ...]] | None = None) -> tuple[AddressIndex, dict]:
    """The index of the reference files, from the cache when it holds them.

    Parameters
    ----------
    paths
        Address point and street centerline files.
    cache
        Read and write the index cache (keyed on the files' contents).
    columns
        Roles mapped to column names (see :func:`parse_reference_columns`) where
        detection would not find them.

    Returns
    -------
    index : AddressIndex
        The index.
    how : dict
        Whether it came from the cache, and the files' counts, for the run record.
    """
    files = [Path(p) for p in paths]
    for p in files:
        if not p.is_file():
            raise InputFileError(f"{p}: no such reference file")
    mapping = repr(sorted((columns or {}).items())).encode()
    key = hashlib.sha256(f"v{INDEX_VERSION}".encode() + mapping
                         + b"".join(file_sha256(p).encode() for p in files)).hexdigest()
    cached = cache_dir() / f"{key[:32]}.pickle"
    if cache:
        found = _read_cache(cached)
        if found is not None:
            return found, {"cache": str(cached), "built": False}
    index = build_index(files, columns=columns)
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
    from ..io.outputs import atomic_write_bytes

    payload = pickle.dumps(index, protocol=pickle.HIGHEST_PROTOCOL)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, _CACHE_MAGIC + hashlib.sha256(payload).hexdigest().encode() + payload)
    except OSError as err:
        log.warning("cannot write the geocoder cache in %s (%s); the index will be built again next time "
                    "(set ODGEO_CACHE to a writable folder)", path.parent, err.strerror or err)
        return False
    return True


def build_index(paths: list[Path], *, columns: dict[str, tuple[str, ...]] | None = None) -> AddressIndex:
    """Read and normalise every reference file into one index.

    Parameters
    ----------
    paths
        Address point and street centerline files (CSV or vector).
    columns
        Roles mapped to column names where detection would not find them
        (see :func:`load_index`).

    Returns
    -------
    AddressIndex
        Streets, address points by street and number, and centerline segments.
    """
    points: list[pd.DataFrame] = []
    lines: list[pd.DataFrame] = []
    sources: list[dict] = []
    used: set[str] = set()
    for path in paths:
        kind, frame, mapped = _read_reference(Path(path), columns or {})
        used |= mapped
        (points if kind == "points" else lines).append(frame)
        sources.append({"path": str(path), "kind": kind, "rows": len(frame), "columns_given": sorted(mapped)})
    unused = sorted(set(columns or {}) - used)
    if unused:
        role = unused[0]
        raise ParameterError(f"`reference_columns` {role}={'+'.join((columns or {})[role])}: no reference file has "
                             f"{'these columns' if len((columns or {})[role]) > 1 else 'this column'}; check the "
                             "names (case counts) against the file's header")
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
    sx = np.bincount(pt_street, weights=x, minlength=n).astype(float)  # no points (centerlines only): ints
    sy = np.bincount(pt_street, weights=y, minlength=n).astype(float)
    count = np.bincount(pt_street, minlength=n).astype(float)
    if len(seg_lines):
        mid = shapely.line_interpolate_point(seg_lines, 0.5, normalized=True)
        sx += np.bincount(seg_street, weights=shapely.get_x(mid), minlength=n)
        sy += np.bincount(seg_street, weights=shapely.get_y(mid), minlength=n)
        count += np.bincount(seg_street, minlength=n)
    count[count == 0] = np.nan
    return np.c_[sx / count, sy / count]


class _Columns:
    """The columns of one reference file for each role: those given (all present) else those detected."""

    def __init__(self, data: pd.DataFrame, given: dict[str, tuple[str, ...]]):
        self.data = data
        names = [str(c) for c in data.columns]
        self.given = {r: cols for r, cols in given.items() if all(c in names for c in cols)}
        self.found = {r: cols[0] if len(cols) == 1 else None for r, cols in self.given.items()}
        for role, aliases in REFERENCE_ROLES.items():
            if role not in self.given:
                self.found[role] = find_column(names, aliases)

    def has(self, role: str) -> bool:
        return role in self.given or self.found.get(role) is not None

    def text(self, role: str) -> pd.Series:
        """The role's values as text ("" where missing); several given columns joined by spaces."""
        columns = self.given.get(role) or (self.found[role],)
        parts = [self.data[c].fillna("").astype(str) for c in columns]
        if len(parts) == 1:
            return parts[0]
        joined = parts[0].str.strip()
        for part in parts[1:]:
            joined = (joined + " " + part.str.strip()).str.strip()
        return joined.str.replace(r"\s+", " ", regex=True)


def _read_reference(path: Path, given: dict[str, tuple[str, ...]]) -> tuple[str, pd.DataFrame, set[str]]:
    """("points" | "lines", frame with lon/lat/number/street/zip/city or street/zip/ranges/geometry, roles mapped).

    A zipped shapefile (TIGER/Line downloads) is read as it is.
    """
    if path.suffix.lower() in (".csv", ".txt", ".tsv"):
        data = read_table(path).data
        geometry = None
    else:
        frame = read_vector_layer(path)
        data = pd.DataFrame(frame.drop(columns=frame.geometry.name))
        geometry = frame.geometry
    cols = _Columns(data, given)
    if geometry is not None and set(geometry.geom_type) <= {"LineString", "MultiLineString"}:
        return "lines", _lines(path, cols, geometry), set(cols.given)
    if not (cols.has("number") and cols.has("street")):
        raise ColumnError(f"{path}: a reference needs house number and street columns (NUMBER and STREET as "
                          f"OpenAddresses, FULLNAME with LFROMADD or LFROMHN... for TIGER centerlines, or name them "
                          f"with `reference_columns` number=COL,street=COL); columns are "
                          f"{', '.join(map(str, data.columns))}")
    if geometry is not None:
        lon, lat = np.asarray(shapely.get_x(geometry.values)), np.asarray(shapely.get_y(geometry.values))
    else:
        if not (cols.has("lon") and cols.has("lat")):
            raise ColumnError(f"{path}: no LON/LAT columns for the address points (name them with "
                              "`reference_columns` lon=COL,lat=COL)")
        lon = pd.to_numeric(cols.text("lon"), errors="coerce").to_numpy(float)
        lat = pd.to_numeric(cols.text("lat"), errors="coerce").to_numpy(float)
    numbers = pd.to_numeric(cols.text("number").str.extract(r"^\s*(\d+)")[0], errors="coerce")
    out = pd.DataFrame({"lon": lon, "lat": lat, "number": numbers, "street": cols.text("street"),
                        "zip": cols.text("zip").str[:5] if cols.has("zip") else "",
                        "city": cols.text("city") if cols.has("city") else ""})
    return "points", out[np.isfinite(out["lon"]) & np.isfinite(out["lat"]) & out["number"].notna()], set(cols.given)


def _lines(path: Path, cols: _Columns, geometry) -> pd.DataFrame:
    """Each centerline part with its ranges (one row per side where ZIPL and ZIPR differ).

    Each side is filed under its own ZIP, as TIGER gives it.
    """
    if not cols.has("street") or not all(cols.has(r) for r in _RANGE_COLS):
        raise ColumnError(f"{path}: centerlines need FULLNAME and LFROMADD, LTOADD, RFROMADD, RTOADD (TIGER EDGES) "
                          "or LFROMHN, LTOHN, RFROMHN, RTOHN (TIGER ADDRFEAT) columns, or `reference_columns` "
                          f"street=COL,lfrom=COL,lto=COL,rfrom=COL,rto=COL; columns are "
                          f"{', '.join(map(str, cols.data.columns))}")
    lines = geometry.explode(index_parts=False)
    positions = cols.data.index.get_indexer(lines.index)
    zip_any = cols.text("zip").str[:5] if cols.has("zip") else pd.Series("", index=cols.data.index)
    zips = {side: (cols.text(f"zip{side}").str[:5] if cols.has(f"zip{side}") else zip_any) for side in ("l", "r")}
    numbers = {r: pd.to_numeric(cols.text(r), errors="coerce").to_numpy(float) for r in _RANGE_COLS}
    street = cols.text("street").to_numpy(dtype=object)
    parts = np.asarray(lines.values, dtype=object)
    nothing = np.full(len(positions), np.nan)
    left = pd.DataFrame({"street": street[positions], "zip": zips["l"].to_numpy(dtype=object)[positions],
                         "lf": numbers["lfrom"][positions], "lt": numbers["lto"][positions],
                         "rf": nothing, "rt": nothing, "geometry": parts})
    right = pd.DataFrame({"street": street[positions], "zip": zips["r"].to_numpy(dtype=object)[positions],
                          "lf": nothing, "lt": nothing, "rf": numbers["rfrom"][positions],
                          "rt": numbers["rto"][positions], "geometry": parts})
    same = (left["zip"] == right["zip"]).to_numpy()
    both = left[same].assign(rf=right["rf"][same], rt=right["rt"][same])  # one row where both sides share a ZIP
    return pd.concat([both, left[~same], right[~same]], ignore_index=True)
