"""Parsing and normalising US street addresses the way dispatchers and clerks type them.

``parse_address("290-92 e cypress str apt 5", zip="67401")`` gives number 290
(the range's first), direction E, name CYPRESS, type ST, unit APT 5. Recognised:
directions (NORTH -> N), USPS street types (AVENUE, AV, AVE. -> AVE), ordinals
(FIRST -> 1ST, 1 -> 1ST before a street type), units (APT, UNIT, #, ROOM, RM, STE,
FL, REAR, BASEMENT ...) moved to their own field, number ranges (1234-36),
block addresses (100 BLOCK OF MAIN ST, 1XX MAIN), intersections (MAIN ST & 3RD
AVE, /, AND, AT), PO boxes and bare place names (not matchable: the reason says
so), stray punctuation, case, spaces, control characters and non-ASCII letters.
A one-line address with city, state and ZIP is split with usaddress (a CRF
address parser) before normalising.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from functools import lru_cache

__all__ = ["DIRECTIONS", "MAX_LENGTH", "STREET_TYPES", "Address", "normalise_street", "parse_address"]

MAX_LENGTH = 200
DIRECTIONS = {"N": "N", "NORTH": "N", "S": "S", "SOUTH": "S", "E": "E", "EAST": "E", "W": "W", "WEST": "W",
              "NE": "NE", "NORTHEAST": "NE", "NW": "NW", "NORTHWEST": "NW", "SE": "SE", "SOUTHEAST": "SE",
              "SW": "SW", "SOUTHWEST": "SW"}
_TYPES = {
    "AVE": "AVENUE AV AVE AVEN AVENU AVN AVNUE", "ST": "STREET STR STRT ST", "RD": "ROAD RD",
    "DR": "DRIVE DR DRIV DRV", "BLVD": "BOULEVARD BLVD BOUL BOULV", "LN": "LANE LN", "CT": "COURT CT CRT",
    "CIR": "CIRCLE CIR CIRC CIRCL CRCL CRCLE", "PL": "PLACE PL", "TER": "TERRACE TER TERR",
    "WAY": "WAY WY", "PKWY": "PARKWAY PKWY PKY PARKWY PKWAY", "HWY": "HIGHWAY HWY HIWAY HIWY HWAY",
    "TRL": "TRAIL TRL TRAILS TRLS", "SQ": "SQUARE SQ SQR SQU", "LOOP": "LOOP LOOPS", "ALY": "ALLEY ALY ALLY",
    "EXPY": "EXPRESSWAY EXPY EXP EXPR EXPW", "FWY": "FREEWAY FWY FRWY", "PIKE": "PIKE PIKES", "ROW": "ROW",
    "RUN": "RUN", "PATH": "PATH PATHS", "PLZ": "PLAZA PLZ PLZA", "XING": "CROSSING XING CRSSNG",
    "PT": "POINT PT", "RDG": "RIDGE RDG RDGE", "HL": "HILL HL", "HTS": "HEIGHTS HTS HT", "CV": "COVE CV",
    "VW": "VIEW VW", "PARK": "PARK PRK", "GRN": "GREEN GRN", "CTR": "CENTER CTR CENTRE CNTR",
}
STREET_TYPES = {alias: std for std, aliases in _TYPES.items() for alias in aliases.split()}
_ORDINALS = {"FIRST": "1ST", "SECOND": "2ND", "THIRD": "3RD", "FOURTH": "4TH", "FIFTH": "5TH", "SIXTH": "6TH",
             "SEVENTH": "7TH", "EIGHTH": "8TH", "NINTH": "9TH", "TENTH": "10TH", "ELEVENTH": "11TH",
             "TWELFTH": "12TH", "THIRTEENTH": "13TH", "FOURTEENTH": "14TH", "FIFTEENTH": "15TH"}
_UNITS = ("APARTMENT", "APT", "UNITT", "UNIT", "UNT", "ROOM", "RM", "SUITE", "STE", "FLOOR", "FL", "REAR",
          "BASEMENT", "BSMT", "LOT", "SPACE", "SPC", "BLDG", "BUILDING", "TRLR", "DEPT", "OFC", "FRNT", "UPPR", "LOWR",
          "#")
_UNIT_WORDS = "|".join(u for u in _UNITS if u != "#")
# A unit designator ("APT 5", glued "APT1", misspelt "UNITT 1306", "#2C/REAR BUILDING") and the rest of the line.
_UNIT_RE = re.compile(r"\s(?:(?:" + _UNIT_WORDS + r")(?=[\d\s-]|$)\s*[\w/-]*|#\s*[\w/-]+)(?:\s.*)?$")
# What may follow a comma instead of a city: a unit, a bare number ("607", "2 S", "2C"), a room of a
# hotel or a town house.
_TAIL_UNIT = re.compile(r"^(?:(?:(?:HOTEL|MOTEL)\s+)?(?:" + _UNIT_WORDS + r"|TOWN\s*HSE|TOWNHOUSE|TH)(?=[\d\s-]|$)"
                        r"|#|\d+[A-Z]?(?:\s+[A-Z0-9]{1,3})?$|[A-Z]\d+$)")
_TAIL_ZIP = re.compile(r"^(?:(?:(?P<city>[A-Z][A-Z ]*?)\s+)?[A-Z]{2}\s+)?(?P<zip>\d{5})(?:-\d{4})?$")
_TAIL_STATE = re.compile(r"^(?:(?P<city>[A-Z][A-Z ]*?)\s+)?[A-Z]{2}$")
# Where on the premises or what kind of place, not part of the address ("3173 W HARRISON, ALLEY";
# the words of medical examiners' injury-place fields: "HOTEL OR MOTEL", "FRIEND'S RESIDENCE").
_PLACE_NOTE = re.compile(
    r"^(?:(?:\w+\s+)?S\s+)?(?:IN\s+)?(?:ALLEY|ALLEYWAY|ALY|GANGWAY|GARAGE|(?:FRONT |BACK )?YARD|BACKYARD|PORCH|"
    r"STAIRWELL|HALLWAY|LOBBY|BATHROOM|(?:PARKING|VACANT) LOT|VACANT (?:BUILDING|HOUSE)|PUBLIC PARK|PARK|SIDEWALK|"
    r"STREET|ROADWAY|CURB|DRIVEWAY|WOODED AREA|WOODS|RESIDENCE|RESIDENTIAL BUILDING|HOUSE|HOME|APARTMENT|"
    r"HOTEL(?: OR MOTEL)?|MOTEL|HOTEL/MOTEL|VEHICLE|AUTOMOBILE|CAR|HALFWAY HOUSE|NURSING HOME|RESTAURANT|"
    r"OTHER(?: .*)?|UNKNOWN)$")
_NOTES = re.compile(r"\([^)]*\)?|\[[^\]]*\]?")  # parenthesised or bracketed, closed or not
_NUMBER = re.compile(r"^(\d+)([A-Z]?)(?:\s+1/2)?\s+(.*)$")  # "123 1/2 MAIN": the half is dropped
_RANGE = re.compile(r"^(\d+)\s*-\s*(\d+)\s+(.*)$")
_BLOCK_OF = re.compile(r"^(\d+)\s*-?\s*(?:BLOCK|BLK|BL)(?:\s+OF)?\s+(.*)$")
_XX = re.compile(r"^(\d+)XX\s+(.*)$")
_INTERSECTION = re.compile(r"\s(?:&|/|AND|AT|@)\s")
_PO_BOX = re.compile(r"^(?:P\s*O\s*BOX|POST OFFICE BOX|BOX)\s*\d+")
_STATE_ZIP = re.compile(r",|\b[A-Z]{2}\s+\d{5}(?:-\d{4})?$|\s\d{5}(?:-\d{4})?$")
_ZIP = re.compile(r"^\d{5}(?:-\d{4})?$")


@dataclass(frozen=True)
class Address:
    """A parsed, normalised address. ``kind`` says what it is and whether it can be matched."""

    kind: str  # address, range, block, intersection, zip_only, po_box, place, empty, too_long
    number: int | None = None
    number_high: int | None = None  # last number of a range or a block
    predir: str = ""
    name: str = ""
    suffix: str = ""
    postdir: str = ""
    unit: str = ""
    note: str = ""  # what the line said besides the address: "(VACANT LOT)", "ALLEY", a business name
    city: str = ""
    zip: str = ""
    cross: tuple[str, str, str, str] | None = None  # the second street of an intersection
    reason: str = ""

    @property
    def street(self) -> str:
        """The normalised full street: "W OAK ST"."""
        return " ".join(p for p in (self.predir, self.name, self.suffix, self.postdir) if p)

    def text(self) -> str:
        """The normalised address as one line (without unit)."""
        if self.kind == "intersection" and self.cross:
            return f"{self.street} & {' '.join(p for p in self.cross if p)}"
        number = "" if self.number is None else f"{self.number} "
        return (number + self.street).strip()


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode("ascii")
    text = "".join(ch if ch.isprintable() else " " for ch in text).upper()
    text = re.sub(r"[^A-Z0-9#&/@,\- ]", " ", text.replace(".", ""))
    return re.sub(r"\s+", " ", text).strip(" ,-")


def normalise_street(text: str) -> tuple[str, str, str, str]:
    """(predir, name, type, postdir) of a street with no number: "west oak street" -> ("W", "OAK", "ST", "")."""
    words = _clean(text).replace(",", " ").split()
    predir = postdir = suffix = ""
    if len(words) > 1 and words[0] in DIRECTIONS:
        predir = DIRECTIONS[words.pop(0)]
    if len(words) > 1 and words[-1] in DIRECTIONS and words[-2] in STREET_TYPES:
        postdir = DIRECTIONS[words.pop()]
    if len(words) > 1 and words[-1] in STREET_TYPES:
        suffix = STREET_TYPES[words.pop()]
    words = [_ORDINALS.get(w, w) for w in words]
    if len(words) == 1 and words[0].isdigit() and suffix:
        words[0] = _ordinal(int(words[0]))
    return predir, " ".join(words), suffix, postdir


def _ordinal(n: int) -> str:
    end = "TH" if 10 <= n % 100 <= 20 else {1: "ST", 2: "ND", 3: "RD"}.get(n % 10, "TH")
    return f"{n}{end}"


def parse_address(text, *, city: str | None = None, zip: str | None = None) -> Address:
    """Parse one address; never raises: what cannot be matched says why in ``reason``.

    Parameters
    ----------
    text
        The address as written ("1200 N MAIN ST APT 4", "MAIN ST & 5TH AVE", a block).
    city, zip
        The city and ZIP code, when given in their own columns.

    Returns
    -------
    Address
        Its ``kind`` (address, range, block, intersection, zip_only, po_box, place,
        empty, too_long) and normalised parts.
    """
    return _parse(str(text) if text is not None else "", _clean(city or ""), _clean(zip or "")[:5])


@lru_cache(maxsize=200_000)
def _parse(text: str, city: str, zip_code: str) -> Address:
    if len(text) > MAX_LENGTH:
        return Address("too_long", city=city, zip=zip_code, reason=f"longer than {MAX_LENGTH} characters")
    text = text.replace("\u00bd", " 1/2")  # NFKD would turn "123½" into "1232"
    notes = [m.strip("()[] ") for m in _NOTES.findall(text)] if "(" in text or "[" in text else []
    line = _clean(_NOTES.sub(" ", text) if notes else text)
    units: list[str] = []
    if "," in line:
        line, city, zip_code, units, more = _split_at_commas(line, city, zip_code)
        notes += more
    elif _STATE_ZIP.search(line):
        line, city, zip_code = _split_one_line(line, city, zip_code)
    if not line:
        if zip_code:
            return Address("zip_only", city=city, zip=zip_code, reason="only a ZIP code")
        return Address("empty", reason="no address")
    if _ZIP.match(line):
        return Address("zip_only", city=city, zip=line[:5], reason="only a ZIP code")
    if _PO_BOX.match(line):
        return Address("po_box", city=city, zip=zip_code, reason="a PO box is not a place")
    note = " ".join(_clean(n) for n in notes if _clean(n))
    base = Address("address", city=city, zip=zip_code, unit=" ".join(units), note=note)
    unit = _UNIT_RE.search(" " + line)
    if unit:
        base = replace(base, unit=" ".join([unit.group(0).strip(), *units]))
        line = (" " + line)[: unit.start()].strip()
    if _INTERSECTION.search(f" {line} "):
        first, second = _INTERSECTION.split(f" {line} ", maxsplit=1)
        a, b = normalise_street(first), normalise_street(second)
        if a[1] and b[1]:
            return replace(base, kind="intersection", predir=a[0], name=a[1], suffix=a[2], postdir=a[3], cross=b)
    for pattern, kind in ((_BLOCK_OF, "block"), (_XX, "block"), (_RANGE, "range")):
        match = pattern.match(line)
        if match:
            low = int(match.group(1)) * (100 if pattern is _XX else 1)
            high = low + 99 if kind == "block" else _range_end(match.group(1), match.group(2))
            return _with_street(replace(base, kind=kind, number=low, number_high=high), match.groups()[-1])
    match = _NUMBER.match(line)
    if match:
        return _with_street(replace(base, number=int(match.group(1))), match.group(3))
    return replace(base, kind="place", name=line, reason="no house number: a place name or a street alone")


def _with_street(address: Address, street: str) -> Address:
    predir, name, suffix, postdir = normalise_street(street)
    if not name:
        return replace(address, kind="place", reason="no street name")
    return replace(address, predir=predir, name=name, suffix=suffix, postdir=postdir)


def _range_end(first: str, second: str) -> int:
    """1234-36 -> 1236; 1234-1240 -> 1240."""
    if len(second) < len(first):
        second = first[: len(first) - len(second)] + second
    return max(int(first), int(second))


def _split_at_commas(line: str, city: str, zip_code: str) -> tuple[str, str, str, list[str], list[str]]:
    """The street before the first comma; after it, a city, state and ZIP, units and notes.

    "6131 N SHERIDAN, TOWN HSE B" -> unit TOWN HSE B; "5615 N CUMBERLAND, 607" -> unit 607;
    "3173 W HARRISON, ALLEY" -> note ALLEY; "123 MAIN ST, SPRINGFIELD, IL 62704" -> city and ZIP.
    Nothing after a comma joins the street name.
    """
    first, *rest = [part.strip(" -") for part in line.split(",")]
    units: list[str] = []
    notes: list[str] = []
    for i, part in enumerate(rest):
        if not part:
            continue
        place = _is_place(part)
        if place and (_ZIP.match(part) or not _TAIL_UNIT.match(part)):
            city = _clean(place.group("city") or "") or city
            zip_code = place.groupdict().get("zip") or zip_code
        elif _TAIL_UNIT.match(part):
            units.append(part)
        elif _PLACE_NOTE.match(part) or city or (i < len(rest) - 1 and not _is_place(rest[i + 1])):
            notes.append(part)  # a city is known, or this is not followed by a state or ZIP
        else:
            city = part
    return first, city, zip_code, units, notes


def _is_place(part: str) -> re.Match | None:
    """A "CITY ST 12345", "ST 12345", "12345", "CITY ST" or "ST" after a comma."""
    return _TAIL_ZIP.match(part) or _TAIL_STATE.match(part)


def _split_one_line(line: str, city: str, zip_code: str) -> tuple[str, str, str]:
    """'123 MAIN ST, SPRINGFIELD, IL 62704' -> street line, city, ZIP (usaddress tags the parts)."""
    import usaddress

    try:
        tagged, _ = usaddress.tag(line)
    except usaddress.RepeatedLabelError:
        return line.split(",")[0].strip(), city, zip_code
    street_keys = ("AddressNumber", "AddressNumberPrefix", "AddressNumberSuffix", "StreetNamePreDirectional",
                   "StreetNamePreModifier", "StreetNamePreType", "StreetName", "StreetNamePostType",
                   "StreetNamePostDirectional", "OccupancyType", "OccupancyIdentifier", "IntersectionSeparator",
                   "SecondStreetName", "SecondStreetNamePostType", "SecondStreetNamePreDirectional",
                   "SecondStreetNamePostDirectional", "USPSBoxType", "USPSBoxID", "LandmarkName")
    street = " ".join(tagged[k] for k in street_keys if k in tagged).replace(",", " ")
    city = _clean(tagged.get("PlaceName", city)) or city
    zip_code = _clean(tagged.get("ZipCode", zip_code))[:5] or zip_code
    return re.sub(r"\s+", " ", street).strip(), city, zip_code
