"""GeoJSON written by Arrow's text is the text Python's json writes of the same features."""

from __future__ import annotations

import json
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from odgeo.io.geojson_text import float_texts, geometry_texts
from odgeo.io.writers import write_geojson


def _json_geometry(geom, decimals=6) -> str:
    """The reference: the rounded geometry's mapping through json.dumps."""
    rounded = shapely.transform(geom, lambda c: np.round(c, decimals))
    return json.dumps(shapely.geometry.mapping(rounded), separators=(",", ":"))


@settings(max_examples=300)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=50))
def test_float_texts_are_pythons_repr(values):
    assert float_texts(np.array(values)).to_pylist() == [repr(float(v)) for v in values]


def test_float_texts_at_the_edges_of_arrows_positional_range():
    values = np.array([0.0, -0.0, 38.0, -180.0, 1e-4, 9.999e-5, 1e-5, 1.5e-7, 1e9, 999999999.5, 358645555533.4058,
                       1e15, 1e16, 123456.5, 5e-324])
    assert float_texts(values).to_pylist() == [repr(float(v)) for v in values]


def _polygon(rng, centre, holes=0):
    ring = centre + rng.uniform(0.001, 0.01) * np.c_[np.cos(np.linspace(0, 6, 7)), np.sin(np.linspace(0, 6, 7))]
    inner = [centre + 0.0005 * k + 0.0002 * np.c_[np.cos(np.linspace(0, 6, 5)), np.sin(np.linspace(0, 6, 5))]
             for k in range(holes)]
    return shapely.Polygon(ring, inner)


def _geometries(kind: str, rng) -> list:
    centres = np.c_[rng.uniform(-180, 180, 40), rng.uniform(-85, 85, 40)]
    if kind == "Point":
        return [shapely.Point(c) for c in centres]
    if kind == "LineString":
        return [shapely.LineString([c, c + rng.uniform(-1, 1, 2), c + 0.5]) for c in centres]
    if kind == "Polygon":
        return [_polygon(rng, c, holes=int(rng.integers(0, 3))) for c in centres]
    if kind == "MultiPoint":
        return [shapely.MultiPoint([c, c + 0.1]) for c in centres]
    if kind == "MultiLineString":
        return [shapely.MultiLineString([[c, c + 1], [c + 2, c + 3, c + 4]]) for c in centres]
    return [shapely.MultiPolygon([_polygon(rng, c, 1), _polygon(rng, c + 0.5)]) for c in centres]


@pytest.mark.parametrize("kind", ["Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon"])
def test_geometry_texts_are_jsons_text(kind):
    geoms = np.array(_geometries(kind, np.random.default_rng(3)), dtype=object)
    texts = geometry_texts(geoms, decimals=6)
    assert texts == [_json_geometry(g) for g in geoms]
    assert all(f'"type":"{kind}"' in t for t in texts)


@pytest.mark.parametrize("geoms", [
    [shapely.Point(0, 1), shapely.LineString([(0, 0), (1, 1)])],  # two types
    [shapely.Polygon([(0, 0), (1, 0), (1, 1)]), shapely.MultiPolygon([shapely.Polygon([(0, 0), (1, 0), (1, 1)])])],
    [shapely.Point(0, 1), None],
    [shapely.Point(0, 1), shapely.Point()],
    [shapely.Point(0, 1, 2)],
    [shapely.Point(0, float("nan"))],
    [],
], ids=["mixed", "polygon-and-multi", "missing", "empty", "3d", "nan", "none"])
def test_geometry_texts_leave_the_rest_to_json(geoms):
    assert geometry_texts(np.array(geoms, dtype=object), decimals=6) is None


def _reference_geojson(frame: gpd.GeoDataFrame) -> str:
    """What write_geojson wrote before Arrow made the geometries: json of every feature."""
    features = []
    for row, geom in zip(frame.drop(columns="geometry").to_dict(orient="records"), frame.geometry):
        props = {k: (None if v is None or v is pd.NA or (isinstance(v, float) and not math.isfinite(v))
                     else round(float(v), 6) if isinstance(v, (float, np.floating))
                     else int(v) if isinstance(v, (np.integer, int)) and not isinstance(v, bool) else v)
                 for k, v in row.items()}
        features.append({"type": "Feature", "properties": props,
                         "geometry": json.loads(_json_geometry(geom)) if geom is not None else None})
    return json.dumps({"type": "FeatureCollection", "features": features}, separators=(",", ":"),
                      ensure_ascii=False) + "\n"


@pytest.mark.parametrize("name", ["plain", "marker-in-a-property", "mixed-types"])
def test_write_geojson_is_the_json_text(tmp_path, name):
    rng = np.random.default_rng(5)
    geoms = _geometries("Polygon", rng)[:6]
    if name == "mixed-types":
        geoms[2] = shapely.MultiPolygon([geoms[2], geoms[3]])
    label = ["a", "b\x00odgeo-geometry\x00" if name == "marker-in-a-property" else "é", None, "d", "e", "f"]
    frame = gpd.GeoDataFrame({
        "count": np.arange(6, dtype=np.int64), "share": [0.1234567, float("nan"), 1.0, 2.5, -0.0, 1e-7],
        "label": label, "flag": [True, False, True, True, False, False],
        "n": pd.array([1, None, 3, 4, 5, 6], dtype="Int64"),
    }, geometry=geoms, crs="EPSG:4326")
    path = write_geojson(frame, tmp_path / "x.geojson")
    assert path.read_text(encoding="utf-8") == _reference_geojson(frame)
