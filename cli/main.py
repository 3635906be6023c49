"""The ``odgeo`` command group: verbosity, version, and one-line errors."""

from __future__ import annotations

import gc
import logging
import re
import sys
import traceback

import click

from odgeo._version import __version__
from odgeo.errors import OdgeoError, ParameterError

from .progress import ClearsProgress

__all__ = ["cli", "in_flags"]


class OdgeoGroup(click.Group):
    """Turns library errors into one line: exit 2 for a bad option value, 1 otherwise (-vv: the traceback)."""

    def invoke(self, ctx: click.Context):
        _tune_garbage_collector()
        _return_large_arrays_to_system()
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except MemoryError:
            # Its text may hold data (a value being built when memory ran out): never print it.
            _show_traceback(ctx)
            click.echo("Error: out of memory: the input is too large for this machine; filter it (--since, "
                       "--until, a smaller area) or split it into parts", err=True)
            ctx.exit(1)
        except OdgeoError as err:
            _show_traceback(ctx)
            click.echo(f"Error: {in_flags(str(err))}", err=True)
            ctx.exit(2 if isinstance(err, ParameterError) else 1)
        except Exception as err:  # a bug in odgeo: reported as one, under its own type, never renamed
            _show_traceback(ctx)
            click.echo(f"Error: unexpected {type(err).__name__}: {err} "
                       "(please report it; -vv shows the traceback)", err=True)
            ctx.exit(1)


#: A library setting named in a message: `bandwidth_m`, `columns["longitude"]`.
_SETTING = re.compile(r'`([A-Za-z_]\w*(?:\["\w+"\])?)`')
#: Settings of the library whose flag is not their name.
_COLUMN_FLAGS = {f'columns["{role}"]': flag for role, flag in (
    ("longitude", "--lon-col"), ("latitude", "--lat-col"), ("occurred_at", "--date-col"),
    ("incident_id", "--id-col"), ("outcome", "--outcome-col"), ("location", "--location-col"),
    ("suspected_drug", "--drug-col"))}


def _flags() -> dict[str, str]:
    """Each setting's flag, from the commands' own options (their names are the settings')."""
    flags = dict(_COLUMN_FLAGS)
    for command in cli.commands.values():
        for param in command.params:
            long = [o for o in getattr(param, "opts", ()) if o.startswith("--")]
            if long and param.name:
                flags.setdefault(param.name, long[0])
    return flags


def in_flags(message: str) -> str:
    """A library message in the command line's words: `bandwidth_m` becomes --bandwidth.

    The library names its own parameters, so a notebook user reads what to pass; a
    setting with no flag keeps its name.
    """
    flags = _flags()
    return _SETTING.sub(lambda m: flags.get(m.group(1), m.group(0)), message)


class _FlagWords(logging.Formatter):
    """Log lines of the library in the command line's words (see :func:`in_flags`), on stderr and in log.txt."""

    def format(self, record: logging.LogRecord) -> str:
        return in_flags(super().format(record))


def _tune_garbage_collector() -> None:
    """One job per process: spare the cyclic collector's rescans of millions of parsed values.

    The modules imported so far are frozen out of its scans, and it runs after 100,000
    new container objects instead of 700 (benchmarks/speed_benchmark.py measures it).
    Memory in cycles is still freed, a little later.
    """
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


# glibc's mallopt parameter number for the mmap threshold (malloc.h: M_MMAP_THRESHOLD).
_M_MMAP_THRESHOLD = -3


def _return_large_arrays_to_system() -> None:
    """Blocks of 1 MiB or more each in their own mapping, given back to the system when freed.

    glibc raises its threshold after each large free (up to 32 MiB), so a job's
    millions-long temporary arrays then stay in the heap, resident, after use (the
    commit that added this gives the peaks measured). Other systems: nothing to do.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is not None:  # glibc; musl's is a no-op
        mallopt(_M_MMAP_THRESHOLD, 1 << 20)


def _show_traceback(ctx: click.Context) -> None:
    if (ctx.obj or {}).get("verbosity", 0) >= 2:
        traceback.print_exc()


@click.group(cls=OdgeoGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="odgeo")
@click.option("-v", "--verbose", count=True, help="More messages on stderr (-vv: debug and tracebacks).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Map drug overdoses offline: incidents to hex counts, density, hot spots and clusters.

    \b
    Example:
      odgeo hotspots incidents.csv --out results/
      odgeo hotspots --help
    """
    ctx.obj = {}
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_FlagWords("%(levelname)s: %(message)s"))
    clears = ClearsProgress()  # a live progress line is wiped before a message is printed
    handler.addFilter(clears)
    ctx.obj["clears_progress"] = clears
    root = logging.getLogger("odgeo")
    root.handlers[:] = [handler]
    root.propagate = False
    _set_verbosity(ctx, -1 if quiet else verbose)


def _set_verbosity(ctx: click.Context, verbosity: int) -> None:
    """-q (-1), nothing (0), -v (1), -vv (2): the odgeo logger's level and what the commands read."""
    ctx.find_root().obj["verbosity"] = verbosity
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    logger = logging.getLogger("odgeo")
    logger.setLevel(min(level, logging.WARNING))  # warnings always reach log.txt; -q only keeps them off stderr
    for handler in logger.handlers:
        handler.setLevel(level)


def _verbosity_given(ctx: click.Context, param: click.Parameter, value) -> None:
    if value:  # given after the command name: the same as before it
        _set_verbosity(ctx, -1 if param.name == "quiet" else int(value))


def _verbosity_options() -> list[click.Option]:
    """-v and -q for every command, after its name as before it (and in its --help)."""
    return [click.Option(["-v", "--verbose"], count=True, expose_value=False, callback=_verbosity_given,
                         help="More messages on stderr (-vv: debug and tracebacks)."),
            click.Option(["-q", "--quiet"], is_flag=True, expose_value=False, callback=_verbosity_given,
                         help="Only errors on stderr.")]


def _register() -> None:
    from .alerts import alerts
    from .emerging import emerging
    from .geocode import geocode
    from .hotspots import hotspots
    from .leakscan import leakscan
    from .outreach import outreach
    from .report import report
    from .scan import scan
    from .sites import sites

    for command in (hotspots, emerging, alerts, scan, sites, outreach, report, geocode, leakscan):
        command.params.extend(_verbosity_options())
        cli.add_command(command)


_register()
