"""``odgeo hotspots``: the main job, from an incident file to a map."""

from __future__ import annotations

import click

from odgeo import defaults
from odgeo.vocabulary import CLASSIFIERS, CLUSTER_METHODS, KERNELS, METHODS, PERIODS, plural

from .options import (
    FiniteFloat,
    IncidentSource,
    Metres,
    config_option,
    engine_options,
    gistar_options,
    input_options,
    map_options,
    output_options,
    progress_printer,
    reference_options,
    settings_from,
)


@click.command()
@click.argument("input_path", metavar="INPUT", type=IncidentSource(parts=True))
@output_options
@click.option("--resolution", type=click.IntRange(0, 15),
              help=f"H3 resolution of the hex counts (default {defaults.HEX_RESOLUTION}, ~0.74 km²; 7 for counties).")
@click.option("--period", type=click.Choice(PERIODS),
              help=f"Time breakdown columns in hexes.geojson (default {defaults.PERIOD}).")
@click.option("--by-drug", metavar="GROUP,GROUP",
              help="A hexes.geojson column per drug group of the suspected-drug column (drug_fentanyl ...): "
                   "its incidents; public only where it and the rest of the count are both at least --min-count.")
@click.option("--bandwidth", "bandwidth_m", type=Metres(allow_auto=True), metavar="METRES|auto",
              help="Kernel radius in metres, or auto (default: ArcGIS spatial Silverman rule).")
@click.option("--cell-size", "cell_size_m", type=Metres(), metavar="METRES",
              help="Density cell size (default: extent / 250, at most bandwidth / 2).")
@click.option("--kernel", type=click.Choice(KERNELS),
              help=f"Density kernel (default {defaults.KERNEL}, as ArcGIS and QGIS).")
@click.option("--percentile", type=FiniteFloat(0, 100, min_open=True, max_open=True),
              help=f"Hot spots are cells above this percentile of non-zero density (default {defaults.PERCENTILE}).")
@click.option("--cluster-method", type=click.Choice(CLUSTER_METHODS),
              help="dbscan (places, the default), st-dbscan (places and days: --eps and --eps-days), or hdbscan "
                   "(no distance to choose: --min-cluster-size).")
@click.option("--eps", "eps_m", type=Metres(), metavar="METRES",
              help=f"DBSCAN search distance (default {defaults.EPS_M}).")
@click.option("--eps-days", type=FiniteFloat(0.001, 3660), metavar="DAYS",
              help=f"ST-DBSCAN time distance in days, decimals allowed (default {defaults.EPS_DAYS}).")
@click.option("--min-cluster-size", type=click.IntRange(2), metavar="N",
              help="HDBSCAN's smallest cluster (default: --min-samples).")
@click.option("--min-samples", type=click.IntRange(1), help="DBSCAN minimum incidents within --eps, itself "
                                                            "included "
                                                            f"(default {defaults.MIN_SAMPLES}).")
@click.option("--stack-min", type=click.IntRange(2), help="Incidents at one exact point flagged as a possible "
                                                          "geocoding artefact "
                                                          f"(default {defaults.STACK_MIN}).")
@input_options
@click.option("--classes", type=click.Choice(CLASSIFIERS),
              help=f"Colour classes of the hexagon counts (default {defaults.CLASSES}).")
@click.option("--method", type=click.Choice(METHODS),
              help="Gi* scale: fixed (default: --gi-resolution with --gi-rings or --gi-distance) or "
                   "optimized (resolution and distance chosen from the data; decisions printed and in run.json).")
@click.option("--gi-resolution", type=click.IntRange(0, 15),
              help="H3 resolution of the Gi* cells (default: one finer than --resolution).")
@click.option("--permutations", type=click.IntRange(0), metavar="N",
              help=f"Conditional permutations for Gi* pseudo p-values (default {defaults.GI_PERMUTATIONS}: analytic); "
                   "e.g. 999.")
@click.option("--seed", type=click.IntRange(0), help=f"Seed of --permutations (default {defaults.SEED}).")
@gistar_options
@reference_options
@map_options
@click.option("--boundaries", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="Polygons (neighbourhoods, tracts) to count incidents in; rates per 10,000 when they "
                   "have a population column. Drawn with their names; writes areas.geojson.")
@click.option("--boundary-name-col", metavar="COL", help="Name column of --boundaries (default: detected).")
@click.option("--boundary-population-col", metavar="COL",
              help="Population column of --boundaries (default: detected, e.g. population, POP100).")
@click.option("--dissolve-boundaries", is_flag=True, default=None,
              help="Count the polygons of --boundaries that share a name (a district in several parts) as one "
                   "area, its population their sum. Needed with --ledger when names repeat.")
@click.option("--ledger", type=click.Path(dir_okay=False), metavar="FILE",
              help="Public: a release ledger shared by every release of a series (daily, weekly, monthly); "
                   "created by the first. Keeps the earlier areas and holds back changes under --min-count, so "
                   "releases cannot be differenced. Keep it private, outside --out (see docs/privacy.md).")
@engine_options
@config_option
@click.pass_context
def hotspots(ctx: click.Context, input_path: str, out_dir: str, overwrite: bool, **options) -> None:
    """Count, smooth and cluster incidents; write a map and its data.

    INPUT is a CSV (any common delimiter and encoding), GeoJSON, GeoPackage,
    Shapefile or GeoParquet of incidents, or a PostgreSQL URL with --table or
    --sql (docs/postgis.md); with --engine dask also a folder of such files
    (a Parquet dataset) or a quoted glob (docs/dask.md). Columns are found by
    name; override them with --lon-col, --lat-col, --date-col, --id-col.

    The products are for --audience public unless told otherwise: aggregates
    only, no area with fewer than --min-count incidents (docs/privacy.md).

    \b
    Writes into --out:
      map.html          the map (open it in a browser)
      hexes.geojson     counts per H3 hexagon, by outcome and by month (and by drug: --by-drug)
      density.tif       kernel density, incidents per km² (GeoTIFF)
      hotspots.geojson  areas above the density percentile
      gistar.geojson    Getis-Ord Gi* per H3 cell (public: the confidence bin only)
      clusters.geojson  DBSCAN / ST-DBSCAN / HDBSCAN clusters (possible geocoding artefacts flagged)
      rejects.csv       every row left out, with the reason
      run.json          every parameter with its reason, counts, versions

    \b
    Examples:
      odgeo hotspots incidents.csv --out results/
      odgeo hotspots ems.csv --out results/ --bandwidth 400 --since 2024-01-01 \\
          --timezone America/Phoenix --lon-col X --lat-col Y
      odgeo hotspots ems.csv --out results/ --config settings.toml
      odgeo hotspots ems.csv --out team/ --audience restricted --mask-points 50,300
      odgeo hotspots ems.csv --out results/ --boundaries tracts.gpkg --tiles none
      odgeo hotspots postgresql://analyst@db/surveillance --table ems.calls \\
          --out results/ --to-postgis postgresql://analyst@db/surveillance
      odgeo hotspots 'exports/ems-*.csv' --engine dask --workers 4 --out state/
      odgeo hotspots ems_parquet/ --engine dask --scheduler tcp://10.0.0.5:8786 --out state/
    """
    from odgeo.jobs.hotspots import HotspotSettings, run_hotspots

    settings = settings_from(HotspotSettings, options)
    progress = progress_printer(ctx)
    result = run_hotspots(input_path, out_dir, settings, overwrite=overwrite, progress=progress)
    _summary(result, out_dir)


def _summary(result, out_dir: str) -> None:
    from pathlib import Path

    out = Path(out_dir)
    products = result.products
    n_art = int(products.clusters["possible_artefact"].sum()) if len(products.clusters) else 0
    click.echo(f"Map: {out / 'map.html'}")
    geocoding = result.record.sections.get("geocoding")
    if geocoding:
        statuses = ", ".join(f"{n} {s}" for s, n in geocoding["by_status"].items() if n)
        click.echo(f"Geocoded {geocoding['n']} addresses offline: {statuses}; {geocoding['n_located']} used "
                   f"(score >= {geocoding['min_score']:g})")
    click.echo(f"Incidents: {result.rows.line()} (reasons in {out / 'rejects.csv'})")
    click.echo(f"Found: {plural(len(result.hotspots), 'hot spot')}, {plural(len(result.clusters), 'cluster')}"
               + (f" ({n_art} shown flagged as a possible geocoding artefact)" if n_art else ""))
    gi = products.gistar
    if gi is not None and len(gi):
        click.echo(f"Gi* (as published): {int((gi['gi_bin'] == 3).sum())} cells hot at 99% confidence, "
                   f"{int((gi['gi_bin'] == -3).sum())} cold, of {len(gi)} cells")
    for step in result.record.sections.get("decisions", []):
        click.echo(f"  decision: {step['decision']}")
    click.echo(_privacy_line(products, result.gate.totals(result.rows.as_record()), result.rows.n_used))
    click.echo(f"Every setting and count: {out / 'run.json'}")


def _privacy_line(products, published: dict, n_used: int) -> str:
    """What was written for the audience; a public count that differs from the terminal's says why."""
    masked = products.privacy.get("geomask")
    how = f"; points displaced {masked['min_m']:g}-{masked['max_m']:g} m" if masked else ""
    held = published.get("n_used_in_published_areas")
    holding = (f" holding {held:,} of the {n_used:,} incidents used (the products say 'at least {held:,}')"
               if published.get("n_used") is None and held is not None else "")
    return (f"Audience: {products.audience_label}{how}: {plural(len(products.hexes), 'area')}{holding}, "
            f"{plural(len(products.hotspots), 'hot spot')} and {plural(len(products.clusters), 'cluster')} "
            "written")
