"""The text of a product file, as :mod:`odgeo.publish.leakscan` reads it (PDF, GeoTIFF, GeoPackage, PNG, text)."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["product_text"]


def product_text(path: Path) -> str:
    """The text a product holds, as the leak scanner reads it.

    A PDF's text, a GeoTIFF's bounds, tags and descriptions, a GeoPackage's layers as GeoJSON and
    its styles, a PNG's text chunks; run.json without the user's own date settings; any other file
    as UTF-8.
    """
    if path.suffix.lower() == ".pdf":
        from ..io.pdf import pdf_text

        return pdf_text(path)
    if path.suffix.lower() in (".tif", ".tiff"):
        return _geotiff_text(path)
    if path.suffix.lower() == ".gpkg":
        return _geopackage_text(path)
    if path.suffix.lower() == ".png":
        from PIL import Image

        with Image.open(path) as image:  # pixels hold no numbers; its text chunks might
            return json.dumps(getattr(image, "text", {}))
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.name == "run.json":
        doc = json.loads(text)
        if not isinstance(doc, dict):
            raise ValueError(f"run.json holds a JSON {type(doc).__name__}, not an object")
        for name in ("since", "until", "train_until"):  # the user's own dates, not data
            doc.get("parameters", {}).pop(name, None)
        text = json.dumps(doc)
    return text


def _geopackage_text(path: Path) -> str:
    """Each layer of a GeoPackage as a GeoJSON FeatureCollection, then its QGIS styles.

    The fields are named as the products name them: the layers are checked as the GeoJSON files are.
    """
    import sqlite3

    import pyogrio

    from ..io.geopackage import column_of_field

    parts = []
    for name, geometry_type in pyogrio.list_layers(path):
        frame = pyogrio.read_dataframe(path, layer=name)
        if geometry_type is None:  # an attribute table (layer_styles): its text is read below
            continue
        frame = frame.rename(columns={c: column_of_field(c) for c in frame.columns if c != "geometry"})
        parts.append(frame.to_json(drop_id=True))
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        if con.execute("SELECT 1 FROM sqlite_master WHERE name = 'layer_styles'").fetchone():
            parts += [qml for (qml,) in con.execute("SELECT styleQML FROM layer_styles")]
    con.close()
    return "\n".join(parts)


def _geotiff_text(path: Path) -> str:
    """Bounds (in degrees and in the file's CRS), tags and descriptions of a GeoTIFF."""
    import rasterio
    from rasterio.warp import transform_bounds

    with rasterio.open(path) as src:
        parts = [json.dumps(src.tags()), str(src.descriptions), str(list(src.bounds))]
        if src.crs is not None:
            parts.append(str(list(transform_bounds(src.crs, "EPSG:4326", *src.bounds))))
    return "\n".join(parts)
