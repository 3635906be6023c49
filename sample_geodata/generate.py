"""Generate the synthetic sample city "Sampleton" byte for byte from a fixed seed.

Run ``python sample_geodata/generate.py [OUT_DIR]`` (default: this folder). It
needs only NumPy and the standard library, so its output does not depend on
the PROJ or GDAL version. Every record is invented; see README.md here.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
import sys
from pathlib import Path

import numpy as np

SEED = 20241122
CITY = "Sampleton"
STATE = "KS"
TIMEZONE = "America/Chicago"
LON0, LAT0 = -97.40, 38.20  # city centroid (farmland: no real city is described)
HALF = 3000.0  # the street grid spans [-HALF, HALF] metres both ways
BLOCK = 250.0  # street spacing in metres
EARTH_R = 6371008.8
START, END = np.datetime64("2024-01-01"), np.datetime64("2026-01-01")

EW_NAMES = [
    "Oak", "Maple", "Pine", "Cedar", "Elm", "Walnut", "Chestnut", "Spruce", "Willow", "Birch",
    "Hickory", "Ash", "Center", "Poplar", "Sycamore", "Magnolia", "Locust", "Juniper", "Aspen",
    "Laurel", "Cypress", "Hawthorn", "Dogwood", "Alder", "Linden",
]
# Zip codes by quadrant (east?, north?).
ZIPS = {(True, True): "67401", (False, True): "67402", (False, False): "67403", (True, False): "67404"}

# Planted structure (metres from the centroid; see truth.json for what each is).
HOT_SPOTS = [
    {"name": "A", "x": -1200.0, "y": 900.0, "sigma_m": 200.0, "n": 600, "trend": "steady"},
    {"name": "B", "x": 1500.0, "y": -600.0, "sigma_m": 280.0, "n": 500, "trend": "growing"},
    {"name": "C", "x": 700.0, "y": 1900.0, "sigma_m": 160.0, "n": 320, "trend": "fading"},
]
TIGHT_CLUSTER = {"x": -1880.0, "y": -1530.0, "radius_m": 35.0, "n": 60}
PILE_UP_N = 18
SPIKE = {"x": 2150.0, "y": 2300.0, "radius_m": 220.0, "n": 30, "start": "2025-08-12", "days": 4}
#: The last day's burst in one neighbourhood, so that `odgeo alerts` on the sample shows a spike alert. It is
#: drawn from its own seed and appended to the file, so every row before it is unchanged.
LATE_SPIKE = {"x": -600.0, "y": -1900.0, "radius_m": 150.0, "n": 9, "date": "2025-12-31", "hours": (2, 19)}
N_BACKGROUND = 3500
UNLOCATED_SHARE = 0.2


def to_lonlat(x, y):
    """Metres east/north of the centroid to lon/lat (local equirectangular)."""
    lat = LAT0 + np.degrees(np.asarray(y) / EARTH_R)
    lon = LON0 + np.degrees(np.asarray(x) / (EARTH_R * math.cos(math.radians(LAT0))))
    return lon, lat


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def zip_at(x: float, y: float) -> str:
    return ZIPS[(x >= 0, y >= 0)]


# ----------------------------------------------------------------------------- streets


def grid_streets():
    """Block segments of the grid: (fullname, coords, from_num, to_num, odd_on_left)."""
    segments = []
    ticks = np.arange(-HALF, HALF + 1, BLOCK)
    for j, y in enumerate(ticks):  # east-west streets, numbered from x = 0 (Main St)
        base = EW_NAMES[j]
        kind = "Ave" if j % 4 == 1 else "St"
        for a, b in zip(ticks[:-1], ticks[1:]):
            east = a >= 0
            k = int(abs(a if east else b) // BLOCK)
            name = f"{'E' if east else 'W'} {base} {kind}"
            lo, hi = 100 * k, 100 * k + 98
            # Numbers grow away from Main St; heading east the north side is left.
            nums = (lo, hi) if east else (hi, lo)
            segments.append((name, [(a, y), (b, y)], nums, True))
    for x in ticks:  # north-south streets, numbered from y = 0 (Center St)
        k_x = int(round(x / BLOCK))
        if k_x == 0:
            base = "Main St"
        elif k_x > 0:
            base = f"{ordinal(k_x)} St"
        else:
            base = f"{ordinal(-k_x)} Ave"
        for a, b in zip(ticks[:-1], ticks[1:]):
            north = a >= 0
            k = int(abs(a if north else b) // BLOCK)
            name = f"{'N' if north else 'S'} {base}"
            lo, hi = 100 * k, 100 * k + 98
            nums = (lo, hi) if north else (hi, lo)
            # Heading north the west side is left; odd numbers on the west side.
            segments.append((name, [(x, a), (x, b)], nums, True))
    return segments


def special_streets():
    """A diagonal avenue and a curved drive, numbered from their west ends."""
    segments = []
    # Grand Ave: y = x + 2000 from x = -3000 to x = 1000.
    n_seg = 16
    xs = np.linspace(-3000, 1000, n_seg + 1)
    for k, (a, b) in enumerate(zip(xs[:-1], xs[1:])):
        segments.append(("Grand Ave", [(a, a + 2000), (b, b + 2000)], (100 * k, 100 * k + 98), True))
    # Riverside Dr: a gentle curve along the south of town.
    xs = np.arange(-3000, 3001, 250.0)
    for k, (a, b) in enumerate(zip(xs[:-1], xs[1:])):
        px = np.linspace(a, b, 6)
        py = -2380 + 90 * np.sin(px / 500.0)
        segments.append(("Riverside Dr", list(zip(px, py)), (100 * k, 100 * k + 98), True))
    return segments


def line_point(coords, t, offset, side):
    """Point at fraction t along a polyline, ``offset`` metres to its left (side=+1) or right."""
    pts = np.asarray(coords, dtype=float)
    seg = np.hypot(*np.diff(pts, axis=0).T)
    cum = np.concatenate([[0], np.cumsum(seg)])
    d = t * cum[-1]
    i = min(int(np.searchsorted(cum, d, side="right")) - 1, len(seg) - 1)
    f = (d - cum[i]) / seg[i]
    p = pts[i] + f * (pts[i + 1] - pts[i])
    dx, dy = (pts[i + 1] - pts[i]) / seg[i]
    return p[0] - side * dy * offset, p[1] + side * dx * offset


def build_addresses(segments, rng):
    """Address points along every block face (OpenAddresses style)."""
    points = []
    for seg_id, (name, coords, (n_from, n_to), _) in enumerate(segments):
        lo = min(n_from, n_to)
        ascending = n_to > n_from
        for parity, side in ((1, 1), (0, -1)):  # odd numbers on the left
            for m in range(3, 48, 7):
                number = lo + 2 * m + parity
                frac = (number - lo) / 99.0
                t = frac if ascending else 1 - frac
                t = float(np.clip(t + rng.uniform(-0.02, 0.02), 0.03, 0.97))
                x, y = line_point(coords, t, rng.uniform(12, 20), side)
                units = [""]
                if rng.random() < 0.04:
                    units = [f"APT {u}" for u in range(1, int(rng.integers(3, 7)))]
                for unit in units:
                    points.append({"x": x, "y": y, "number": number, "street": name.upper(),
                                   "unit": unit, "zip": zip_at(x, y), "segment": seg_id})
    return points


def centerline_location(segment, number):
    """Where a number falls on a centerline: fraction of the range, 15 m to its side."""
    _, coords, (n_from, n_to), _ = segment
    lo = min(n_from, n_to)
    frac = (number - lo) / 99.0
    t = frac if n_to > n_from else 1 - frac
    side = 1 if number % 2 else -1
    return line_point(coords, t, 15.0, side)


# ----------------------------------------------------------------------------- incidents

DRUGS = ["fentanyl", "fentanyl", "fentanyl", "heroin", "opioid, unspecified", "oxycodone",
         "methamphetamine and opioid", "unknown"]
AGE_BANDS = ["15-24", "25-34", "25-34", "35-44", "35-44", "45-54", "55-64", "65+"]
NOTES = ["found unresponsive in vehicle", "bystander gave naloxone before arrival",
         "pt refused transport", "found in restroom", "friend called 911", "",
         "history of prior overdose", "transported to St. Mary", ""]
STREET_TYPES = {"St": ["Street", "Str", "ST.", "st"], "Ave": ["Avenue", "Av", "AVE.", "ave"],
                "Dr": ["Drive", "DR.", "dr"]}
DIRECTIONS = {"N": "North", "S": "South", "E": "East", "W": "West"}


def seasonal_dates(rng, n, trend="steady"):
    """Dates over two years with a summer peak; 'growing' and 'fading' add a trend."""
    days = int((END - START).astype(int))
    t = np.arange(days)
    w = 1 + 0.35 * np.sin(2 * np.pi * (t - 100) / 365.25)
    w = w * (1 + 0.15 * t / days)  # the overall count grows 15% over the period
    if trend == "growing":
        w = w * (0.15 + 1.7 * t / days)
    elif trend == "fading":
        w = w * np.clip(1.6 - 1.5 * t / days * 1.6, 0.03, None)
    day = rng.choice(days, size=n, p=w / w.sum())
    minutes = (rng.normal(20 * 60, 300, size=n) % 1440).astype(int)
    return START + day.astype("timedelta64[D]") + minutes.astype("timedelta64[m]")


def messy_address(rng, number, street, unit):
    """An address as a tired dispatcher types it (one or two kinds of mess)."""
    words = title(street).split()
    direction = words[0] if words[0] in DIRECTIONS else None
    stype = words[-1] if words[-1] in STREET_TYPES else None
    core = words[1 if direction else 0: -1 if stype else None]
    kind = rng.choice(["spelled", "abbrev", "nodir", "notype", "typo", "unit", "lower", "range",
                       "block", "xx"])
    d = direction or ""
    t = stype or ""
    num = str(number)
    if kind == "spelled":
        d = DIRECTIONS.get(d, d)
        t = STREET_TYPES[t][0] if t else t
    elif kind == "abbrev":
        t = STREET_TYPES[t][int(rng.integers(1, len(STREET_TYPES[t])))] if t else t
    elif kind == "nodir":
        d = ""
    elif kind == "notype":
        t = ""
    elif kind == "typo":
        name = list(" ".join(core))
        letters = [i for i in range(len(name) - 1) if name[i].isalpha() and name[i + 1].isalpha()]
        if letters:
            i = int(rng.choice(letters))
            name[i], name[i + 1] = name[i + 1], name[i]
        core = ["".join(name)]
    elif kind == "unit":
        unit = unit or rng.choice(["APT 2", "#4", "Unit B", "Rm 12", "STE 100"])
    elif kind == "range":
        num = f"{number}-{(number + 2) % 100:02d}"
    elif kind == "block":
        num = f"{number // 100 * 100} BLOCK OF"
    elif kind == "xx":
        num = f"{number // 100}XX"
    text = " ".join(p for p in [num, d, *core, t] if p)
    if unit:
        text += f" {unit}"
    if kind == "lower":
        text = text.lower()
    return text, str(kind)


def title(street: str) -> str:
    """'N 11TH ST' -> 'N 11th St'."""
    return re.sub(r"(\d)(St|Nd|Rd|Th)\b", lambda m: m[1] + m[2].lower(), street.title())


def clean_address(number, street, unit=""):
    return f"{number} {title(street)} {unit}".strip()


def make_incidents(rng, addresses, segments):
    """All incident rows plus the truth about each planted structure."""
    pts = np.array([(a["x"], a["y"]) for a in addresses])
    rows = []

    def add(kind, idx=None, xy=None, dates=None, address=None, coords_xy=None):
        for k in range(len(dates)):
            a = addresses[idx[k]] if idx is not None else None
            true_xy = (a["x"], a["y"]) if a else xy[k]
            rows.append({"kind": kind, "addr": a, "true_xy": true_xy, "date": dates[k],
                         "address": address[k] if address is not None else None,
                         "coords_xy": coords_xy[k] if coords_xy is not None else true_xy})

    # Background: address points weighted by a broad bump over downtown.
    w = np.exp(-(pts ** 2).sum(axis=1) / (2 * 1800.0 ** 2)) + 0.25
    idx = rng.choice(len(pts), size=N_BACKGROUND, p=w / w.sum())
    add("background", idx=idx, dates=seasonal_dates(rng, N_BACKGROUND))
    for spot in HOT_SPOTS:
        d2 = (pts[:, 0] - spot["x"]) ** 2 + (pts[:, 1] - spot["y"]) ** 2
        w = np.exp(-d2 / (2 * spot["sigma_m"] ** 2))
        idx = rng.choice(len(pts), size=spot["n"], p=w / w.sum())
        add(f"hotspot_{spot['name']}", idx=idx, dates=seasonal_dates(rng, spot["n"], spot["trend"]))
    # Tight cluster: an encampment in a park, located by GPS, addressed by intersection.
    c = TIGHT_CLUSTER
    r = c["radius_m"] * np.sqrt(rng.random(c["n"]))
    a = rng.uniform(0, 2 * np.pi, c["n"])
    xy = np.c_[c["x"] + r * np.cos(a), c["y"] + r * np.sin(a)]
    add("tight_cluster", xy=xy, dates=seasonal_dates(rng, c["n"]),
        address=["W Elm St & 7th Ave"] * c["n"])
    # Pile-up: real addresses whose coordinates fell back to the city centroid.
    idx = rng.choice(len(pts), size=PILE_UP_N)
    add("centroid_pileup", idx=idx, dates=seasonal_dates(rng, PILE_UP_N),
        coords_xy=[(0.0, 0.0)] * PILE_UP_N)
    # Spike: a burst of cases in one neighbourhood within a few days.
    s = SPIKE
    d2 = (pts[:, 0] - s["x"]) ** 2 + (pts[:, 1] - s["y"]) ** 2
    near = np.flatnonzero(d2 <= s["radius_m"] ** 2)
    idx = rng.choice(near, size=s["n"])
    start = np.datetime64(s["start"])
    minutes = rng.integers(0, s["days"] * 1440, size=s["n"])
    add("spike", idx=idx, dates=start + minutes.astype("timedelta64[m]"))
    return rows


def build_incident_table(rng, addresses, segments):
    rows = make_incidents(rng, addresses, segments)
    order = np.argsort([r["date"] for r in rows], kind="stable")
    rows = [rows[i] for i in order]
    # Some addresses are not in the address-point file: move the number to one the
    # points lack but the centerline range holds (the geocoder must interpolate).
    movable = [i for i, r in enumerate(rows) if r["kind"] in ("background",) and r["addr"]]
    off_points = set(rng.choice(movable, size=60, replace=False).tolist())
    # About a fifth lose their coordinates (background and hot spots only).
    eligible = [i for i, r in enumerate(rows) if r["kind"] == "background" or r["kind"].startswith("hotspot")]
    n_unlocated = int(round(UNLOCATED_SHARE * len(rows)))
    unlocated = set(rng.choice(eligible, size=n_unlocated, replace=False).tolist()) | off_points
    out, truth_unlocated = [], []
    for i, r in enumerate(rows):
        number, street, unit, zip_code = None, None, "", None
        x, y = r["true_xy"]
        if r["addr"] is not None:
            a = r["addr"]
            number, street, unit, zip_code = a["number"], a["street"], a["unit"], a["zip"]
            if i in off_points:
                number = number + 2 if (number % 100) < 90 else number - 2
                x, y = centerline_location(segments[a["segment"]], number)
                r["true_xy"] = (x, y)
                r["coords_xy"] = (x, y) if r["kind"] != "centroid_pileup" else r["coords_xy"]
        incident_id = f"SMP-{str(r['date'])[2:4]}-{i + 1:06d}"
        mess = "clean"
        if r["address"] is not None:
            address = r["address"]
            zip_code = zip_at(x, y)
        elif i in unlocated:
            address, mess = messy_address(rng, number, street, unit) if rng.random() < 0.7 else (
                clean_address(number, street, unit), "clean")
        else:
            address = clean_address(number, street, unit)
        if rng.random() < 0.06:
            zip_code = ""
        elif rng.random() < 0.03:
            zip_code = rng.choice(list(ZIPS.values()))  # a wrong ZIP, as real exports have
        cx, cy = r["coords_xy"]
        if r["kind"] != "centroid_pileup":  # a GPS fix scatters a few metres around the door
            cx, cy = cx + rng.normal(0, 6.0), cy + rng.normal(0, 6.0)
        lon, lat = to_lonlat(cx, cy)
        has_coords = i not in unlocated
        fatal = rng.random() < 0.12
        doses = int(rng.choice([0, 1, 1, 2, 2, 3])) if not fatal else int(rng.choice([0, 0, 1, 2]))
        city = rng.choice([CITY, CITY, CITY, CITY.upper(), ""])
        out.append({
            "incident_id": incident_id,
            "occurred_at": fmt_date(r["date"], rng),
            "outcome": "fatal" if fatal else "nonfatal",
            "naloxone_doses": str(doses),
            "suspected_drug": rng.choice(DRUGS),
            "address": address,
            "city": city,
            "zip": zip_code,
            "longitude": f"{lon:.6f}" if has_coords else "",
            "latitude": f"{lat:.6f}" if has_coords else "",
            "age_band": rng.choice(AGE_BANDS),
            "sex": rng.choice(["M", "M", "F", "U"]),
            "narrative": rng.choice(NOTES),
            "_kind": r["kind"],
            "_true_xy": (x, y),
        })
        if not has_coords:
            tlon, tlat = to_lonlat(x, y)
            truth_unlocated.append({"incident_id": incident_id, "longitude": round(float(tlon), 7),
                                    "latitude": round(float(tlat), 7), "address_style": mess,
                                    "in_address_points": i not in off_points})
    return out, truth_unlocated


def fmt_date(value, rng) -> str:
    text = str(value.astype("datetime64[m]")).replace("T", " ")
    if rng.random() < 0.01:  # a few rows in a US export style
        y, m, d = text[:10].split("-")
        hh, mm = map(int, text[11:16].split(":"))
        return f"{m}/{d}/{y} {(hh - 1) % 12 + 1}:{mm:02d} {'AM' if hh < 12 else 'PM'}"
    return text + ":00"


def add_bad_rows(rng, rows):
    """Insert the classic export faults; return (rows, [(row_number, code)])."""
    faults = []
    spots = sorted(rng.choice(np.arange(50, len(rows) - 50), size=8, replace=False).tolist(), reverse=True)
    templates = []
    base = dict(rows[10])

    def variant(**kw):
        r = dict(base)
        r.update(kw)
        r["incident_id"] = f"SMP-BAD-{len(templates) + 1:03d}"
        return r

    templates.append((dict(rows[200]), "duplicate_id"))  # at the last spot, after its original
    templates.append((variant(occurred_at="2024-13-45 25:61"), "bad_date"))
    templates.append((variant(occurred_at="not recorded"), "bad_date"))
    templates.append((variant(latitude="95.204417"), "coordinate_out_of_range"))
    templates.append((variant(longitude=base["latitude"], latitude=base["longitude"]), "swapped_coordinates"))
    templates.append(({k: "" for k in base}, "empty_row"))
    templates.append((variant(longitude="N/A"), "bad_coordinate"))
    templates.append((variant(longitude="", latitude="", address=""), "no_location"))
    for pos, (row, _) in zip(spots, templates):
        row["_kind"] = "bad_row"
        rows.insert(pos, row)
    for i, r in enumerate(rows):
        if r["_kind"] == "bad_row":
            code = next(c for (t, c) in templates if t is r)
            faults.append({"row": i + 1, "code": code})
    return rows, faults


# ----------------------------------------------------------------------------- writers


def late_spike_rows(addresses):
    """The rows of LATE_SPIKE: located, timed, at addresses near its centre (its own random stream)."""
    rng = np.random.default_rng(SEED + 1)
    s = LATE_SPIKE
    near = [a for a in addresses if (a["x"] - s["x"]) ** 2 + (a["y"] - s["y"]) ** 2 <= s["radius_m"] ** 2]
    rows = []
    minutes = np.sort(rng.integers(s["hours"][0] * 60, s["hours"][1] * 60, size=s["n"]))
    for k, minute in enumerate(minutes):
        a = near[int(rng.integers(len(near)))]
        lon, lat = to_lonlat(a["x"] + rng.normal(0, 6.0), a["y"] + rng.normal(0, 6.0))
        rows.append({
            "incident_id": f"SMP-25-L{k + 1:05d}", "occurred_at": f"{s['date']} {minute // 60:02d}:{minute % 60:02d}:00",
            "outcome": "nonfatal", "naloxone_doses": str(int(rng.choice([1, 2, 2, 3]))), "suspected_drug": "fentanyl",
            "address": clean_address(a["number"], a["street"], a["unit"]), "city": CITY, "zip": a["zip"],
            "longitude": f"{lon:.6f}", "latitude": f"{lat:.6f}", "age_band": rng.choice(AGE_BANDS),
            "sex": rng.choice(["M", "M", "F", "U"]), "narrative": "", "_kind": "late_spike", "_true_xy": (a["x"], a["y"]),
        })
    return rows


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


def write_geojson(path: Path, features: list[dict]) -> None:
    collection = {"type": "FeatureCollection", "name": path.stem,
                  "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
                  "features": features}
    path.write_text(json.dumps(collection, separators=(",", ":")) + "\n", encoding="utf-8")


def lonlat_list(coords):
    lon, lat = to_lonlat(*np.asarray(coords, dtype=float).T)
    return [[round(float(a), 7), round(float(b), 7)] for a, b in zip(lon, lat)]


def neighbourhoods(rng):
    """A 3x3 set of neighbourhoods with population."""
    names = [["Westgate", "Old Mill", "Northfield"], ["Riverbend", "Downtown", "Eastside"],
             ["South Park", "Fairview", "Harbor"]]
    edges = [-3000, -1000, 1000, 3000]
    feats = []
    for r in range(3):
        for c in range(3):
            x0, x1 = edges[c], edges[c + 1]
            y1, y0 = edges[3 - r], edges[2 - r]
            ring = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
            pop = int(rng.integers(3000, 6000)) + (9000 if names[r][c] == "Downtown" else 0)
            feats.append({"type": "Feature", "properties": {
                "name": names[r][c], "population": pop},
                "geometry": {"type": "Polygon", "coordinates": [lonlat_list(ring)]}})
    return feats


#: Residents' age groups and their shares (roughly the US 2020 census's), for age-adjusted rates.
AGE_SHARES = {"0-14": 0.182, "15-24": 0.130, "25-34": 0.139, "35-44": 0.129, "45-54": 0.122, "55-64": 0.129,
              "65+": 0.169}


# ----------------------------------------------------------------------------- deaths

DEATHS_SEED = 4646
#: Cause-of-death text as a medical examiner writes it, by the incident's suspected drug (misspellings included).
CAUSES = {"fentanyl": ["ACUTE FENTANYL TOXICITY", "FENTANYL INTOXICATION", "ACUTE FENTANLY TOXICITY",
                       "ACUTE INTOXICATION DUE TO THE COMBINED EFFECTS OF FENTANYL AND COCAINE"],
          "heroin": ["ACUTE HEROIN INTOXICATION", "ACUTE HEROIN AND FENTANYL TOXICITY", "HEROIN AND ETOH TOXICITY"],
          "opioid, unspecified": ["OPIATE TOXICITY", "ACUTE OPIOID INTOXICATION"],
          "oxycodone": ["OXYCODONE TOXICITY", "ACUTE OXYCODONE AND ETOH INTOXICATION"],
          "methamphetamine and opioid": ["COMBINED DRUG (FENTANYL, METHAMPHETAMINE) TOXICITY",
                                         "ACUTE METH AND FENTANYL TOXICITY"],
          "unknown": ["PENDING", "MIXED DRUG TOXICITY", "PENDING TOXICOLOGY"]}
#: The planted new drug: xylazine in Eastside's deaths from five weeks before the end, more of them in
#: the last week, and on the last day the first in Westgate (a first appearance and a rising share).
XYLAZINE = {"baseline": ["2025-11-28 03:10", "2025-12-06 22:40", "2025-12-15 14:05"], "last_week": "2025-12-25",
            "n_last_week": 6, "area_xy": ((1000, 3000), (-1000, 1000)), "first_in": "Westgate",
            "first_xy": ((-3000, -1000), (1000, 3000)), "first_at": "2025-12-31 10:20"}


def deaths(out_dir: Path, incidents: list[dict]) -> None:
    """deaths.csv: the medical examiner's view of the fatal incidents, with cause-of-death text and xylazine planted."""
    rng = np.random.default_rng(DEATHS_SEED)
    rows = []
    for r in incidents:
        if r.get("outcome") != "fatal" or not r.get("longitude") or r.get("_kind") is None:
            continue
        when = _iso_time(r["occurred_at"])
        if when is None:
            continue
        cause = str(rng.choice(CAUSES.get(r["suspected_drug"], CAUSES["unknown"])))
        rows.append([when, r["longitude"], r["latitude"], _age(rng, r["age_band"]), r["sex"], cause])
    (x0, x1), (y0, y1) = XYLAZINE["area_xy"]
    days = [f"{np.datetime64(XYLAZINE['last_week']) + np.timedelta64(k, 'D')} {int(rng.integers(0, 24)):02d}:"
            f"{int(rng.integers(0, 60)):02d}" for k in range(XYLAZINE["n_last_week"])]
    for when in XYLAZINE["baseline"] + days:
        lon, lat = to_lonlat(rng.uniform(x0 + 200, x1 - 200), rng.uniform(y0 + 200, y1 - 200))
        rows.append([when, f"{lon:.6f}",
                     f"{lat:.6f}", int(rng.integers(22, 60)), str(rng.choice(["M", "F"])),
                     str(rng.choice(["ACUTE FENTANYL AND XYLAZINE TOXICITY", "FENTANYL, XYLAZINE TOXICITY",
                                     "COMBINED DRUG (FENTANYL, XYLAZINE, COCAINE) TOXICITY"]))])
    (x0, x1), (y0, y1) = XYLAZINE["first_xy"]
    lon, lat = to_lonlat(rng.uniform(x0 + 200, x1 - 200), rng.uniform(y0 + 200, y1 - 200))
    rows.append([XYLAZINE["first_at"], f"{lon:.6f}", f"{lat:.6f}", 41, "M", "ACUTE FENTANYL AND XYLAZINE TOXICITY"])
    rows.sort(key=lambda row: row[0])
    write_csv(out_dir / "deaths.csv", ["case_number", "date_of_death", "longitude", "latitude", "age", "sex",
                                       "cause_of_death", "manner_of_death"],
              [[f"ME-{row[0][2:4]}-{k + 1:04d}", *row, "Accident"] for k, row in enumerate(rows)])


# ----------------------------------------------------------------------------- emergency departments

ED_SEED = 4647
#: The city's emergency departments (facility ids as ESSENCE's C_Biosense_Facility_ID).
HOSPITALS = {"KS-Sampleton General Hospital": 101, "KS-St Luke Medical Center": 102, "KS-Mercy Hospital": 103}
#: Mercy sends nothing from 1 Nov to 15 Dec 2025: 46 of the fourth quarter's 92 days, so that quarter is incomplete.
ED_GAP = ("KS-Mercy Hospital", "2025-11-01", "2025-12-15")
#: Suspected drug to the CCDD categories ESSENCE gives the visit (CDC's definitions; All Drug on every one).
CCDD = {"fentanyl": "CDC Opioid Overdose v3;CDC Fentanyl Overdose v2 Parsed",
        "heroin": "CDC Opioid Overdose v3;CDC Heroin Overdose v4",
        "opioid, unspecified": "CDC Opioid Overdose v3", "oxycodone": "CDC Opioid Overdose v3",
        "methamphetamine and opioid": "CDC Opioid Overdose v3;CDC Stimulant Overdose v3;"
                                      "CDC Methamphetamine Overdose v1 Parsed"}
NCHS_AGE = [(0, 10, "00-10"), (11, 14, "11-14"), (15, 24, "15-24"), (25, 34, "25-34"), (35, 44, "35-44"),
            (45, 54, "45-54"), (55, 64, "55-64"), (65, 74, "65-74"), (75, 84, "75-84"), (85, 200, "85+")]


def _in_gap(hospital: str, day: str) -> bool:
    return hospital == ED_GAP[0] and ED_GAP[1] <= day <= ED_GAP[2]


def ed_feeds(out_dir: Path, incidents: list[dict]) -> None:
    """ESSENCE exports of the city's EDs: visit details (Data Details) and all visits per day (Table Builder).

    ed_visits.csv: the nonfatal overdoses taken to an ED (two in three of those with coordinates), one row per
    visit with ESSENCE's Data Details columns; 2% of visits come twice (an updated message, same C_BioSense_ID).
    ed_all_visits.csv: every ED visit per day, hospital and patient ZIP, as Table Builder writes a query of
    CDC All Drug v2 with its percentage (its Data Count and All Count; the Percent column is left out).
    """
    rng = np.random.default_rng(ED_SEED)
    names = list(HOSPITALS)
    rows, overdoses = [], {}
    for r in incidents:
        if r.get("outcome") != "nonfatal" or not r.get("longitude") or r.get("_kind") is None:
            continue
        when = _iso_time(r["occurred_at"])
        if when is None or rng.random() > 2 / 3:
            continue
        day, hospital = when[:10], names[int(rng.integers(0, 3))]
        if _in_gap(hospital, day):
            continue
        age = _age(rng, r["age_band"])
        group = next((g for lo, hi, g in NCHS_AGE if age != "" and lo <= int(age) <= hi), "Unknown")
        disposition = str(rng.choice(["01", "07", "09"], p=[0.7, 0.2, 0.1]))  # HL7: home, left AMA, admitted
        zip_code = r["zip"] if r["zip"] in ZIPS.values() else "67401"
        categories = f";CDC All Drug v2;{CCDD.get(r['suspected_drug'], '')};".replace(";;", ";")
        visit = [f"{day[5:7]}/{day[8:10]}/{day[:4]}", f"{HOSPITALS[hospital]}_{len(rows) + 1:06d}", hospital,
                 zip_code, age, group, r["sex"] or "U", categories, disposition, "No"]
        rows.append(visit)
        if rng.random() < 0.02:
            rows.append(list(visit))
        key = (day, hospital, zip_code)
        overdoses[key] = overdoses.get(key, 0) + 1
    write_csv(out_dir / "ed_visits.csv", ["Date", "C_BioSense_ID", "HospitalName", "ZipCode", "Age", "AgeGroup",
                                          "Sex", "CCDDCategory_flat", "DischargeDisposition", "C_Death"], rows)
    all_rows = []
    for day in np.arange(START, END, np.timedelta64(1, "D")).astype(str):
        for hospital in names:
            if _in_gap(hospital, day):
                continue
            for zip_code in sorted(ZIPS.values()):
                data = overdoses.get((day, hospital, zip_code), 0)
                visits = int(rng.poisson(30)) + data
                all_rows.append([day, hospital, zip_code, data, visits])
    write_csv(out_dir / "ed_all_visits.csv", ["timeResolution", "hospital", "zipCode", "CDC All Drug v2 Data Count",
                                              "CDC All Drug v2 All Count"], all_rows)
    write_csv(out_dir / "zip_population.csv", ["zip", "population"],
              [[z, int(rng.integers(9000, 16000))] for z in sorted(ZIPS.values())])
    quadrants = []
    for (east, north), zip_code in sorted(ZIPS.items(), key=lambda item: item[1]):
        x0, x1 = (0, HALF + 100) if east else (-HALF - 100, 0)
        y0, y1 = (0, HALF + 100) if north else (-HALF - 100, 0)
        quadrants.append({"type": "Feature", "properties": {"ZCTA5CE20": zip_code},
                          "geometry": {"type": "Polygon", "coordinates": [
                              lonlat_list([(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)])]}})
    write_geojson(out_dir / "zip_areas.geojson", quadrants)


def _iso_time(text: str) -> str | None:
    """An incident's time as YYYY-MM-DD HH:MM, from the formats the incident table mixes (None: unreadable)."""
    for pattern, order in ((r"^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})", "ymd"),
                           (r"^(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2})", "mdy")):
        m = re.match(pattern, text)
        if m:
            a, b, c, hh, mm = m.groups()
            y, mo, d = (a, b, c) if order == "ymd" else (c, a, b)
            return f"{int(y):04d}-{int(mo):02d}-{int(d):02d} {int(hh):02d}:{mm}"
    return None


def _age(rng, band: str) -> int | str:
    if not band:
        return ""
    low, _, high = band.partition("-")
    return int(rng.integers(int(low.rstrip("+")), int(high or 80) + 1))


def population_by_age(hoods):
    """Each neighbourhood's residents split into age groups (largest remainders, so each adds up to its total)."""
    rows = []
    for feat in hoods:
        name, total = feat["properties"]["name"], feat["properties"]["population"]
        exact = {group: total * share for group, share in AGE_SHARES.items()}
        counts = {group: int(v) for group, v in exact.items()}
        for group in sorted(exact, key=lambda g: counts[g] - exact[g])[:total - sum(counts.values())]:
            counts[group] += 1
        rows += [[name, group, counts[group]] for group in AGE_SHARES]
    return rows


def sites(rng, addresses):
    kinds = [("pharmacy", 24), ("library", 6), ("fire station", 8)]
    rows = []
    idx = rng.choice(len(addresses), size=sum(n for _, n in kinds), replace=False)
    k = 0
    for kind, n in kinds:
        for j in range(n):
            a = addresses[idx[k]]
            k += 1
            existing = kind == "fire station" or (kind == "pharmacy" and j < 3)
            lon, lat = to_lonlat(a["x"], a["y"])
            name = {"pharmacy": f"Pharmacy {j + 1}", "library": f"{CITY} Library branch {j + 1}",
                    "fire station": f"Fire Station {j + 1}"}[kind]
            rows.append([f"S{k:03d}", name, kind, "yes" if existing else "no",
                         int(rng.integers(20, 120)), f"{lon:.6f}", f"{lat:.6f}",
                         clean_address(a["number"], a["street"])])
    return rows


def main(out_dir: Path) -> None:
    rng = np.random.default_rng(SEED)
    out_dir.mkdir(parents=True, exist_ok=True)
    segments = grid_streets() + special_streets()
    addresses = build_addresses(segments, rng)

    street_feats = []
    for tlid, (name, coords, (n_from, n_to), _) in enumerate(segments, start=1):
        (xa, ya), (xb, yb) = coords[0], coords[-1]
        mid = ((xa + xb) / 2, (ya + yb) / 2)
        odd_from = n_from + 1
        street_feats.append({"type": "Feature", "properties": {
            "TLID": tlid, "FULLNAME": name,
            "LFROMADD": odd_from, "LTOADD": n_to + 1, "RFROMADD": n_from, "RTOADD": n_to,
            "ZIPL": zip_at(*mid), "ZIPR": zip_at(*mid)},
            "geometry": {"type": "LineString", "coordinates": lonlat_list(coords)}})
    write_geojson(out_dir / "streets.geojson", street_feats)

    ap_rows = []
    for i, a in enumerate(addresses, start=1):
        lon, lat = to_lonlat(a["x"], a["y"])
        key = f"{a['number']}|{a['street']}|{a['unit']}|{a['zip']}"
        ap_rows.append([f"{lon:.7f}", f"{lat:.7f}", a["number"], a["street"], a["unit"], CITY.upper(),
                        "", STATE, a["zip"], i, hashlib.sha1(key.encode()).hexdigest()[:16]])
    write_csv(out_dir / "address_points.csv",
              ["LON", "LAT", "NUMBER", "STREET", "UNIT", "CITY", "DISTRICT", "REGION", "POSTCODE", "ID", "HASH"],
              ap_rows)

    incidents, truth_unlocated = build_incident_table(rng, addresses, segments)
    incidents, faults = add_bad_rows(rng, incidents)
    incidents += late_spike_rows(addresses)
    header = ["incident_id", "occurred_at", "outcome", "naloxone_doses", "suspected_drug", "address",
              "city", "zip", "longitude", "latitude", "age_band", "sex", "narrative"]
    write_csv(out_dir / "incidents.csv", header, [[r[h] for h in header] for r in incidents])

    hoods = neighbourhoods(rng)
    write_geojson(out_dir / "neighbourhoods.geojson", hoods)
    write_csv(out_dir / "neighbourhoods_by_age.csv", ["name", "age_group", "population"], population_by_age(hoods))
    site_rows = sites(rng, addresses)
    site_header = ["site_id", "name", "kind", "existing", "capacity_per_month", "longitude", "latitude",
                   "address"]
    write_csv(out_dir / "candidate_sites.csv", site_header, [r for r in site_rows if r[3] == "no"])
    write_csv(out_dir / "existing_sites.csv", site_header, [r for r in site_rows if r[3] == "yes"])
    boundary = [(-HALF - 100, -HALF - 100), (HALF + 100, -HALF - 100), (HALF + 100, HALF + 100),
                (-HALF - 100, HALF + 100), (-HALF - 100, -HALF - 100)]
    write_geojson(out_dir / "boundary.geojson", [{"type": "Feature", "properties": {"name": CITY},
                  "geometry": {"type": "Polygon", "coordinates": [lonlat_list(boundary)]}}])

    write_truth(out_dir, incidents, faults, truth_unlocated)
    outreach_feeds(out_dir, addresses)
    deaths(out_dir, incidents)
    ed_feeds(out_dir, incidents)


def write_truth(out_dir, incidents, faults, truth_unlocated):
    def centre(x, y):
        lon, lat = to_lonlat(x, y)
        return [round(float(lon), 7), round(float(lat), 7)]

    kinds = {}
    for r in incidents:
        kinds.setdefault(r["_kind"], []).append(r)
    located = lambda k: sum(1 for r in kinds.get(k, []) if r["longitude"])  # noqa: E731
    truth = {
        "description": "What generate.py planted in the synthetic city; every record is invented.",
        "seed": SEED,
        "city": CITY,
        "timezone": TIMEZONE,
        "centroid": centre(0, 0),
        "date_range": [str(START), str(END - np.timedelta64(1, "D"))],
        "n_rows": len(incidents),
        "n_unlocated": len(truth_unlocated),
        "hot_spots": [
            {"name": s["name"], "centre": centre(s["x"], s["y"]), "sigma_m": s["sigma_m"],
             "n": s["n"], "n_located": located(f"hotspot_{s['name']}"), "trend": s["trend"]}
            for s in HOT_SPOTS
        ],
        "tight_cluster": {"centre": centre(TIGHT_CLUSTER["x"], TIGHT_CLUSTER["y"]),
                          "radius_m": TIGHT_CLUSTER["radius_m"], "n": TIGHT_CLUSTER["n"],
                          "incident_ids": [r["incident_id"] for r in kinds["tight_cluster"]]},
        "centroid_pileup": {"location": centre(0, 0), "n": PILE_UP_N,
                            "incident_ids": [r["incident_id"] for r in kinds["centroid_pileup"]]},
        "spike": {"centre": centre(SPIKE["x"], SPIKE["y"]), "radius_m": SPIKE["radius_m"],
                  "n": SPIKE["n"], "start": SPIKE["start"], "days": SPIKE["days"],
                  "incident_ids": [r["incident_id"] for r in kinds["spike"]]},
        "late_spike": {"centre": centre(LATE_SPIKE["x"], LATE_SPIKE["y"]), "radius_m": LATE_SPIKE["radius_m"],
                       "n": LATE_SPIKE["n"], "date": LATE_SPIKE["date"],
                       "incident_ids": [r["incident_id"] for r in kinds["late_spike"]]},
        "seasonal_trend": "daily rate x (1 + 0.35 sin(2 pi (day - 100) / 365.25)), summer peak, "
                          "and x (1 + 0.15 t / T): 15% growth over the two years",
        "bad_rows": faults,
        "unlocated_truth": truth_unlocated,
    }
    (out_dir / "truth.json").write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")


# ----------------------------------------------------------------------------- outreach feeds
# What a post-overdose outreach team receives (odgeo outreach): an EMS export that names patients, a police
# copy of part of the same events, and the team's own record of contact attempts. Drawn from their own seed,
# so the files above are unchanged. Repeat overdoses follow the King County EMS cohort's hazard (Hood et al.
# 2023): 43 per 1,000 person-months in the first month after an overdose, about 25 in the second, 12 after.

OUTREACH_SEED = SEED + 44
OUTREACH_START, OUTREACH_END = np.datetime64("2025-01-01"), np.datetime64("2026-01-01")
N_OUTREACH_PERSONS = 700
REPEAT_HAZARD_PER_MONTH = (0.043, 0.025, 0.012)  # months 1, 2, then 3 on
FATAL_SHARE = 0.06
REFUSED_SHARE = 0.4  # of survivors (42% in Zozula et al.)
#: Hazard ratios of a next overdose: after a repeat (Ray et al. 2018: about 2 for death) and after refusing
#: transport (Zozula et al. report more later overdoses; 1.5 is this sample's assumption, not a published ratio).
REPEAT_HR = 2.0
REFUSED_HR = 1.5
CO_USE_SHARE = 0.1
FIRST_NAMES = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
               "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Chris", "Karen",
               "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Betty", "Mark", "Sandra", "Donald", "Ashley",
               "Jose", "Maria", "Luis", "Ana", "Tyler", "Brittany", "Cody", "Amber", "Dustin", "Crystal"]
LAST_NAMES = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
              "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
              "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
              "O'Brien", "McDonald", "Nguyen", "St. John", "Van Dyke", "Schmidt", "Becker", "Wagner", "Fischer"]


def _name_as_typed(rng, name: str) -> str:
    """A name as another agency's clerk types it: case, punctuation, the odd dropped letter."""
    kind = rng.choice(["same", "upper", "lower", "nopunct", "typo"], p=[0.5, 0.25, 0.1, 0.1, 0.05])
    if kind == "upper":
        return name.upper()
    if kind == "lower":
        return name.lower()
    if kind == "nopunct":
        return re.sub(r"[^A-Za-z]", "", name)
    if kind == "typo" and len(name) > 4:
        i = int(rng.integers(2, len(name) - 1))
        return name[:i] + name[i + 1:]
    return name


def _outreach_people(rng, addresses):
    pts = np.array([(a["x"], a["y"]) for a in addresses])
    people = []
    for k in range(N_OUTREACH_PERSONS):
        born = np.datetime64("1960-01-01") + np.timedelta64(int(rng.integers(0, 365 * 45)), "D")
        unhoused = rng.random() < 0.12
        home = None if unhoused else addresses[int(rng.integers(len(addresses)))]
        people.append({"key": k, "first": str(rng.choice(FIRST_NAMES)), "last": str(rng.choice(LAST_NAMES)),
                       "dob": str(born), "sex": "M" if rng.random() < 0.68 else "F", "unhoused": unhoused,
                       "home": home, "phone": f"620-555-{int(rng.integers(1000, 9999))}",
                       "has_id": rng.random() < 0.75, "pid": f"P{100000 + k:06d}"})
    return people, pts


def _overdose_times(rng, start_day: float, span_days: float):
    """An index overdose, then repeats by the piecewise hazard (days from OUTREACH_START), until death or the end.

    The hazard after an overdose is multiplied by REPEAT_HR when it was not the person's first, and by
    REFUSED_HR when they refused transport (so the worklist's backtest has something real to find).
    """
    times, fatal, refused = [start_day], [rng.random() < FATAL_SHARE], []
    refused.append((not fatal[-1]) and rng.random() < REFUSED_SHARE)
    while not fatal[-1]:
        t, month = times[-1], 0
        ratio = (REPEAT_HR if len(times) > 1 else 1.0) * (REFUSED_HR if refused[-1] else 1.0)
        while True:  # month by month: a repeat with the month's hazard, at a uniform day within it
            hazard = REPEAT_HAZARD_PER_MONTH[min(month, 2)]
            if rng.random() < hazard * 3 * ratio:  # three times the cohort's rate: a one-year sample holds repeats
                nxt = t + 30.44 * (month + rng.random())
                break
            month += 1
            if t + 30.44 * month > span_days:
                return times, fatal, refused
        if nxt >= span_days:
            return times, fatal, refused
        times.append(nxt)
        fatal.append(rng.random() < FATAL_SHARE)
        refused.append((not fatal[-1]) and rng.random() < REFUSED_SHARE)
    return times, fatal, refused


def _event_place(rng, person, pts, addresses):
    if person["home"] is not None and rng.random() < 0.6:
        return person["home"]["x"] + rng.normal(0, 5), person["home"]["y"] + rng.normal(0, 5), person["home"]
    spot = HOT_SPOTS[int(rng.integers(len(HOT_SPOTS)))]
    x, y = spot["x"] + rng.normal(0, spot["sigma_m"]), spot["y"] + rng.normal(0, spot["sigma_m"])
    near = addresses[int(np.argmin(np.hypot(pts[:, 0] - x, pts[:, 1] - y)))]
    return x, y, near


def _stamp(day: float) -> np.datetime64:
    return OUTREACH_START + np.timedelta64(int(day * 86400), "s")


def outreach_feeds(out_dir: Path, addresses) -> None:
    rng = np.random.default_rng(OUTREACH_SEED)
    people, pts = _outreach_people(rng, addresses)
    span = float((OUTREACH_END - OUTREACH_START) / np.timedelta64(1, "D"))
    events = []
    for person in people:
        times, fatal, refusals = _overdose_times(rng, float(rng.uniform(0, span)), span)
        for t, dead, refused in zip(times, fatal, refusals):
            x, y, near = _event_place(rng, person, pts, addresses)
            events.append({"person": person, "day": t, "fatal": dead, "refused": refused, "x": x, "y": y,
                           "near": near})
            if rng.random() < CO_USE_SHARE:  # using together: another person overdoses there minutes later
                other = people[int(rng.integers(len(people)))]
                if other is not person:
                    events.append({"person": other, "day": t + rng.uniform(0, 12) / 1440, "fatal": False,
                                   "refused": rng.random() < REFUSED_SHARE, "x": x + rng.normal(0, 3),
                                   "y": y + rng.normal(0, 3), "near": near})
    events.sort(key=lambda e: e["day"])
    ems, police, truth_pairs = [], [], []
    for n, e in enumerate(events, start=1):
        person, when = e["person"], _stamp(e["day"])
        lon, lat = to_lonlat(e["x"], e["y"])
        age = int((when - np.datetime64(person["dob"])) / np.timedelta64(1, "D") // 365.25)
        refused = e["refused"]
        e["ems_id"] = f"EMS-25-{n:05d}"
        ems.append([e["ems_id"], str(when).replace("T", " "), "fatal" if e["fatal"] else "nonfatal",
                    int(rng.integers(0 if e["fatal"] else 1, 4)), clean_address(e["near"]["number"],
                                                                               e["near"]["street"]),
                    CITY, zip_at(e["x"], e["y"]), f"{float(lon):.6f}", f"{float(lat):.6f}",
                    person["pid"] if person["has_id"] else "", person["first"], person["last"],
                    person["dob"] if rng.random() < 0.9 else "",
                    person["sex"], age, "" if person["home"] is None else clean_address(
                        person["home"]["number"], person["home"]["street"], person["home"]["unit"]),
                    "Unhoused" if person["unhoused"] else ("Housed" if rng.random() < 0.8 else ""),
                    "Refused transport" if refused else ("Dead on scene" if e["fatal"] else "Transported"),
                    person["phone"]])
        if rng.random() < 0.45:  # the police came too: their own clock, a block-level location, their own typing
            late = np.timedelta64(int(rng.normal(6, 6) * 60), "s")
            px, py = e["x"] + rng.normal(0, 45), e["y"] + rng.normal(0, 45)
            plon, plat = to_lonlat(px, py)
            pid = f"PD-25-{len(police) + 1:05d}"
            police.append([pid, str(when + late).replace("T", " "), "fatal" if e["fatal"] else "nonfatal",
                           f"{float(plon):.5f}", f"{float(plat):.5f}", _name_as_typed(rng, person["first"]),
                           _name_as_typed(rng, person["last"]), person["dob"] if rng.random() < 0.7 else "",
                           person["sex"], age if rng.random() < 0.9 else age + 1])
            truth_pairs.append([e["ems_id"], pid])
    attempts = _outreach_attempts(rng, events)
    write_csv(out_dir / "outreach_ems.csv",
              ["incident_id", "occurred_at", "outcome", "naloxone_doses", "address", "city", "zip", "longitude",
               "latitude", "patient_id", "first_name", "last_name", "dob", "sex", "age", "home_address",
               "living_situation", "disposition", "phone"], ems)
    write_csv(out_dir / "outreach_police.csv",
              ["report_number", "reported_at", "outcome", "longitude", "latitude", "first_name", "last_name",
               "dob", "sex", "age"], police)
    write_csv(out_dir / "outreach_attempts.csv",
              ["incident_id", "attempted_at", "mode", "place", "result", "naloxone_kits", "referrals_made",
               "referrals_accepted", "care_started"], attempts)
    truth = {
        "description": "What generate.py planted in the outreach feeds; every person is invented.",
        "seed": OUTREACH_SEED,
        "persons": N_OUTREACH_PERSONS,
        "repeat_hazard_per_month": [3 * h for h in REPEAT_HAZARD_PER_MONTH],
        "hazard_ratio_after_a_repeat": REPEAT_HR, "hazard_ratio_after_refusing_transport": REFUSED_HR,
        "same_event": truth_pairs,
        "person_of_ems_record": {e["ems_id"]: e["person"]["key"] for e in events},
    }
    (out_dir / "outreach_truth.json").write_text(json.dumps(truth, indent=0) + "\n", encoding="utf-8")


def _outreach_attempts(rng, events) -> list[list]:
    """The team's record: phone first, then visits, up to four tries, for 85% of the non-fatal overdoses."""
    rows = []
    for e in events:
        if e["fatal"] or rng.random() < 0.15:
            continue
        when = _stamp(e["day"]) + np.timedelta64(int(rng.gamma(2.0, 20.0) * 3600), "s")
        for attempt in range(int(rng.integers(1, 5))):
            mode = "phone" if attempt == 0 else str(rng.choice(["visit", "text", "visit"]))
            result = str(rng.choice(["no answer", "not found", "refused", "engaged", "engaged through family"],
                                    p=[0.35, 0.2, 0.1, 0.28, 0.07]))
            contact = result.startswith("engaged")
            kits = int(rng.integers(1, 3)) if contact or (mode == "visit" and rng.random() < 0.05) else 0
            made = int(rng.integers(0, 3)) if contact else 0
            accepted = int(rng.integers(0, made + 1))
            rows.append([e["ems_id"], str(when).replace("T", " "), mode,
                         "residence" if e["person"]["home"] is not None else "overdose location", result, kits,
                         made, accepted, "yes" if accepted and rng.random() < 0.5 else "no"])
            if contact or result == "refused":
                break
            when = when + np.timedelta64(int(rng.uniform(6, 40) * 3600), "s")
    rows.sort(key=lambda r: r[1])
    return rows


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)
