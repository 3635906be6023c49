"""A large incident input in parts read apart: the files of a glob or a folder, the blocks of one big CSV.

Each part becomes a :class:`~odgeo.incidents.tables.RawTable` of its own, read exactly as
:func:`odgeo.incidents.tables.read_table` reads a whole file: a CSV block carries its file's
header line, encoding and delimiter (decided once, from the file's start), and
only the file's last block drops blank lines at its end. A CSV is cut only where
a line ends outside quotes (a quoted field may hold line breaks) and only when it
is UTF-8 throughout; other files are read whole, one part each.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, replace
from pathlib import Path

from .. import defaults
from ..errors import InputFileError
from ..incidents.source import is_partitioned
from ..incidents.tables import (
    _SNIFF_BYTES,
    CSV_SUFFIXES,
    VECTOR_SUFFIXES,
    RawTable,
    _parse_text,
    _sniff_delimiter,
    _utf16_without_bom,
    read_table,
)

__all__ = ["DEFAULT_BLOCKSIZE", "InputPlan", "Part", "block_facts", "join_quoted_blocks",
           "plan_input", "read_part"]

#: Bytes of CSV per part: about 1.3 million rows of a typical EMS export, ~1 GB of memory once parsed.
DEFAULT_BLOCKSIZE = defaults.BLOCKSIZE_MB.value * 1024 * 1024

_UTF8_BOM = b"\xef\xbb\xbf"
_SKIPPED_NAMES = ("_SUCCESS", "_metadata", "_common_metadata")


@dataclass(frozen=True)
class Part:
    """Bytes ``start`` to ``end`` of a file (a CSV block), or the whole file (``header`` empty).

    Attributes
    ----------
    path
        The file.
    start, end
        The block's byte range; ``end`` None: to the end of the file.
    header
        The file's header line (bytes, after any BOM) put before a block's records.
    encoding, delimiter
        Of the whole file ("utf-8" or "utf-8-sig"), decided from its start.
    last
        The file's last block (blank lines at its end are formatting, not records).
    """

    path: Path
    start: int = 0
    end: int | None = None
    header: bytes = b""
    encoding: str = ""
    delimiter: str = ""
    last: bool = True

    @property
    def is_block(self) -> bool:
        """A block of a CSV cut into several (else the whole file)."""
        return bool(self.header)


@dataclass(frozen=True)
class InputPlan:
    """What was given, the files it names in order, and the parts they are read in."""

    source: str
    files: tuple[Path, ...]
    parts: tuple[Part, ...]


def plan_input(source: str | Path, *, blocksize: int = DEFAULT_BLOCKSIZE) -> InputPlan:
    """The files ``source`` names (a file, a folder of files, a glob pattern) and their parts.

    A folder's files are taken from its sub-folders too (a Parquet dataset's
    ``year=2024/`` partitions), in the order of their paths; so are a glob's.

    Parameters
    ----------
    source
        A file, a folder or a glob pattern.
    blocksize
        The bytes of text per part of a CSV (Parquet parts are its row groups).

    Returns
    -------
    InputPlan
        The source, its files in order and their parts.

    Raises
    ------
    InputFileError
        If nothing is found, or a file is neither CSV nor a vector format.
    """
    if blocksize < 1024:
        raise InputFileError(f"the block size must be at least 1 KB, not {blocksize} bytes")
    files = _files(str(source))
    parts: list[Part] = []
    for path in files:
        parts.extend(_csv_blocks(path, blocksize) if _is_csv(path) else [Part(path)])
    return InputPlan(str(source), tuple(files), tuple(parts))


def _files(source: str) -> list[Path]:
    path = Path(source)
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and _is_data_file(p))
        if not found:
            raise InputFileError(f"{path}: the folder holds no incident files "
                                 f"({', '.join(CSV_SUFFIXES + VECTOR_SUFFIXES)})")
        return found
    if is_partitioned(source):  # a glob: the folder was taken above
        found = sorted(Path(p) for p in glob.glob(source, recursive=True) if Path(p).is_file())
        if not found:
            raise InputFileError(f"{source}: no file matches the pattern; check the path")
        return found
    if not path.exists():
        raise InputFileError(f"{path}: no such file; check the path")
    return [path]


def _is_data_file(path: Path) -> bool:
    name = path.name
    if name.startswith((".", "_")) or name in _SKIPPED_NAMES:
        return False
    return path.suffix.lower() in CSV_SUFFIXES + VECTOR_SUFFIXES


def _is_csv(path: Path) -> bool:
    return path.suffix.lower() not in VECTOR_SUFFIXES


def _csv_blocks(path: Path, blocksize: int) -> list[Part]:
    """``path`` in blocks that end where a line does (quotes are checked later: :func:`join_quoted_blocks`)."""
    size = path.stat().st_size
    if size <= blocksize:
        return [Part(path)]
    with open(path, "rb") as fh:
        head = fh.read(4 * _SNIFF_BYTES)
        layout = _layout(path, head)
        if layout is None:
            return [Part(path)]  # UTF-16, binary or one long line: read whole, as read_table would
        header, encoding, delimiter, body_start = layout
        cuts = [body_start]
        while cuts[-1] + blocksize < size:
            fh.seek(cuts[-1] + blocksize)
            fh.readline()  # to the end of the line the cut falls in
            if fh.tell() >= size:
                break
            cuts.append(fh.tell())
    ends = cuts[1:] + [None]
    return [Part(path, start, end, header, encoding, delimiter, end is None) for start, end in zip(cuts, ends)]


def _layout(path: Path, head: bytes) -> tuple[bytes, str, str, int] | None:
    """The header line, encoding, delimiter and where the records start; None if the file is not cut."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or _utf16_without_bom(head) or b"\x00" in head[:4096]:
        return None
    bom = len(_UTF8_BOM) if head.startswith(_UTF8_BOM) else 0
    end = _header_end(head, bom)
    if end is None:
        return None
    text = head[bom:].decode("utf-8", errors="ignore")
    return head[bom:end], "utf-8-sig" if bom else "utf-8", _sniff_delimiter(text[:_SNIFF_BYTES], path), end


def _header_end(head: bytes, start: int) -> int | None:
    """The byte after the header line's newline (a newline outside quotes), None if not in ``head``."""
    pos = start
    while True:
        nl = head.find(b"\n", pos)
        if nl < 0:
            return None
        if head.count(b'"', start, nl) % 2 == 0:
            return nl + 1
        pos = nl + 1


def block_facts(part: Part) -> tuple[int, bool]:
    """A block's count of quote characters and whether it is valid UTF-8 (run where the file is)."""
    raw = _block_bytes(part)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.count(b'"'), False
    return raw.count(b'"'), True


def join_quoted_blocks(parts: tuple[Part, ...], facts: list[tuple[int, bool]]) -> tuple[Part, ...]:
    """Blocks joined where a cut fell inside a quoted field; a file not UTF-8 throughout read whole."""
    out: list[Part] = []
    by_file: dict[Path, list[tuple[Part, tuple[int, bool]]]] = {}
    for part, fact in zip(parts, facts):
        by_file.setdefault(part.path, []).append((part, fact))
    for path, blocks in by_file.items():
        if not blocks[0][0].is_block:
            out.append(blocks[0][0])
            continue
        if not all(utf8 for _, (_, utf8) in blocks):
            out.append(Part(path))  # its encoding is decided from every byte, as read_table does
            continue
        quotes = blocks[0][0].header.count(b'"')
        current = blocks[0][0]
        for part, (n_quotes, _) in blocks:
            if part is not current:
                if quotes % 2:  # the cut before ``part`` is inside a quoted field
                    current = replace(current, end=part.end, last=part.last)
                else:
                    out.append(current)
                    current = part
            quotes += n_quotes
        out.append(current)
    return tuple(out)


def _block_bytes(part: Part) -> bytes:
    with open(part.path, "rb") as fh:
        fh.seek(part.start)
        return fh.read() if part.end is None else fh.read(part.end - part.start)


def read_part(part: Part, *, layer: str | None = None) -> RawTable:
    """One part as a :class:`~odgeo.incidents.tables.RawTable` (rows numbered from 1 within the part).

    The sha256 of a block is left empty: a file's checksum is of the whole file.
    """
    if not part.is_block:
        return read_table(part.path, layer=layer)
    try:
        text = (part.header + _block_bytes(part)).decode("utf-8")
    except OSError as err:
        raise InputFileError(f"{part.path}: cannot read the file ({err.strerror})") from err
    data, problems, duplicates = _parse_text(text, part.delimiter, part.path, end_of_file=part.last)
    return RawTable(data=data, path=part.path, format="csv", encoding=part.encoding, delimiter=part.delimiter,
                    row_problems=problems, duplicate_columns=duplicates)
