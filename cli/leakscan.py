"""``odgeo leakscan``: check a folder of public products against the incidents behind them."""

from __future__ import annotations

import click

from odgeo import defaults

from .options import column_options, columns_from


@click.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.argument("input_path", metavar="INCIDENTS", type=click.Path(exists=True, dir_okay=False))
@click.option("--min-count", type=click.IntRange(1), default=defaults.MIN_COUNT.value, show_default=True,
              help="The smallest count the products may show.")
@click.option("--timezone", metavar="TZ", help="Time zone of dates without an offset (as given to the run).")
@column_options
@click.option("--identifying-col", "identifying_cols", multiple=True, metavar="COL",
              help="Another column whose values must never appear (names, free text); repeat.")
@click.option("--study-area", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="The run's --study-area: no Gi* or emerging feature may lie outside it.")
@click.option("--previous", type=click.Path(exists=True, file_okay=False), metavar="DIR",
              help="The release before FOLDER: figures that changed by less than --min-count, and areas "
                   "that changed shape, give single incidents away by subtraction.")
def leakscan(folder: str, input_path: str, min_count: int, timezone: str | None,
             identifying_cols: tuple[str, ...], study_area: str | None, previous: str | None, **columns) -> None:
    """Scan every file in FOLDER for what public products must not hold.

    That is: incident locations, counts under --min-count, non-public
    properties, day-level dates and incident ids.

    Exits 1 when anything is found, listing each finding, so it can guard a
    publishing step in a script. Give the same column options as to the run.

    \b
    Example:
      odgeo hotspots ems.csv --out public/ --timezone America/Phoenix
      odgeo leakscan public/ ems.csv --timezone America/Phoenix
      odgeo leakscan week2/ ems.csv --previous week1/
    """
    import pandas as pd

    from odgeo.errors import ColumnError
    from odgeo.incidents.read import read_incidents
    from odgeo.incidents.tables import read_table
    from odgeo.publish.leakscan import scan_public_outputs
    from odgeo.schema import INCIDENT_ID

    read = read_incidents(input_path, columns=columns_from(columns), timezone=timezone or "UTC")
    values = [read.incidents[INCIDENT_ID].dropna().astype(str)]
    if identifying_cols:
        raw = read_table(input_path).data
        for col in identifying_cols:
            if col not in raw.columns:
                raise ColumnError(f"{input_path}: no column {col!r} (--identifying-col)")
            values.append(raw[col].astype(str))
    from odgeo.jobs.gistar_steps import read_study_area
    from odgeo.publish.leakscan import difference_releases

    leaks = scan_public_outputs(folder, read.incidents, min_count=min_count,
                                identifying=pd.concat(values, ignore_index=True),
                                study_area=read_study_area(study_area) if study_area else None)
    if previous:
        leaks += difference_releases(previous, folder, min_count=min_count)
    for leak in leaks:
        click.echo(str(leak))
    click.echo(f"{len(leaks)} finding(s) in {folder}")
    if leaks:
        raise SystemExit(1)
