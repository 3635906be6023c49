"""report.html of ``odgeo report``: the page a coalition or a settlement board reads, printable, through the gate.

One self-contained page (no network; charts and map are inline SVG) laid out for A4 and Letter:
the headline and the change from a year earlier in words, the trend, the table of jurisdictions
with each rate's interval and reliability, a map of the rates in which a suppressed area looks
unlike a zero and unlike an area without a population, the drugs involved, and the data notes.
Every number comes from the tables written beside it (rates.csv, trend.csv, run.json), as the
gate's audience may see them.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from ..drugs.definitions import GROUP_LABELS, PARENTS
from ..publish.restricted import Gate
from ..report.public import smallest_count
from ..report.rates import Trend
from ..report.tables import TOTAL_AREA

__all__ = ["ReportContent", "report_page"]

_CLASS_COLOURS = ("#fee5d9", "#fcae91", "#fb6a4a", "#cb181d")
_SUPPRESSED = "#bdbdbd"
_ADJUSTED = ("age_adjusted_rate", "age_adjusted_low", "age_adjusted_high")


@dataclass
class ReportContent:
    """What the page shows, each part already through the gate."""

    title: str
    period_label: str
    earlier_label: str
    period_words: str  # "quarter", "month", "year"
    made: str  # when the report was made, as the audience may see it
    rates: pd.DataFrame
    trend: pd.DataFrame
    trend_fit: Trend | None
    areas: pd.DataFrame  # the jurisdictions, in the order of rates' rows (polygons, when given)
    outcomes: dict[str, int | None]
    drugs: dict | None
    provisional: bool
    people: pd.DataFrame | None = None  # dimension, group, count (see odgeo.report.tables.demographic_counts)
    notes: list[str] = field(default_factory=list)
    what: str = "suspected overdoses"  # or "overdose deaths", when every incident is one
    run_id: str = ""
    version: str = ""


def _n(gate: Gate, value) -> str:
    """A count as the page says it: "hidden" when under the limit or hidden with one (the page cannot say which)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "hidden" if smallest_count(gate) else "—"
    return f"{int(value):,}"


def _rate(row, rate: str = "rate", low: str = "rate_low", high: str = "rate_high") -> str:
    if pd.isna(row[rate]):
        return "—"
    return f"{row[rate]:,.1f} ({row[low]:,.1f}–{row[high]:,.1f})"


def report_page(content: ReportContent, gate: Gate) -> str:
    """The page's HTML."""
    c = content
    parts = [f"<h1>{html.escape(c.title)}</h1>",
             f"<p class='sub'>{html.escape(c.period_label)} · made {html.escape(c.made)}"
             + (" · <b>provisional</b>" if c.provisional else "") + "</p>"]
    if gate.banner:
        parts.insert(0, f"<div class='banner'>{html.escape(gate.banner)}</div>")
    parts += _headline(c, gate)
    parts += _trend(c, gate)
    parts += _table(c, gate)
    if isinstance(c.areas, gpd.GeoDataFrame):
        parts += _map(c)
    parts += _drugs(c, gate)
    parts += _people(c, gate)
    parts += _notes(c, gate)
    return PAGE.format(title=html.escape(c.title), body="\n".join(parts))


def _headline(c: ReportContent, gate: Gate) -> list[str]:
    whole = c.rates[c.rates["area"] == TOTAL_AREA].iloc[0]
    out = ["<h2>In brief</h2>"]
    parts = [f"{_n(gate, c.outcomes[k])} {w}" for k, w in (("fatal", "fatal"), ("nonfatal", "non-fatal"),
                                                           ("unknown", "of unknown outcome"))
             if c.outcomes.get(k) != 0]
    out.append(f"<p class='big'>{_n(gate, whole['count'])} {c.what} in {html.escape(c.period_label)}"
               + (f" ({', '.join(parts)})" if parts else "") + ".</p>")
    out.append(f"<p>The same {c.period_words} a year earlier ({html.escape(c.earlier_label)}): "
               f"{_n(gate, whole['earlier_count'])}. Change: {html.escape(str(whole['change']))}.</p>")
    if pd.notna(whole["rate"]):
        out.append(f"<p>Rate: {whole['rate']:,.1f} per 100,000 residents per year (95% interval "
                   f"{whole['rate_low']:,.1f} to {whole['rate_high']:,.1f}; {html.escape(whole['reliability'])}).</p>")
    return out


def _trend(c: ReportContent, gate: Gate) -> list[str]:
    out = [f"<h2>Trend by {c.period_words}</h2>", _bars(c.trend, gate)]
    if c.trend_fit is not None:
        t = c.trend_fit
        out.append(f"<p>Over the {t.periods} {c.period_words}s that are final, the rate changed "
                   f"{t.apc:+.1f}% a year (95% interval {t.low:+.1f}% to {t.high:+.1f}%): <b>{t.direction}</b>."
                   + (" The counts vary more than chance alone would make them, so the interval is widened."
                      if t.dispersion > 1 else "") + "</p>")
    else:
        out.append("<p>No trend: it needs three final periods and the area's population.</p>")
    if c.trend["count_12_months_ending"].notna().any():
        out.append(_line(c.trend, c.period_words))
    return out


def _bars(trend: pd.DataFrame, gate: Gate, w: int = 640, h: int = 200) -> str:
    counts = trend["count"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    top = max(np.nanmax(counts) if np.isfinite(counts).any() else 0, smallest_count(gate), 1)
    n = len(trend)
    step = (w - 40) / max(n, 1)
    bars = []
    for k, (value, provisional) in enumerate(zip(counts, trend["provisional"])):
        x = 30 + k * step
        if np.isnan(value):  # hidden: an outline up to the limit, so it reads as "fewer than", not as zero
            height = (smallest_count(gate) / top) * (h - 40)
            bars.append(f"<rect x='{x:.1f}' y='{h - 20 - height:.1f}' width='{step * 0.8:.1f}' height='{height:.1f}'"
                        " fill='none' stroke='#969696' stroke-dasharray='2,2'/>")
            continue
        height = value / top * (h - 40)
        fill = "#fcae91" if provisional else "#cb181d"
        bars.append(f"<rect x='{x:.1f}' y='{h - 20 - height:.1f}' width='{step * 0.8:.1f}' height='{height:.1f}' "
                    f"fill='{fill}'><title>{html.escape(str(trend['period'].iloc[k]))}: {int(value):,}</title></rect>")
    labels = "".join(f"<text x='{30 + k * step:.1f}' y='{h - 5}' font-size='9'>{html.escape(str(p))}</text>"
                     for k, p in enumerate(trend["period"]) if k % max(1, n // 8) == 0)
    axis = (f"<text x='2' y='14' font-size='9'>{int(top):,}</text><line x1='28' y1='{h - 20}' x2='{w}' "
            f"y2='{h - 20}' stroke='#636363'/>")
    key = ("<p class='key'><span style='color:#cb181d'>&#9632;</span> final <span style='color:#fcae91'>&#9632;"
           "</span> provisional (still being completed)"
           + (" <span style='color:#969696'>&#9633;</span> hidden" if smallest_count(gate) else "")
           + "</p>")
    return (f"<svg viewBox='0 0 {w} {h}' class='chart' role='img' aria-label='incidents by period'>" + axis
            + "".join(bars) + labels + "</svg>" + key)


def _line(trend: pd.DataFrame, period_words: str, w: int = 640, h: int = 140) -> str:
    values = trend["count_12_months_ending"].to_numpy(dtype=float)
    shown = np.isfinite(values)
    top = max(np.nanmax(values), 1)
    n = len(values)
    step = (w - 40) / max(n, 1)  # the bars' places: each point above its period's bar
    points = " ".join(f"{30 + (k + 0.4) * step:.1f},{h - 20 - v / top * (h - 40):.1f}"
                      for k, v in enumerate(values) if shown[k])
    labels = "".join(f"<text x='{30 + k * step:.1f}' y='{h - 5}' font-size='9'>{html.escape(str(p))}</text>"
                     for k, p in enumerate(trend["period"]) if k % max(1, n // 8) == 0)
    return (f"<svg viewBox='0 0 {w} {h}' class='chart' role='img' aria-label='12-month-ending count'>"
            f"<text x='2' y='14' font-size='9'>{int(top):,}</text>"
            f"<line x1='28' y1='{h - 20}' x2='{w}' y2='{h - 20}' stroke='#636363'/>"
            f"<polyline points='{points}' fill='none' stroke='#08519c' stroke-width='2'/>{labels}</svg>"
            f"<p class='key'>12-month-ending count: each point is the sum of the 12 months ending with that "
            f"{period_words} (none where a period inside is hidden, or before 12 months of data).</p>")


def _table(c: ReportContent, gate: Gate) -> list[str]:
    adjusted = "age_adjusted_rate" in c.rates.columns
    head = ("<tr><th>Area</th><th>Overdoses</th><th>Rate per 100,000 a year (95% interval)</th>"
            + ("<th>Age-adjusted rate (95% interval)</th>" if adjusted else "") + "<th>Reliability</th>"
            f"<th>{html.escape(c.earlier_label)}</th><th>Change</th></tr>")
    rows = []
    for _, r in c.rates.iterrows():
        name = "All areas" if r["area"] == TOTAL_AREA else str(r["area"])
        rows.append(f"<tr><td>{html.escape(name)}</td><td class='num'>{_n(gate, r['count'])}</td>"
                    f"<td class='num'>{_rate(r)}</td>"
                    + (f"<td class='num'>{_rate(r, *_ADJUSTED)}</td>" if adjusted else "")
                    + f"<td>{html.escape(str(r['reliability']))}</td>"
                    f"<td class='num'>{_n(gate, r['earlier_count'])}</td><td>{html.escape(str(r['change']))}</td></tr>")
    hidden = (f" Hidden: a count under {smallest_count(gate)}, or one hidden with it so that the total cannot give it "
              "back." if smallest_count(gate) else "")
    return ["<h2>By area</h2>", "<div class='wide'><table>" + head + "".join(rows) + "</table></div>",
            "<p class='key'>All areas includes incidents outside every area. Reliability: suppressed (hidden), "
            "unreliable (interval wider than 160% of the rate), unstable (20 or fewer), reliable." + hidden + "</p>"]


def _map(c: ReportContent, w: int = 480, h: int = 360) -> list[str]:
    areas = c.areas.reset_index(drop=True)
    rates = c.rates[c.rates["area"] != TOTAL_AREA].reset_index(drop=True)
    shown = rates["rate"].to_numpy(dtype=float)
    finite = shown[np.isfinite(shown)]
    breaks = np.quantile(finite, [0.25, 0.5, 0.75]) if len(finite) else np.array([])
    x0, y0, x1, y1 = areas.total_bounds
    scale = min(w / (x1 - x0), h / (y1 - y0))
    paths, labels = [], []
    for k, geom in enumerate(areas.geometry):
        suppressed = rates["reliability"].iloc[k] == "suppressed" and not np.isfinite(shown[k])
        no_population = rates["reliability"].iloc[k] == "no population"
        if suppressed:
            style = "fill='url(#hatch)' stroke='#636363'"
        elif no_population:
            style = "fill='#ffffff' stroke='#636363' stroke-dasharray='3,2'"
        else:
            style = f"fill='{_CLASS_COLOURS[int(np.searchsorted(breaks, shown[k], side='right'))]}' stroke='#636363'"
        rings = [p.exterior.coords for p in getattr(geom, "geoms", [geom])]
        d = " ".join("M" + " L".join(f"{(x - x0) * scale:.1f},{(y1 - y) * scale:.1f}" for x, y in ring) + " Z"
                     for ring in rings)
        paths.append(f"<path d='{d}' {style} stroke-width='0.6'><title>{html.escape(str(rates['area'].iloc[k]))}"
                     "</title></path>")
        spot = geom.representative_point()
        labels.append(f"<text x='{(spot.x - x0) * scale:.1f}' y='{(y1 - spot.y) * scale:.1f}' font-size='10' "
                      f"text-anchor='middle' class='label'>{html.escape(str(rates['area'].iloc[k]))}</text>")
    pattern = (f"<defs><pattern id='hatch' width='6' height='6' patternUnits='userSpaceOnUse' "
               f"patternTransform='rotate(45)'><rect width='6' height='6' fill='{_SUPPRESSED}'/>"
               "<line x1='0' y1='0' x2='0' y2='6' stroke='#ffffff' stroke-width='2'/></pattern></defs>")
    edges = [f"{b:.1f}" for b in breaks]
    classes = " ".join(f"<span style='color:{col}'>&#9632;</span> {lab}" for col, lab in zip(
        _CLASS_COLOURS, _class_labels(edges))) if len(finite) else ""
    return ["<div class='keep'><h2>Map of rates</h2>",  # hidden and "no population" differ from any rate
            f"<svg viewBox='0 0 {w} {h}' class='map' role='img' aria-label='rates by area'>{pattern}"
            + "".join(paths) + "".join(labels) + "</svg>",
            f"<p class='key'>Rate per 100,000 a year: {classes} · <span style='color:{_SUPPRESSED}'>&#9636;</span> "
            "hidden · &#9633; no population given</p></div>"]


def _class_labels(edges: list[str]) -> list[str]:
    if not edges:
        return []
    return [f"under {edges[0]}", f"{edges[0]}–{edges[1]}", f"{edges[1]}–{edges[2]}", f"{edges[2]} and over"]


def _drugs(c: ReportContent, gate: Gate) -> list[str]:
    if c.drugs is None:
        return ["<h2>Drugs involved</h2>", "<p>The input has no suspected-drug column.</p>"]
    groups = c.drugs["groups"]
    total = c.rates.loc[c.rates["area"] == TOTAL_AREA, "count"].iloc[0]
    rows = []
    for group, n in groups.items():
        if smallest_count(gate) and group in set(PARENTS.values()):
            continue  # the team's only (see odgeo.report.public)
        if n == 0 and group not in ("fentanyl", "xylazine", "cocaine", "methamphetamine"):
            continue
        label = html.escape(GROUP_LABELS.get(group, group))
        shown = n is not None and n >= smallest_count(gate)  # the gate says a small count (0 too) in words
        share = f"{n / total:.0%}" if shown and pd.notna(total) and total else "—"
        rows.append(f"<tr><td>{label}</td><td class='num'>{html.escape(_drug_count(gate, n))}</td>"
                    f"<td class='num'>{share}</td></tr>")
    return ["<h2>Drugs involved</h2>",
            f"<table><tr><th>Drug group</th><th>Overdoses</th><th>Share of the {html.escape(c.period_label)} "
            "total</th></tr>" + "".join(rows) + "</table>",
            f"<p class='key'>From {_read_from(c.drugs)}, read by odgeo's drug terms (docs/drugs.md). An overdose "
            "can involve several drugs, so the groups do not add up. "
            + ("Groups that hold others (any opioid, any stimulant) are shown to the team only: the difference "
               "with the groups inside them would count the overdoses with two drugs." if smallest_count(gate) else "")
            + "</p>"]


def _read_from(drugs: dict) -> str:
    columns = drugs.get("read_from")
    return f"the columns {html.escape(columns)}" if columns else "the suspected-drug column"


def _drug_count(gate: Gate, n: int | None) -> str:
    """A group's count: hidden ones, and zeros beside them, as the gate says small counts."""
    return gate.count(n) if smallest_count(gate) else f"{int(n or 0):,}"


def _people(c: ReportContent, gate: Gate) -> list[str]:
    """The period's overdoses by age group and by sex, side by side."""
    if c.people is None or c.people.empty:
        return []
    tables = []
    for dimension, part in c.people.groupby("dimension", sort=False):
        rows = "".join(f"<tr><td>{html.escape(str(g))}</td><td class='num'>{_n(gate, n)}</td></tr>"
                       for g, n in zip(part["group"], part["count"]))
        tables.append(f"<table class='side'><tr><th>{'Age' if dimension == 'age' else 'Sex'}</th><th>Overdoses</th>"
                      f"</tr>{rows}</table>")
    return [f"<div class='keep'><h2>Who: {html.escape(c.period_label)}</h2>", "".join(tables),
            "<p class='key'>Each column adds up to the period's overdoses."
            + (" A small count is hidden with the next smallest, so that the total cannot give it back."
               if smallest_count(gate) else "") + "</p></div>"]


def _notes(c: ReportContent, gate: Gate) -> list[str]:
    notes = [
        f"Period: {c.period_label}, compared with the same {c.period_words} a year earlier ({c.earlier_label}); "
        "changes are year over year only, as NCHS compares them.",
        "Rates are per 100,000 residents per year with exact Poisson 95% intervals (Garwood); a change is the "
        "ratio of the two rates with its exact conditional test.",
        "Reliability: counts under the publication limit are suppressed (NCHS suppresses 1–9); rates from 20 "
        "or fewer are unstable (CDC WISQARS); a rate whose interval is wider than 160% of it is unreliable "
        "(NCHS 2023).",
        "Provisional: periods ending within the provisional months before the report's date are still being "
        "completed (deaths are certified months later) and are drawn lighter.",
        *c.notes,
    ]
    if smallest_count(gate):
        notes.append(f"Counts under {smallest_count(gate)} are hidden, and where one area's count is hidden another is "
                     "hidden with it (with the incidents outside every area), so that the total cannot give it "
                     "back; a hidden count's rate and change are hidden too.")
    foot = f"odgeo {html.escape(c.version)} · run {html.escape(c.run_id)} · every setting and count: run.json"
    return ["<h2>Data notes</h2>", "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>",
            f"<p class='foot'>{foot}</p>"]


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
@page {{ size: auto; margin: 15mm; }}
body {{ font-family: system-ui, sans-serif; max-width: 48em; margin: 0 auto; padding: 0.6em; color: #222; }}
h1 {{ font-size: 1.4em; margin-bottom: 0.1em; }}
h2 {{ font-size: 1.1em; border-bottom: 1px solid #ccc; margin-top: 1.2em; break-after: avoid; }}
.sub, .key, .foot {{ color: #555; font-size: 0.85em; }}
.big {{ font-size: 1.2em; font-weight: 600; }}
.banner {{ background: #b2182b; color: #fff; padding: 0.4em; font-weight: bold; }}
svg.chart {{ width: 100%; height: auto; }}
svg.map {{ width: 100%; max-width: 480px; height: auto; border: 1px solid #ddd; }}
.wide {{ overflow-x: auto; max-width: 100%; }}
table {{ border-collapse: collapse; font-size: 0.8em; break-inside: avoid; }}
td, th {{ border: 1px solid #ddd; padding: 2px 5px; }} th {{ font-weight: 600; vertical-align: bottom; }}
td.num {{ text-align: right; }}
table.side {{ display: inline-table; margin-right: 1.5em; vertical-align: top; }}
svg, table, ul, .keep {{ break-inside: avoid; }}
text.label {{ paint-order: stroke; stroke: #fff; stroke-width: 3px; fill: #222; }}
</style></head>
<body>
{body}
</body></html>
"""
