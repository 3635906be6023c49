"""``odgeo report``: the periodic report of counts, rates, change, trend and drugs, printable and through the gate."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd

from .. import __version__
from ..drugs.definitions import load_terms
from ..errors import OutputError, ParameterError
from ..incidents.read import IncidentRead
from ..incidents.selection import RowCounts
from ..io.outputs import OutputFolder
from ..io.pdf import find_chromium, print_pdf
from ..io.writers import write_csv, write_text
from ..maps.report_page import ReportContent, report_page
from ..publish.restricted import Gate
from ..report.ed_visits import (
    COMPLETE_SHARE,
    PER_VISITS,
    complete_facilities,
    completeness,
    period_visits,
    read_ed_visits,
    trend_visits,
    with_ed_rates,
)
from ..report.jurisdictions import incident_ages, incident_sexes, jurisdictions
from ..report.populations import (
    AGE,
    report_columns,
)
from ..report.public import (
    in_series,
    public_demographics,
    public_drugs,
    public_outcomes,
    public_part,
    public_rates,
    public_trend,
    shows_everything,
    smallest_count,
)
from ..report.rates import Trend
from ..report.tables import (
    REPORT_PERIODS,
    TOTAL_AREA,
    ReportPeriod,
    age_adjusted_rates,
    demographic_counts,
    drug_counts,
    in_period,
    rate_table,
    report_period,
    trend_table,
)
from ..runrecord import RunRecord
from ..schema import OCCURRED_AT, OUTCOME
from ..vocabulary import REPORT_COMPARISONS
from .common import (
    JobSettings,
    counted_words,
    involving,
    open_gate,
    pick_audience,
    read_carrying,
    run_job,
    save_record,
    select_incidents,
    selection_settings,
)

__all__ = ["ReportRun", "ReportSettings", "analyse_report", "run_report"]

log = logging.getLogger(__name__)

#: Periods ending within this many months of the report's date are provisional (NCHS: 6).
PROVISIONAL_MONTHS = 6
_PER_YEAR = {"quarter": 4, "month": 12, "year": 1}


@dataclass(frozen=True)
class ReportSettings(JobSettings):
    """Settings of ``odgeo report``; None means the default.

    boundaries: the jurisdictions (polygons with a name and a population; required).
    boundary_name_col, boundary_population_col: their columns (default: detected).
    dissolve_boundaries: count polygons sharing a name as one jurisdiction.
    period: "quarter" (default), "month" or "year": the last whole one before ``as_of``.
    compare: "previous-year" (default, the only comparison): the same period a year earlier.
    as_of: the report's date (default: the last incident's). provisional_months: periods
    ending within this many months of it are provisional (default 6). pdf: also print
    report.pdf with a headless Chromium (default True; said and skipped when there is none).
    area_col: the incident column naming each one's jurisdiction (instead of ``boundaries``).
    area_population: a CSV of residents per jurisdiction name (overrides the boundaries' column).
    population_by_age: a CSV of residents per name and age group, for age-adjusted rates.
    age_col, sex_col: the incidents' age (years or band) and sex columns (default: detected).
    ed_visits: an ESSENCE Table Builder CSV of all ED visits per day (:mod:`odgeo.report.ed_visits`):
    rates per 10,000 ED visits and each facility's completeness.
    """

    boundaries: str | None = None
    boundary_name_col: str | None = None
    boundary_population_col: str | None = None
    dissolve_boundaries: bool | None = None
    period: str | None = None
    compare: str | None = None
    as_of: str | None = None
    provisional_months: int | None = None
    pdf: bool | None = None
    area_col: str | None = None
    area_population: str | None = None
    population_by_age: str | None = None
    age_col: str | None = None
    sex_col: str | None = None
    ed_visits: str | None = None


@dataclass
class ReportRun:
    """Everything ``odgeo report`` produced.

    Attributes
    ----------
    read, incidents
        The incidents read (with their rejects) and the located ones used.
    period
        The period reported and the one it is compared with.
    what
        What is counted, in words: "suspected overdoses", or "overdose deaths" when every incident is one.
    rates, trend
        rates.csv and trend.csv as computed (the restricted view); ``shown_rates`` and
        ``shown_trend`` are what the audience's files hold.
    trend_fit
        The annual percent change (None without enough final periods or a population).
    page
        report.html's text.
    record, audience, gate, rows
        The run record, the audience, its gate, and where every input row went.
    """

    read: IncidentRead
    incidents: gpd.GeoDataFrame
    period: ReportPeriod
    rates: pd.DataFrame
    trend: pd.DataFrame
    shown_rates: pd.DataFrame
    shown_trend: pd.DataFrame
    trend_fit: Trend | None
    page: str
    record: RunRecord
    audience: str
    gate: Gate
    rows: RowCounts
    pdf: bool
    what: str = "suspected overdoses"
    ed_completeness: pd.DataFrame | None = None


def run_report(path, out_dir, settings: ReportSettings | None = None, *, overwrite: bool = False,
               progress: Callable[[str], None] | None = None) -> ReportRun:
    """Read ``path`` and write report.html (and report.pdf), rates.csv, trend.csv, rejects.csv and run.json.

    Parameters
    ----------
    path
        The incident file, folder or database URL.
    out_dir
        The output folder (checked, locked and written aside before anything else).
    settings
        Every setting (see :class:`ReportSettings`; ``boundaries`` is required).
    overwrite
        Replace a non-empty ``out_dir`` as a whole.
    progress
        Called with a few words before each step.

    Returns
    -------
    ReportRun
    """
    settings = settings or ReportSettings()
    _check_jurisdiction_settings(settings)
    return run_job("report", path, out_dir, selection_settings(settings), overwrite=overwrite, progress=progress,
                   analyse=lambda read, **kw: analyse_report(read, settings, **kw), write=_write_products,
                   read_input=lambda record, say: read_report_input(path, settings, record, say))


def _ledger_settings(settings: ReportSettings, length: str) -> dict:
    """What every release of a report series keeps: the period's length and the jurisdictions."""
    where = Path(settings.boundaries).name if settings.boundaries else f"area_col {settings.area_col}"
    return {"command": "report", "period": length, "jurisdictions": where}


def _check_jurisdiction_settings(settings: ReportSettings) -> None:
    if bool(settings.boundaries) == bool(settings.area_col):
        raise ParameterError("give the jurisdictions either as polygons with `boundaries` or as an incident column "
                             "naming each one's town or county with `area_col`" +
                             (", not both" if settings.boundaries else ""))
    if settings.area_col and (settings.boundary_name_col or settings.boundary_population_col
                              or settings.dissolve_boundaries):
        raise ParameterError("`boundary_name_col`, `boundary_population_col` and `dissolve_boundaries` apply with "
                             "`boundaries`; with `area_col` give residents per name with `area_population`")


def read_report_input(path, settings: ReportSettings, record: RunRecord,
                      say: Callable[[str], None] = lambda step: None) -> IncidentRead:
    """Read the incidents with the columns only the report reads: jurisdiction name, age and sex.

    They are carried on the incidents as ``area_name``, ``age`` and ``sex`` (text; absent when the
    file has no such column), and each drug column as :func:`odgeo.drugs.columns.carried`. A
    folder or glob is read as every command reads it, without them.
    """
    def pick(columns: list[str], taken: set[str]) -> dict[str, str | None]:
        return report_columns(columns, area_col=settings.area_col, age_col=settings.age_col, sex_col=settings.sex_col,
                              taken=taken, path=path, drug_columns=tuple(settings.drug_columns or ()))

    wanted = {"area_col": settings.area_col, "age_col": settings.age_col, "sex_col": settings.sex_col,
              "drug_columns": settings.drug_columns}
    return read_carrying(path, selection_settings(settings), record, say, pick, wanted=wanted,
                         place_column=settings.area_col, section="report_columns")


def analyse_report(read, settings: ReportSettings, *, record: RunRecord | None = None,
                   progress: Callable[[str], None] | None = None) -> ReportRun:
    """Compute the report's tables and page (nothing is written).

    Parameters
    ----------
    read
        The incidents, from :func:`odgeo.read_incidents`.
    settings
        Every setting (see :class:`ReportSettings`).
    record
        The run record to fill (None: a new one).
    progress
        Called with a few words before each step.

    Returns
    -------
    ReportRun
    """
    record = record or RunRecord("report")
    say = progress or (lambda step: None)
    audience = pick_audience(record, settings)
    read, used, rows = select_incidents(read, selection_settings(settings), record,
                                        require_dates="a report by period", unlocated_used=bool(settings.area_col))
    length = record.pick("period", settings.period, "quarter")
    if length not in REPORT_PERIODS:
        raise ParameterError(f"`period` must be one of {', '.join(REPORT_PERIODS)}, not {length!r}")
    gate = open_gate(record, settings, audience, ledger_settings=_ledger_settings(settings, length))
    if record.pick("compare", settings.compare, REPORT_COMPARISONS[0]) not in REPORT_COMPARISONS:
        raise ParameterError(f"`compare` {settings.compare!r}: a report compares a period with the same period a "
                             "year earlier (previous-year); adjacent periods differ by season")
    provisional_months = int(record.pick("provisional_months", settings.provisional_months, PROVISIONAL_MONTHS))
    period = report_period(used[OCCURRED_AT], length, settings.as_of)
    shown_as_of = None if not settings.as_of else (
        str(settings.as_of) if shows_everything(gate) else f"{pd.Timestamp(settings.as_of):%Y-%m}")  # no day
    record.param("as_of", shown_as_of, "given" if settings.as_of else "default",
                 None if settings.as_of else "the last incident's date")
    say(f"counting {period.label()} by area")
    areas, where = jurisdictions(settings, record, used, gate)
    now, before = in_period(used, period.current), in_period(used, period.earlier)
    ages, groups, by_age = incident_ages(settings, record, used)
    with record.timed("report"):
        rates = rate_table(used, areas, period, where=where, min_count=smallest_count(gate) or 1)
        if by_age is not None:
            rates = pd.concat([rates, age_adjusted_rates(ages, where, now, by_age, groups, areas, period)], axis=1)
        population = float(rates.loc[rates["area"] == TOTAL_AREA, "population"].iloc[0])
        trend, fit = trend_table(used, period, population=population, provisional_months=provisional_months,
                                 as_of=settings.as_of or period.current.end_time)
    key = str(period.current)  # a series holds each count by the period it counts
    shown_rates = public_rates(gate, rates, outside=int((now & (where < 0)).sum()),
                               earlier_outside=int((before & (where < 0)).sum()),
                               earlier_start=period.earlier.start_time.strftime("%Y-%m-%d"), years=period.years)
    shown_trend = public_trend(gate, trend, periods_per_year=_PER_YEAR[length], person_time=population * period.years)
    ed_completeness = None
    if settings.ed_visits:
        say("reading the emergency-department visits")
        rates, shown_rates, trend, shown_trend, ed_completeness = _ed_rates(
            settings.ed_visits, record, gate, period, areas, (rates, shown_rates), (trend, shown_trend))
    outcome = used.loc[now, OUTCOME].value_counts()
    outcomes = public_outcomes(gate, int(outcome.get("fatal", 0)), int(outcome.get("nonfatal", 0)),
                               int(outcome.get("unknown", 0)),
                               period_start=period.current.start_time.strftime("%Y-%m-%d"))
    people = demographic_counts(ages, incident_sexes(used), now, groups if AGE in used.columns else None)
    shown_people = public_demographics(gate, people, period=key)
    drugs = drug_counts(used, period.current, load_terms(settings.drug_terms), tuple(settings.drug_columns or ()))
    shown_drugs = None if drugs is None else {
        **drugs, "groups": public_drugs(gate, drugs["groups"], drugs["records"], period=key),
        "pending": public_part(gate, drugs["pending"], drugs["records"], key=f"{key}|pending"),
        "read_from": ", ".join(settings.drug_columns or ())}
    provisional = bool(trend["provisional"].iloc[-1])
    what = counted_words(used)
    record.sections["report"] = _report_section(period, rates, fit, provisional, drugs, settings, read, people)
    gate.view_section("report", lambda section: _public_section(section, shown_rates, shown_drugs, shown_people))
    content = ReportContent(
        title=settings.title or f"{what.capitalize()}{involving(settings)}: {period.label()}",
        what=what,
        period_label=period.label(), earlier_label=period.label(period.earlier), period_words=length,
        made=_made(gate, settings.as_of, period), rates=shown_rates, trend=shown_trend, trend_fit=fit,
        areas=areas, outcomes=outcomes, drugs=shown_drugs, provisional=provisional, people=shown_people,
        notes=[*_notes(read, settings, drugs, gate, rates, shown_drugs),
               *_ed_notes(shown_rates, shown_trend, period, what)],
        run_id=_run_id(record), version=__version__)
    return ReportRun(read, used, period, rates, trend, shown_rates, shown_trend, fit, report_page(content, gate),
                     record, audience, gate, rows, pdf=settings.pdf is not False, what=what,
                     ed_completeness=ed_completeness)


def _ed_rates(path: str, record: RunRecord, gate: Gate, period: ReportPeriod, areas: pd.DataFrame,
              rates: tuple[pd.DataFrame, pd.DataFrame], trends: tuple[pd.DataFrame, pd.DataFrame]):
    """Rates per 10,000 ED visits beside each count (exact and shown), and each facility's completeness."""
    ed = read_ed_visits(path)
    visits = period_visits(ed, period.current, [str(n) for n in areas["name"]])
    by_area = visits.reindex(rates[0]["area"].to_numpy()).to_numpy()
    exact_rates, shown_rates = (with_ed_rates(table, by_area) for table in rates)
    by_period = trend_visits(ed, trends[0])
    exact_trend, shown_trend = (with_ed_rates(table, by_period) for table in trends)
    table = None
    if ed.has_facilities:
        freq = period.current.freqstr
        periods = [pd.Period(start, freq=freq) for start in trends[0]["period_start"]]
        table = completeness(ed, periods)
        for trend in (exact_trend, shown_trend):
            trend["ed_facilities_complete"] = complete_facilities(table, [str(p) for p in periods])
    now = str(period.current)
    incomplete = [] if table is None else sorted(table.loc[~table["complete"] & (table["period"] == now), "facility"])
    missing = [a for a in areas["name"] if pd.isna(visits.get(a))] if ed.has_areas else "no patient area in the export"
    record.sections["ed_visits"] = {**ed.source, "rate_unit": f"per {PER_VISITS:,} ED visits",
                                    "complete_share": f"{COMPLETE_SHARE:.0%} of a period's days",
                                    "incomplete_facilities": incomplete, "areas_without_visits": missing}
    gate.view_section("ed_visits", lambda section: {k: v for k, v in section.items()
                                                    if k not in ("n_rows", "n_visits")})
    return exact_rates, shown_rates, exact_trend, shown_trend, table


def _ed_notes(shown_rates: pd.DataFrame, shown_trend: pd.DataFrame, period: ReportPeriod, what: str) -> list[str]:
    """What the ED denominator says, in words: the whole's rate and the period's completeness."""
    if "ed_visits" not in shown_rates.columns:
        return []
    whole = shown_rates[shown_rates["area"] == TOTAL_AREA].iloc[0]
    rate = whole[f"per_{PER_VISITS // 1000}k_ed_visits"]
    said = (f"{rate:,.1f} {what} per {PER_VISITS:,} emergency-department visits" if pd.notna(rate)
            else "a rate per emergency-department visit is not shown (its count is hidden)")
    note = f"Emergency departments ({period.label()}): {said}, of {int(whole['ed_visits']):,} visits in all."
    if "ed_facilities_complete" in shown_trend.columns:
        note += (f" {shown_trend['ed_facilities_complete'].iloc[-1]} facilities sent visits on at least "
                 f"{COMPLETE_SHARE:.0%} of the period's days; a period in which one sent on fewer is incomplete: "
                 "compare it with care (ed_completeness.csv).")
    return [note]


def _report_section(period: ReportPeriod, rates: pd.DataFrame, fit: Trend | None, provisional: bool,
                    drugs: dict | None, settings: ReportSettings, read: IncidentRead, people: pd.DataFrame) -> dict:
    """run.json's report section; the counts sit under the period they count (``by_period``), as a series holds them."""
    whole = rates[rates["area"] == TOTAL_AREA].iloc[0]
    return {
        "period": str(period.current), "compared_with": str(period.earlier), "period_length": period.length,
        "provisional": provisional,
        "date_used": f"the {read.columns.get(OCCURRED_AT) or OCCURRED_AT} column (incident date; "
                     "for deaths, give the date of death with --date-col, as NCHS counts them)",
        "rate_unit": "per 100,000 residents per year",
        "trend": None if fit is None else {"annual_percent_change": round(fit.apc, 2), "low": round(fit.low, 2),
                                           "high": round(fit.high, 2), "direction": fit.direction,
                                           "periods": fit.periods, "dispersion": round(fit.dispersion, 3)},
        "drugs_read_from": list(settings.drug_columns or ()) or "the suspected-drug column",
        "by_period": {
            str(period.current): {"n_incidents": int(whole["count"]), "n_fatal": int(whole["fatal"]),
                                  "drugs": drugs, "demographics": _people_record(people)},
            str(period.earlier): {"n_incidents": int(whole["earlier_count"])},
        },
    }


def _people_record(people: pd.DataFrame) -> dict:
    """{dimension: {group: count or None}}: the demographics table as run.json holds it."""
    return {dimension: {g: (None if pd.isna(n) else int(n)) for g, n in zip(part["group"], part["count"])}
            for dimension, part in people.groupby("dimension", sort=False)}


def _public_section(section: dict, shown_rates: pd.DataFrame, shown_drugs: dict | None,
                    shown_people: pd.DataFrame) -> dict:
    """run.json's report section for the public: every count as the page and rates.csv show it."""
    whole = shown_rates[shown_rates["area"] == TOTAL_AREA].iloc[0]
    now, earlier = section["period"], section["compared_with"]
    drugs = None if shown_drugs is None else {k: shown_drugs[k] for k in ("groups", "records", "pending")}
    if drugs is not None:
        drugs["records"] = _shown(whole["count"])
    return {**section, "by_period": {
        now: {"n_incidents": _shown(whole["count"]), "drugs": drugs, "demographics": _people_record(shown_people)},
        earlier: {"n_incidents": _shown(whole["earlier_count"])}}}


def _shown(value) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def _made(gate: Gate, as_of: str | None, period: ReportPeriod) -> str:
    """When the report was made for: the day for the team, the month for the public."""
    stamp = pd.Timestamp(as_of) if as_of else period.current.end_time
    return f"{stamp:%d %B %Y}" if shows_everything(gate) else f"{stamp:%B %Y}"


def _notes(read: IncidentRead, settings: ReportSettings, drugs: dict | None, gate: Gate, rates: pd.DataFrame,
           shown_drugs: dict | None) -> list[str]:
    notes = []
    if "unknown_age" in rates.columns:
        unknown = int(rates["unknown_age"].iloc[-1])
        notes.append("Age-adjusted rates use the US 2000 standard population (NCHS) over the age groups of "
                     "--population-by-age, with Fay and Feuer's interval"
                     + (f"; {unknown:,} of the period's overdoses have no age and are left out of them."
                        if shows_everything(gate) else "; overdoses without an age are left out of them."))
    if in_series(gate):
        notes.append(f"One report of a series (--ledger): each count is shown as first published until it has moved "
                     f"by {smallest_count(gate)} or more, so late records appear in steps of at least "
                     f"{smallest_count(gate)}, and parts may not add up exactly to their totals.")
    if shown_drugs is not None and shown_drugs["pending"]:
        notes.append(f"{shown_drugs['pending']:,} of the period's records have a cause still pending "
                     "investigation; their drugs are not yet known.")
    if settings.drug:
        notes.append(f"Only overdoses involving {', '.join(settings.drug)} are counted (--drug; docs/drugs.md).")
    if drugs is not None and shows_everything(gate):
        notes.append(f"Drugs: {drugs['no_drug_recorded']:,} of the period's overdoses have no suspected drug "
                     f"recorded and {drugs['matching_no_term']:,} name no drug group.")
    return notes


def _run_id(record: RunRecord) -> str:
    """The same input and settings give the same id: the input's hash and every parameter."""
    doc = {"input": record.sections.get("input", {}).get("sha256"),
           "parameters": {k: p.value for k, p in record.parameters.items()}}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _write_products(run: ReportRun, folder: OutputFolder) -> list[Path]:
    totals = run.gate.totals(run.rows.as_record())
    page = folder.path("report.html")
    written = [write_csv(run.shown_rates, folder.path("rates.csv")),
               write_csv(run.shown_trend, folder.path("trend.csv")),
               write_csv(run.gate.rejects(run.read.rejects, totals), folder.path("rejects.csv")),
               write_text(run.page, page)]
    if run.ed_completeness is not None:
        written.append(write_csv(run.ed_completeness, folder.path("ed_completeness.csv")))
    if run.pdf:
        chromium = find_chromium()
        if chromium is None:
            log.warning("no Chromium found, so report.pdf is not made; print report.html from a browser, or "
                        "install Chromium (or set ODGEO_CHROMIUM)")
        else:
            try:
                print_pdf(page, folder.path("report.pdf"), chromium=chromium)
                written.append(folder.path("report.pdf"))
            except OutputError as err:
                log.warning(str(err))
    return save_record(run.record, folder, written, run.gate)
