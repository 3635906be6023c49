"""``odgeo sites``: where new naloxone sites reach the most overdoses."""

from __future__ import annotations

import json
from pathlib import Path

import click

from odgeo import defaults

from .options import (
    FiniteFloat,
    IncidentSource,
    Metres,
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
@click.argument("input_path", metavar="INCIDENTS", type=IncidentSource())
@output_options
@click.option("--candidates", required=True, type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="Candidate sites: CSV with longitude/latitude columns or any vector file; site_id and name.")
@click.option("--existing", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="Sites already open: always kept, never counted as new.")
@click.option("--n-sites", type=click.IntRange(1), metavar="N",
              help=f"How many new sites (default {defaults.N_SITES}).")
@click.option("--target", type=FiniteFloat(0, 1, min_open=True), metavar="SHARE",
              help="Instead of --n-sites: the fewest new sites that reach this share of incidents (e.g. 0.5).")
@click.option("--radius", "radius_m", type=Metres(), metavar="METRES",
              help=f"A site reaches incidents within this distance (default {defaults.RADIUS_M} m, a five-minute "
                   "walk).")
@click.option("--network", type=click.Path(exists=True, dir_okay=False), metavar="STREETS",
              help="Street centerlines: measure the walk along them instead of the straight line.")
@click.option("--weight", metavar="SPEC", help="Incident weights, e.g. fatal=3,recent=365 (fatal count 3 times; "
                                               "half-life 365 days). Default: every incident counts 1.")
@click.option("--equity", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="Polygons with an index (e.g. social vulnerability): incidents inside count up to double.")
@click.option("--equity-col", metavar="COL", help="The index column of --equity.")
@click.option("--capacity-col", metavar="COL",
              help="Capacity column of the site files (kits per month): capacitated coverage.")
@click.option("--train-until", metavar="DATE",
              help="Choose from incidents up to DATE, report the share of later incidents reached "
                   "beside the best possible share.")
@click.option("--time-limit", "time_limit_s", type=FiniteFloat(0, min_open=True), metavar="SECONDS",
              help=f"Solver time limit (default {defaults.TIME_LIMIT_S}); past it the best solution found and its "
                   "gap are reported.")
@input_options
@reference_options
@map_options
@config_option
@click.pass_context
def sites(ctx: click.Context, input_path: str, out_dir: str, overwrite: bool, **options) -> None:
    """Choose where new naloxone sites reach the most overdoses (maximal covering location).

    Existing sites stay open; N new ones are chosen among the candidates to
    maximise the (weighted) incidents within reach of an open site, solved
    exactly with HiGHS (scipy) within a time limit.

    \b
    Writes into --out:
      sites.geojson   existing sites, then the new ones by rank: rank, site_id, name,
                      covered, marginal_gain, cumulative_share
      coverage.csv    share of incidents reached with 0 (existing only), 1, ..., N new sites
      map.html        hexagons, hot spots, sites with their reach, hot spots out of reach
      rejects.csv     every incident row left out, with the reason
      run.json        settings, weights, solver, gap, out-of-time check

    \b
    Examples:
      odgeo sites incidents.csv --candidates candidates.csv --existing existing.csv --out sites/
      odgeo sites ems.csv --candidates libraries.gpkg --n-sites 10 --radius 300 --network streets.gpkg \\
          --weight fatal=3 --train-until 2025-06-30 --out sites/
    """
    from odgeo.jobs.hotspots import HotspotSettings
    from odgeo.jobs.sites import SitesSettings, run_sites

    refuse_point_options(options, "sites", population=False)
    settings = settings_from(SitesSettings, options, hotspots=settings_from(HotspotSettings, options))
    progress = progress_printer(ctx)
    result = run_sites(input_path, out_dir, settings, overwrite=overwrite, progress=progress)
    out = Path(out_dir)
    # The figures as written (public: gains under --min-count hidden, shares rounded down), not the analysis'.
    written = json.loads((out / "run.json").read_text(encoding="utf-8"))
    solution = written["solution"]
    click.echo(f"Map: {out / 'map.html'}")
    click.echo(f"Incidents: {result.rows.line()} (reasons in {out / 'rejects.csv'})")
    click.echo(f"Existing sites reach {_percent(solution['share_reached_by_existing'])} of incidents; with "
               f"{solution['n_new_sites']} new, {_percent(solution['share_reached'])} "
               f"({solution['method']}, gap {solution['gap']:.2%}, {solution['seconds']:.1f} s)")
    features = json.loads((out / "sites.geojson").read_text(encoding="utf-8"))["features"]
    new = sorted((f["properties"] for f in features if f["properties"]["status"] == "new"), key=lambda p: p["rank"])
    for site in new:
        gain = "gain hidden (small)" if site["marginal_gain"] is None else f"+{site['marginal_gain']:,.0f}"
        click.echo(f"  {int(site['rank'])}. {site['site_id']} {site['name']}: {gain}, "
                   f"{_percent(site['cumulative_share'])} reached")
    ev = written.get("out_of_time")
    if ev and result.evaluation:
        later = "the later incidents" if ev.get("n_later") is None else f"the {ev['n_later']:,} later incidents"
        click.echo(f"Hold-out check (sites chosen from the incidents up to {result.evaluation['train_until']}): "
                   f"they reach {_percent(ev['share_of_later_reached'])} of {later}; the best possible choice "
                   f"reaches {_percent(ev['best_possible_share_of_later'])} "
                   f"({_percent(ev['percent_of_best_possible'], scale=1)} of the best possible)")
    click.echo(f"Every setting and figure: {out / 'run.json'}")


def _percent(value, scale: float = 100) -> str:
    """A share as the terminal writes it: one decimal, or "hidden" where the product hides it."""
    return "a hidden share" if value is None else f"{value * scale:.1f}%"
