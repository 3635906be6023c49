"""Text columns handled by Arrow: numbers parsed, repeats found and text built without a Python object per row.

With pandas 3 a text column is Arrow-backed already; with pandas 2 these convert it once. What
counts as a number is what pandas.to_numeric accepts, and its value is Python's float (correctly
rounded; pandas 2's own parser is not on 17-digit text).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import ArrayLike

__all__ = ["DECIMAL", "codes_in", "distinct_stripped", "extract_numbers", "has_repeats", "matches", "release_unused",
           "row_ids", "text_by_code", "to_float"]


def release_unused() -> None:
    """Give Arrow's freed memory back to the system.

    Arrow's allocator (mimalloc) keeps the pages of a parse for its own next use, which
    NumPy and shapely cannot reuse: after reading 1M rows the process held 798 MB without
    this, 632 MB with it (the read's own peak is the same).
    """
    pa.default_memory_pool().release_unused()


def row_ids(rows: np.ndarray) -> pd.Series:
    """"odgeo-row-N" for 1-based rows N, as text built by Arrow (no Python string per row in pandas 3)."""
    text = pc.binary_join_element_wise("odgeo-row-", pc.cast(pa.array(rows, type=pa.int64()), pa.string()), "")
    return pd.Series(text.to_pandas(), index=pd.RangeIndex(len(rows)))


def has_repeats(text: pd.Series, keep: np.ndarray | None = None) -> bool:
    """Whether some value appears twice (among the kept rows), by Arrow's hash set.

    Quicker than a full ``duplicated``, and unlike pandas' ``is_unique`` (which kept 76 MB
    of 1M ids' hash table) its memory goes back once the answer is known.
    """
    values = pa.array(text, type=pa.string(), from_pandas=True)
    kept = values if keep is None else pc.filter(values, pa.array(keep))
    repeats = len(pc.unique(kept)) < len(kept)
    release_unused()
    return repeats


def distinct_stripped(text: ArrayLike) -> tuple[np.ndarray, pd.Series]:
    """Each value's code (-1: missing or blank) and the distinct stripped values, in order of first appearance.

    ``pd.factorize(text.str.strip())`` by Arrow's hash table, without a Python string per row.
    """
    stripped = pc.utf8_trim_whitespace(pa.array(text, type=pa.string(), from_pandas=True))
    stripped = pc.if_else(pc.equal(stripped, ""), pa.scalar(None, pa.string()), stripped)
    if isinstance(stripped, pa.ChunkedArray):  # pandas 3's text columns arrive in chunks
        stripped = stripped.combine_chunks()
    encoded = pc.dictionary_encode(stripped)
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, pd.Series(encoded.dictionary.to_numpy(zero_copy_only=False), dtype=object)


def matches(text: ArrayLike, pattern: str, *, ignore_case: bool = False) -> np.ndarray:
    """Which values hold a match of ``pattern`` (RE2 syntax: no look-behind), False where missing."""
    found = pc.match_substring_regex(pa.array(text, type=pa.string(), from_pandas=True), pattern,
                                     ignore_case=ignore_case)
    return pc.fill_null(found, False).to_numpy(zero_copy_only=False).astype(bool)


def extract_numbers(text: ArrayLike, pattern: str) -> pd.DataFrame:
    """The named groups of ``pattern`` (RE2) in each value, as float (NaN where it does not match)."""
    parts = pc.extract_regex(pa.array(text, type=pa.string(), from_pandas=True), pattern)
    names = [parts.type.field(k).name for k in range(parts.type.num_fields)]
    # struct_field keeps a value's null where it does not match (its children hold "" there)
    return pd.DataFrame({name: pc.cast(pc.struct_field(parts, [k]), pa.float64()).to_numpy(zero_copy_only=False)
                         for k, name in enumerate(names)})


def codes_in(text: ArrayLike, vocabulary: Sequence[str]) -> np.ndarray:
    """Each value's position in ``vocabulary`` (-1 where it is not there, or missing), found by Arrow's hash set.

    ``pd.Categorical(values, categories=vocabulary).codes`` without a Python string per row.
    """
    found = pc.index_in(pa.array(text, type=pa.string(), from_pandas=True), value_set=pa.array(vocabulary, pa.string()))
    return pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def text_by_code(values: list[str], codes: np.ndarray) -> pd.Series:
    """``values[code]`` per row (code -1: the last value) as text, taken by Arrow, not per Python string."""
    codes = np.where(codes < 0, len(values) - 1, codes)
    text = pa.array(values, type=pa.string()).take(pa.array(codes, type=pa.int64()))
    return pd.Series(text.to_pandas(), index=pd.RangeIndex(len(codes)))


#: A decimal number as pandas.to_numeric reads one (also inf, infinity, nan; any case).
DECIMAL = r"^[+-]?((\d+\.?\d*|\.\d+)(e[+-]?\d+)?|inf(inity)?|nan)$"


def to_float(text: pd.Series) -> np.ndarray:
    """Numbers of stripped text, NaN where empty or not a number (a decimal comma is read too)."""
    values = _decimal_numbers(pa.array(text, type=pa.string(), from_pandas=True))
    retry = np.isnan(values) & text.str.contains(",", regex=False).to_numpy()
    if retry.any():  # decimal comma, as in many European exports
        commas = pa.array(text[retry].str.replace(",", ".", regex=False), type=pa.string(), from_pandas=True)
        values[retry] = _decimal_numbers(commas)
    return values


def _decimal_numbers(strings) -> np.ndarray:
    """Arrow strings to float64, NaN where null, empty or not a number."""
    strings = pc.if_else(pc.equal(strings, ""), pa.scalar(None, pa.string()), strings)
    try:  # Arrow's cast accepts exactly what DECIMAL matches: the pattern only for columns with non-numbers
        numbers = pc.cast(strings, pa.float64())
    except pa.ArrowInvalid:
        numeric = pc.match_substring_regex(strings, DECIMAL, ignore_case=True)
        numbers = pc.cast(pc.if_else(numeric, strings, pa.scalar(None, pa.string())), pa.float64())
    return numbers.to_numpy(zero_copy_only=False).astype(float, copy=True)  # writable, NaN where null
