"""summary.html of ``odgeo alerts``: one self-contained page a duty officer reads on a phone.

The alerts come first (one sentence each), then a small map of the areas (inline
SVG, no tiles: it works offline and pasted into an e-mail), then a 90-day chart
of each alerting area's daily counts with its threshold (public: the days in
alert only, since daily counts are small), and the backtest when there is one.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import numpy as np
import pandas as pd

from ..alerts.areas import ALL_AREAS
from ..alerts.drugs import NEW_DRUG_MONTHS, SHARE_AMONG, drug_label, drug_of_kind
from ..alerts.spikes import DailySeries
from ..incidents.dates import end_day, is_day_start
from ..publish.gate import AlertFiles

__all__ = ["CHART_DAYS", "alert_sentence", "area_heading", "chance_phrase", "scan_sentence", "summary_page"]

CHART_DAYS = 90
KIND_WORDS = {"threshold": "spike", "neighbour": "neighbouring spike", "ears": "EARS", "scan": "space-time cluster",
              "first": "first appearance", "share": "rising share"}
STATUS_COLOURS = {"new": "#b2182b", "ongoing": "#ef8a62", "ended": "#878787"}


def moment_text(value, fmt: str) -> str:
    """A window's end in words: the day it ends on (``end_day``), with hours when ``fmt`` has them.

    A public table's date ("2025-12-31") already names its day and is written as it is.
    """
    named = isinstance(value, str) and len(value.strip()) == 10
    stamp = pd.Timestamp(value)
    if named:
        return stamp.strftime(fmt).lstrip("0")
    if "%H" in fmt and is_day_start(stamp):  # midnight ends the day before: "30 Dec 24:00", not "31 Dec 00:00"
        return end_day(stamp).strftime(fmt.replace("%H:%M", "24:00")).lstrip("0")
    return (stamp if "%H" in fmt else end_day(stamp)).strftime(fmt).lstrip("0")


def _overdoses(count_text: str, what: str = "suspected overdoses") -> str:
    """The noun after a count as a sentence writes it ("1", "12", "fewer than 10"); ``what`` is the plural."""
    return what[:-1] if count_text == "1" else what


def as_of_words(stamp) -> str:
    """A run's reference time for a reader: "the end of 30 Dec 2025" at midnight, else "31 Dec 2025 20:17"."""
    stamp = pd.Timestamp(stamp)
    if is_day_start(stamp):
        return f"the end of {moment_text(stamp, '%d %b %Y')}"
    return stamp.strftime("%d %b %Y %H:%M").lstrip("0")


def chance_phrase(interval: float, permutations: int) -> str:
    """How often chance gives a scan cluster this strong: "about once in 53 days" (a recurrence interval)."""
    if interval >= permutations + 1 - 1e-6:
        return f"once in {permutations + 1:,} days or less often, the limit {permutations:,} permutations can tell"
    return f"about once in {interval:,.0f} days"


def scan_sentence(row, gate, max_days: int, permutations: int) -> str:
    """A scan cluster in words (``row`` from :meth:`Gate.scan_clusters`): counts, days and how rare it is."""
    rare = chance_phrase(float(row.recurrence_interval_days), permutations)
    observed = row.observed
    if observed is None or pd.isna(observed):
        what = f"{gate.hidden_words()} suspected overdoses within {max_days} days, more than expected"
    else:
        days = int(row.n_days)
        what = (f"{int(observed):,} suspected overdoses in {days} day{'s' if days != 1 else ''} where "
                f"{float(row.expected):.1f} were expected")
    return f"{what[0].upper()}{what[1:]}; a cluster this strong would arise by chance {rare}."


def alert_sentence(row, gate, fmt: str, window_hours: float, rarity: dict[str, str] | None = None,
                   place: Callable[[str], str] | None = None, new_drug_months: int = NEW_DRUG_MONTHS,
                   what: str = "suspected overdoses") -> str:
    """One alert in words, with counts as the audience may see them.

    ``rarity``: :func:`chance_phrase` by area; ``place``: an area's name in words
    (:meth:`odgeo.alerts.areas.AlertAreas.place`; default: the name, "the whole input" for ``all``);
    ``new_drug_months``: how far back a drug's first appearance looked; ``what``: what is counted,
    plural ("overdose deaths" when every incident is a death).
    """
    place = place or (lambda name: "the whole input" if name == ALL_AREAS else name)
    kind, group = drug_of_kind(row.kind)
    if group is not None and row.status != "ended":
        return _drug_sentence(row, kind, group, gate, fmt, window_hours, rarity, place, new_drug_months, what)
    area = place(str(row.area))
    when = moment_text(row.window_end, fmt)
    limit = row.threshold_or_expected
    shown_limit = gate.shows(limit)
    hours = f"{window_hours:g} hours"
    n = gate.count(int(row.count))
    if row.status == "ended":  # as of this run (ended_at), not the end of the alert's last window
        ended = getattr(row, "ended_at", None)
        ended_when = moment_text(ended, fmt) if ended is not None and pd.notna(ended) else when
        return (f"The {kind_words(row)} alert in {area} (since {moment_text(row.first_seen, fmt)}) has ended "
                f"as of {ended_when}.")
    more = ""
    # The last run's window is another window (a day earlier): a larger count is "up from", not
    # "joined"; and between two hidden counts even "larger" is a fact the public may not read.
    if (row.status == "ongoing" and pd.notna(row.prior_count) and int(row.count) > int(row.prior_count)
            and gate.shows(row.count) and gate.shows(row.prior_count)):
        more = (f" Up from {int(row.prior_count)} in the last run's window; ongoing since "
                f"{moment_text(row.first_seen, fmt)}.")
    elif row.status == "ongoing":
        more = f" Ongoing since {moment_text(row.first_seen, fmt)}."
    if row.kind == "threshold":
        rule = (f"; the alert threshold there is {int(limit)}" if shown_limit else
                ", which reached the area's alert threshold")
        return f"{n.capitalize()} {_overdoses(n, what)} in {area} in the {hours} to {when}{rule}.{more}"
    if row.kind == "neighbour":
        related = " and ".join(place(a.strip()) for a in str(row.related_areas).split(",") if a.strip())
        return (f"{area[0].upper()}{area[1:]} borders {related}, in spike alert in the {hours} to {when}; "
                f"it had {n} {_overdoses(n, what)} itself.{more}")
    if row.kind == "scan":
        days = max(1, round((pd.Timestamp(row.window_end) - pd.Timestamp(row.window_start)) / pd.Timedelta(days=1)))
        # A small cluster's first day dates its first incidents (its public row shows the month only).
        span = (f"within {days} day{'s' if days != 1 else ''} to {when}" if gate.shows(row.count)
                else f"in the days to {when}")
        expected = f"where {float(limit):.1f} were expected" if shown_limit else "more than expected"
        chance = f" that chance gives {rarity[row.area]}" if rarity and row.area in rarity else ""
        return (f"{n.capitalize()} {_overdoses(n, what)} in and around {area} {span}, {expected}: "
                f"a space-time cluster{chance}.{more}")
    bound = (f", above the expected upper bound of {float(limit):.1f}" if shown_limit
             else ", above what the week before leads to expect")
    return f"{n.capitalize()} {_overdoses(n, what)} in {area} on the day to {when}{bound} ({kind_words(row)}).{more}"


def _drug_sentence(row, kind: str, group: str, gate, fmt: str, window_hours: float, rarity, place,
                   new_drug_months: int, what: str) -> str:
    """A drug alert in words: the drug named in the sentence."""
    label = drug_label(group)
    area = place(str(row.area))
    when = moment_text(row.window_end, fmt)
    n = gate.count(int(row.count))
    if kind == "first":
        where = "anywhere" if row.area == ALL_AREAS else "there"
        return (f"{n.capitalize()} {_overdoses(n, what)} involving {label} in {area} in the {window_hours:g} hours to "
                f"{when}: the first {where} in at least {new_drug_months} months.")
    if kind == "share" or kind.startswith(SHARE_AMONG):
        days = max(1, round((pd.Timestamp(row.window_end) - pd.Timestamp(row.window_start)) / pd.Timedelta(days=1)))
        expected = (f", where its share of the weeks before leads to expect {float(row.threshold_or_expected):.1f}"
                    if gate.shows(row.threshold_or_expected) else "")
        among = "" if kind == "share" else f" involving {drug_label(kind[len(SHARE_AMONG):])}"
        counted = what.removeprefix("suspected ")
        return (f"{label[0].upper()}{label[1:]} was involved in {n} of the {counted}{among} of the {days} days "
                f"to {when}{expected}: its share{' among them' if among else ''} is rising.")
    plain = alert_sentence(row._replace(kind=kind), gate, fmt, window_hours, rarity, place, what=what)
    return _OVERDOSES.sub(lambda m: f"{m.group(0)} involving {label}", plain, count=1)


_OVERDOSES = re.compile(r"\b(?:overdose deaths?|overdoses?)\b")


def _base_kind_words(kind: str) -> str:
    """A kind without its drug in words: "spike", "rising share among fentanyl and analogues"."""
    if kind.startswith(SHARE_AMONG):
        return f"rising share among {drug_label(kind[len(SHARE_AMONG):])}"
    return KIND_WORDS[kind]


def kind_words(row) -> str:
    """An alert's kind for a reader: "spike", "EARS C1 and C2", "xylazine spike"."""
    kind, group = drug_of_kind(row.kind)
    methods = [m.strip() for m in str(getattr(row, "methods", "") or "").split(",") if m.strip()]
    if kind != "ears" or not methods:
        words = _base_kind_words(kind)
    else:
        listed = methods[0] if len(methods) == 1 else f"{', '.join(methods[:-1])} and {methods[-1]}"
        words = f"EARS {listed}"
    return words if group is None else f"{drug_label(group)} {words}"


def summary_page(*, alerts: pd.DataFrame, series: DailySeries, files: AlertFiles, areas, gate, as_of,
                 backtest, title: str, source: str, drugs: dict | None = None,
                 what: str = "suspected overdoses") -> str:
    """summary.html: the alerts in words, a map of the areas and the recent days' counts.

    Self-contained: inline CSS and SVG, no script, no external resource.

    Parameters
    ----------
    alerts
        This run's alerts as the audience may see them, each with its sentence.
    series
        The daily counts per area.
    files
        What the gate lets the audience see of the alert files (shown areas, hidden days).
    areas
        The watched areas (names and outlines).
    gate
        The publishing gate (how counts are written, the banner).
    as_of
        The reference time.
    backtest
        The backtest's summary, or None.
    title, source
        The page's title and the input's name.
    drugs
        run.json's drug_alerts as the audience may read it (:func:`odgeo.alerts.public.drug_panel`),
        or None when no drug is watched.
    what
        What is counted, plural ("overdose deaths" when every incident is a death).

    Returns
    -------
    str
        The page's HTML.
    """
    when = moment_text(as_of, files.time_format)
    live = alerts[alerts["status"] != "ended"]
    small = f" ({gate.hidden_rule()})" if gate.hidden_rule() else ""
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p class='sub'>{html.escape(source)} · as of {html.escape(when)} · audience: "
             f"{html.escape(gate.audience)}{small}</p>"]
    if gate.banner:
        parts.insert(0, f"<div class='banner'>{html.escape(gate.banner)}</div>")
    if alerts.empty:
        parts.append("<p class='none'>No alerts.</p>")
    else:
        items = "".join(
            f"<li><span class='badge' style='background:{STATUS_COLOURS[r.status]}'>{html.escape(r.status)}</span> "
            f"<b>{html.escape(kind_words(r))}</b>: {html.escape(r.sentence)}</li>" for r in alerts.itertuples())
        parts.append(f"<h2>Alerts ({len(live)} live)</h2><ul class='alerts'>{items}</ul>")
    if drugs is not None:
        parts.append(_drug_panel(drugs, live))
    parts.append("<h2>Areas</h2>" + _svg_map(areas, live, files.shown_areas))
    charts = [_chart(series, name, files, alerts, area_heading(areas, name), what)
              for name in dict.fromkeys(live["area"])]
    if charts:
        parts.append(f"<h2>Last {CHART_DAYS} days</h2>" + "".join(charts))
    if backtest is not None:
        parts.append("<h2>Backtest</h2>" + _backtest_svg(backtest.table) + _backtest_table(backtest.table))
    parts.append("<p class='foot'>What each alert means: docs/alerts.md. Every setting: run.json.</p>")
    return PAGE.format(title=html.escape(title), body="\n".join(parts))


def _drug_panel(drugs: dict, live: pd.DataFrame) -> str:
    """The drugs watched: each one's live alerts, and (for the team) its window's count and its shares."""
    kinds = [drug_of_kind(k) for k in live["kind"]]
    figures = drugs.get("by_group") or {}
    head = "<tr><th>Drug group</th><th>Live alerts</th>" + (
        "<th>In the window</th><th>Share, last 7 days</th><th>Share, 8 weeks before</th>" if figures else "") + "</tr>"
    rows = []
    for group in drugs["groups"]:
        mine = sorted({_base_kind_words(k) for k, g in kinds if g == group})
        cells = f"<td>{html.escape(drug_label(group))}</td><td>{html.escape(', '.join(mine) or 'none')}</td>"
        if figures:
            found = figures.get(group, {})
            share = found.get("share", {})
            right = "<td style='text-align:right'>"  # summary.html's style is shared with other pages
            cells += (f"{right}{found.get('n_in_window', 0):,}</td>{right}{_share(share.get('recent'))}</td>"
                      f"{right}{_share(share.get('baseline'))}</td>")
        rows.append(f"<tr>{cells}</tr>")
    return ("<h2>Drugs watched</h2><table class='drugs'>" + head + "".join(rows) + "</table>"
            "<p class='key'>From the suspected-drug column (docs/drugs.md): each group's own spikes, its first "
            "appearance, and its share of all overdoses rising.</p>")


def _share(pair) -> str:
    if not pair or not pair[1]:
        return "—"
    return f"{pair[0]:,} of {pair[1]:,} ({pair[0] / pair[1]:.0%})"


def _svg_map(areas, live: pd.DataFrame, shown: set[str] | None, width: int = 320, height: int = 240) -> str:
    frame = areas.frame()
    if shown is not None:
        frame = frame[frame["name"].isin(shown)]
    if frame.empty:
        return "<p>No area to draw.</p>"
    x0, y0, x1, y1 = frame.total_bounds
    scale = min(width / max(x1 - x0, 1e-9), height / max(y1 - y0, 1e-9))
    kinds = live.groupby("area")["kind"].agg(set)
    paths = []
    for name, geom in zip(frame["name"], frame.geometry):
        k = kinds.get(name, set())
        fill = "#d7301f" if k - {"neighbour"} else ("#fdbb84" if k else "#f0f0f0")
        rings = [p.exterior.coords for p in getattr(geom, "geoms", [geom]) if hasattr(p, "exterior")]
        d = " ".join("M" + " L".join(f"{(x - x0) * scale:.1f},{(y1 - y) * scale:.1f}" for x, y in ring) + " Z"
                     for ring in rings)
        paths.append(f"<path d='{d}' fill='{fill}' stroke='#636363' stroke-width='0.6'>"
                     f"<title>{html.escape(area_heading(areas, name))}</title></path>")
    return (f"<svg viewBox='0 0 {width} {height}' class='map' role='img' aria-label='areas in alert'>"
            + "".join(paths) + "</svg><p class='key'><span style='color:#d7301f'>&#9632;</span> in alert "
            "<span style='color:#fdbb84'>&#9632;</span> neighbour of one in alert</p>")


def area_heading(areas, name: str) -> str:
    """An area's name as a heading: "West", "The area near 33.42° N, 111.94° W"."""
    words = areas.place(name) if hasattr(areas, "place") else name
    return words[0].upper() + words[1:]


def _chart(series: DailySeries, name: str, files: AlertFiles, alerts: pd.DataFrame, heading: str,
           what: str = "suspected overdoses") -> str:
    """Daily counts of the last 90 days with the threshold, or (public) the days in alert.

    The y axis is labelled at 0 and at its top (the highest day, or the threshold when higher).
    """
    col = series.names.index(name)
    counts = series.counts[-CHART_DAYS:, col]
    days = series.days[-CHART_DAYS:]
    if files.hidden is not None:  # public: no daily counts
        kinds = alerts[(alerts["area"] == name) & (alerts["status"] != "ended")]
        since = moment_text(kinds["first_seen"].min(), files.time_format) if len(kinds) else ""
        return (f"<h3>{html.escape(heading)}</h3><p>Daily counts are not shown to the public: most are smaller than "
                f"can be published. In alert since {html.escape(since)}.</p>")
    left, w, h, n = 24, 320, 90, len(counts)
    bar = (w - left) / max(n, 1)
    top = max(int(counts.max(initial=0)), 1)
    limit = alerts.loc[(alerts["area"] == name) & (alerts["kind"] == "threshold"), "threshold_or_expected"]
    threshold = float(limit.iloc[0]) if len(limit) and pd.notna(limit.iloc[0]) else None
    top = max(top, int(np.ceil(threshold))) if threshold is not None else top

    def y_of(c: float) -> float:
        return h - c / top * (h - 10)

    line = (f"<line x1='{left}' x2='{w}' y1='{y_of(threshold):.1f}' y2='{y_of(threshold):.1f}' stroke='#b2182b' "
            "stroke-dasharray='4 2'/>") if threshold is not None else ""
    axis = (f"<line x1='{left - 2}' x2='{left - 2}' y1='10' y2='{h}' stroke='#999'/>"
            f"<text x='{left - 5}' y='14' font-size='9' text-anchor='end'>{top}</text>"
            f"<text x='{left - 5}' y='{h - 1}' font-size='9' text-anchor='end'>0</text>")
    bars = "".join(f"<rect x='{left + i * bar:.1f}' y='{y_of(c):.1f}' width='{max(bar - 0.5, 0.5):.1f}' "
                   f"height='{c / top * (h - 10):.1f}' fill='#4d4d4d'><title>{d}: {c}</title></rect>"
                   for i, (d, c) in enumerate(zip(days, counts.tolist())))
    return (f"<h3>{html.escape(heading)}</h3><svg viewBox='0 0 {w} {h}' class='chart' role='img' "
            f"aria-label='{what} a day'>{axis}{bars}{line}</svg>"
            f"<p class='key'>{what.capitalize()} a day, {html.escape(days[0])} to {html.escape(days[-1])}; "
            f"highest day {int(counts.max(initial=0))}"
            + (f"; dashed: the threshold ({threshold:g})" if line else "") + "</p>")


def _backtest_svg(table: pd.DataFrame, w: int = 320, h: int = 200) -> str:
    """Alerts per month (x) against the share of planted spikes detected (y), one point per method and size."""
    if table.empty:
        return ""
    xmax = max(float(table["alerts_per_month"].max()), 1.0)
    colours = dict(zip(dict.fromkeys(table["method"]), ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e"]))
    dots = []
    for r in table.itertuples():
        share = r.detected_share if r.detected_share is not None and not np.isnan(r.detected_share) else 0.0
        x, y = 30 + r.alerts_per_month / xmax * (w - 40), h - 20 - share * (h - 30)
        dots.append(f"<circle cx='{x:.1f}' cy='{y:.1f}' r='{2 + r.spike_size ** 0.5:.1f}' fill='{colours[r.method]}'>"
                    f"<title>{html.escape(r.method)}, spikes of {r.spike_size}: {share:.0%} detected, "
                    f"{r.alerts_per_month} alerts a month</title></circle>")
    axes = (f"<line x1='30' y1='{h - 20}' x2='{w}' y2='{h - 20}' stroke='#000'/><line x1='30' y1='0' x2='30' "
            f"y2='{h - 20}' stroke='#000'/><text x='{w / 2}' y='{h - 4}' font-size='10'>alerts per month "
            f"(0 to {xmax:.1f})</text><text x='34' y='10' font-size='10'>share detected</text>"
            f"<text x='27' y='{h - 20}' font-size='9' text-anchor='end'>0%</text>"
            f"<text x='27' y='{10 + 9}' font-size='9' text-anchor='end'>100%</text>")
    key = " ".join(f"<span style='color:{c}'>&#9679;</span> {html.escape(m)}" for m, c in colours.items())
    return f"<svg viewBox='0 0 {w} {h}' class='chart'>{axes}{''.join(dots)}</svg><p class='key'>{key}</p>"


#: backtest.csv's columns as the summary's table heads them (the CSV keeps its names).
BACKTEST_HEADS = {"method": "method", "spike_size": "spike size", "alerts_per_month": "alerts a month",
                  "alerts_per_month_all": "of them in all", "alerts_per_area_month_max": "most in one area a month",
                  "n_spikes": "spikes planted", "detected_share": "share detected",
                  "median_days_to_detection": "median days to detection",
                  "n_spikes_skipped": "spikes not planted (no room)"}


def _backtest_table(table: pd.DataFrame) -> str:
    """The backtest's rows, in a box that scrolls sideways on a phone rather than overflow the page."""
    head = "".join(f"<th>{html.escape(BACKTEST_HEADS.get(c, c.replace('_', ' ')))}</th>" for c in table.columns)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape('' if pd.isna(v) else str(v))}</td>" for v in r) + "</tr>"
                   for r in table.itertuples(index=False))
    return f"<div class='wide'><table><tr>{head}</tr>{rows}</table></div>"


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 40em; margin: 0 auto; padding: 0.6em; color: #222; }}
h1 {{ font-size: 1.3em; margin-bottom: 0.1em; }} h2 {{ font-size: 1.1em; border-bottom: 1px solid #ccc; }}
h3 {{ font-size: 1em; margin: 0.8em 0 0.2em; }}
.sub, .key, .foot {{ color: #555; font-size: 0.85em; }}
.banner {{ background: #b2182b; color: #fff; padding: 0.4em; font-weight: bold; }}
ul.alerts {{ padding-left: 1em; }} ul.alerts li {{ margin-bottom: 0.5em; }}
.badge {{ color: #fff; border-radius: 3px; padding: 0 0.3em; font-size: 0.8em; }}
svg.map, svg.chart {{ width: 100%; max-width: 320px; height: auto; background: #fff; border: 1px solid #ddd; }}
.wide {{ overflow-x: auto; max-width: 100%; }}
table {{ border-collapse: collapse; font-size: 0.75em; }} td, th {{ border: 1px solid #ddd; padding: 2px 4px; }}
th {{ font-weight: 600; vertical-align: bottom; }}
</style></head>
<body>
{body}
</body></html>
"""
