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
from ..boundaries.counts import dissolve_by_name, read_boundaries
from ..drugs.definitions import load_terms
from ..errors import OutputError, ParameterError
from ..incidents.read import IncidentRead
from ..incidents.selection import RowCounts
from ..io.outputs import OutputFolder
from ..io.pdf import find_chromium, print_pdf
from ..io.writers import write_csv, write_text
from ..maps.report_page import ReportContent, report_page
from ..publish.restricted import Gate
from ..report.public import (
    public_drugs,
    public_outcomes,
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
    area_of_incidents,
    drug_counts,
    in_period,
    rate_table,
    report_period,
    trend_table,
)
from ..runrecord import RunRecord
from ..schema import OCCURRED_AT, OUTCOME
from .common import JobSettings, involving, open_gate, pick_audience, run_job, save_record, select_incidents

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
    as_of: the report's date (default: the last incident's). provisional_months: periods
    ending within this many months of it are provisional (default 6). pdf: also print
    report.pdf with a headless Chromium (default True; said and skipped when there is none).
    """

    boundaries: str | None = None
    boundary_name_col: str | None = None
    boundary_population_col: str | None = None
    dissolve_boundaries: bool | None = None
    period: str | None = None
    as_of: str | None = None
    provisional_months: int | None = None
    pdf: bool | None = None


@dataclass
class ReportRun:
    """Everything ``odgeo report`` produced.

    Attributes
    ----------
    read, incidents
        The incidents read (with their rejects) and the located ones used.
    period
        The period reported and the one it is compared with.
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
    if not settings.boundaries:
        raise ParameterError("`boundaries` is required: the jurisdictions to report on (polygons with a name and "
                             "a population column)")
    return run_job("report", path, out_dir, settings, overwrite=overwrite, progress=progress,
                   analyse=lambda read, **kw: analyse_report(read, settings, **kw), write=_write_products)


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
    read, used, rows = select_incidents(read, settings, record, require_dates="a report by period")
    gate = open_gate(record, settings, audience)
    length = record.pick("period", settings.period, "quarter")
    if length not in REPORT_PERIODS:
        raise ParameterError(f"`period` must be one of {', '.join(REPORT_PERIODS)}, not {length!r}")
    provisional_months = int(record.pick("provisional_months", settings.provisional_months, PROVISIONAL_MONTHS))
    period = report_period(used[OCCURRED_AT], length, settings.as_of)
    shown_as_of = None if not settings.as_of else (
        str(settings.as_of) if shows_everything(gate) else f"{pd.Timestamp(settings.as_of):%Y-%m}")  # no day
    record.param("as_of", shown_as_of, "given" if settings.as_of else "default",
                 None if settings.as_of else "the last incident's date")
    say(f"counting {period.label()} by area")
    areas = _jurisdictions(settings, record)
    with record.timed("report"):
        rates = rate_table(used, areas, period, min_count=smallest_count(gate) or 1)
        population = float(rates.loc[rates["area"] == TOTAL_AREA, "population"].iloc[0])
        trend, fit = trend_table(used, period, population=population, provisional_months=provisional_months,
                                 as_of=settings.as_of or period.current.end_time)
    now, before = in_period(used, period.current), in_period(used, period.earlier)
    where = area_of_incidents(used, areas)
    shown_rates = public_rates(gate, rates, outside=int((now & (where < 0)).sum()),
                               earlier_outside=int((before & (where < 0)).sum()))
    shown_trend = public_trend(gate, trend, periods_per_year=_PER_YEAR[length])
    outcome = used.loc[now, OUTCOME].value_counts()
    outcomes = public_outcomes(gate, int(outcome.get("fatal", 0)), int(outcome.get("nonfatal", 0)),
                               int(outcome.get("unknown", 0)))
    drugs = drug_counts(used, period.current, load_terms(settings.drug_terms))
    shown_drugs = None if drugs is None else {**drugs, "groups": public_drugs(gate, drugs["groups"],
                                                                             drugs["records"])}
    provisional = bool(trend["provisional"].iloc[-1])
    record.sections["report"] = _report_section(period, rates, fit, provisional, drugs, settings, read)
    gate.view_section("report", lambda section: _public_section(section, shown_drugs))
    content = ReportContent(
        title=settings.title or f"Suspected overdoses{involving(settings)}: {period.label()}",
        period_label=period.label(), earlier_label=period.label(period.earlier), period_words=length,
        made=_made(gate, settings.as_of, period), rates=shown_rates, trend=shown_trend, trend_fit=fit,
        areas=areas, outcomes=outcomes, drugs=shown_drugs, provisional=provisional,
        notes=_notes(read, settings, drugs, gate), run_id=_run_id(record), version=__version__)
    return ReportRun(read, used, period, rates, trend, shown_rates, shown_trend, fit, report_page(content, gate),
                     record, audience, gate, rows, pdf=settings.pdf is not False)


def _jurisdictions(settings: ReportSettings, record: RunRecord) -> gpd.GeoDataFrame:
    assert settings.boundaries is not None
    areas, columns = read_boundaries(settings.boundaries, name_col=settings.boundary_name_col,
                                     population_col=settings.boundary_population_col)
    if settings.dissolve_boundaries:
        areas = dissolve_by_name(areas)
    elif areas["name"].duplicated().any():
        raise ParameterError(f"`boundaries` {settings.boundaries}: column {columns['name']!r} names "
                             f"{areas['name'].nunique()} areas for {len(areas)} polygons; choose a column of unique "
                             "names with `boundary_name_col`, or count each name as one area with "
                             "`dissolve_boundaries`")
    record.sections["boundaries"] = {"path": Path(settings.boundaries).name, "columns": columns,
                                     "n_areas": len(areas),
                                     "n_areas_without_population": int(areas["population"].isna().sum())}
    if columns.get("population") is None:
        log.warning(f"{Path(settings.boundaries).name}: no population column, so the report has counts and "
                    "changes but no rates; name it with `boundary_population_col`")
    return areas


def _report_section(period: ReportPeriod, rates: pd.DataFrame, fit: Trend | None, provisional: bool,
                    drugs: dict | None, settings: ReportSettings, read: IncidentRead) -> dict:
    whole = rates[rates["area"] == TOTAL_AREA].iloc[0]
    return {
        "period": str(period.current), "compared_with": str(period.earlier), "period_length": period.length,
        "provisional": provisional,
        "date_used": f"the {read.columns.get(OCCURRED_AT) or OCCURRED_AT} column (incident date; "
                     "for deaths, give the date of death with --date-col, as NCHS counts them)",
        "rate_unit": "per 100,000 residents per year",
        "n_incidents": int(whole["count"]), "n_fatal": int(whole["fatal"]),
        "n_incidents_year_earlier": int(whole["earlier_count"]),
        "trend": None if fit is None else {"annual_percent_change": round(fit.apc, 2), "low": round(fit.low, 2),
                                           "high": round(fit.high, 2), "direction": fit.direction,
                                           "periods": fit.periods, "dispersion": round(fit.dispersion, 3)},
        "drugs": drugs,
    }


def _public_section(section: dict, shown_drugs: dict | None) -> dict:
    """run.json's report section for the public: the drug counts as the page shows them, no matching tallies."""
    out = {**section}
    out.pop("n_fatal", None)
    if shown_drugs is not None:
        out["drugs"] = {"groups": shown_drugs["groups"], "records": shown_drugs["records"]}
    return out


def _made(gate: Gate, as_of: str | None, period: ReportPeriod) -> str:
    """When the report was made for: the day for the team, the month for the public."""
    stamp = pd.Timestamp(as_of) if as_of else period.current.end_time
    return f"{stamp:%d %B %Y}" if shows_everything(gate) else f"{stamp:%B %Y}"


def _notes(read: IncidentRead, settings: ReportSettings, drugs: dict | None, gate: Gate) -> list[str]:
    notes = []
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
