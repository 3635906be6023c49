"""The main job: incidents to H3 counts, density, hot spots, clusters, map and run record.

:func:`run_hotspots` is what ``odgeo hotspots`` calls; :func:`analyse_hotspots`
does the analysis without writing, and :func:`write_hotspot_products` writes a
result into a folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..io.geopackage import write_geopackage
from ..io.outputs import OutputFolder
from ..io.writers import write_csv, write_density_geotiff, write_geojson
from ..maps.image import write_map_png
from ..maps.qgis import qgis_layers
from .common import run_job, save_map_and_record
from .hotspot_analysis import HotspotResult, HotspotSettings, analyse_hotspots, main_layers

__all__ = [
    "PRODUCT_FILES",
    "HotspotResult",
    "HotspotSettings",
    "analyse_hotspots",
    "run_hotspots",
    "write_hotspot_products",
]

PRODUCT_FILES = ("map.html", "map.png", "hexes.geojson", "gistar.geojson", "density.tif", "hotspots.geojson",
                 "clusters.geojson", "rejects.csv", "odgeo.gpkg", "log.txt", "run.json")


def run_hotspots(
    path: str | Path,
    out_dir: str | Path,
    settings: HotspotSettings | None = None,
    *,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
) -> HotspotResult:
    """Read ``path``, analyse it and write every product into ``out_dir``.

    Parameters
    ----------
    path
        The incident file.
    out_dir
        The output folder (checked, locked and written aside before anything else).
    settings
        Every setting (see :class:`HotspotSettings`).
    overwrite
        Replace a non-empty ``out_dir`` as a whole.
    progress
        Called with a few words before each step.

    Returns
    -------
    HotspotResult
        What was computed and written.

    Raises
    ------
    OutputExistsError
        If ``out_dir`` holds files and ``overwrite`` is False (checked first).
    OutputError
        If ``out_dir`` cannot be created or written (checked first), or the disk fills
        while writing; ``out_dir`` is then as it was.
    """
    settings = settings or HotspotSettings()
    return run_job("hotspots", path, out_dir, settings, overwrite=overwrite, progress=progress, parts=True,
                   analyse=lambda read, **kw: analyse_hotspots(read, settings, **kw), write=_write_products)


def write_hotspot_products(result: HotspotResult, out_dir: str | Path, *, overwrite: bool = False) -> list[Path]:
    """Write the products of :func:`analyse_hotspots` into ``out_dir``; return their paths.

    Only ``result.products`` is written (see :mod:`odgeo.publish.restricted`); for the
    public audience ``rejects.csv`` carries no incident ids.

    Parameters
    ----------
    result
        From :func:`analyse_hotspots`.
    out_dir
        The output folder, written aside and swapped in when complete.
    overwrite
        Replace a non-empty ``out_dir`` as a whole.

    Returns
    -------
    list of pathlib.Path
        The files written, run.json last.
    """
    with OutputFolder(out_dir, overwrite=overwrite) as folder:
        return _write_products(result, folder)


def _write_products(result: HotspotResult, folder: OutputFolder) -> list[Path]:
    with result.record.timed("write"):
        products = result.products
        written = [
            write_geojson(products.hexes, folder.path("hexes.geojson")),
            write_density_geotiff(main_layers(products)[1], folder.path("density.tif")),
            write_geojson(products.hotspots, folder.path("hotspots.geojson")),
            write_geojson(products.clusters, folder.path("clusters.geojson")),
            write_csv(result.gate.rejects(result.read.rejects, result.gate.totals(result.rows.as_record())),
                      folder.path("rejects.csv")),
        ]
        written.append(write_map_png(products, folder.path("map.png"), **result.map_caption))
        layers, styles = qgis_layers(products, result.map_caption.get("classes", "quantiles"))
        written.append(write_geopackage(layers, styles, folder.path("odgeo.gpkg")))  # every layer, styled for QGIS
        if products.areas is not None:
            written.append(write_geojson(products.areas, folder.path("areas.geojson")))
        if products.gistar is not None:
            written.append(write_geojson(products.gistar, folder.path("gistar.geojson")))
    return save_map_and_record(result.map, result.record, folder, written, result.gate)
