"""Offline geocoding against an :class:`~odgeo.geocode.index.AddressIndex`: a ladder, best first.

Each address gets ``geocode_status``, ``geocode_score`` in [0, 1],
``matched_address`` and, when unmatched, ``geocode_reason``:

=============== ===== =====================================================================
status          score where the point comes from
=============== ===== =====================================================================
exact           1.00  the address point with this number on this street
interpolated    0.90  between the nearest points on the same street and side (parity)
range           0.85  along the centerline segment whose range on that side holds the number,
                      8 m off the centre line; blocks ("900 BLOCK", "9XX") use the middle of
                      the block's points or range and score 0.60
intersection    0.80  where the two named streets meet
interpolated    0.85  (to 0.50) when none of the above: between the nearest known numbers of its
                      side on the whole named street, every ZIP; the score falls with the
                      distance between those two points (200 m, 500 m, 1 km)
nearest         0.40  beyond every known number of its side: the nearest known one
street          0.30  the street's centre (no address points on it, or two streets fit)
postcode        0.15  the centre of the ZIP's address points
unmatched       0     nothing found (the reason says why)
=============== ===== =====================================================================

Doubt lowers the score: a street type or direction missing from the input and
filled in (-0.03 each), a wrong ZIP (the street found elsewhere, or the number
not on the street in the given ZIP but in exactly one other: -0.05, the reason names both), a
street name one or two typos away (-0.05 - 0.1 per edit), a left-out direction
or type that two streets of the name could take (-0.25), a number range
(-0.02); when two streets fit equally, the point is theirs (status ``street``).
``docs/geocoding.md`` gives what each score band means,
measured on the sample city.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from .addresses import Address, parse_address
from .index import AddressIndex

__all__ = ["GEOCODE_COLUMNS", "STATUSES", "Match", "geocode_frame", "geocode_one"]

STATUSES = ("exact", "interpolated", "range", "intersection", "nearest", "street", "postcode", "unmatched")
GEOCODE_COLUMNS = ["longitude", "latitude", "geocode_status", "geocode_score", "matched_address", "geocode_reason"]
_BASE = {"exact": 1.0, "interpolated": 0.9, "range": 0.85, "intersection": 0.8, "nearest": 0.4, "street": 0.3,
         "postcode": 0.15}
# Interpolated along the whole named street (every ZIP) between known numbers this far apart, in
# metres: the score. The point is at most half the span from the truth while the street runs
# straight between them (tests/test_geocode.py holds 40% and 80% of the sample's points out).
_SPAN_SCORES = ((200.0, 0.85), (500.0, 0.7), (1000.0, 0.6), (np.inf, 0.5))
_BLOCK_SCORE = 0.6
_AMBIGUITY = 0.25  # a left-out direction or type that two streets of the name could take
_WRONG_ZIP = 0.05  # the street (and number) found in another ZIP than the one given
_MAX_GAP_NUMBERS = 200  # interpolate only between points at most this many numbers apart
_OFFSET_M = 8.0


@dataclass(frozen=True)
class Match:
    """One geocoding answer: a point in the index CRS, its status, score and matched address."""

    x: float
    y: float
    status: str
    score: float
    matched: str
    reason: str = ""


_UNMATCHED = Match(np.nan, np.nan, "unmatched", 0.0, "", "")


def geocode_frame(index: AddressIndex, addresses: pd.Series, cities: pd.Series | None = None,
                  zips: pd.Series | None = None) -> pd.DataFrame:
    """Geocode a column of addresses (with optional city and ZIP columns); one output row per input row.

    Parameters
    ----------
    index
        From :func:`~odgeo.geocode.index.load_index`.
    addresses
        Address text, one per row.
    cities, zips
        City and ZIP per row (None: not given).

    Returns
    -------
    pandas.DataFrame
        :data:`GEOCODE_COLUMNS` (longitude and latitude in EPSG:4326, status, score
        from 0 to 1, matched address, reason), in the input's order and index.
    """
    n = len(addresses)
    cities = cities if cities is not None else pd.Series([""] * n, index=addresses.index)
    zips = zips if zips is not None else pd.Series([""] * n, index=addresses.index)
    keys = pd.DataFrame({"a": addresses.fillna("").astype(str).to_numpy(),
                         "c": cities.fillna("").astype(str).to_numpy(), "z": zips.fillna("").astype(str).to_numpy()})
    codes, uniques = pd.factorize(pd.MultiIndex.from_frame(keys))
    matches = [geocode_one(index, parse_address(a, city=c, zip=z)) for a, c, z in uniques]
    x = np.array([m.x for m in matches])[codes]
    y = np.array([m.y for m in matches])[codes]
    lon, lat = index.to_lonlat(x, y)
    return pd.DataFrame({
        "longitude": np.round(lon, 7), "latitude": np.round(lat, 7),
        "geocode_status": np.array([m.status for m in matches], dtype=object)[codes],
        "geocode_score": np.round(np.array([m.score for m in matches]), 3)[codes],
        "matched_address": np.array([m.matched for m in matches], dtype=object)[codes],
        "geocode_reason": np.array([m.reason for m in matches], dtype=object)[codes],
    }, index=addresses.index)


def geocode_one(index: AddressIndex, address: Address) -> Match:
    """The best match for one parsed address.

    Parameters
    ----------
    index
        From :func:`~odgeo.geocode.index.load_index`.
    address
        From :func:`~odgeo.geocode.addresses.parse_address`.

    Returns
    -------
    Match
        A point in the index CRS, its status, score (0 to 1) and matched address;
        status ``unmatched`` with the reason when nothing fits.
    """
    if address.kind in ("empty", "too_long", "po_box", "place"):
        return _postcode(index, address) if address.zip and address.kind != "too_long" else \
            Match(np.nan, np.nan, "unmatched", 0.0, "", address.reason)
    if address.kind == "zip_only":
        return _postcode(index, address)
    streets = _streets(index, address)
    if not streets:
        fallback = _postcode(index, address)
        reason = f"street {address.street!r} not found in the reference"
        return Match(fallback.x, fallback.y, fallback.status, fallback.score, fallback.matched, reason) \
            if fallback.status != "unmatched" else Match(np.nan, np.nan, "unmatched", 0.0, "", reason)
    if address.kind == "intersection":
        return _intersection(index, address, streets)
    # Every kind that reaches here (address, range, block) was parsed with a number.
    low = int(address.number or 0)
    high = int(address.number_high if address.number_high is not None else low)
    number = low if address.kind != "block" else (low + high) // 2
    found = _locate_on(index, streets, address, number)
    if not found and address.zip:
        # The number is not on the street in the given ZIP: the same street and number in
        # another ZIP, when only one has it (a ZIP typed wrong, or of the neighbouring area).
        best = _best(_locate_on(index, _streets(index, address, outside_zip=True), address, number))
        if best and len({index.street_keys[s][4] for _, _, s in best}) == 1:
            found = best
    if not found and address.kind != "block":
        fitted = _along_named_street(index, streets, number)
        if fitted is not None:
            found = [fitted]
    penalty_range = 0.02 if address.kind == "range" else 0.0
    if found:
        best = _best(found)
        if len(best) == 1 or len({f[2] for f in best}) == 1:
            match, penalty, street = best[0]
            zip_found = index.street_keys[street][4]
            reason = f"ZIP {address.zip} disagreed: found in {zip_found}" if address.zip and \
                zip_found != address.zip else ""
            reason = "; ".join(r for r in (match.reason, reason) if r)
            return Match(match.x, match.y, match.status, max(0.0, match.score - penalty - penalty_range),
                         _label(index, street, number if address.kind != "block" else None, address), reason)
        streets = [(s, p) for _, p, s in best]  # the direction stays ambiguous: fall to the street level
    street, penalty = streets[0]
    cx, cy = _centre_of(index, [s for s, _ in streets])
    ambiguous = len({s for s, _ in streets}) > 1
    return Match(cx, cy, "street", max(0.0, _BASE["street"] - penalty - (0.1 if ambiguous else 0)),
                 _label(index, street, None, address),
                 "several streets of that name" if ambiguous else f"number {number} not found on the street")


def _locate_on(index: AddressIndex, streets: list[tuple[int, float]], address: Address,
               number: int) -> list[tuple[Match, float, int]]:
    """The number located on each of ``streets`` where it can be: (match, penalty, street)."""
    found = []
    for street, penalty in streets:
        located = _locate(index, street, number, block=address.kind == "block",
                          low=address.number, high=address.number_high)
        if located is not None:
            found.append((located, penalty, street))
    return found


def _along_named_street(index: AddressIndex, streets: list[tuple[int, float]],
                        number: int) -> tuple[Match, float, int] | None:
    """The number placed from every known number of the named street, all its ZIPs together.

    Between the nearest known numbers on its side (parity) below and above it, however far apart
    (the score falls with their distance: ``_SPAN_SCORES``); beyond the last known number, at the
    nearest one (status ``nearest``), never at the centre of a street that may cross the city.
    None when the streets are not one named street (a direction left out that two could take).
    """
    names = {index.street_keys[s][:4] for s, _ in streets}
    if len(names) != 1:
        return None
    name = names.pop()
    ids = [s for s in index.by_name.get(name[1], []) if index.street_keys[s][:4] == name]
    parts = [index.points_of(s) for s in ids]
    numbers = np.concatenate([index.pt_number[p] for p in parts])
    if not len(numbers):
        return None
    xs, ys = np.concatenate([index.pt_x[p] for p in parts]), np.concatenate([index.pt_y[p] for p in parts])
    owner = np.concatenate([np.full(p.stop - p.start, s) for s, p in zip(ids, parts)])
    order = np.argsort(numbers, kind="stable")
    numbers, xs, ys, owner = numbers[order], xs[order], ys[order], owner[order]
    penalty = min(p for _, p in streets)
    side = numbers % 2 == number % 2
    below, above = np.flatnonzero(side & (numbers < number)), np.flatnonzero(side & (numbers > number))
    if len(below) and len(above):
        lo, hi = below[-1], above[0]
        t = (number - numbers[lo]) / (numbers[hi] - numbers[lo])
        span = float(np.hypot(xs[hi] - xs[lo], ys[hi] - ys[lo]))
        score = next(sc for limit, sc in _SPAN_SCORES if span <= limit)
        return (Match(float(xs[lo] + t * (xs[hi] - xs[lo])), float(ys[lo] + t * (ys[hi] - ys[lo])), "interpolated",
                      score, "", f"between {numbers[lo]} and {numbers[hi]}, {span:.0f} m apart"), penalty,
                int(owner[lo]))
    pool = np.flatnonzero(side) if side.any() else np.arange(len(numbers))
    near = pool[np.argmin(np.abs(numbers[pool] - number))]
    return (Match(float(xs[near]), float(ys[near]), "nearest", _BASE["nearest"], "",
                  f"number {number} is beyond the known numbers: placed at {numbers[near]}"), penalty, int(owner[near]))


def _best(found: list[tuple[Match, float, int]]) -> list[tuple[Match, float, int]]:
    """The located numbers of the best status (exact before interpolated before range)."""
    if not found:
        return []
    best_status = min(STATUSES.index(m.status) for m, _, _ in found)
    return [f for f in found if STATUSES.index(f[0].status) == best_status]


def _label(index: AddressIndex, street: int, number: int | None, address: Address) -> str:
    predir, name, suffix, postdir, zip_code = index.street_keys[street]
    words = " ".join(p for p in (predir, name, suffix, postdir) if p)
    if address.kind == "block":
        return f"{address.number}-{address.number_high} {words} {zip_code}".strip()
    return f"{number} {words} {zip_code}".strip() if number is not None else f"{words} {zip_code}".strip()


def _streets(index: AddressIndex, address: Address, *, outside_zip: bool = False) -> list[tuple[int, float]]:
    """Street ids for the address, with the penalty of each (best first).

    The streets in the address's ZIP when there are any, else all (a little doubt when a ZIP was
    given); with ``outside_zip``, only those in other ZIPs (the same doubt).
    """
    candidates = [(s, 0.0) for s in index.by_name.get(address.name, [])]
    if not candidates:
        candidates = _fuzzy(index, address)
    if not candidates:
        return []
    out = []
    for street, penalty in candidates:
        predir, _, suffix, postdir, zip_code = index.street_keys[street]
        if address.predir and address.predir != predir:
            continue
        if address.suffix and suffix and address.suffix != suffix:
            continue
        if address.postdir and address.postdir != postdir:
            continue
        penalty += 0.03 * (bool(predir) and not address.predir) + 0.03 * (bool(suffix) and not address.suffix)
        out.append((street, penalty, zip_code))
    # A direction or type left out while several streets of the name remain: real doubt.
    filled = (not address.predir or not address.suffix) and len({index.street_keys[s][:4] for s, _, _ in out}) > 1
    if filled:
        out = [(s, p + _AMBIGUITY, z) for s, p, z in out]
    in_zip = [(s, p) for s, p, z in out if address.zip and z == address.zip]
    if outside_zip:
        return sorted(((s, p + _WRONG_ZIP) for s, p, z in out if z != address.zip), key=lambda t: t[1])
    if in_zip:
        return sorted(in_zip, key=lambda t: t[1])
    # The ZIP is missing or wrong: the street elsewhere, with a little doubt.
    return sorted(((s, p + (_WRONG_ZIP if address.zip else 0.0)) for s, p, _ in out), key=lambda t: t[1])


def _fuzzy(index: AddressIndex, address: Address) -> list[tuple[int, float]]:
    """Streets whose name is one typo away (two for names of 7+ letters), transpositions included.

    Names in the address's ZIP are tried first; two names equally close are not guessed between.
    """
    from rapidfuzz.distance import OSA

    limit = 1 if len(address.name) < 7 else 2
    pools = []
    if address.zip:
        pools.append([n for n, ids in index.by_name.items() if any(index.street_keys[i][4] == address.zip
                                                                   for i in ids)])
    pools.append(list(index.by_name))
    for names in pools:
        scored = [(OSA.distance(address.name, name, score_cutoff=limit), name) for name in names]
        close = sorted((d, n) for d, n in scored if d <= limit)
        if not close:
            continue
        best = [n for d, n in close if d == close[0][0]]
        if len(best) > 1:
            return []  # two names as close: do not guess
        penalty = 0.1 * close[0][0] + 0.05
        return [(s, penalty) for s in index.by_name[best[0]]]
    return []


def _locate(index: AddressIndex, street: int, number: int, *, block: bool, low, high) -> Match | None:
    part = index.points_of(street)
    numbers = index.pt_number[part]
    xs, ys = index.pt_x[part], index.pt_y[part]
    if block and len(numbers):
        inside = (numbers >= low) & (numbers <= high)
        if inside.any():
            return Match(float(xs[inside].mean()), float(ys[inside].mean()), "range", _BLOCK_SCORE, "")
    if not block:
        exact = numbers == number
        if exact.any():
            return Match(float(xs[exact].mean()), float(ys[exact].mean()), "exact", _BASE["exact"], "")
        same_side = (numbers % 2) == (number % 2)
        below = np.flatnonzero(same_side & (numbers < number))
        above = np.flatnonzero(same_side & (numbers > number))
        if len(below) and len(above):
            lo, hi = below[-1], above[0]
            if numbers[hi] - numbers[lo] <= _MAX_GAP_NUMBERS:
                t = (number - numbers[lo]) / (numbers[hi] - numbers[lo])
                return Match(float(xs[lo] + t * (xs[hi] - xs[lo])), float(ys[lo] + t * (ys[hi] - ys[lo])),
                             "interpolated", _BASE["interpolated"], "")
    along = _along_range(index, street, number)
    if along is not None:
        return Match(along[0], along[1], "range", _BLOCK_SCORE if block else _BASE["range"], "")
    return None


def _along_range(index: AddressIndex, street: int, number: int) -> tuple[float, float] | None:
    """Interpolate along the centerline segment whose range on the number's side holds it."""
    segments = np.flatnonzero(index.seg_street == street)
    for seg in segments:
        for side, (a, b) in (("left", index.seg_ranges[seg, :2]), ("right", index.seg_ranges[seg, 2:])):
            if not (np.isfinite(a) and np.isfinite(b)) or (int(a) % 2) != (number % 2):
                continue
            lo, hi = min(a, b), max(a, b)
            if not lo <= number <= hi:
                continue
            t = 0.5 if hi == lo else (number - a) / (b - a)
            line = index.seg_lines[seg]
            point = shapely.line_interpolate_point(line, t, normalized=True)
            ahead = shapely.line_interpolate_point(line, min(t + 0.01, 1.0), normalized=True)
            behind = shapely.line_interpolate_point(line, max(t - 0.01, 0.0), normalized=True)
            dx, dy = ahead.x - behind.x, ahead.y - behind.y
            norm = np.hypot(dx, dy) or 1.0
            sign = 1.0 if side == "left" else -1.0  # left of the line's direction
            return point.x - sign * dy / norm * _OFFSET_M, point.y + sign * dx / norm * _OFFSET_M
    return None


def _centre_of(index: AddressIndex, streets: list[int]) -> tuple[float, float]:
    centres = index.street_centre[streets]
    return float(np.nanmean(centres[:, 0])), float(np.nanmean(centres[:, 1]))


def _intersection(index: AddressIndex, address: Address, first: list[tuple[int, float]]) -> Match:
    predir, name, suffix, postdir = address.cross or ("", "", "", "")
    cross = Address("address", predir=predir, name=name, suffix=suffix, postdir=postdir, zip=address.zip)
    second = _streets(index, cross)
    if not second:
        return Match(np.nan, np.nan, "unmatched", 0.0, "", f"cross street {cross.street!r} not found")
    a = shapely.union_all(index.seg_lines[np.isin(index.seg_street, [s for s, _ in first])])
    b = shapely.union_all(index.seg_lines[np.isin(index.seg_street, [s for s, _ in second])])
    meet = shapely.intersection(a, b) if a is not None and b is not None else None
    if meet is None or meet.is_empty:
        return Match(np.nan, np.nan, "unmatched", 0.0, "", "the two streets do not meet in the reference")
    point = meet.centroid if meet.geom_type != "Point" else meet
    penalty = first[0][1] + second[0][1] + (0.1 if meet.geom_type != "Point" else 0.0)
    label = f"{' '.join(p for p in index.street_keys[first[0][0]][:4] if p)} & " \
            f"{' '.join(p for p in index.street_keys[second[0][0]][:4] if p)}"
    return Match(point.x, point.y, "intersection", max(0.0, _BASE["intersection"] - penalty), label)


def _postcode(index: AddressIndex, address: Address) -> Match:
    centre = index.zip_centre.get(address.zip)
    if centre is None:
        return Match(np.nan, np.nan, "unmatched", 0.0, "", address.reason or "nothing to match")
    return Match(centre[0], centre[1], "postcode", _BASE["postcode"], address.zip,
                 address.reason or "located at the ZIP's centre only")
