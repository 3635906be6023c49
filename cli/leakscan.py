"""``odgeo leakscan``: check a folder of public products against the incidents behind them."""

from __future__ import annotations

import click

from odgeo import defaults

from .options import column_options, columns_from, progress_printer


@click.command()
@click.argument("folders", metavar="FOLDER...", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
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
@click.option("--public-places", "public_places", multiple=True, type=click.Path(exists=True, dir_okay=False),
              metavar="FILE", help="Sites that are public places (odgeo sites' --candidates and --existing): "
                                   "their points may be published in sites.geojson; repeat.")
@click.option("--series", is_flag=True,
              help="The FOLDERs are consecutive releases of one series, oldest first: each is also "
                   "differenced against the one before (as --previous does).")
def leakscan(folders: tuple[str, ...], input_path: str, min_count: int, timezone: str | None,
             identifying_cols: tuple[str, ...], study_area: str | None, previous: str | None, series: bool,
             public_places: tuple[str, ...], **columns) -> None:
    """Scan every file in each FOLDER for what public products must not hold.

    That is: incident locations, counts under --min-count, non-public
    properties, day-level dates and incident ids; with --series or
    --previous, also what subtracting one release from the next gives away.

    Exits 1 when anything is found, listing each finding, so it can guard a
    publishing step in a script. Give the same column options as to the run.

    \b
    Example:
      odgeo hotspots ems.csv --out public/ --timezone America/Phoenix
      odgeo leakscan public/ ems.csv --timezone America/Phoenix
      odgeo leakscan week2/ ems.csv --previous week1/
      odgeo leakscan mon/ tue/ wed/ ems.csv --series
      odgeo leakscan sites/ ems.csv --public-places pharmacies.csv
    """
    import pandas as pd

    from odgeo.errors import ColumnError
    from odgeo.incidents.read import read_incidents
    from odgeo.incidents.tables import read_table
    from odgeo.publish.leakscan import scan_public_outputs
    from odgeo.schema import INCIDENT_ID

    progress = progress_printer(click.get_current_context())
    if progress is not None:
        progress("reading the incidents")
    read = read_incidents(input_path, columns=columns_from(columns), timezone=timezone or "UTC")
    values = [read.incidents[INCIDENT_ID].dropna().astype(str)]
    if identifying_cols:
        raw = read_table(input_path).data
        for col in identifying_cols:
            if col not in raw.columns:
                raise ColumnError(f"{input_path}: no column {col!r} (--identifying-col)")
            values.append(raw[col].astype(str))
    from odgeo.jobs.gistar_steps import read_study_area
    from odgeo.publish.release_diff import difference_releases

    if previous and len(folders) > 1:
        raise click.UsageError("--previous goes with one FOLDER; for several releases give them all with --series")
    identifying = pd.concat(values, ignore_index=True)
    area = read_study_area(study_area) if study_area else None
    places = None
    if public_places:
        from odgeo.sites.candidates import read_sites

        places = pd.concat([read_sites(p) for p in public_places], ignore_index=True)
    found = 0
    for i, folder in enumerate(folders):
        leaks = scan_public_outputs(folder, read.incidents, min_count=min_count, identifying=identifying,
                                    study_area=area, public_places=places, progress=progress)
        before = previous or (folders[i - 1] if series and i else None)
        if before:
            leaks += difference_releases(before, folder, min_count=min_count)
        if progress is not None:
            progress.close()
        for leak in leaks:
            click.echo(f"{folder}: {leak}" if len(folders) > 1 else str(leak))
        found += len(leaks)
    where = folders[0] if len(folders) == 1 else f"{len(folders)} folders"
    click.echo(f"{found} finding(s) in {where}")
    if found:
        raise SystemExit(1)
