"""The checks of a raw table's rows: each rejected row gets a reason code, the column at fault and a sentence.

:class:`RowChecker` parses a table's ids, dates, coordinates, outcomes and doses column by
column (vectorised, one decision per distinct value where values repeat), rejecting rows as
it goes (the first problem wins); :mod:`odgeo.incidents.read` drives it and makes the IncidentFrame.
Reasons never quote the offending value, so a rejects file carries no identifying data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..arrowtext import has_repeats, row_ids, text_by_code, to_float
from ..errors import DataError, ParameterError
from ..projection import haversine_km
from ..schema import (
    ADDRESS,
    INCIDENT_ID,
    NALOXONE_DOSES,
    OCCURRED_AT,
    OUTCOME,
    OUTCOME_ALIASES,
    PLACE,
    WGS84,
    normalise_name,
)
from .coordtext import parse_location_text
from .dates import default_window, parse_datetimes

__all__ = ["REJECT_COLUMNS", "RowChecker", "is_wgs84", "one_row"]

#: Columns of a rejects table: the 1-based record number (1 = first record after
#: the header), the incident id, the reason code, the column at fault, the reason.
REJECT_COLUMNS = ["row", INCIDENT_ID, "code", "column", "reason"]


class RowChecker:
    """Parses the columns of a raw table, rejecting rows with their first problem."""

    def __init__(self, data: pd.DataFrame, roles: dict[str, str | None], path: Path | str, row_offset: int = 0):
        self.data = data
        self.roles = roles
        self.path = path
        self.row_offset = row_offset  # rows are numbered from row_offset + 1 (a part of a larger input)
        n = len(data)
        # Each row's first problem, as its place in _problems (0: none): 4 bytes a row, not three objects.
        self._problem = np.zeros(n, dtype=np.int32)
        self._problems: dict[tuple[str, str, str], int] = {("", "", ""): 0}
        self.notes: dict[str, int] = {}
        self.date_order = "unambiguous"
        self._kept = np.ones(n, dtype=bool)
        self._stripped: dict[str, pd.Series] = {}

    @property
    def kept(self) -> np.ndarray:
        """Rows not rejected so far (read-only: :meth:`reject` keeps it)."""
        view = self._kept.view()
        view.flags.writeable = False
        return view

    def reject(self, mask: np.ndarray, code: str, column: str | None, reason: str) -> None:
        """Reject rows in ``mask`` not already rejected (the first problem wins)."""
        new = np.asarray(mask, dtype=bool) & self._kept
        if not new.any():
            return
        self._problem[new] = self._problems.setdefault((code, column or "", reason), len(self._problems))
        self._kept &= ~new

    def hold_only(self, roles: list[str]) -> None:
        """Keep the text of these roles' columns only, let the rest go (a part held between the read's rounds).

        The rows' count stays; asking for another column's text afterwards is an error.
        """
        columns = {col for col in (self.roles.get(r) for r in roles) if col is not None}
        for col in columns:
            self.stripped(col)
        self._stripped = {col: text for col, text in self._stripped.items() if col in columns}
        self.data = self.data[[]]

    def raw(self, role: str) -> pd.Series:
        """The stripped text of the role's column ("" in every row when the table has none)."""
        col = self.roles.get(role)
        if col is None:
            return pd.Series([""] * len(self.data), index=self.data.index, dtype=object)
        return self.stripped(col)

    def stripped(self, col: str) -> pd.Series:
        """Column ``col`` as text without surrounding spaces, "" where missing (made once per column)."""
        if col not in self._stripped:
            self._stripped[col] = self.data[col].fillna("").astype(str).str.strip()
        return self._stripped[col]

    def text(self, role: str) -> np.ndarray:
        """The role's text as objects for the IncidentFrame: None where empty or the table has no such column."""
        if self.roles.get(role) is None:
            return np.full(len(self.data), None, dtype=object)
        values = self.raw(role).to_numpy(dtype=object, copy=True)
        values[values == ""] = None
        return values

    def note(self, key: str, count: int) -> None:
        """Add ``count`` to the run record's note ``key`` (kept rows changed but not rejected)."""
        if count:
            self.notes[key] = self.notes.get(key, 0) + int(count)

    def reject_empty(self) -> None:
        """Reject the rows with no value in any column."""
        if self.data.shape[1] == 0:
            return
        blank = np.ones(len(self.data), dtype=bool)
        for col in self.data.columns:
            blank &= (self.stripped(col) == "").to_numpy()
        self.reject(blank, "empty_row", None, "the row is empty")

    def reject_bad_geometry(self, problems: dict[int, str]) -> None:
        """Reject the rows whose geometry the reader could not use (row position -> reason)."""
        for pos, reason in problems.items():
            self.reject(one_row(len(self.data), pos), "bad_geometry", "geometry", reason)

    def incident_ids(self, earlier: dict[str, str] | None = None) -> pd.Series:
        """Each row's id as text ("odgeo-row-N" where none is given); a repeated id rejects the later rows.

        ``earlier`` holds ids first seen before this part of a larger input, with their rows.
        """
        n, offset = len(self.data), self.row_offset
        if self.roles[INCIDENT_ID] is None:
            return row_ids(np.arange(1, n + 1) + offset)
        ids = self.raw(INCIDENT_ID).copy()
        missing = (ids == "").to_numpy()
        self.note("incident_id_generated", (missing & self.kept).sum())
        if missing.any():
            ids[missing] = row_ids(np.flatnonzero(missing) + 1 + offset).to_numpy()
        if not earlier and not has_repeats(ids, self.kept):
            return ids
        candidates = ids.where(self.kept)
        dup = candidates.duplicated(keep="first").to_numpy() & self.kept
        seen_before = (candidates.isin(list(earlier)).to_numpy() & self.kept) if earlier else np.zeros(n, bool)
        if dup.any() or seen_before.any():
            firsts = candidates[candidates.notna()].drop_duplicates(keep="first")
            first_row: dict[str, object] = dict(zip(firsts.to_numpy(), firsts.index.to_numpy() + 1 + offset))
            first_row.update(earlier or {})
            for pos in np.flatnonzero(dup | seen_before):
                self.reject(one_row(n, int(pos)), "duplicate_id", self.roles[INCIDENT_ID],
                            f"duplicate incident id (first seen at row {first_row[ids.iloc[pos]]})")
        return ids

    def parse_dates(self, timezone: str, date_format: str | None, accept_implausible: bool,
                    day_first: bool | None = None) -> pd.Series:
        """Timestamps; an empty date is kept (undated), unreadable and implausible ones are rejected."""
        col = self.roles[OCCURRED_AT]
        text = self.raw(OCCURRED_AT)
        window = None if accept_implausible else default_window()
        try:
            parsed = parse_datetimes(text, timezone, date_format=date_format, plausible=window,
                                     column=str(col), day_first=None if date_format else day_first)
        except DataError as err:
            raise DataError(f"{self.path}: {err}") from err
        self.date_order = parsed.order
        if parsed.read_as_dates is not None:
            self.note("utc_midnights_read_as_dates", (parsed.read_as_dates & self.kept).sum())
        self.reject(parsed.unreadable, "bad_date", col,
                    "cannot read the date (use ISO 8601: YYYY-MM-DD or YYYY-MM-DD HH:MM, or give --date-format)")
        self.reject(parsed.out_of_range, "bad_date", col,
                    "the date is outside the years 1678-2261 (a placeholder for an unknown date?)")
        self.reject(parsed.implausible, "implausible_date", col,
                    "the date is before 1990 or after today (a placeholder such as the first day of 1900?); "
                    "add --accept-implausible-dates to keep such dates")
        return parsed.values

    def parse_coordinates(self, crs: str | None) -> tuple[np.ndarray, np.ndarray, tuple[str | None, str | None]]:
        """Coordinates from longitude/latitude columns, else from a location column, and their columns.

        In degrees (transformed from ``crs``); the checks that need every row's coordinates
        (:func:`check_degrees`, :meth:`check_ranges`) come after.
        """
        if self.roles["longitude"] is not None:
            lon, lat, empty, lon_col, lat_col = self._from_columns()
        elif self.roles["location"] is not None:
            lon, lat, empty = self._from_location_text()
            lon_col = lat_col = self.roles["location"]
        else:
            n = len(self.data)
            lon, lat, empty = np.full(n, np.nan), np.full(n, np.nan), np.ones(n, dtype=bool)
            lon_col = lat_col = self.roles[ADDRESS]
        no_address = self.raw(ADDRESS).to_numpy(dtype=object) == ""
        if self.roles.get(PLACE):  # a named place stands for coordinates (odgeo report --area-col)
            no_place = self.raw(PLACE).to_numpy(dtype=object) == ""
            self.reject(empty & no_address & no_place, "no_location", lon_col or self.roles[PLACE],
                        "no coordinates, no address and no place name")
        else:
            self.reject(empty & no_address, "no_location", lon_col, "no coordinates and no address")
        if crs is not None and not is_wgs84(crs):
            lon, lat = _transform_to_wgs84(lon, lat, crs)
        return lon, lat, (lon_col, lat_col)

    def _from_columns(self):
        lon_col, lat_col = self.roles["longitude"], self.roles["latitude"]
        lon_text, lat_text = self.raw("longitude"), self.raw("latitude")
        lon, lat = to_float(lon_text), to_float(lat_text)
        lon_empty, lat_empty = (lon_text == "").to_numpy(), (lat_text == "").to_numpy()
        self.reject(~lon_empty & np.isnan(lon), "bad_coordinate", lon_col, "longitude is not a number")
        self.reject(~lat_empty & np.isnan(lat), "bad_coordinate", lat_col, "latitude is not a number")
        self.reject(np.isinf(lon), "bad_coordinate", lon_col, "longitude is not a finite number")
        self.reject(np.isinf(lat), "bad_coordinate", lat_col, "latitude is not a finite number")
        self.reject(lon_empty & ~lat_empty, "partial_coordinates", lon_col, "latitude given without longitude")
        self.reject(lat_empty & ~lon_empty, "partial_coordinates", lat_col, "longitude given without latitude")
        return lon, lat, lon_empty & lat_empty, lon_col, lat_col

    def _from_location_text(self):
        text = self.raw("location")
        lon, lat = parse_location_text(text)
        empty = (text == "").to_numpy()
        self.reject(~empty & np.isnan(lon), "bad_coordinate", self.roles["location"],
                    "no coordinate pair in the location text (expected '(lat, lon)' or 'POINT (lon lat)')")
        return lon, lat, empty

    def check_ranges(self, lon, lat, lon_col, lat_col, reference: tuple[float, float, float] | None) -> None:
        """Reject swapped, out-of-range and 0, 0 coordinates (``reference``: the whole input's swap_reference)."""
        finite = np.isfinite(lon) & np.isfinite(lat)
        swapped = finite & _looks_swapped(lon, lat, reference)
        self.reject(swapped, "swapped_coordinates", f"{lon_col}/{lat_col}",
                    "latitude and longitude appear swapped; fix the row or its columns")
        self.reject(finite & (np.abs(lat) > 90), "coordinate_out_of_range", lat_col,
                    "latitude out of range [-90, 90]")
        self.reject(finite & (np.abs(lon) > 180), "coordinate_out_of_range", lon_col,
                    "longitude out of range [-180, 180]")
        self.reject(finite & (lon == 0) & (lat == 0), "zero_coordinates", f"{lon_col}/{lat_col}",
                    "coordinates are 0, 0 (a placeholder, not a location)")

    def parse_outcomes(self) -> pd.Series:
        """The outcome (fatal, nonfatal, unknown) of each row, decided once per distinct value."""
        codes, uniques = pd.factorize(self.raw(OUTCOME))
        outcomes = [OUTCOME_ALIASES.get(normalise_name(u)) for u in [*uniques, ""]]  # last: code -1, no value
        unrecognised = np.array([o is None for o in outcomes])[codes]
        self.note("outcome_unrecognised_as_unknown", (unrecognised & self.kept).sum())
        if self.roles[OUTCOME] is None:
            self.note("outcome_column_absent", self.kept.sum())
        return text_by_code([o or "unknown" for o in outcomes], codes)

    def parse_doses(self) -> pd.arrays.IntegerArray:
        """Naloxone doses as whole numbers; an unreadable or impossible count is noted, left missing, not rejected."""
        if self.roles[NALOXONE_DOSES] is None:
            return pd.array(np.full(len(self.data), np.nan), dtype="Int64")
        text = self.raw(NALOXONE_DOSES)
        norm = _normalised(text)
        numbers = pd.to_numeric(text.where(text != ""), errors="coerce")
        numbers[norm.isin(["no", "n", "false", "none"])] = 0
        yes = norm.isin(["yes", "y", "true"]).to_numpy()
        self.note("naloxone_yes_without_dose_count", (yes & self.kept).sum())
        unreadable = numbers.isna() & (text != "") & ~norm.isin(["yes", "y", "true", "null", "na", "unknown"])
        impossible = numbers.notna() & ((numbers < 0) | (numbers % 1 != 0))
        invalid = unreadable | impossible
        self.note("naloxone_doses_unreadable", (invalid.to_numpy() & self.kept).sum())
        numbers[invalid] = np.nan
        return pd.array(numbers.round(), dtype="Int64")

    def rejects_frame(self, ids: pd.Series) -> pd.DataFrame:
        """The rejected rows with their record number, id (none for empty rows), code, column and reason."""
        out = ~self.kept
        rows = np.flatnonzero(out)
        problems = np.empty((len(self._problems), 3), dtype=object)
        problems[list(self._problems.values())] = list(self._problems)
        code, column, reason = problems[self._problem[out]].T
        return pd.DataFrame(
            {
                "row": rows + 1 + self.row_offset,
                INCIDENT_ID: _where_kept(ids.to_numpy()[out], code != "empty_row"),
                "code": code,
                "column": column,
                "reason": reason,
            },
            columns=REJECT_COLUMNS,
        )


def _where_kept(values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """``values`` as objects, None where ``keep`` is False."""
    out = np.asarray(values, dtype=object).copy()
    out[~np.asarray(keep, dtype=bool)] = None
    return out


def one_row(n: int, pos: int) -> np.ndarray:
    """A mask of ``n`` rows with only ``pos`` set."""
    mask = np.zeros(n, dtype=bool)
    mask[pos] = True
    return mask


def _normalised(text: pd.Series) -> pd.Series:
    """:func:`normalise_name` of each value, computed once per distinct value."""
    codes, uniques = pd.factorize(text)
    names = np.array([normalise_name(u) for u in uniques] + [""], dtype=object)
    return pd.Series(names[codes], index=text.index)


def is_wgs84(crs: str) -> bool:
    """Whether ``crs`` (any form pyproj reads) is WGS 84 degrees; one line naming --crs if pyproj knows no such CRS."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        return CRS.from_user_input(crs).equals(CRS.from_user_input(WGS84))
    except CRSError as err:
        raise ParameterError(f"`crs` {crs!r} is not a CRS pyproj knows (e.g. EPSG:2223)") from err


def _transform_to_wgs84(x: np.ndarray, y: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    from pyproj import Transformer

    transformer = Transformer.from_crs(crs, WGS84, always_xy=True)
    lon, lat = transformer.transform(x, y)
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    lon[~np.isfinite(lon)] = np.nan
    lat[~np.isfinite(lat)] = np.nan
    return lon, lat


def _looks_swapped(lon: np.ndarray, lat: np.ndarray, reference: tuple[float, float, float] | None) -> np.ndarray:
    """Rows far from the bulk of the data whose swapped pair falls inside it (see :func:`swap_reference`)."""
    if reference is None:
        return np.zeros(len(lon), dtype=bool)
    centre_lon, centre_lat, radius = reference
    with np.errstate(invalid="ignore"):
        dist = haversine_km(lon, lat, centre_lon, centre_lat)
        swapped_ok = (np.abs(lon) <= 90) & (np.abs(lat) <= 180)
        dist_swapped = np.where(swapped_ok, haversine_km(lat, lon, centre_lon, centre_lat), np.inf)
    far = ~(dist <= radius)  # NaN distances (out of range) count as far
    return np.isfinite(lon) & np.isfinite(lat) & far & (dist_swapped <= radius)
