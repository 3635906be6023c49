"""Options shared by odgeo commands, defined once; choices come from the library's tables."""

from __future__ import annotations

import dataclasses
import math
import tomllib
from pathlib import Path

import click

from odgeo import defaults

from .progress import Progress, stderr_is_terminal

__all__ = [
    "FiniteFloat",
    "IncidentSource",
    "Metres",
    "Tiles",
    "column_options",
    "columns_from",
    "config_option",
    "gistar_options",
    "input_options",
    "map_options",
    "output_options",
    "progress_printer",
    "reference_options",
    "refuse_point_options",
    "settings_from",
    "split_outcomes",
]

# The choices come from the library's own dependency-free vocabulary: they cannot drift,
# and importing it keeps `odgeo --help` instant.
from odgeo.vocabulary import ASSUMED_OUTCOMES, AUDIENCES, CORRECTIONS, ENGINES, OUTCOMES, POSTGIS_MODES


class FiniteFloat(click.FloatRange):
    """A float range that also refuses nan and inf (click's ranges let both through)."""

    def convert(self, value, param, ctx):
        """Parse a finite float in range."""
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


class IncidentSource(click.ParamType):
    """An incident file that exists, or a PostgreSQL URL (read with --table or --sql).

    With ``parts``: also a folder of files or a glob pattern (``--engine dask``).
    """

    name = "file|postgresql://..."

    def __init__(self, parts: bool = False):
        self.parts = parts

    def convert(self, value, param, ctx):
        """A path that exists, or a database URL kept as given."""
        from odgeo.incidents.source import InputSource

        kind = InputSource.of(value).kind
        if kind == "database" or (self.parts and kind == "parts"):
            return str(value)  # a folder or a glob: its files are found (or not) by odgeo.engine.partitions
        return click.Path(exists=True, dir_okay=False).convert(value, param, ctx)


class Metres(click.ParamType):
    """A positive, finite distance in metres (or 'auto' where allowed)."""

    name = "metres"

    def __init__(self, allow_auto: bool = False):
        self.allow_auto = allow_auto

    def convert(self, value, param, ctx):
        """Parse metres (or 'auto')."""
        if isinstance(value, float) and math.isfinite(value) and value > 0:
            return value
        if self.allow_auto and str(value).strip().lower() == "auto":
            return "auto"
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = float("nan")
        if not (math.isfinite(number) and number > 0):
            self.fail(f"{value!r} is not a positive number of metres" + (" or 'auto'" if self.allow_auto else ""),
                      param, ctx)
        return number


class MaskDistances(click.ParamType):
    """MIN_M,MAX_M for donut geomasking: 0 <= MIN < MAX, finite."""

    name = "min_m,max_m"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        parts = str(value).split(",")
        try:
            low, high = (float(p) for p in parts)
        except ValueError:
            low = high = float("nan")
        if not (math.isfinite(low) and math.isfinite(high) and 0 <= low < high):
            self.fail(f"{value!r}: give MIN_M,MAX_M metres with 0 <= MIN < MAX, for example 50,300", param, ctx)
        return str(value)


class Tiles(click.ParamType):
    """A basemap: none, a tile URL template with {z}, {x} and {y}, or a tile provider name."""

    name = "url|name|none"

    def convert(self, value, param, ctx):
        """Parse a tile source."""
        text = str(value).strip()
        if text.lower() == "none":
            return "none"
        if text.startswith(("http://", "https://", "file://")) or "/" in text:
            if not all(part in text for part in ("{z}", "{x}", "{y}")):
                self.fail(f"{text!r} is not a tile URL template: it needs {{z}}, {{x}} and {{y}}, for example "
                          "https://tiles.example.org/{z}/{x}/{y}.png", param, ctx)
            return text
        import xyzservices

        try:
            xyzservices.providers.query_name(text)
        except ValueError:
            self.fail(f"{text!r} is not a tile provider name (for example OpenStreetMap or CartoDB.Positron); "
                      "give a URL template with {z}/{x}/{y}, or none", param, ctx)
        return text


def _stack(*decorators):
    def apply(func):
        for decorator in reversed(decorators):
            func = decorator(func)
        return func
    return apply


def _load_config(ctx: click.Context, param: click.Parameter, value: str | None):
    """Read a TOML file of settings: shared ones at the top level, each command's in its [command] table.

    The command's table wins over the top level. A top-level key of another command only is left
    out with a note (one file serves every command); a key of no command, or a key in this
    command's table that it does not have, is refused.
    """
    if not value:
        return value
    path = Path(value)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise click.BadParameter(f"cannot read {path}: {err.strerror}", ctx=ctx, param=param) from err
    except UnicodeDecodeError as err:
        raise click.BadParameter(f"{path} is not a UTF-8 text file; save it as UTF-8 TOML", ctx=ctx,
                                 param=param) from err
    except tomllib.TOMLDecodeError as err:
        raise click.BadParameter(f"{path} is not valid TOML: {err}", ctx=ctx, param=param) from err
    group = ctx.parent.command if ctx.parent else None
    commands = dict(group.commands) if isinstance(group, click.Group) else {str(ctx.command.name): ctx.command}
    for key, val in doc.items():
        if isinstance(val, dict) and key not in commands:
            raise click.BadParameter(f"{path}: unknown table [{key}]; tables are command names "
                                     f"({', '.join(sorted(commands))})", ctx=ctx, param=param)
    name = str(ctx.command.name)
    shared = {k: v for k, v in doc.items() if not isinstance(v, dict)}
    own = doc.get(name, {})
    options = {c: _options_by_key(cmd) for c, cmd in commands.items()}
    defaults, elsewhere = {}, []
    for key, val in {**shared, **own}.items():
        option = options[name].get(key.replace("-", "_")) if name in options else _options_by_key(ctx.command).get(
            key.replace("-", "_"))
        if option is None:
            others = sorted(c for c, by_key in options.items() if c != name and key.replace("-", "_") in by_key)
            if key in own or not others:  # a [command] table's key is for this command; a shared one for some
                raise click.BadParameter(
                    f"{path}: unknown setting {key!r}" + (" in [" + name + "]" if key in own else "")
                    + f"; settings are the option names of 'odgeo {name} --help' without the dashes "
                    "(window_hours = 48 for --window-hours)", ctx=ctx, param=param)
            elsewhere.append(f"{key} ({', '.join(others)})")
            continue
        defaults[str(option.name)] = _config_value(option, key, val, path, ctx, param)
    if elsewhere:
        click.echo(f"Note: {path}: settings of other commands left out: {'; '.join(elsewhere)}", err=True)
    if not defaults and not shared and name not in doc:
        click.echo(f"Note: {path} has no setting for odgeo {name} (its tables: "
                   f"{', '.join(sorted(k for k, v in doc.items() if isinstance(v, dict))) or 'none'})", err=True)
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    return value


def _options_by_key(command: click.Command) -> dict[str, click.Option]:
    """A command's options by setting name and by long option name (dashes as underscores)."""
    by_key: dict[str, click.Option] = {}
    for p in command.params:
        if isinstance(p, click.Option) and p.name != "config":
            by_key[str(p.name)] = p
            by_key.update({opt.lstrip("-").replace("-", "_"): p for opt in p.opts if opt.startswith("--")})
    return by_key


def _config_value(option: click.Option, key: str, val, path: Path, ctx, param):
    """A TOML value checked as the option would check it on the command line (naming the file and key)."""
    values = val if isinstance(val, list) else [val]
    if option.multiple is False and isinstance(val, list):
        raise click.BadParameter(f"{path}: {key} takes one value, not a list", ctx=ctx, param=param)
    for item in values:
        if isinstance(item, bool) != bool(option.is_flag):
            kind = "true or false" if option.is_flag else "a value, not true/false"
            raise click.BadParameter(f"{path}: {key} = {item!r} is not valid: give {kind}", ctx=ctx, param=param)
        if not option.is_flag:
            try:
                option.type.convert(item, option, ctx)
            except click.BadParameter as err:
                raise click.BadParameter(f"{path}: {key} = {item!r}: {err.message}", ctx=ctx, param=param) from err
    return values if option.multiple else val


config_option = click.option(
    "--config", type=click.Path(exists=True, dir_okay=False), is_eager=True, expose_value=False,
    callback=_load_config, help="TOML file of settings (option names as keys); options given on the command line win.")

column_options = _stack(
    click.option("--lon-col", metavar="COL", help="Longitude column (default: detected: longitude, lon, lng, x ...)."),
    click.option("--lat-col", metavar="COL", help="Latitude column (default: detected: latitude, lat, y ...)."),
    click.option("--date-col", metavar="COL", help="Date/time column (default: detected: occurred_at, date, "
                                                   "incident_date ...)."),
    click.option("--id-col", metavar="COL", help="Incident id column (default: detected: incident_id, id, "
                                                 "case_number ...)."),
    click.option("--outcome-col", metavar="COL", help="Fatal/non-fatal column (default: detected: outcome, "
                                                      "fatal ...)."),
    click.option("--location-col", metavar="COL",
                 help="One column holding both coordinates, as '(41.30, -72.92)' or 'POINT (-72.92 41.30)' "
                      "(used when there are no longitude/latitude columns)."),
    click.option("--drug-col", metavar="COL",
                 help="Suspected drug or cause-of-death text column (default: detected: suspected_drug, drug, "
                      "substance, cause_of_death, COD ...)."),
)

input_options = _stack(
    column_options,
    click.option("--crs", metavar="CRS", help="CRS of the coordinate columns of a CSV, e.g. EPSG:2223 (default: "
                                              "degrees, EPSG:4326)."),
    click.option("--timezone", metavar="TZ", help="Time zone of dates without an offset, e.g. America/Chicago "
                                                  "(default UTC)."),
    click.option("--date-format", metavar="FORMAT",
                 help="strftime format of the dates, e.g. '%d/%m/%Y %H:%M' (default: guessed; 03/04/2024 is read "
                      "month first unless some date proves day first; a file proving both is refused)."),
    click.option("--accept-implausible-dates", is_flag=True, default=None,
                 help="Keep dates before 1990 or after today (default: rejected as implausible_date, "
                      "since such dates are mostly placeholders like 1900-01-01)."),
    click.option("--drop-outliers", is_flag=True, default=None,
                 help="Set aside incidents far from all the others (rejected as outlier) instead of refusing "
                      "a spread too wide for one local map projection."),
    click.option("--layer", metavar="NAME", help="Layer of a multi-layer vector file."),
    click.option("--table", metavar="NAME", help="With INPUT postgresql://USER@HOST/DB: the table or view to read "
                                                "(schema.name allowed); its geometry (any SRID) or coordinate "
                                                "columns are the incidents' places."),
    click.option("--sql", metavar="QUERY", help="With INPUT postgresql://...: a SELECT query to read instead of "
                                               "a table, e.g. \"SELECT * FROM ems WHERE call_time > now() - "
                                               "interval '30 days'\"."),
    click.option("--since", metavar="DATE", help="Keep incidents on or after DATE (YYYY-MM-DD)."),
    click.option("--until", metavar="DATE", help="Keep incidents on or before DATE (YYYY-MM-DD, inclusive)."),
    click.option("--outcome", "outcomes", multiple=True, metavar="OUTCOME",
                 help="Keep only these outcomes: fatal, nonfatal, unknown (repeat or comma-separate)."),
    click.option("--where", multiple=True, metavar="CONDITION",
                 help="Keep only rows meeting a condition on a column of the input, e.g. \"opioid_use == 'Yes'\", "
                      "\"drug in ('fentanyl', 'heroin')\", 'opioid_use != No' (repeat: all must hold); the other "
                      "rows go to rejects.csv as where_filtered."),
    click.option("--drug", multiple=True, metavar="GROUP",
                 help="Keep only the incidents involving these drug groups (repeat or comma-separate): opioid, "
                      "fentanyl, heroin, rx_opioid, methadone, nitazene, stimulant, cocaine, methamphetamine, "
                      "xylazine, benzodiazepine, alcohol, or a group of --drug-terms. Read from the suspected-drug "
                      "column unless --drug-columns says; the others go to rejects.csv as drug_filtered "
                      "(docs/drugs.md)."),
    click.option("--drug-columns", metavar="COL,COL",
                 help="With --drug: the columns that say what was taken, each read as what it holds: a cause "
                      "of death or drug text, yes/no columns named after a drug (Heroin, Fentanyl), ICD-10 codes. "
                      "E.g. COD,Heroin,Fentanyl,Cocaine."),
    click.option("--drug-terms", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
                 help="With --drug: a CSV of term,group[,match] rows extending odgeo's drug terms (a new drug "
                      "name, a local abbreviation, a new group)."),
    click.option("--assume-outcome", type=click.Choice(ASSUMED_OUTCOMES),
                 help="The outcome of every incident, for a file without an outcome column: fatal for a "
                      "medical examiner's deaths (default: unknown, shown as 'outcome not recorded')."),
    click.option("--audience", type=click.Choice(AUDIENCES), default=None,
                 help=f"{defaults.AUDIENCE} (default): aggregates only, small counts protected. "
                      "restricted: exact counts, incident points and a RESTRICTED banner."),
    click.option("--min-count", type=click.IntRange(1), metavar="N",
                 help="Public: the smallest count published; smaller areas are merged or hidden "
                      f"(default {defaults.MIN_COUNT}, as CDC WONDER)."),
    click.option("--mask-points", type=MaskDistances(), metavar="MIN_M,MAX_M",
                 help="Restricted: displace the map's points by MIN to MAX metres (donut geomasking), "
                      "e.g. 50,300."),
    click.option("--mask-seed", type=click.IntRange(0), metavar="N",
                 help=f"Seed of --mask-points (default {defaults.MASK_SEED})."),
    click.option("--population", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
                 help="Polygons with a population column (tracts): hexagon rates per 10,000 residents, "
                      "and with --mask-points each point's k-anonymity."),
    click.option("--population-col", metavar="COL", help="Population column of --population (default: detected)."),
)

engine_options = _stack(
    click.option("--engine", type=click.Choice(ENGINES), default=None,
                 help="memory (default): read in this process. dask: read and validate in parts on a Dask "
                      "cluster (INPUT may then be a folder, e.g. a Parquet dataset, or a quoted glob such as "
                      "'exports/*.csv'). auto: dask for a folder or glob, or a file too big to read in memory."),
    click.option("--scheduler", metavar="tcp://HOST:PORT",
                 help="With --engine dask: the Dask scheduler to use (its workers must see INPUT at the same "
                      "path); default: a local cluster on 127.0.0.1."),
    click.option("--workers", type=click.IntRange(1), metavar="N",
                 help="With --engine dask and no --scheduler: worker processes of the local cluster "
                      "(default: one per core)."),
    click.option("--worker-memory", metavar="SIZE",
                 help="With --engine dask and no --scheduler: memory limit of each local worker, e.g. 4GB "
                      "(default: the machine's memory shared out)."),
    click.option("--blocksize", type=click.IntRange(1), metavar="MB",
                 help=f"With --engine dask: megabytes of CSV per part (default {defaults.BLOCKSIZE_MB})."),
)


reference_options = _stack(
    click.option("--reference", multiple=True, type=click.Path(exists=True, dir_okay=False), metavar="FILE",
                 help="Address points (OpenAddresses CSV ...) and/or street centerlines (TIGER) to geocode the rows "
                      "that have an address and no coordinates; repeat for several. Offline."),
    click.option("--min-score", type=FiniteFloat(0, 1), metavar="SCORE",
                 help=f"Geocoded rows scoring below this go to rejects.csv (default {defaults.MIN_SCORE}: keeps block "
                      "level)."),
    click.option("--reference-columns", metavar="ROLE=COL,...",
                 callback=lambda ctx, param, value: reference_columns_option(value),
                 help="Columns of --reference files that are not detected, e.g. a county's address points: "
                      "number=ADD_NUMBER,street=ST_PREDIR+ST_NAME+ST_POSTYP,zip=POST_CODE ('+' joins columns). "
                      "Roles: number, street, zip, city, lon, lat, lfrom, lto, rfrom, rto, zipl, zipr."),
)


def reference_columns_option(value: str | None) -> dict[str, tuple[str, ...]]:
    """--reference-columns as {role: columns}; a bad value is a usage error naming the option."""
    if not value:  # the geocoder's module (half a second of imports) only when the option is given
        return {}
    from odgeo.errors import ParameterError
    from odgeo.geocode.index import parse_reference_columns

    try:
        return parse_reference_columns(value)
    except ParameterError as err:
        raise click.BadParameter(str(err).removeprefix("--reference-columns: "),
                                 param_hint="'--reference-columns'") from err

map_options = _stack(
    click.option("--title", help="Map title (default: what the command shows and the input file's name)."),
    click.option("--tiles", type=Tiles(), metavar="URL|name|none",
                 help="Basemap tiles: a tile URL template such as https://tiles.example.org/{z}/{x}/{y}.png, a "
                      f"provider name, or none (default {defaults.TILES}, fetched by the browser when online)."),
)

gistar_options = _stack(
    click.option("--gi-distance", "gi_distance_m", type=Metres(), metavar="METRES",
                 help="Gi* neighbourhood as a distance band in metres, turned into H3 rings (default: 1 ring)."),
    click.option("--gi-rings", type=click.IntRange(1), metavar="K", help="Gi* neighbours: the cells within K rings."),
    click.option("--correction", type=click.Choice(CORRECTIONS),
                 help=f"Multiple-testing correction of the Gi* p-values (default {defaults.GI_CORRECTION}: "
                      "Benjamini-Hochberg)."),
    click.option("--study-area", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
                 help="Polygon(s) whose empty cells take part in Gi* (default: the hull of the cells with "
                      "incidents)."),
)

output_options = _stack(
    click.option("--out", "-o", "out_dir", required=True, type=click.Path(file_okay=False),
                 help="Folder to write the products into (must be empty or new)."),
    click.option("--overwrite", is_flag=True, help="Write into a non-empty --out folder, replacing files."),
    click.option("--to-postgis", metavar="URL",
                 help="Also copy the products (as written to --out: public unless --audience restricted) and the "
                      "run record into PostgreSQL/PostGIS, in one transaction: postgresql://USER@HOST:PORT/DB. "
                      "The password comes from ~/.pgpass, PGPASSWORD or PGSERVICE, never the URL."),
    click.option("--schema", "postgis_schema", metavar="NAME",
                 help="Schema of the --to-postgis tables (default odgeo; created when missing)."),
    click.option("--postgis-mode", type=click.Choice(POSTGIS_MODES),
                 help="replace (default): each product table holds this run only; append: rows added, every "
                      "row tagged with its run_id."),
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
        "suspected_drug": kwargs.pop("drug_col", None),
    }


#: Options whose command-line value is made into the setting's (the names are the same).
_CONVERT = {
    "outcomes": lambda values: split_outcomes(values),
    "where": lambda values: tuple(values) or None,
    "drug": lambda values: tuple(g.strip().lower() for v in values for g in v.split(",") if g.strip()) or None,
    "watch_drugs": lambda text: tuple(g.strip().lower() for g in (text or "").split(",") if g.strip()) or None,
    "by_drug": lambda text: tuple(g.strip().lower() for g in (text or "").split(",") if g.strip()) or None,
    "drug_columns": lambda text: tuple(c.strip() for c in text.split(",") if c.strip()) if text else None,
    "reference": lambda files: tuple(files or ()),
    "reference_columns": lambda mapping: mapping or {},
    "blocksize": lambda mb: None if mb is None else mb * 1024 * 1024,  # the flag is in MB, the setting in bytes
    "ears": lambda text: tuple(text.split(",")) if text else None,
}


def settings_from(cls, options: dict, **given):
    """``cls`` (a settings dataclass) from the click options named after its fields, taken out of ``options``.

    Each option's name is its setting's (``--bandwidth`` is ``bandwidth_m``): one spelling,
    no hand mapping. ``given`` wins over the options (nested settings, values checked first).
    """
    values = dict(given)
    for f in dataclasses.fields(cls):
        if f.name in values:
            continue
        if f.name == "columns":
            values["columns"] = columns_from(options)
        elif f.name in options:
            value = options.pop(f.name)
            values[f.name] = _CONVERT[f.name](value) if f.name in _CONVERT else value
    return cls(**values)


def refuse_point_options(options: dict, command: str, *, population: bool = True) -> None:
    """Refuse --mask-points (and --population) on a command that draws no points; drop them from ``options``."""
    mask = options.pop("mask_points", None)
    options.pop("mask_seed", None)
    pop = options.pop("population", None) if population else None
    if population:
        options.pop("population_col", None)
    if mask or pop:
        what = "--mask-points and --population do not" if population else "--mask-points does not"
        raise click.UsageError(f"{what} apply to odgeo {command} (it draws no points)")


def split_outcomes(values) -> tuple[str, ...] | None:
    """The --outcome values, comma-separated or repeated, checked."""
    parts = [p.strip() for v in values or () for p in str(v).split(",") if p.strip()]
    bad = [p for p in parts if p.lower() not in OUTCOMES]
    if bad:
        raise click.BadParameter(f"{', '.join(bad)} is not an outcome; use {', '.join(OUTCOMES)}",
                                 param_hint="--outcome")
    return tuple(p.lower() for p in parts) or None


def progress_printer(ctx: click.Context) -> Progress | None:
    """Progress on stderr (:mod:`cli.progress`): every step with -v, slow steps by default, nothing with -q."""
    verbosity = ctx.find_root().obj.get("verbosity", 0)
    if verbosity < 0:
        return None
    progress = Progress(every_step=verbosity >= 1, live=stderr_is_terminal())
    clears = ctx.find_root().obj.get("clears_progress")
    if clears is not None:
        clears.progress = progress
    ctx.call_on_close(progress.close)
    return progress
