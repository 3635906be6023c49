"""odgeo.gpkg: every layer of a run in one GeoPackage, each with a QGIS style as its default.

QGIS reads a GeoPackage's ``layer_styles`` table (the one it writes with "Save style ... in
database") and draws each layer with the style marked ``useAsDefault``: the hexagons in the
map's classes and colours, hot spots and clusters outlined as on the map. Month columns are
renamed ``m2024_01`` (a field name starting with a digit must be quoted in every QGIS
expression); :func:`column_of_field` gives the product's name back.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from xml.sax.saxutils import quoteattr

import geopandas as gpd

__all__ = ["GPKG_DATE", "column_of_field", "field_of_column", "write_geopackage"]

#: GeoPackages record when they were written; a fixed date makes identical inputs give identical bytes.
GPKG_DATE = "2000-01-01T00:00:00.000Z"
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_FIELD = re.compile(r"^m(\d{4})_(\d{2})$")

_STYLES_TABLE = """CREATE TABLE layer_styles (
    id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT(256), f_table_schema TEXT(256),
    f_table_name TEXT(256), f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT, styleSLD TEXT,
    useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30), update_time DATETIME)"""


def field_of_column(column: str) -> str:
    """A product column as a GeoPackage field QGIS handles: "2024-01" -> "m2024_01"; others as they are."""
    match = _MONTH.match(str(column))
    return f"m{match.group(1)}_{match.group(2)}" if match else str(column)


def column_of_field(field: str) -> str:
    """The inverse of :func:`field_of_column`."""
    match = _FIELD.match(str(field))
    return f"{match.group(1)}-{match.group(2)}" if match else str(field)


def write_geopackage(layers: dict[str, gpd.GeoDataFrame], styles: dict[str, str], path: Path) -> Path:
    """Write ``layers`` (name -> frame, EPSG:4326) into one GeoPackage with ``styles`` (name -> QML) as defaults.

    Parameters
    ----------
    layers
        The layers, in the order QGIS lists them (at least one; an empty one is written empty).
    styles
        A QGIS style (QML text) per layer name.
    path
        Where to write (a new file).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    import pyogrio

    before = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": GPKG_DATE})
    written: list[str] = []
    try:
        for name, frame in layers.items():
            if frame is None:
                continue
            renamed = frame.rename(columns={c: field_of_column(c) for c in frame.columns if c != "geometry"})
            pyogrio.write_dataframe(renamed, path, driver="GPKG", layer=name, append=bool(written),
                                    geometry_type=None if len(frame) else "Unknown")  # an empty layer says "none"
            written.append(name)
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": before})
    if not written:
        raise ValueError("write_geopackage needs at least one layer")  # a caller's error: no file to style
    with sqlite3.connect(path) as con:
        con.execute(_STYLES_TABLE)
        con.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, last_change) "
                    "VALUES ('layer_styles', 'attributes', 'layer_styles', ?)", (GPKG_DATE,))
        for name in written:
            if name in styles:
                con.execute("INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
                            "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, owner, "
                            "ui, update_time) VALUES ('', '', ?, 'geom', ?, ?, '', 1, ?, '', '', ?)",
                            (name, name, styles[name], f"odgeo's style of {name}", GPKG_DATE))
    con.close()
    return path


def graduated_fill_qml(field: str, bounds: list[tuple[float, float, str]], colours: list[str]) -> str:
    """A QGIS graduated fill style on ``field``: (lower, upper, label) per class, one colour each."""
    ranges = "".join(f"<range lower={quoteattr(repr(float(lo)))} upper={quoteattr(repr(float(hi)))} "
                     f"symbol=\"{i}\" label={quoteattr(label)} render=\"true\"/>"
                     for i, (lo, hi, label) in enumerate(bounds))
    symbols = "".join(_fill_symbol(str(i), colour, "#555555", 0.15, "solid") for i, colour in enumerate(colours))
    return _qml(f"<renderer-v2 type=\"graduatedSymbol\" attr={quoteattr(field)} graduatedMethod=\"GraduatedColor\" "
                f"symbollevels=\"0\" enableorderby=\"0\" forceraster=\"0\"><ranges>{ranges}</ranges>"
                f"<symbols>{symbols}</symbols></renderer-v2>")


def categorized_fill_qml(field: str, categories: list[tuple[object, str, str]]) -> str:
    """A QGIS categorized fill style on ``field``: (value, label, colour) per category."""
    cats = "".join(f"<category value={quoteattr(str(v))} symbol=\"{i}\" label={quoteattr(label)} render=\"true\"/>"
                   for i, (v, label, _) in enumerate(categories))
    symbols = "".join(_fill_symbol(str(i), colour, "#777777", 0.1, "solid")
                      for i, (_, _, colour) in enumerate(categories))
    return _qml(f"<renderer-v2 type=\"categorizedSymbol\" attr={quoteattr(field)} symbollevels=\"0\" "
                f"enableorderby=\"0\" forceraster=\"0\"><categories>{cats}</categories>"
                f"<symbols>{symbols}</symbols></renderer-v2>")


def outline_qml(colour: str, width_mm: float, dashed: bool = False) -> str:
    """A QGIS style drawing polygons as outlines only (hot spots, clusters, boundaries)."""
    symbol = _fill_symbol("0", None, colour, width_mm, "dash" if dashed else "solid")
    return _qml(f"<renderer-v2 type=\"singleSymbol\" symbollevels=\"0\" enableorderby=\"0\" forceraster=\"0\">"
                f"<symbols>{symbol}</symbols></renderer-v2>")


def points_qml(colour: str) -> str:
    """A QGIS style for incident points: small circles."""
    layer = (f"<layer class=\"SimpleMarker\" enabled=\"1\" locked=\"0\" pass=\"0\"><Option type=\"Map\">"
             f"{_option('name', 'circle')}{_option('color', _rgba(colour))}{_option('size', '1.6')}"
             f"{_option('outline_color', '255,255,255,255')}{_option('outline_width', '0.2')}</Option></layer>")
    symbol = f"<symbol type=\"marker\" name=\"0\" alpha=\"0.9\" clip_to_extent=\"1\" force_rhr=\"0\">{layer}</symbol>"
    return _qml(f"<renderer-v2 type=\"singleSymbol\" symbollevels=\"0\" enableorderby=\"0\" forceraster=\"0\">"
                f"<symbols>{symbol}</symbols></renderer-v2>")


def _fill_symbol(name: str, fill: str | None, outline: str, width_mm: float, line_style: str) -> str:
    options = (_option("color", _rgba(fill) if fill else "0,0,0,0") + _option("style", "solid" if fill else "no")
               + _option("outline_color", _rgba(outline)) + _option("outline_width", f"{width_mm:g}")
               + _option("outline_width_unit", "MM") + _option("outline_style", line_style))
    return (f"<symbol type=\"fill\" name={quoteattr(name)} alpha=\"{0.85 if fill else 1}\" clip_to_extent=\"1\" "
            f"force_rhr=\"0\"><layer class=\"SimpleFill\" enabled=\"1\" locked=\"0\" pass=\"0\">"
            f"<Option type=\"Map\">{options}</Option></layer></symbol>")


def _option(name: str, value: str) -> str:
    return f"<Option name={quoteattr(name)} type=\"QString\" value={quoteattr(value)}/>"


def _rgba(colour: str) -> str:
    colour = colour.lstrip("#")
    return ",".join(str(int(colour[i:i + 2], 16)) for i in (0, 2, 4)) + ",255"


def _qml(renderer: str) -> str:
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            f"<qgis version=\"3.28.0\" styleCategories=\"Symbology\">{renderer}</qgis>\n")
