"""``python -m odgeo_cli``: the same as the ``odgeo`` console script."""

from .main import cli

cli(prog_name="odgeo")
