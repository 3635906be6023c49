"""``odgeo geocode``: addresses to points, offline, against your own reference data."""

from __future__ import annotations

from pathlib import Path

import click

from odgeo.vocabulary import SERVICES

from .options import reference_columns_option


@click.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, dir_okay=False))
@click.option("--reference", "references", multiple=True, type=click.Path(exists=True, dir_okay=False),
              metavar="FILE", help="Address points (OpenAddresses CSV, or a point layer with number and street "
                                   "columns) and/or TIGER-style street centerlines; repeat for several.")
@click.option("--out", "-o", "out_path", required=True, type=click.Path(dir_okay=False),
              help="Output file: .csv, .gpkg or .parquet (GeoParquet).")
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@click.option("--address-col", metavar="COL", help="Address column (default: detected: address, full_address ...).")
@click.option("--city-col", metavar="COL", help="City column (default: detected).")
@click.option("--zip-col", metavar="COL", help="ZIP column (default: detected).")
@click.option("--reference-columns", metavar="ROLE=COL,...",
              callback=lambda ctx, param, value: reference_columns_option(value),
              help="Columns of --reference files that are not detected: number=ADD_NUMBER,"
                   "street=ST_PREDIR+ST_NAME+ST_POSTYP,zip=POST_CODE ('+' joins columns).")
@click.option("--no-cache", is_flag=True, help="Build the reference index without reading or writing the cache.")
@click.option("--service", type=click.Choice(SERVICES),
              help="ONLINE: send the addresses the references could not place (all, without --reference) to the "
                   "Census batch geocoder or Nominatim. Addresses leave this machine; answers are cached locally "
                   "so none is sent twice.")
@click.option("--state", default="", metavar="ST", help="State sent with each address to --service census (e.g. KS).")
@click.option("--service-url", metavar="URL", help="Another address for the service (a mirror, your own Nominatim).")
@click.option("--user-agent", metavar="TEXT", help="User agent for --service nominatim (its policy asks for one "
                                                    "that identifies you).")
def geocode(input_path: str, references: tuple[str, ...], out_path: str, overwrite: bool, address_col, city_col,
            zip_col, reference_columns, no_cache: bool, service, state, service_url, user_agent) -> None:
    """Geocode the addresses of INPUT against local reference files: offline unless --service.

    With --service, the addresses the references could not place are sent to
    the Census batch geocoder or Nominatim (online: the command warns first).

    Writes every input column plus longitude, latitude, geocode_status (exact,
    interpolated, range, intersection, street, postcode, unmatched),
    geocode_score (0-1; 0.8 and above was within 100 m for every sample
    address), matched_address and geocode_reason, one row per input row in the
    same order. The reference index is cached (by the files' content) so the
    next run starts at once.

    \b
    Examples:
      odgeo geocode calls.csv --reference addresses.csv --reference streets.shp --out calls_geocoded.gpkg
      odgeo geocode cases.csv --reference county_points.gpkg --address-col ADDR --zip-col ZIP5 --out cases.csv
      odgeo geocode cases.csv --reference tl_2024_17031_addrfeat.zip --out cases.gpkg
      odgeo geocode cases.csv --reference county.gpkg --reference-columns \\
          number=ADD_NUMBER,street=ST_PREDIR+ST_NAME+ST_POSTYP,zip=POST_CODE --out cases.gpkg
    """
    from odgeo.errors import OutputExistsError
    from odgeo.geocode.index import load_index
    from odgeo.io.outputs import check_writable_file
    from odgeo.jobs.geocode import geocode_table, write_geocoded

    out = Path(out_path)
    if out.exists() and not overwrite:
        raise OutputExistsError(f"{out} exists; choose another file or add --overwrite")
    if not references and not service:
        raise click.UsageError("give --reference FILE (offline), or --service to send addresses online")
    check_writable_file(out, "`out_dir`")
    index, how = load_index(list(references), cache=not no_cache, columns=reference_columns) if references \
        else (None, {"built": None})
    online = None
    if service:
        from odgeo.geocode.online import USER_AGENT, OnlineGeocoder

        click.echo(f"Warning: --service {service} sends addresses to an online service; they leave this machine.",
                   err=True)
        online = OnlineGeocoder(service, url=service_url, user_agent=user_agent or USER_AGENT)
    frame, summary = geocode_table(input_path, index, address_col=address_col, city_col=city_col, zip_col=zip_col,
                                   online=online, state=state)
    write_geocoded(frame, out)
    source = {True: "reference index built", False: "reference index loaded from the cache", None: "no reference"}
    click.echo(f"Geocoded: {out} ({summary['n']} rows; {source[how['built']]}"
               + (f"; {summary['online_requests']} request(s) to {service}" if service else "") + ")")
    click.echo(f"{'status':<14}{'rows':>7}")
    for status, n in summary["by_status"].items():
        click.echo(f"{status:<14}{n:>7}")
    click.echo(f"median score of the located rows: {summary['median_score']}")
