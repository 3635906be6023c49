"""Read an incident file of any supported format into a raw table of text columns.

CSV (any common delimiter, UTF-8 with or without BOM, UTF-16, Windows-1252),
GeoJSON, GeoPackage, Shapefile and GeoParquet. Vector geometries become two
text columns of longitude and latitude, so every format then goes through the
same row validation (:mod:`odgeo.incidents.read`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputFileError
from ..schema import WGS84

__all__ = ["GEOMETRY_LAT", "GEOMETRY_LON", "VECTOR_SUFFIXES", "RawTable", "file_sha256", "parse_csv_text",
           "read_table", "read_vector_layer"]

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
        Repeated column names are told apart as "name (2)", "name (3)".
    path
        The file read (for a database source, its label: URL without password, table or query).
    format
        "csv" or the vector driver used.
    encoding, delimiter
        What was detected for a CSV (None for vector files).
    geometry_problems
        For vector files: row position to a reason its geometry cannot be used
        as a point (for example a polygon).
    row_problems
        Row position to (code, reason) for records that are not rows of the table:
        a wrong number of fields, a repeated header line.
    notes
        What was read with a repair, for the run record (counts only).
    duplicate_columns
        Column name as written to the names it was given ("name", "name (2)").
    role_hints
        What a database's types say of its columns, used for roles no column is named
        for: its single-column primary key as the incident id, its only
        timestamp or date column as the date (empty for files).
    described
        What the run record says of a database source besides its label: the
        database URL (no password), the table or the query.
    sha256
        Checksum of the file read (for the run record).
    """

    data: pd.DataFrame
    path: Path | str
    format: str
    sha256: str = ""
    encoding: str | None = None
    delimiter: str | None = None
    geometry_problems: dict[int, str] | None = None
    row_problems: dict[int, tuple[str, str]] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)
    duplicate_columns: dict[str, list[str]] = field(default_factory=dict)
    role_hints: dict[str, str] = field(default_factory=dict)
    described: dict[str, object] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The file's name (a database source's label) for messages."""
        return self.path.name if isinstance(self.path, Path) else str(self.path)


def read_table(path: str | Path, *, layer: str | None = None) -> RawTable:
    """Read ``path`` into a :class:`RawTable`.

    Parameters
    ----------
    path
        A CSV/TSV file, a vector file (GeoJSON, GeoPackage, Shapefile, GeoParquet),
        or a .zip holding one CSV or one Shapefile.
    layer
        The layer to read from a multi-layer vector file (default: the first point layer).

    Returns
    -------
    RawTable
        Every column as text (vector files: the geometry as longitude and latitude),
        with what was detected of the file.

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
    if suffix == ".zip":
        inner = _zip_member(path)
        if inner is not None:
            return _read_csv(path, raw=inner)
    if suffix in VECTOR_SUFFIXES:
        return _read_vector(path, layer=layer)
    return _read_csv(path)


def _zip_member(path: Path) -> bytes | None:
    """The bytes of the one CSV a .zip holds; None when it holds a Shapefile (read as a vector)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/") and "__MACOSX" not in n]
            if any(n.lower().endswith(".shp") for n in names):
                return None
            tables = [n for n in names if n.lower().endswith(CSV_SUFFIXES)]
            if len(tables) != 1:
                raise InputFileError(f"{path}: a .zip must hold one CSV or one Shapefile; it holds "
                                     f"{len(names)} file(s): {', '.join(names[:5])}; unzip it and give the file")
            return archive.read(tables[0])
    except zipfile.BadZipFile as err:
        raise InputFileError(f"{path}: not a readable .zip file ({err})") from err


def _decode(raw: bytes, path: Path) -> tuple[str, str, int]:
    """Decode bytes; return (text, encoding, characters replaced).

    A BOM decides; UTF-16 without a BOM is recognised by its zero bytes; then
    UTF-8, kept even when a few byte sequences are damaged (a record cut inside a
    character: those are replaced, and counted) unless the file reads as
    Windows-1252 throughout.
    """
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", errors="replace"), "utf-16", 0
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
        text = raw.decode("utf-8", errors="replace")
        return text, "utf-8-sig", text.count("\ufffd") - raw.decode("utf-8", "ignore").count("\ufffd")
    bom_less = _utf16_without_bom(raw)
    if bom_less:
        return raw.decode(bom_less, errors="replace"), bom_less, 0
    try:
        return raw.decode("utf-8"), "utf-8", 0
    except UnicodeDecodeError:
        pass
    text = raw.decode("utf-8", errors="replace")
    damaged = text.count("\ufffd") - raw.decode("utf-8", errors="ignore").count("\ufffd")
    multibyte = sum(1 for ch in text if ord(ch) > 0x7F) - damaged
    cut_at_end = text.find("\ufffd") >= len(text.rstrip()) - 4  # the last record cut inside a character
    if (damaged <= 3 and (multibyte > 0 or cut_at_end)) or damaged * 100 <= multibyte:
        log.warning("%s: %d damaged UTF-8 byte sequence(s) replaced by \ufffd (see data_notes in run.json)",
                    path.name, damaged)
        return text, "utf-8", damaged
    return raw.decode("cp1252", errors="replace"), "cp1252", 0


def _utf16_without_bom(raw: bytes) -> str | None:
    """"utf-16-le"/"utf-16-be" when every other byte of the start is zero (ASCII text in UTF-16)."""
    sample = raw[:4096]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
    return None


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
        return max(counts, key=lambda d: counts[d]) if max(counts.values()) else ","


#: Reading a CSV takes about this many bytes of memory per byte of file (text, then columns of
#: Python strings); tracemalloc's peak was 8x on the sample city and on a 200,000-row copy of it.
_MEMORY_PER_BYTE = 10


def available_memory() -> int | None:
    """Bytes of memory this machine can give a process now, or None where that is not knowable.

    Linux's MemAvailable counts the page cache the kernel would drop for us; free pages
    alone (``SC_AVPHYS_PAGES``) can be a fraction of it on a busy machine.
    """
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _check_memory(path: Path, size: int) -> None:
    """Refuse, before reading, a file whose columns would not fit in the memory this machine has free."""
    free = available_memory()
    if free is None:
        return  # not knowable here: read, and let a MemoryError say so in one line
    need = size * _MEMORY_PER_BYTE
    if need > free:
        raise InputFileError(f"{path}: the file is {size / 1e9:.1f} GB; reading it needs about {need / 1e9:.0f} GB "
                             f"of memory and this machine has {free / 1e9:.1f} GB free; filter or split the file "
                             "(for example one year at a time)")


def _read_csv(path: Path, raw: bytes | None = None) -> RawTable:
    if raw is None:
        _check_memory(path, path.stat().st_size)
        try:
            raw = path.read_bytes()
        except OSError as err:
            raise InputFileError(f"{path}: cannot read the file ({err.strerror})") from err
    if b"\x00" in raw[:4096] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")) and not _utf16_without_bom(raw):
        raise InputFileError(
            f"{path}: looks like a binary file, not CSV; give a CSV or a vector file "
            f"({', '.join(VECTOR_SUFFIXES)})"
        )
    text, encoding, damaged = _decode(raw, path)
    delimiter = _sniff_delimiter(text[:_SNIFF_BYTES], path)
    data, problems, duplicates = _parse_text(text, delimiter, path)
    notes = {"damaged_characters_replaced": damaged} if damaged else {}
    log.debug("%s: %d rows, encoding %s, delimiter %r", path.name, len(data), encoding, delimiter)
    return RawTable(data=data.reset_index(drop=True), path=path, format="csv",
                    sha256=hashlib.sha256(raw).hexdigest(), encoding=encoding, delimiter=delimiter,
                    row_problems=problems, notes=notes, duplicate_columns=duplicates)


def _parse_text(text: str, delimiter: str, path: Path | str, *, end_of_file: bool = True
                ) -> tuple[pd.DataFrame, dict[int, tuple[str, str]], dict[str, list[str]]]:
    """CSV text as text columns, the rows that are not rows of the table, and the repeated column names.

    ``end_of_file`` False: the text is a block of a larger file (its header line, then
    records from the middle), whose blank lines at the end are records, not formatting.
    """
    header = _header(text, delimiter, path)
    names, duplicates = _unique_names(header)
    data = _parse_fast(text, delimiter, names)
    problems: dict[int, tuple[str, str]] = {}
    if data is None:  # some record is not one row of the table: read record by record, reject those rows
        data, problems = _parse_slow(text, delimiter, names, path)
    if end_of_file:
        data = _drop_trailing_blank_lines(data)
    if text.count("\n") > len(data) + 1:  # some field holds a line break (one pass in C: most files have none)
        data, problems = _split_swallowed_rows(data, problems, delimiter)
    problems.update(_repeated_headers(data, header, problems))
    return data.reset_index(drop=True), problems, duplicates


def parse_csv_text(text: str, delimiter: str, where: str) -> tuple[pd.DataFrame, dict[int, tuple[str, str]]]:
    """CSV text (a database's COPY output) as text columns, and the records that are not rows of the table."""
    data, problems, _ = _parse_text(text, delimiter, where)
    return data, problems


def _header(text: str, delimiter: str, path: Path | str) -> list[str]:
    try:  # the reader takes lines as it needs them: io.StringIO(text) would copy the whole file
        header = next(csv.reader(_lines(text), delimiter=delimiter, skipinitialspace=True))
    except StopIteration:
        header = []
    except csv.Error as err:
        raise InputFileError(f"{path}: the header row is not readable CSV ({err}); check its quoting") from err
    header = [h.strip() for h in header]
    if not any(header):
        raise InputFileError(f"{path}: the file holds no header row")
    return header


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text`` one at a time, each with its newline (as io.StringIO yields them)."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end + 1
        yield text[start:end]
        start = end


def _unique_names(header: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Column names with repeats numbered: latitude, latitude (2); empty names become column_N."""
    names: list[str] = []
    seen: dict[str, int] = {}
    duplicates: dict[str, list[str]] = {}
    for i, name in enumerate(header):
        name = name or f"column_{i + 1}"
        seen[name] = seen.get(name, 0) + 1
        unique = name if seen[name] == 1 else f"{name} ({seen[name]})"
        if seen[name] > 1:
            duplicates.setdefault(name, [name]).append(unique)
        names.append(unique)
    return names, duplicates


def _parse_fast(text: str, delimiter: str, names: list[str]) -> pd.DataFrame | None:
    """Every record as text with pyarrow's strict reader; None when some record is not one row of the table.

    pyarrow refuses a record with more or fewer fields than the header (pandas pads
    short ones and shifts long ones into an index), so a None here sends the file
    to :func:`_parse_slow`, which says which rows are wrong.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    invalid: list[int] = []

    def on_invalid(row) -> str:
        invalid.append(1)
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(text.encode("utf-8")),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True, ignore_empty_lines=False,
                                             invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
    except pa.ArrowInvalid:
        return None  # e.g. an unterminated quote: the slow reader says where
    if invalid:
        return None
    import pyarrow.compute as pc

    # Leading spaces off each field, as a CSV reader with skipinitialspace does. to_pandas gives the
    # text dtype pandas itself would infer (object in pandas 2, Arrow-backed str in 3) without a
    # round trip through a million Python strings.
    trimmed = pa.table([pc.utf8_ltrim(table.column(i), characters=" ") for i in range(len(names))], names=names)
    return trimmed.to_pandas()


def _wrong_width(n_got: int, n_fields: int, first_field: str, delimiter: str) -> tuple[str, str]:
    other = [d for d in _DELIMITERS if d != delimiter and d in str(first_field)]
    hint = (f"; it seems to use {other[0]!r} as delimiter where the file uses {delimiter!r}" if other and n_got == 1
            else "; a field with the delimiter in it needs quotes")
    return "bad_row", f"the row has {n_got} field(s) where the header has {n_fields}{hint}"


def _parse_slow(text: str, delimiter: str, names: list[str],
                path: Path | str) -> tuple[pd.DataFrame, dict[int, tuple[str, str]]]:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, skipinitialspace=True)
    next(reader)
    rows, problems = [], {}
    width = len(names)
    try:
        records = list(reader)
    except csv.Error as err:
        raise InputFileError(f"{path}: not a readable CSV near line {reader.line_num} ({err}); check quoting") from err
    for pos, record in enumerate(records):
        if len(record) != width and any(v.strip() for v in record):
            problems[pos] = _wrong_width(len(record), width, record[0] if record else "", delimiter)
        rows.append((record + [""] * width)[:width])
    return pd.DataFrame(rows, columns=names, dtype=object), problems


def _split_swallowed_rows(data: pd.DataFrame, problems: dict[int, tuple[str, str]], delimiter: str
                          ) -> tuple[pd.DataFrame, dict[int, tuple[str, str]]]:
    """Rows an unclosed quote swallowed into one field, taken back out as rejected rows.

    A quote opened and never closed where it should be makes the reader take the next
    lines, delimiters and all, into one field until some later quote: a 400-row file read
    as 397 rows, without a word. A field holding a line with as many delimiters as a
    record (a narrative with line breaks has few) is such a field: its row is rejected as
    ``unclosed_quote``, and each line it took becomes a row of its own, rejected as
    ``inside_unclosed_quote``, so every line of the file is counted.
    """
    width = len(data.columns)
    if width < 3 or data.empty:
        return data, problems
    found: dict[int, list[str]] = {}
    for col in data.columns:
        values = data[col].astype(str)
        for at in np.flatnonzero(values.str.contains("\n", regex=False).to_numpy()).tolist():
            lines = values.iloc[at].split("\n")[1:]
            # Whole records, then the start of the one whose field held the closing quote.
            taken = [line for line in lines[:-1] if line.count(delimiter) >= width - 1]
            if taken and lines[-1].strip():
                taken.append(lines[-1])
            if taken and at not in found:
                found[at] = [str(col), *taken]
    if not found:
        return data, problems
    pieces: list[pd.DataFrame] = []
    out: dict[int, tuple[str, str]] = {}
    shift = start = 0
    for pos in sorted(found):
        col, *taken = found[pos]
        pieces.append(data.iloc[start:pos + 1])
        new = pd.DataFrame([(_one_record(line, delimiter) + [""] * width)[:width] for line in taken],
                           columns=data.columns, dtype=object)
        pieces.append(new)
        out[pos + shift] = ("unclosed_quote", f"a quote opened in column {col!r} closes only {len(taken)} row(s) "
                                              "later, taking them into this field; close the quote")
        for k in range(len(taken)):
            out[pos + shift + 1 + k] = ("inside_unclosed_quote", "read inside a quote left open in an earlier row "
                                                                 "(rejected as unclosed_quote); close that quote")
        shift += len(taken)
        start = pos + 1
    pieces.append(data.iloc[start:])
    for pos, problem in problems.items():  # positions after an inserted row move down
        out.setdefault(pos + sum(len(found[p]) - 1 for p in found if p < pos), problem)
    return pd.concat(pieces, ignore_index=True), out


def _one_record(line: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter, skipinitialspace=True), [line])
    except csv.Error:
        return [line]


def _repeated_headers(data: pd.DataFrame, header: list[str], problems: dict) -> dict[int, tuple[str, str]]:
    """Copies of the header line inside the data (two exports joined into one file)."""
    if data.empty or len(header) < 2:
        return {}
    same = np.ones(len(data), dtype=bool)
    for col, name in zip(data.columns, header):
        same &= (data[col].astype(str).str.strip() == name).to_numpy()
    return {int(pos): ("repeated_header", "a copy of the header line (files joined into one?)")
            for pos in np.flatnonzero(same) if pos not in problems}


def _drop_trailing_blank_lines(data: pd.DataFrame) -> pd.DataFrame:
    """Blank lines at the very end of a file are formatting, not records."""
    if data.empty:
        return data
    blank = (data == "").all(axis=1).to_numpy()
    last = len(blank)
    while last and blank[last - 1]:
        last -= 1
    return data.iloc[:last]


def _vector_errors() -> tuple[type[BaseException], ...]:
    """What pyogrio and pyarrow raise for a file they cannot read (not every exception)."""
    import pyogrio.errors

    return (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.FieldError,
            pyogrio.errors.GeometryError, pyogrio.errors.CRSError, OSError, ValueError)


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
    except _vector_errors() as err:
        raise InputFileError(f"{path}: cannot read as a vector file ({err})") from err
    if not isinstance(frame, gpd.GeoDataFrame):  # a table without geometry (a CSV inside, a GPKG attribute table)
        return frame
    if frame.crs is None:
        log.info("%s has no CRS; assuming %s", path.name, WGS84)
        return frame.set_crs(WGS84)
    return frame if frame.crs.equals(WGS84) else frame.to_crs(WGS84)


def _point_layer(path: Path, layer: str | None) -> str | None:
    """The layer to read: the one given, else the first that holds points (say which when the first does not)."""
    if layer is not None or path.suffix.lower() not in (".gpkg",):
        return layer
    import pyogrio

    try:
        layers = pyogrio.list_layers(path)
    except _vector_errors() as err:
        raise InputFileError(f"{path}: cannot read as a vector file ({err})") from err
    if len(layers) == 0:
        raise InputFileError(f"{path}: the GeoPackage holds no layer")
    first_name, first_kind = layers[0]
    if not any(word in str(first_kind).lower() for word in ("polygon", "line", "curve", "surface")):
        return None  # points, a table, or mixed ("Unknown"): its rows are checked one by one
    points = [name for name, kind in layers if kind is not None and "point" in str(kind).lower()]
    if not points:
        raise InputFileError(f"{path}: layer {first_name!r} holds {str(first_kind).lower()}s and no layer holds "
                             "points; odgeo needs incident points (or a table with coordinate columns)")
    raise InputFileError(f"{path}: layer {first_name!r} holds {str(first_kind).lower()}s; choose a point layer "
                         f"with `layer`: {', '.join(points)}")


def _read_vector(path: Path, *, layer: str | None) -> RawTable:
    import geopandas as gpd
    import shapely

    frame = read_vector_layer(path, layer=_point_layer(path, layer))
    fmt = "GeoParquet" if path.suffix.lower() in (".parquet", ".geoparquet") else path.suffix.lower().lstrip(".")
    if not isinstance(frame, gpd.GeoDataFrame):  # attributes only: coordinates must be in columns
        data = pd.DataFrame(frame).apply(_as_text)
        return RawTable(data=data.reset_index(drop=True), path=path, format="csv", sha256=file_sha256(path))
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
    data[GEOMETRY_LON] = _float_text(lon)
    data[GEOMETRY_LAT] = _float_text(lat)
    return RawTable(data=data.reset_index(drop=True), path=path, format=fmt,
                    sha256=file_sha256(path), geometry_problems=problems)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _float_text(values: np.ndarray) -> np.ndarray:
    """Coordinates as text that reads back to the same floats ("" where not finite), without a call per value.

    Arrow writes the shortest text that round-trips; it is read back here and any value
    that would not come back the same (none was found) is written by Python's repr.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    finite = np.isfinite(values)
    text = pc.cast(pa.array(values, mask=~finite), pa.string())
    back = pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False)
    out = np.asarray(text.fill_null("").to_numpy(zero_copy_only=False), dtype=object)
    for pos in np.flatnonzero(finite & (back != values)):
        out[pos] = repr(float(values[pos]))
    return out


def _as_text(column: pd.Series) -> pd.Series:
    """One attribute column as text, missing values as "" (dates in ISO 8601)."""
    if pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty"):  # text already: no call per value
        return column.astype(object).where(column.notna(), "")
    if isinstance(column.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(column):
        out = column.map(lambda v: v.isoformat() if pd.notna(v) else "")
    else:
        out = column.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    return out.astype(object)
