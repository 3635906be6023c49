"""summary.html of ``odgeo outreach``: the team lead's morning page, or the coalition's (through the gate).

One self-contained page that reads on a phone, in the style of the alerts summary
(:mod:`odgeo.maps.summary`): today's list by tier, the places to canvass on a small map,
the funnel, and the practice checks. The public page has no list, no checks and no day.
"""

from __future__ import annotations

import html

import geopandas as gpd
import pandas as pd

from ..outreach.public import as_of_words, shows_persons, smallest_area
from ..publish.restricted import Gate
from .summary import PAGE

__all__ = ["FUNNEL_WORDS", "TIER_WORDS", "outreach_page"]

TIER_WORDS = {"new": "new (under 24 h)", "due": "due (24–72 h)", "overdue": "overdue (past due, not yet tried)",
              "catch-up": "catch-up (tried, not reached)"}
FUNNEL_WORDS = {"attempted": "tried", "reached": "reached", "engaged": "engaged", "referred": "referred",
                "started_care": "started care", "tried_within_72h": "tried within 72 h"}
_TOP_ROWS = 25
_TOP_PLACES = 10


def outreach_page(*, gate: Gate, as_of: pd.Timestamp, worklist: pd.DataFrame, places: gpd.GeoDataFrame,
                  funnel: pd.DataFrame | None, checks: pd.DataFrame | None, linkage: list[dict],
                  window_hours: float, place_days: float, title: str, notes: tuple[str, ...] | list[str] = ()) -> str:
    """The page's HTML (``places`` and ``funnel`` as the gate's audience may see them)."""
    public = not shows_persons(gate)
    parts = [f"<h1>{html.escape(title)}</h1>", f"<p class='sub'>As of {as_of_words(gate, as_of)}</p>"]
    if gate.banner:
        parts.insert(0, f"<div class='banner'>{html.escape(gate.banner)}</div>")
    parts += [f"<p class='note'>Note: {html.escape(n)}.</p>" for n in notes]
    if public:
        parts.append("<p>This public page shows no person: the team's list is made only in a restricted run. "
                     + html.escape(gate.hidden_rule().capitalize() or "") + ".</p>")
    else:
        parts += _today(worklist, window_hours)
    parts += _places(places, public, smallest_area(gate), place_days)
    if funnel is not None:
        parts += _funnel(funnel, public)
    if checks is not None and not public:
        parts += _checks(checks)
    if linkage and not public:
        parts += _linkage(linkage)
    parts.append("<p class='foot'>What each column means: docs/outreach.md. Every setting: run.json.</p>")
    return PAGE.format(title=html.escape(title), body="\n".join(parts))


def _today(worklist: pd.DataFrame, window_hours: float) -> list[str]:
    n = len(worklist)
    out = ["<h2>Today's list</h2>"]
    if not n:
        return out + ["<p>No one is waiting for a visit.</p>"]
    tiers = worklist["tier"].value_counts()
    today = int((worklist["today"] == "yes").sum())
    first = "the first is today's visit" if today == 1 else f"the first {today} are today's visits"
    out.append(f"<p>{n} {'person' if n == 1 else 'people'} to reach"
               + (f"; {first}" if today < n else "") + ". Visit within "
               f"{window_hours:g} hours of the overdose.</p><ul>")
    out += [f"<li>{int(tiers.get(t, 0))} {html.escape(w)}</li>" for t, w in TIER_WORDS.items()]
    out.append("</ul><div class='wide'><table><tr><th>#</th><th>id</th><th>tier</th><th>due by</th><th>why</th></tr>")
    for k, row in enumerate(worklist.head(_TOP_ROWS).itertuples(index=False), start=1):
        out.append(f"<tr><td>{k}</td><td>{html.escape(row.worklist_id)}</td><td>{html.escape(row.tier)}</td>"
                   f"<td>{row.due_by:%a %d %b %H:%M}</td><td>{html.escape(row.reason)}</td></tr>")
    out.append("</table></div>")
    if n > _TOP_ROWS:
        out.append(f"<p class='key'>The other {n - _TOP_ROWS} are in worklist.csv.</p>")
    return out


def _places(places: gpd.GeoDataFrame, public: bool, limit: int, days: float) -> list[str]:
    if public:
        out = ["<h2>Where overdoses happened</h2>"]
        if places.empty:
            return out + [f"<p>No area held {limit} or more overdoses in the last {days:g} days.</p>"]
        return out + [_svg(places, None), f"<p>{len(places)} area{'s' if len(places) != 1 else ''} held "
                      f"{limit} or more overdoses in the last {days:g} days (smaller areas are merged with their "
                      "neighbours until they do):</p><ul>"] + [
            f"<li>{int(n)} overdoses</li>" for n in places["count"]] + ["</ul>"]
    out = ["<h2>Places to canvass</h2>"]
    if places.empty:
        return out + ["<p>No place where overdoses repeat or a cluster is active.</p>"]
    out += [_svg(places, "status"), "<p class='key'>map.html shows them on a street map.</p><ul class='alerts'>"]
    for row in places.head(_TOP_PLACES).itertuples(index=False):
        near = f" around {html.escape(row.near)}" if row.near else ""
        out.append(f"<li><b>{html.escape(row.status)}</b>{near}: {html.escape(row.reason)}</li>")
    out.append("</ul>")
    if len(places) > _TOP_PLACES:
        out.append(f"<p class='key'>The other {len(places) - _TOP_PLACES} are in places.geojson.</p>")
    return out


def _svg(frame: gpd.GeoDataFrame, status: str | None, width: int = 320, height: int = 240) -> str:
    x0, y0, x1, y1 = frame.total_bounds
    pad = 0.1 * max(x1 - x0, y1 - y0, 1e-4)
    x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    scale = min(width / (x1 - x0), height / (y1 - y0))
    paths = []
    for k, geom in enumerate(frame.geometry):
        fill = "#b2182b" if status and frame[status].iloc[k] == "new" else "#ef8a62"
        rings = [p.exterior.coords for p in getattr(geom, "geoms", [geom])]  # merged areas may be multipolygons
        d = " ".join("M" + " L".join(f"{(x - x0) * scale:.1f},{(y1 - y) * scale:.1f}" for x, y in ring) + " Z"
                     for ring in rings)
        paths.append(f"<path d='{d}' fill='{fill}' stroke='#636363' stroke-width='0.6'/>")
    key = ("<p class='key'><span style='color:#b2182b'>&#9632;</span> new <span style='color:#ef8a62'>&#9632;"
           "</span> ongoing</p>" if status else "")
    return (f"<svg viewBox='0 0 {width} {height}' class='map' role='img' aria-label='places'>" + "".join(paths)
            + "</svg>" + key)


def _percent(value) -> str:
    return "hidden" if pd.isna(value) else f"{100 * float(value):.0f}%"


def _funnel(funnel: pd.DataFrame, public: bool) -> list[str]:
    out = ["<h2>The funnel</h2>",
           "<p>Of the people who survived an overdose (by the month of the overdose): the share the team tried, "
           "reached, engaged, referred, and who started care. The last row pools every month.</p>",
           "<div class='wide'><table><tr><th>month</th><th>survivors</th>"
           + "".join(f"<th>{w}</th>" for w in FUNNEL_WORDS.values()) + "<th>median hours to first try</th></tr>"]
    for row in funnel.tail(13).itertuples(index=False):
        n = row.eligible
        cells = [f"<td>{html.escape(str(row.month))}</td>", f"<td>{'hidden' if pd.isna(n) else int(n)}</td>"]
        cells += [f"<td>{_percent(getattr(row, f'share_{s}'))}</td>" for s in FUNNEL_WORDS]
        hours = row.median_hours_to_first_attempt
        cells.append(f"<td>{'–' if pd.isna(hours) else f'{hours:.0f}'}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    return out + ["</table></div>"]


def _checks(checks: pd.DataFrame) -> list[str]:
    out = ["<h2>Practice checks</h2>"]
    if checks.empty:
        return out + ["<p>No try broke a practice rule.</p>"]
    counts = checks["check"].value_counts()
    return out + ["<ul>"] + [f"<li>{n} × {html.escape(c)}</li>" for c, n in counts.items()] + [
        "</ul><p class='key'>Each one is in practice_checks.csv.</p>"]


def _linkage(report: list[dict]) -> list[str]:
    out = ["<h2>Sources linked</h2><ul>"]
    for pair in report:
        a, b = pair["sources"]
        out.append(f"<li>{html.escape(b)}: {pair['matched']} of {pair['comparable'][1]} records matched an "
                   f"{html.escape(a)} record; {pair['review']} pairs left for review (linkage.csv)</li>")
    return out + ["</ul>"]
