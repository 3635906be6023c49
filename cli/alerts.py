"""``odgeo alerts``: the daily early-warning job."""

from __future__ import annotations

import click

from odgeo import defaults
from odgeo.vocabulary import EARS_METHODS, plural

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


@click.command()
@click.argument("input_path", metavar="INPUT", type=IncidentSource())
@output_options
@click.option("--as-of", metavar="DATE|TIME",
              help="Reference time: YYYY-MM-DD (the end of that day) or 'YYYY-MM-DD HH:MM' (default: the latest "
                   "incident).")
@click.option("--areas", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="Polygons to watch (counties, ZIP areas, districts); default: H3 cells at --resolution.")
@click.option("--area-name-col", metavar="COL", help="Name column of --areas (default: detected: name, zip ...).")
@click.option("--area-col", metavar="COL",
              help="Records without coordinates (ED visits): the column naming each one's area of --areas "
                   "(a patient ZIP or county); matched by name, never drawn as points.")
@click.option("--resolution", type=click.IntRange(0, 15),
              help=f"H3 resolution without --areas (default {defaults.ALERT_RESOLUTION}, ~5 km2).")
@click.option("--neighbours", metavar="auto|none|FILE",
              help="Neighbour alerts: auto (touching areas, the default), none, or a CSV of area name pairs.")
@click.option("--threshold", metavar="N|recommended",
              help="Alert when the window holds N incidents, or the area's recommended threshold (default).")
@click.option("--window-hours", type=FiniteFloat(1, 24 * 14), metavar="HOURS",
              help=f"Alert window (default {defaults.WINDOW_HOURS}).")
@click.option("--ears", metavar="c1,c2,c3|none",
              help=f"EARS methods on daily counts (default {','.join(EARS_METHODS)}).")
@click.option("--ears-z", type=FiniteFloat(0.5, 10), metavar="Z",
              help=f"EARS C1/C2 standard deviations (default {defaults.EARS_Z}).")
@click.option("--ears-min-sd", type=FiniteFloat(0, 100), metavar="SD",
              help=f"Smallest baseline SD of EARS (default {defaults.EARS_MIN_SD}: a quiet week does not make one case "
                   "an alarm).")
@click.option("--history", type=click.Path(dir_okay=False), metavar="FILE",
              help="Alert history kept across daily runs (.csv, or .sqlite/.db); ongoing alerts are not new.")
@click.option("--backtest", is_flag=True, default=None,
              help="Replay the methods day by day over the input, with planted spikes: backtest.csv.")
@click.option("--scan", is_flag=True, default=None,
              help="Also alert on odgeo scan's space-time clusters (its SOON defaults) to the alert day.")
@click.option("--scan-max-p", type=FiniteFloat(0.0001, 1), metavar="P",
              help=f"Largest p-value of a scan alert (default {defaults.SCAN_MAX_P}: a recurrence interval of "
                   "100 days, NYC).")
@click.option("--watch-drugs", metavar="GROUP,GROUP",
              help="Also watch these drug groups of the suspected-drug column (e.g. xylazine,nitazene,fentanyl): "
                   "each one's own spikes, its first appearance, and its share of overdoses rising (kinds "
                   "threshold:GROUP, ears:GROUP, first:GROUP, share:GROUP).")
@click.option("--new-drug-months", type=click.IntRange(1, 120), metavar="N",
              help="With --watch-drugs: a group unseen for N months before the window appears for the first "
                   "time (default 12).")
@click.option("--notify", metavar="smtp://HOST:PORT", help="Send summary.html by e-mail through this SMTP server.")
@click.option("--to", "recipients", multiple=True, metavar="ADDRESS", help="Recipient of --notify (repeat).")
@click.option("--from", "sender", metavar="ADDRESS", help=f"Sender of --notify (default {defaults.SENDER}).")
@input_options
@reference_options
@map_options
@config_option
@click.pass_context
def alerts(ctx: click.Context, input_path: str, out_dir: str, overwrite: bool, **options) -> None:
    """Spike alerts for today: count thresholds per area (ODMAP), neighbours, EARS C1/C2/C3.

    An area is in alert when its incidents in the last 24 hours (to --as-of)
    reach its threshold; the areas next to it get a neighbour alert; EARS
    compares the last day with the week before; --scan adds odgeo scan's
    space-time clusters (kind scan); --watch-drugs adds, per drug group,
    its own spikes, its first appearance in an area or anywhere, and its
    share rising (docs/drugs.md). With --history, a rerun the
    next day marks alerts ongoing or ended instead of new.

    \b
    Writes into --out:
      alerts.csv    one row per alert: area, kind (EARS: one alert, its methods),
                    status, window, count, threshold, sentence
      ears.csv      every area and day: count, method, baseline, upper bound, alarm
      summary.html  the alerts, a small map and 90-day charts: for a phone or an e-mail
      map.html      the areas in alert on a map
      backtest.csv  with --backtest: alerts per month and spikes detected, per method
      rejects.csv, run.json

    \b
    Examples:
      odgeo alerts ems.csv --out today/ --timezone America/Chicago --history alerts-history.csv
      odgeo alerts deaths.csv --out today/ --areas counties.geojson --area-name-col NAME --backtest
      odgeo alerts ed_visits.csv --out ed-today/ --areas zip_areas.geojson --area-col ZipCode
      odgeo alerts ems.csv --out today/ --watch-drugs xylazine,nitazene --history alerts-history.csv
    """
    from pathlib import Path

    from odgeo.alerts.notify import send_summary, smtp_address
    from odgeo.jobs.alerts import AlertSettings, run_alerts
    from odgeo.maps.summary import as_of_words

    refuse_point_options(options, "alerts")
    if options["notify"]:
        smtp_address(options["notify"])  # a bad address fails before any work
        if not options["recipients"]:
            raise click.UsageError("--notify needs --to ADDRESS")
    settings = settings_from(AlertSettings, options)
    run = run_alerts(input_path, out_dir, settings, overwrite=overwrite, progress=progress_printer(ctx))
    out = Path(out_dir)
    click.echo(f"Summary: {out / 'summary.html'}")
    click.echo(f"Incidents: {run.rows.line()} (reasons in {out / 'rejects.csv'})")
    click.echo(f"As of {as_of_words(run.as_of)}: {plural(len(run.alerts), 'alert')} over "
               f"{plural(len(run.areas.names), 'area')}")
    for sentence, status in zip(run.files.alerts["sentence"], run.files.alerts["status"]):
        click.echo(f"  [{status}] {sentence}")
    if run.backtest is not None:
        click.echo("Backtest (alerts per month; share of planted spikes detected within "
                   f"{run.backtest.settings['detection_horizon_days']} days):")
        click.echo(run.backtest.table.to_string(index=False))
    if options["notify"]:
        send_summary(options["notify"], list(options["recipients"]), out / "summary.html",
                     subject=f"odgeo alerts as of {as_of_words(run.as_of)}: {plural(len(run.alerts), 'alert')}",
                     sender=options["sender"] or defaults.SENDER.value)
        click.echo(f"Sent {out / 'summary.html'} to {', '.join(options['recipients'])} via {options['notify']}")
    click.echo(f"Every setting and count: {out / 'run.json'}")
