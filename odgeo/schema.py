"""Column names, recognised aliases and the IncidentFrame contract, in one place.

Every other module takes column names from here, and the docs table of accepted
column names is generated from :data:`ROLE_ALIASES`, so the two cannot drift.
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .arrowtext import has_repeats
from .errors import ColumnError, DataError
from .vocabulary import OUTCOMES

__all__ = [
    "ADDRESS",
    "AGE_ALIASES",
    "CITY",
    "GEOCODE_SCORE",
    "GEOCODE_STATUS",
    "INCIDENT_COLUMNS",
    "INCIDENT_ID",
    "NALOXONE_DOSES",
    "OCCURRED_AT",
    "OUTCOME",
    "OUTCOMES",
    "OUTCOME_ALIASES",
    "PLACE",
    "ROLE_ALIASES",
    "ROLE_OPTIONS",
    "SEX_ALIASES",
    "SEX_COLUMN_ALIASES",
    "SOURCE_ROW",
    "SUSPECTED_DRUG",
    "WGS84",
    "ZIP",
    "detect_columns",
    "has_location",
    "located",
    "name_key",
    "normalise_name",
    "other_candidates",
    "sex_of",
    "unlocated",
    "validate_incident_frame",
]

WGS84 = "EPSG:4326"

INCIDENT_ID = "incident_id"
OCCURRED_AT = "occurred_at"
OUTCOME = "outcome"
NALOXONE_DOSES = "naloxone_doses"
SUSPECTED_DRUG = "suspected_drug"
ADDRESS = "address"
CITY = "city"
ZIP = "zip"
SOURCE_ROW = "source_row"
GEOCODE_STATUS = "geocode_status"
GEOCODE_SCORE = "geocode_score"
#: The role of a column naming each incident's place, when one stands for coordinates (``odgeo report --area-col``).
PLACE = "place"

#: The columns of an IncidentFrame, in order (geometry comes last).
INCIDENT_COLUMNS = [
    INCIDENT_ID,
    OCCURRED_AT,
    OUTCOME,
    NALOXONE_DOSES,
    SUSPECTED_DRUG,
    ADDRESS,
    CITY,
    ZIP,
    SOURCE_ROW,
    GEOCODE_STATUS,
    GEOCODE_SCORE,
]


#: Names (normalised) of a column giving a person's age in years, and their sex, best first.
AGE_ALIASES = ("age", "patientage", "ageyears", "ageatevent")
SEX_COLUMN_ALIASES = ("sex", "gender", "patientsex", "patientgender")

#: Values (normalised with :func:`normalise_name`) read as each sex; any other is unknown ("").
SEX_ALIASES: dict[str, str] = {**dict.fromkeys(["m", "male", "man", "boy"], "M"),
                               **dict.fromkeys(["f", "female", "woman", "girl"], "F")}

#: Values (normalised with :func:`normalise_name`) read as each outcome.
OUTCOME_ALIASES: dict[str, str] = {
    **dict.fromkeys(["fatal", "death", "dead", "deceased", "died", "f", "yes", "y", "1", "true"], "fatal"),
    **dict.fromkeys(
        ["nonfatal", "notfatal", "survived", "alive", "nf", "no", "n", "0", "false"], "nonfatal"
    ),
    **dict.fromkeys(["", "unknown", "unk", "na", "null", "none", "u"], "unknown"),
}

#: For each role, the column names recognised, best first (normalised: lower case,
#: letters and digits only). The first present wins; the choice is recorded.
ROLE_ALIASES: dict[str, tuple[str, ...]] = {
    "longitude": ("longitude", "lon", "lng", "long", "x", "xcoord", "pointx", "gpslongitude"),
    "latitude": ("latitude", "lat", "y", "ycoord", "pointy", "gpslatitude"),
    OCCURRED_AT: (
        "occurredat", "datetime", "incidentdatetime", "incidentdate", "date", "eventdate",
        "dateofincident", "calldate", "dispatchdate", "dateofdeath", "dateoccurred", "time", "reportedat",
    ),
    INCIDENT_ID: (
        "incidentid", "incidentnumber", "incidentno", "casenumber", "caseno", "caseid", "id",
        "recordid", "objectid", "fid", "reportnumber", "cbiosenseid", "visitid",
    ),
    OUTCOME: ("outcome", "fatal", "fatality", "fatalnonfatal", "isfatal", "fatalornonfatal", "cdeath"),
    NALOXONE_DOSES: (
        "naloxonedoses", "narcandoses", "naloxone", "narcan", "naloxonegiven", "narcangiven",
        "naloxoneadministered", "narcanadministered",
    ),
    SUSPECTED_DRUG: ("suspecteddrug", "drug", "suspectedsubstance", "substance", "drugtype", "causeofdeath", "cod",
                     "ccddcategoryflat", "ccddcategory"),  # ESSENCE Data Details
    ADDRESS: ("address", "fulladdress", "streetaddress", "incidentaddress", "addr"),
    # One text column holding both coordinates ("(lat, lon)" or WKT); used only when
    # there are no longitude/latitude columns, and when auto-detected only if most
    # of its values parse (a "Location" column often holds words like "Residence").
    "location": ("location", "geolocation", "geocodedlocation", "point", "geopoint", "latlon",
                 "latlong", "latlng", "coordinates", "wkt"),
    CITY: ("city", "town", "municipality", "incidentcity"),
    ZIP: ("zip", "zipcode", "postcode", "postalcode", "zip5"),
}

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def name_key(names) -> pd.Series:
    """Place names compared without case or surrounding space ("NEW HAVEN", "New Haven ")."""
    return pd.Series(names, dtype=object).fillna("").astype(str).str.strip().str.casefold()


def sex_of(value: object) -> str:
    """"M", "F", or "" when the value says neither ("U", "unknown", empty)."""
    return SEX_ALIASES.get(normalise_name(value), "")


def normalise_name(name: object) -> str:
    """Lower-case ``name`` and drop everything but letters and digits.

    >>> normalise_name(" Incident_Date ")
    'incidentdate'
    """
    return _NON_ALNUM.sub("", str(name).strip().lower())


def detect_columns(
    columns: list[str], overrides: dict[str, str | None] | None = None
) -> dict[str, str | None]:
    """Map each role of :data:`ROLE_ALIASES` to a column of ``columns`` (or None).

    Parameters
    ----------
    columns
        The column names as they appear in the file.
    overrides
        Role to column name, given by the user; each must name an existing column.

    Returns
    -------
    dict
        Role to source column name, None where no column was found. One source
        column never serves two roles.

    Raises
    ------
    ColumnError
        If an override names a column that does not exist.
    """
    overrides = {k: v for k, v in (overrides or {}).items() if v}
    by_norm: dict[str, str] = {}
    for col in columns:
        by_norm.setdefault(normalise_name(col), col)
    chosen: dict[str, str | None] = {}
    given = {role: str(col) for role, col in overrides.items()}
    for role, col in given.items():
        if role not in ROLE_ALIASES:
            raise ColumnError(f"unknown column role {role!r}; roles are {', '.join(ROLE_ALIASES)}")
        if col not in columns:
            hint = by_norm.get(normalise_name(col))
            also = f" (did you mean {hint!r}?)" if hint else ""
            raise ColumnError(
                f"column {col!r} given for {role} is not in the input{also}; "
                f"columns are: {', '.join(map(str, columns))}"
            )
        chosen[role] = col
    used = set(chosen.values())
    for role, aliases in ROLE_ALIASES.items():
        if role in chosen:
            continue
        chosen[role] = _first_alias(aliases, by_norm, used) or _first_truncated(aliases, columns, used)
        if chosen[role] is not None:
            used.add(chosen[role])
    return {role: chosen[role] for role in ROLE_ALIASES}


#: How a message names each role's column setting (the command line says its flag: --lon-col).
ROLE_OPTIONS = {role: f'`columns["{role}"]`' for role in ("longitude", "latitude", OCCURRED_AT, INCIDENT_ID, OUTCOME,
                                                            "location", SUSPECTED_DRUG)}


def other_candidates(columns: list[str], chosen: dict[str, str | None],
                     overrides: dict[str, str | None] | None = None) -> dict[str, list[str]]:
    """Per detected role, the other columns whose names would also fit it (not chosen for any role).

    Two date columns ("date" and "incident_date") or two latitude columns are read
    with the best-ranked one; the caller says so rather than choose silently.
    """
    overrides = overrides or {}
    used = {c for c in chosen.values() if c is not None}
    out: dict[str, list[str]] = {}
    for role, col in chosen.items():
        if col is None or overrides.get(role) or role not in ROLE_ALIASES:  # a role given, not detected
            continue
        aliases = set(ROLE_ALIASES[role])
        others = [c for c in columns if c not in used and normalise_name(c) in aliases]
        if others:
            out[role] = others
    return out


def _first_alias(aliases, by_norm: dict[str, str], used: set) -> str | None:
    for alias in aliases:
        col = by_norm.get(alias)
        if col is not None and col not in used:
            return col
    return None


def _first_truncated(aliases, columns: list[str], used: set) -> str | None:
    """A Shapefile (DBF) cuts names to 10 characters: 'occurred_at' becomes 'occurred_a'."""
    for alias in aliases:
        for col in columns:
            norm = normalise_name(col)
            if len(str(col)) == 10 and len(norm) >= 6 and alias.startswith(norm) and col not in used:
                return col
    return None


def validate_incident_frame(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Check that ``frame`` honours the IncidentFrame contract and return it.

    The contract: a GeoDataFrame in EPSG:4326 with the columns of
    :data:`INCIDENT_COLUMNS`, unique ``incident_id``, timezone-aware
    ``occurred_at``, ``outcome`` in :data:`OUTCOMES`, and Point geometries
    (empty for incidents not yet located).

    Raises
    ------
    ColumnError
        If a column is missing.
    DataError
        If a value breaks the contract (a frame built by hand, or a bug).
    """
    missing = [c for c in INCIDENT_COLUMNS if c not in frame.columns]
    if missing:
        raise ColumnError(f"IncidentFrame lacks column(s): {', '.join(missing)}")
    if frame.crs is None or not frame.crs.equals(WGS84):
        raise DataError(f"IncidentFrame must be in {WGS84}, not {frame.crs}")
    ids = frame[INCIDENT_ID]
    if has_repeats(ids) if pd.api.types.is_string_dtype(ids) else not ids.is_unique:
        raise DataError("IncidentFrame has duplicate incident_id values")
    times = frame[OCCURRED_AT]
    if not isinstance(times.dtype, pd.DatetimeTZDtype):
        raise DataError("IncidentFrame.occurred_at must be timezone-aware datetimes")
    bad = ~frame[OUTCOME].isin(OUTCOMES)
    if bad.any():
        raise DataError(f"IncidentFrame.outcome must be one of {OUTCOMES}")
    present = has_location(frame.geometry)
    kinds = shapely.get_type_id(np.asarray(frame.geometry.values, dtype=object))  # ids, not a name per row
    if (kinds[present] != shapely.GeometryType.POINT).any():
        names = sorted(set(frame.geometry[present].geom_type))
        raise DataError(f"IncidentFrame geometries must be points, not {names}")
    return frame


def has_location(geoms: gpd.GeoSeries) -> np.ndarray:
    """Boolean array: True where a geometry is present and not empty."""
    values = np.asarray(geoms.values, dtype=object)
    return ~(shapely.is_missing(values) | shapely.is_empty(values))


def located(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The incidents that have a location (non-empty geometry)."""
    return frame[has_location(frame.geometry)]


def unlocated(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The incidents that still lack a location (for the geocoder)."""
    return frame[~has_location(frame.geometry)]


def find_column(columns: list[str], aliases, given: str | None = None, *, path=None, option: str = "") -> str | None:
    """The column named ``given`` (which must exist), else the first of ``aliases`` present (by normalised name)."""
    if given is not None:
        if given not in columns:
            raise ColumnError(f"{path}: no column {given!r} ({option}); columns are {', '.join(map(str, columns))}")
        return given
    by_norm = {normalise_name(c): c for c in columns}
    return next((by_norm[a] for a in aliases if a in by_norm), None)
