"""GeoJSON geometry text built by Arrow, the same characters as ``json.dumps`` of the geometry.

Writing 26,000 hexagons through Python's json meant 360,000 float objects parsed from GEOS's
text and written again (GEOS gives 17 digits, 38.288137999999996, where Python writes the
shortest text, 38.288138). Here the numbers and brackets are joined by Arrow instead, for
geometries of one type; anything else takes the json route (:func:`geometry_texts` says None).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely

__all__ = ["float_texts", "geometry_texts"]

_NAMES = {shapely.GeometryType.POINT: "Point", shapely.GeometryType.LINESTRING: "LineString",
          shapely.GeometryType.POLYGON: "Polygon", shapely.GeometryType.MULTIPOINT: "MultiPoint",
          shapely.GeometryType.MULTILINESTRING: "MultiLineString",
          shapely.GeometryType.MULTIPOLYGON: "MultiPolygon"}
# Where Arrow and Python both write shortest digits positionally (outside it Arrow writes 1e-05 as
# 0.00001 and 358645555533.4058 as 3.586455555334058e+11; Python exponents below 1e-4 only).
_POSITIONAL = (1e-4, 1e9)


def float_texts(values: np.ndarray) -> pa.Array:
    """Finite floats as Python's ``repr`` writes them (so as ``json.dumps`` does), joined by Arrow.

    Arrow's cast writes the same shortest digits but "38" for 38.0 and positional text where Python
    uses an exponent: those get ".0", and values outside [1e-4, 1e9) are written by ``repr`` (degrees never are).
    """
    values = np.asarray(values, dtype=np.float64)
    text = pc.cast(pa.array(values), pa.string())
    whole = pc.invert(pc.match_substring_regex(text, r"[.en]"))
    text = pc.if_else(whole, pc.binary_join_element_wise(text, ".0", ""), text)
    size = np.abs(values)
    odd = np.flatnonzero((values != 0) & ((size < _POSITIONAL[0]) | (size >= _POSITIONAL[1])))
    if odd.size:
        out = text.to_numpy(zero_copy_only=False).astype(object)
        out[odd] = [repr(float(v)) for v in values[odd]]
        text = pa.array(out, type=pa.string())
    return text


def geometry_texts(geoms: np.ndarray, *, decimals: int) -> list[str] | None:
    """Each geometry's GeoJSON text as ``json.dumps(mapping, separators=(",", ":"))`` writes it.

    Coordinates are rounded by ``np.round`` to ``decimals`` first. None unless every geometry
    is present, non-empty, 2D, finite and of one type (a mix of Polygon and MultiPolygon would
    come out of Arrow's ragged form all MultiPolygon).
    """
    geoms = np.asarray(geoms, dtype=object)
    if not len(geoms) or shapely.is_missing(geoms).any() or shapely.is_empty(geoms).any():
        return None
    kinds = shapely.get_type_id(geoms)
    kind = shapely.GeometryType(int(kinds[0]))
    if (kinds != kinds[0]).any() or kind not in _NAMES or shapely.has_z(geoms).any():
        return None
    _, coords, offsets = shapely.to_ragged_array(geoms)
    coords = np.round(coords, decimals)
    if not np.isfinite(coords).all():
        return None  # json writes NaN and Infinity as such: left to it
    x, y = float_texts(coords[:, 0]), float_texts(coords[:, 1])
    text = pc.binary_join_element_wise("[", x, ",", y, "]", "")
    for level in offsets:  # innermost first: rings, then polygons, then multipolygons
        nested = pa.ListArray.from_arrays(pa.array(level, type=pa.int32()), text)
        text = pc.binary_join_element_wise("[", pc.binary_join(nested, ","), "]", "")
    prefix = '{"type":"' + _NAMES[kind] + '","coordinates":'
    return pc.binary_join_element_wise(prefix, text, "}", "").to_pylist()
