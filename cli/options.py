"""Options shared by odgeo commands, defined once; choices come from the library's tables."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import click

__all__ = ["input_options", "column_options", "reference_options", "output_options", "config_option", "columns_from", "split_outcomes",
           "audience_settings", "progress_printer"]

# Kept in step with odgeo.webmap.AUDIENCES, odgeo.density.KERNELS and odgeo.schema.OUTCOMES
# by tests/test_cli.py (importing the library here would slow down `odgeo --help`).
AUDIENCES = ("public", "restricted")
KERNELS = ("quartic", "gaussian")
OUTCOMES = ("fatal", "nonfatal", "unknown")


def _stack(*decorators):
    def apply(func):
        for decorator in reversed(decorators):
            func = decorator(func)
        return func
    return apply


def _load_config(ctx: click.Context, param: click.Parameter, value: str | None):
    """Read a TOML file whose keys are this command's option names (a [command] table or top level)."""
    if not value:
        return value
    path = Path(value)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise click.BadParameter(f"cannot read {path}: {err.strerror}", ctx=ctx, param=param) from err
    except tomllib.TOMLDecodeError as err:
        raise click.BadParameter(f"{path} is not valid TOML: {err}", ctx=ctx, param=param) from err
    table = doc.get(ctx.command.name, doc)
    known = {p.name: p for p in ctx.command.params if isinstance(p, click.Option)}
    defaults = {}
    for key, val in table.items():
        if isinstance(val, dict):
            continue  # another command's table
        name = key.replace("-", "_")
        if name not in known or name == "config":
            raise click.BadParameter(
                f"{path}: unknown setting {key!r}; settings are the option names of "
                f"'odgeo {ctx.command.name} --help' (for example bandwidth = 400)", ctx=ctx, param=param)
        if known[name].multiple and not isinstance(val, list):
            val = [val]
        defaults[name] = val
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    return value


config_option = click.option(
    "--config", type=click.Path(exists=True, dir_okay=False), is_eager=True, expose_value=False,
    callback=_load_config, help="TOML file of settings (option names as keys); options given on the command line win.")

column_options = _stack(
    click.option("--lon-col", metavar="COL", help="Longitude column (default: detected: longitude, lon, lng, x ...)."),
    click.option("--lat-col", metavar="COL", help="Latitude column (default: detected: latitude, lat, y ...)."),
    click.option("--date-col", metavar="COL", help="Date/time column (default: detected: occurred_at, date, incident_date ...)."),
    click.option("--id-col", metavar="COL", help="Incident id column (default: detected: incident_id, id, case_number ...)."),
    click.option("--outcome-col", metavar="COL", help="Fatal/non-fatal column (default: detected: outcome, fatal ...)."),
    click.option("--location-col", metavar="COL",
                 help="One column holding both coordinates, as '(41.30, -72.92)' or 'POINT (-72.92 41.30)' "
                      "(used when there are no longitude/latitude columns)."),
)

input_options = _stack(
    column_options,
    click.option("--crs", metavar="CRS", help="CRS of the coordinate columns of a CSV, e.g. EPSG:2223 (default: degrees, EPSG:4326)."),
    click.option("--timezone", metavar="TZ", help="Time zone of dates without an offset, e.g. America/Chicago (default UTC)."),
    click.option("--layer", metavar="NAME", help="Layer of a multi-layer vector file."),
    click.option("--since", metavar="DATE", help="Keep incidents on or after DATE (YYYY-MM-DD)."),
    click.option("--until", metavar="DATE", help="Keep incidents on or before DATE (YYYY-MM-DD, inclusive)."),
    click.option("--outcome", "outcomes", multiple=True, metavar="OUTCOME",
                 help="Keep only these outcomes: fatal, nonfatal, unknown (repeat or comma-separate)."),
    click.option("--audience", type=click.Choice(AUDIENCES), default=None,
                 help="public (default): aggregates only, small counts protected. "
                      "restricted: exact counts, incident points and a RESTRICTED banner."),
    click.option("--min-count", type=click.IntRange(1), metavar="N",
                 help="Public: the smallest count published; smaller areas are merged or hidden "
                      "(default 10, as CDC WONDER)."),
    click.option("--mask-points", metavar="MIN_M,MAX_M",
                 help="Restricted: displace the map's points by MIN to MAX metres (donut geomasking), "
                      "e.g. 50,300."),
    click.option("--mask-seed", type=int, metavar="N", help="Seed of --mask-points (default 0)."),
    click.option("--population", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
                 help="Polygons with a population column (tracts): hexagon rates per 10,000 residents, "
                      "and with --mask-points each point's k-anonymity."),
    click.option("--population-col", metavar="COL", help="Population column of --population (default: detected)."),
)

reference_options = _stack(
    click.option("--reference", multiple=True, type=click.Path(exists=True, dir_okay=False), metavar="FILE",
                 help="Address points (OpenAddresses CSV ...) and/or street centerlines (TIGER) to geocode the rows "
                      "that have an address and no coordinates; repeat for several. Offline."),
    click.option("--min-score", type=click.FloatRange(0, 1), metavar="SCORE",
                 help="Geocoded rows scoring below this go to rejects.csv (default 0.5: keeps block level)."),
)

output_options = _stack(
    click.option("--out", "-o", "out_dir", required=True, type=click.Path(file_okay=False),
                 help="Folder to write the products into (must be empty or new)."),
    click.option("--overwrite", is_flag=True, help="Write into a non-empty --out folder, replacing files."),
)


def columns_from(kwargs: dict) -> dict[str, str | None]:
    """The column override options as a role -> column mapping."""
    return {
        "longitude": kwargs.pop("lon_col", None),
        "latitude": kwargs.pop("lat_col", None),
        "occurred_at": kwargs.pop("date_col", None),
        "incident_id": kwargs.pop("id_col", None),
        "outcome": kwargs.pop("outcome_col", None),
        "location": kwargs.pop("location_col", None),
    }


def audience_settings(kwargs: dict) -> dict:
    """The audience options as HotspotSettings keyword arguments."""
    return {"audience": kwargs.pop("audience", None), "min_count": kwargs.pop("min_count", None),
            "mask_points": kwargs.pop("mask_points", None), "mask_seed": kwargs.pop("mask_seed", None),
            "population": kwargs.pop("population", None), "population_col": kwargs.pop("population_col", None)}


def split_outcomes(values) -> tuple[str, ...] | None:
    parts = [p.strip() for v in values or () for p in str(v).split(",") if p.strip()]
    bad = [p for p in parts if p.lower() not in OUTCOMES]
    if bad:
        raise click.BadParameter(f"{', '.join(bad)} is not an outcome; use {', '.join(OUTCOMES)}",
                                 param_hint="--outcome")
    return tuple(p.lower() for p in parts) or None


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


def progress_printer(ctx: click.Context):
    """Print progress steps on stderr with -v, or by default when stderr is a terminal; else None."""
    verbosity = ctx.obj.get("verbosity", 0)
    show = verbosity >= 1 or (verbosity == 0 and stderr_is_terminal())
    return (lambda step: click.echo(f"odgeo: {step}...", err=True)) if show else None
