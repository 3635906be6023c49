"""``odgeo outreach``: the post-overdose team's morning worklist, places to canvass and funnel."""

from __future__ import annotations

import click

from odgeo import defaults

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


def _pairs(text: str | None, option: str, number: bool = False) -> dict:
    """"role=col,role=col" as a mapping (numbers for --weights)."""
    out: dict = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise click.BadParameter(f"{part!r} is not NAME=VALUE", param_hint=option)
        if number:
            try:
                out[key.strip()] = float(value)
            except ValueError as err:
                raise click.BadParameter(f"{value!r} is not a number", param_hint=option) from err
        else:
            out[key.strip()] = value.strip()
    return out


@click.command()
@click.argument("input_path", metavar="INPUT...", nargs=-1, required=True, type=IncidentSource())
@output_options
@click.option("--key-file", type=click.Path(dir_okay=False), metavar="FILE",
              help="The team's secret key for worklist ids (made when missing). Keep it outside --out and reuse "
                   "it: the same key gives the same ids every day. Required with --audience restricted.")
@click.option("--as-of", metavar="TIME", help="When the list is made (default: the latest record's time).")
@click.option("--attempts", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="The team's contact attempts (one row per try): the funnel, the practice checks, and who "
                   "leaves the list.")
@click.option("--capacity", type=click.IntRange(1), metavar="N", help="Mark the first N rows as today's visits.")
@click.option("--keep-columns", metavar="COL,...",
              help="Contact columns carried into worklist.csv as given, e.g. phone,home_address.")
@click.option("--person-columns", metavar="ROLE=COL,...",
              help="Person columns not found by name: person_id, birth_date, age, sex, first_name, last_name, "
                   "residence, living_situation, disposition.")
@click.option("--window-hours", type=FiniteFloat(1, 24 * 30), metavar="HOURS",
              help=f"Due within this many hours of the overdose (default {defaults.OUTREACH_WINDOW_HOURS}).")
@click.option("--new-hours", type=FiniteFloat(1, 24 * 30), metavar="HOURS",
              help=f"The 'new' tier (default {defaults.NEW_HOURS}).")
@click.option("--catchup-days", type=FiniteFloat(1, 90), metavar="DAYS",
              help=f"Keep trying people not yet reached this long (default {defaults.CATCHUP_DAYS}).")
@click.option("--repeat-days", type=FiniteFloat(1, 3660), metavar="DAYS",
              help=f"An earlier overdose this recent raises the priority (default {defaults.REPEAT_DAYS}).")
@click.option("--weights", metavar="PART=W,...",
              help="Priority weights: recency, repeat, refused_transport, unhoused, cluster (defaults in "
                   "docs/outreach.md).")
@click.option("--link-minutes", type=FiniteFloat(0, 24 * 60), metavar="MINUTES",
              help=f"Records of two sources this close in time may be one overdose (default {defaults.LINK_MINUTES}).")
@click.option("--link-metres", "link_m", type=FiniteFloat(0, 10_000), metavar="METRES",
              help=f"... and this close in space (default {defaults.LINK_M}).")
@click.option("--place-days", type=FiniteFloat(1, 366), metavar="DAYS",
              help=f"Places to canvass: overdoses of this many days (default {defaults.PLACE_DAYS}).")
@click.option("--place-resolution", type=click.IntRange(5, 12), metavar="RES",
              help=f"H3 resolution of the places (default {defaults.PLACE_RESOLUTION}).")
@click.option("--place-min", type=click.IntRange(2), metavar="N",
              help=f"Overdoses a place needs (default {defaults.PLACE_MIN}).")
@click.option("--max-attempts", type=click.IntRange(1), metavar="N",
              help=f"Practice check: tries per overdose (default {defaults.MAX_ATTEMPTS}).")
@click.option("--backtest", is_flag=True, default=None,
              help="Replay the last 90 mornings: the share of people who overdosed again within 30 days that the "
                   "first --capacity rows (default 10) reached first, by priority and by most recent first.")
@click.option("--no-clusters", "clusters", flag_value=False, default=None,
              help="Skip the space-time scan that finds active clusters (priority and places).")
@input_options
@reference_options
@map_options
@config_option
@click.pass_context
def outreach(ctx: click.Context, input_path: tuple[str, ...], out_dir: str, overwrite: bool, **options) -> None:
    """Post-overdose outreach: whom to visit today, where to canvass, and the funnel.

    INPUT... are one or more incident files (an EMS export, a police export, an ED
    feed). Records of different files within --link-minutes and --link-metres
    whose sex, age and birth date do not disagree are one overdose; records with
    one person id, or one birth date, sex and name key, are one person. Names are
    compared, never written.

    The worklist holds everyone who survived an overdose in the last
    --catchup-days and has not been reached since: new (under 24 h), due (to
    72 h), overdue (past due, never tried) and catch-up (tried, not reached),
    highest priority first, each with the reason in words.

    \b
    Writes into --out:
      worklist.csv         (restricted) one row per person to reach, with a stable pseudonymous id
      linkage.csv          (restricted) records linked as one overdose or one person; pairs to review
      places.geojson       places to canvass (public: areas of at least --min-count overdoses)
      funnel.csv           with --attempts: tried, reached, engaged, referred, care by month
      funnel_by_area.csv   the same by ZIP code (else H3 cell)
      practice_checks.csv  (restricted, with --attempts) tries that break a practice rule
      backtest.csv         with --backtest: the share of repeats each ordering reached first
      summary.html         the team lead's page (public: the coalition's)
      map.html, rejects.csv, log.txt, run.json

    \b
    Examples:
      odgeo outreach ems.csv police.csv --out today/ --audience restricted --key-file ~/team.key \\
          --attempts attempts.csv --keep-columns phone --capacity 10 --timezone America/Chicago
      odgeo outreach ems.csv --out coalition/ --attempts attempts.csv --ledger outreach.ledger
    """
    from pathlib import Path

    import pandas as pd

    from odgeo.jobs.outreach import OutreachSettings, run_outreach

    refuse_point_options(options, "outreach")
    keep = tuple(c.strip() for c in (options.pop("keep_columns") or "").split(",") if c.strip())
    settings = settings_from(OutreachSettings, options, keep_columns=keep,
                             person_columns=_pairs(options.pop("person_columns"), "--person-columns"),
                             weights=_pairs(options.pop("weights"), "--weights", number=True))
    run = run_outreach(list(input_path), out_dir, settings, overwrite=overwrite, progress=progress_printer(ctx))
    out = Path(out_dir)
    restricted = run.audience == "restricted"
    click.echo(f"Summary: {out / 'summary.html'}")
    click.echo(f"Incidents: {run.rows.line()} (reasons in {out / 'rejects.csv'})")
    for pair in run.linkage.report if restricted else ():
        a, b = pair["sources"]
        click.echo(f"Linked: {pair['matched']:,} {b} records to {a} records; {pair['review']:,} pairs to review "
                   f"(linkage.csv)")
    if restricted:
        tiers = run.worklist["tier"].value_counts() if len(run.worklist) else {}
        words = ", ".join(f"{int(tiers.get(t, 0))} {t}" for t in ("new", "due", "overdue", "catch-up"))
        click.echo(f"Worklist: {len(run.worklist):,} people to reach ({words}): {out / 'worklist.csv'}")
    else:
        click.echo("Worklist: none in a public run (run with --audience restricted)")
    click.echo(f"Places to canvass: {len(run.shown_places):,}" + ("" if restricted else " areas")
               + f": {out / 'places.geojson'}")
    if run.shown_funnel is not None:
        click.echo(f"Funnel by month and by area: {out / 'funnel.csv'}, {out / 'funnel_by_area.csv'}")
    if run.backtest is not None and run.backtest.n_repeats == 0:
        click.echo(f"Backtest, {run.backtest.n_mornings} mornings: no one overdosed again within "
                   f"{run.backtest.horizon_days:g} days, so there is nothing to score (records that name no one "
                   "show no repeats)")
    elif run.shown_backtest is not None and run.backtest is not None:
        trial = run.backtest
        visits = f"{trial.capacity} visit{'s' if trial.capacity != 1 else ''}"
        click.echo(f"Backtest, {trial.n_mornings} mornings with {visits} each"
                   + (f", {trial.n_repeats:,} people who overdosed again within {trial.horizon_days:g} days"
                      if restricted else "") + ": reached first by")
        for row in run.shown_backtest.itertuples(index=False):
            share = "hidden (too few repeats)" if pd.isna(row.share) else f"{row.share:.0%}"
            click.echo(f"  {row.ordering}: {share}")
    if restricted and run.checks is not None and len(run.checks):
        click.echo(f"Practice checks: {len(run.checks):,} tries to look at: {out / 'practice_checks.csv'}")
    click.echo(f"Every setting and count: {out / 'run.json'}")
