"""``odgeo scan``: the prospective space-time permutation scan (SaTScan's model)."""

from __future__ import annotations

import click

from odgeo import defaults
from odgeo.vocabulary import LOCATION_KINDS

from .options import (
    FiniteFloat,
    IncidentSource,
    config_option,
    input_options,
    map_options,
    output_options,
    progress_printer,
    reference_options,
    refuse_point_options,
    settings_from,
)


@click.command()
@click.argument("input_path", metavar="INPUT", type=IncidentSource())
@output_options
@click.option("--as-of", metavar="DATE", help="Last day of the study window (default: the latest incident's day).")
@click.option("--window-days", type=click.IntRange(2, 3660), metavar="DAYS",
              help=f"Study window (default {defaults.WINDOW_DAYS}).")
@click.option("--max-days", type=click.IntRange(1, 3660), metavar="DAYS",
              help=f"Longest cluster in days (default {defaults.MAX_DAYS}).")
@click.option("--max-radius", "max_radius_m", type=FiniteFloat(1, 100_000), metavar="METRES",
              help=f"Largest circle (default {defaults.MAX_RADIUS_M}: 0.75 mile, Baltimore's Project SOON).")
@click.option("--min-cases", type=click.IntRange(1, 10_000), metavar="N",
              help=f"Fewest cases in a cluster (default {defaults.MIN_CASES}).")
@click.option("--permutations", type=click.IntRange(9, 99_999), metavar="N",
              help=f"Monte Carlo replications (default {defaults.SCAN_PERMUTATIONS}; p-values go down to 1/(N+1)).")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), metavar="N",
              help=f"Seed of the permutations (default {defaults.SEED}).")
@click.option("--report-p", type=FiniteFloat(0.0001, 1), metavar="P",
              help=f"Largest p-value reported (default {defaults.REPORT_P}, what SOON shows outreach; spikes are "
                   "p < 0.05).")
@click.option("--retrospective", is_flag=True, default=None,
              help="Clusters anywhere in the window (default: prospective, still going on the last day).")
@click.option("--locations", type=click.Choice(LOCATION_KINDS),
              help="Case locations: distinct incident coordinates (default) or H3 cell centres.")
@click.option("--location-resolution", type=click.IntRange(0, 15), metavar="RES",
              help=f"H3 resolution of --locations h3 (default {defaults.HEX_RESOLUTION}).")
@click.option("--export-satscan", type=click.Path(file_okay=False), metavar="DIR",
              help="Also write the analysis as SaTScan input (.cas, .geo, .prm) into DIR (--audience restricted).")
@input_options
@reference_options
@map_options
@config_option
@click.pass_context
def scan(ctx: click.Context, input_path: str, out_dir: str, overwrite: bool, **options) -> None:
    """Space-time clusters: Kulldorff's permutation scan (SaTScan's model), judged by Monte Carlo.

    Circles around every incident location, up to --max-radius, times the last
    1 to --max-days days of the study window: a cluster has more incidents than
    the window's own space and time margins lead to expect. Its p-value ranks it
    among --permutations data sets with the days shuffled; the recurrence
    interval (1/p days) says how often a daily run would see one this strong by
    chance.

    \b
    Writes into --out:
      scan_clusters.csv      one row per cluster, most likely first (p <= --report-p)
      scan_clusters.geojson  the same as circles (public: the H3 cells they cover)
      map.html               the clusters over the study window's hexagons
      rejects.csv, run.json  (incidents before the window are rejects before_window)

    \b
    Examples:
      odgeo scan ems.csv --out scan/ --timezone America/Phoenix --audience restricted
      odgeo scan ems.csv --out scan/ --as-of 2025-06-30 --max-radius 800 --report-p 0.05
      odgeo scan ems.csv --out scan/ --audience restricted --export-satscan satscan-check/
    """
    from pathlib import Path

    from odgeo.jobs.scan import ScanJobSettings, run_scan

    refuse_point_options(options, "scan")
    settings = settings_from(ScanJobSettings, options)
    run = run_scan(input_path, out_dir, settings, overwrite=overwrite, progress=progress_printer(ctx))
    out = Path(out_dir)
    section = run.result.settings
    click.echo(f"Map: {out / 'map.html'}")
    click.echo(f"Incidents: {run.rows.line()} (reasons in {out / 'rejects.csv'})")
    click.echo(f"Study window {run.first_day:%Y-%m-%d} to {run.record.parameters['as_of'].value}"
               f": {section['n_locations']:,} locations, {section['n_zones']:,} circles, "
               f"{section['n_time_windows']} time windows, {section['permutations']:,} permutations")
    n = len(run.files)
    click.echo(f"{n} cluster{'' if n == 1 else 's'} with p <= {section['report_p']:g}" + (":" if n else ""))
    for row in run.files.itertuples():
        click.echo(f"  {row.cluster_id}. {row.sentence}")
    if settings.export_satscan:
        click.echo(f"SaTScan input: {Path(settings.export_satscan) / 'odgeo.prm'} (with odgeo.cas, odgeo.geo)")
    click.echo(f"Every setting and count: {out / 'run.json'}")
