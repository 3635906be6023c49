"""``odgeo emerging``: new, intensifying, persistent ... hot spots over time."""

from __future__ import annotations

import click

from odgeo import defaults
from odgeo.vocabulary import STEPS, plural

from .options import (
    IncidentSource,
    config_option,
    gistar_options,
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
@click.option("--step", type=click.Choice(STEPS),
              help="Time step (default auto: months when there are at least 10, else weeks).")
@click.option("--resolution", type=click.IntRange(0, 15),
              help=f"H3 resolution of the cells (default {defaults.HEX_RESOLUTION}).")
@click.option("--time-window", type=click.IntRange(0), metavar="N",
              help=f"Earlier time steps in a bin's neighbourhood (default {defaults.TIME_WINDOW}).")
@gistar_options
@input_options
@reference_options
@map_options
@config_option
@click.pass_context
def emerging(ctx: click.Context, input_path: str, out_dir: str, overwrite: bool, **options) -> None:
    """Classify each H3 cell's hot or cold spot over time (emerging hot spot analysis).

    Space-time Getis-Ord Gi* per cell and time step, a Mann-Kendall trend on
    each cell's z-scores, and ArcGIS's categories: new, consecutive,
    intensifying, persistent, diminishing, sporadic, oscillating and
    historical hot (or cold) spots, or no pattern detected.

    \b
    Writes into --out:
      emerging.geojson  h3_cell, category, mk_tau, mk_p, n_steps_hot, n_steps_cold
                        (restricted adds each cell's count)
      map.html          the categories on a map (works offline)
      rejects.csv       every row left out, with the reason
      run.json          every setting, the step, counts per category

    \b
    Examples:
      odgeo emerging incidents.csv --out emerging/ --timezone America/Chicago
      odgeo emerging ems.csv --out emerging/ --step week --since 2025-01-01 --gi-distance 800
    """
    from odgeo.jobs.emerging import EmergingSettings, run_emerging

    refuse_point_options(options, "emerging")
    settings = settings_from(EmergingSettings, options)
    progress = progress_printer(ctx)
    run = run_emerging(input_path, out_dir, settings, overwrite=overwrite, progress=progress)
    from pathlib import Path

    out = Path(out_dir)
    info = run.record.sections["emerging"]
    click.echo(f"Map: {out / 'map.html'}")
    click.echo(f"Incidents: {run.rows.line()} (reasons in {out / 'rejects.csv'})")
    click.echo(f"Cube: {info['n_cells']} cells x {info['n_steps']} {info['step']}s "
               f"({info['first_step']} to {info['last_step']})")
    categories = info["categories"]
    if run.audience == "public":  # what was written, not the restricted analysis behind it
        categories = run.layer["category"].value_counts().to_dict()
        click.echo(f"Published: {plural(len(run.layer), 'area')} (cells merged until each holds "
                   f"{run.gate.limit}); --audience restricted shows each of the {info['n_cells']} cells")
    for category, n in categories.items():
        click.echo(f"  {category}: {n}")
    click.echo(f"Every setting and count: {out / 'run.json'}")
