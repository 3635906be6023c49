"""``odgeo report``: the periodic report a coalition or a settlement board reads."""

from __future__ import annotations

import click

from odgeo.vocabulary import REPORT_COMPARISONS, REPORT_PERIODS

from .options import (
    IncidentSource,
    config_option,
    input_options,
    output_options,
    progress_printer,
    reference_options,
    refuse_point_options,
    settings_from,
)


@click.command()
@click.argument("input_path", metavar="INPUT", type=IncidentSource())
@output_options
@click.option("--boundaries", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="The jurisdictions: polygons with a name and a population column (towns, counties, districts).")
@click.option("--area-col", metavar="COL",
              help="Instead of --boundaries: the incident column naming each one's town or county.")
@click.option("--area-population", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="A CSV of residents per jurisdiction: a name column and a population column.")
@click.option("--population-by-age", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="A CSV of residents per name and age group (15-24, 65+ ...), for age-adjusted rates.")
@click.option("--age-col", metavar="COL", help="The incidents' age column, years or bands (default: detected).")
@click.option("--sex-col", metavar="COL", help="The incidents' sex column (default: detected).")
@click.option("--ed-visits", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="All emergency-department visits per day (an ESSENCE Table Builder CSV, daily): rates per "
                   "10,000 ED visits and each facility's days with visits (ed_completeness.csv).")
@click.option("--boundary-name-col", metavar="COL", help="Name column of --boundaries (default: detected).")
@click.option("--boundary-population-col", metavar="COL",
              help="Population column of --boundaries (default: detected, e.g. population, POP100).")
@click.option("--dissolve-boundaries", is_flag=True, default=None,
              help="Count the polygons of --boundaries that share a name as one jurisdiction.")
@click.option("--period", type=click.Choice(REPORT_PERIODS),
              help="The period reported: the last whole one before --as-of (default quarter).")
@click.option("--compare", type=click.Choice(REPORT_COMPARISONS),
              help="What the period is compared with: the same period a year earlier (the default and the only "
                   "choice: adjacent quarters differ by season, and NCHS compares year over year).")
@click.option("--as-of", metavar="DATE", help="The report's date, YYYY-MM-DD (default: the last incident's date).")
@click.option("--provisional-months", type=click.IntRange(0, 36), metavar="N",
              help="Periods ending within N months of --as-of are provisional (default 6, as NCHS).")
@click.option("--pdf/--no-pdf", default=None,
              help="Also print report.pdf with a headless Chromium (default: yes, when one is found).")
@click.option("--title", help="The report's title (default: 'Suspected overdoses: <period>').")
@click.option("--ledger", type=click.Path(dir_okay=False), metavar="FILE",
              help="Public: a release ledger shared by every report of a series (each quarter's, and a quarter "
                   "reissued); created by the first. Holds each period's counts back until they move by "
                   "--min-count, so late records cannot be had by subtraction. Keep it private, outside --out.")
@input_options
@reference_options
@config_option
@click.pass_context
def report(ctx: click.Context, input_path: str, out_dir: str, overwrite: bool, **options) -> None:
    """Write the periodic report: counts, rates, change from a year earlier, trend, drugs.

    For each jurisdiction (polygons of --boundaries, or the names of --area-col)
    and for the whole input: the period's
    count, its rate per 100,000 residents per year with an exact 95% interval
    and a reliability label (suppressed, unreliable, unstable, reliable), the
    same period a year earlier and the change with its exact test in words;
    every period before it with 12-month-ending counts, and the annual percent
    change over the final ones. With --population-by-age and an age column,
    age-adjusted rates (US 2000 standard); with age or sex columns, the
    period's overdoses by age group and sex. Public (the default): no count under
    --min-count anywhere, and a hidden area's count cannot be had by
    subtraction.

    \b
    Writes into --out:
      report.html  the report, self-contained and print-ready (A4 or Letter)
      report.pdf   the same pages, printed by a headless Chromium
      rates.csv    one row per area and 'all': count, rate, interval, reliability, change
      trend.csv    one row per period: count, rate, 12-month-ending count, provisional
      ed_completeness.csv  with --ed-visits: each facility's days with visits per period
      rejects.csv  every row left out, with the reason
      run.json     every setting and the numbers behind every figure

    \b
    Examples:
      odgeo report incidents.csv --boundaries neighbourhoods.geojson --out q3/ --timezone America/Chicago
      odgeo report deaths.csv --boundaries towns.gpkg --period year --assume-outcome fatal --out 2024/
      odgeo report ems.csv --boundaries districts.gpkg --drug fentanyl --as-of 2025-06-30 --out fentanyl-q2/
      odgeo report ems.csv --boundaries districts.gpkg --ledger private/report-series.json --out 2025-q4/
      odgeo report deaths.csv --area-col DeathCounty --area-population counties.csv \\
          --population-by-age counties_by_age.csv --period year --out 2018/
      odgeo report ed_visits.csv --area-col ZipCode --area-population zip_population.csv \
          --ed-visits ed_all_visits.csv --out ed-q4/
    """
    from pathlib import Path

    from odgeo.jobs.report import ReportSettings, run_report

    refuse_point_options(options, "report")
    settings = settings_from(ReportSettings, options)
    run = run_report(input_path, out_dir, settings, overwrite=overwrite, progress=progress_printer(ctx))
    out = Path(out_dir)
    whole = run.shown_rates[run.shown_rates["area"] == "all"].iloc[0]
    click.echo(f"Report: {out / 'report.html'}" + (f" and {out / 'report.pdf'}" if (out / "report.pdf").exists()
                                                   else " (no PDF: see log.txt)" if run.pdf else ""))
    click.echo(f"Incidents: {run.rows.line()} (reasons in {out / 'rejects.csv'})")
    count = run.gate.count(None if whole["count"] is None or whole["count"] != whole["count"] else int(whole["count"]))
    earlier = whole["earlier_count"]
    earlier_text = run.gate.count(None if earlier is None or earlier != earlier else int(earlier))
    click.echo(f"{run.period.label()}: {count} {run.what}; a year earlier "
               f"({run.period.label(run.period.earlier)}): {earlier_text}; {whole['change']}")
    if run.trend_fit is not None:
        t = run.trend_fit
        click.echo(f"Trend over {t.periods} final {run.period.length}s: {t.apc:+.1f}% a year "
                   f"({t.low:+.1f}% to {t.high:+.1f}%), {t.direction}")
    if "per_10k_ed_visits" in run.shown_rates.columns:
        rate = whole["per_10k_ed_visits"]
        click.echo(f"Per 10,000 emergency-department visits: {'not shown' if rate != rate else f'{rate:,.1f}'}"
                   + ("" if run.ed_completeness is None else
                      f"; facilities complete: {run.shown_trend['ed_facilities_complete'].iloc[-1]} "
                      f"(details in {out / 'ed_completeness.csv'})"))
    click.echo(f"Every setting and count: {out / 'run.json'}")
