"""Online geocoding, only when asked: the Census batch geocoder or Nominatim, through a local cache.

Addresses leave the machine with these services, so nothing here runs unless the
user names a service, the command says so first, and every answer is kept in a
SQLite file (``$ODGEO_CACHE/online.sqlite``) so no address is ever sent twice.

- ``census``: the US Census Bureau's batch geocoder, 10,000 addresses a request
  (its limit). It gives no confidence: an "Exact" match on its TIGER ranges is
  status ``range`` with score 0.8, "Non_Exact" 0.6; ties and non-matches are
  ``unmatched`` with the reason.
- ``nominatim``: OpenStreetMap's geocoder, one request a second at most (its usage
  policy), with a user agent naming odgeo. A house or building is ``exact`` 0.8, a
  street ``street`` 0.3, a postcode ``postcode`` 0.15.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import sqlite3
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from .._version import __version__
from ..errors import ParameterError
from ..vocabulary import SERVICES
from .index import cache_dir

__all__ = ["SERVICES", "SERVICE_URLS", "USER_AGENT", "OnlineGeocoder"]

log = logging.getLogger(__name__)

SERVICE_URLS = {
    "census": "https://geocoding.geo.census.gov/geocoder/locations/addressbatch",
    "nominatim": "https://nominatim.openstreetmap.org/search",
}
USER_AGENT = f"odgeo/{__version__} (overdose mapping; offline first)"
CENSUS_BATCH = 10_000
NOMINATIM_INTERVAL_S = 1.0
_TIMEOUT_S = 120


class OnlineGeocoder:
    """One service, its cache, and (for Nominatim) its pace."""

    def __init__(self, service: str, *, url: str | None = None, user_agent: str = USER_AGENT,
                 cache_path: Path | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic):
        if service not in SERVICES:
            raise ParameterError(f"`service` must be one of {', '.join(SERVICES)}, not {service!r}")
        self.service = service
        self.url = url or SERVICE_URLS[service]
        self.user_agent = user_agent
        self.sleep, self.clock = sleep, clock
        self._last = -np.inf
        self.requests = 0
        path = cache_path or cache_dir().parent / "online.sqlite"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path)
        self.db.execute("CREATE TABLE IF NOT EXISTS answers (service TEXT, query TEXT, lon REAL, lat REAL, "
                        "status TEXT, score REAL, matched TEXT, reason TEXT, PRIMARY KEY (service, query))")

    def geocode(self, queries: list[str]) -> pd.DataFrame:
        """longitude, latitude, geocode_status, geocode_score, matched_address, geocode_reason per query."""
        unique = list(dict.fromkeys(q for q in queries if q))
        known = self._cached(unique)
        todo = [q for q in unique if q not in known]
        if todo:
            log.warning("%d address(es) will be sent to %s: they leave this machine", len(todo), self.url)
            answers = self._census(todo) if self.service == "census" else self._nominatim(todo)
            self.db.executemany("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                [(self.service, q, *a) for q, a in answers.items()])
            self.db.commit()
            known.update(answers)
        empty = (np.nan, np.nan, "unmatched", 0.0, "", "no address")
        rows = [known.get(q, empty) for q in queries]
        return pd.DataFrame(rows, columns=["longitude", "latitude", "geocode_status", "geocode_score",
                                           "matched_address", "geocode_reason"])

    def _cached(self, queries: list[str]) -> dict[str, tuple]:
        out = {}
        for start in range(0, len(queries), 500):
            chunk = queries[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(f"SELECT query, lon, lat, status, score, matched, reason FROM answers "
                                       f"WHERE service = ? AND query IN ({marks})", [self.service, *chunk]):
                out[row[0]] = tuple(np.nan if v is None else v for v in row[1:3]) + tuple(row[3:])
        return out

    def _request(self, request: urllib.request.Request) -> bytes:
        request.add_header("User-Agent", self.user_agent)
        self.requests += 1
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
            return response.read()

    def _census(self, queries: list[str]) -> dict[str, tuple]:
        out = {}
        for start in range(0, len(queries), CENSUS_BATCH):
            chunk = queries[start:start + CENSUS_BATCH]
            lines = io.StringIO()
            writer = csv.writer(lines)
            for i, query in enumerate(chunk):
                street, city, state, zip_code = (query.split("|") + ["", "", "", ""])[:4]
                writer.writerow([i, street, city, state, zip_code])
            body, boundary = _multipart({"benchmark": "Public_AR_Current"}, "addressFile", "addresses.csv",
                                        lines.getvalue().encode("utf-8"))
            request = urllib.request.Request(self.url, data=body, method="POST")
            request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
            for row in csv.reader(io.StringIO(self._request(request).decode("utf-8", "replace"))):
                if len(row) < 3 or not row[0].isdigit():
                    continue
                query = chunk[int(row[0])]
                out[query] = _census_answer(row)
        return out

    def _nominatim(self, queries: list[str]) -> dict[str, tuple]:
        out = {}
        for query in queries:
            wait = NOMINATIM_INTERVAL_S - (self.clock() - self._last)
            if wait > 0:
                self.sleep(wait)
            params = urllib.parse.urlencode({"q": query.replace("|", ", "), "format": "jsonv2", "limit": 1,
                                             "countrycodes": "us"})
            self._last = self.clock()
            answer = json.loads(self._request(urllib.request.Request(f"{self.url}?{params}")) or b"[]")
            out[query] = _nominatim_answer(answer)
        return out


def _census_answer(row: list[str]) -> tuple:
    match = row[2].strip().lower()
    if match != "match":
        reason = "several matches (Census: Tie)" if match == "tie" else "not found by the Census geocoder"
        return (np.nan, np.nan, "unmatched", 0.0, "", reason)
    exact = len(row) > 3 and row[3].strip().lower() == "exact"
    lon, lat = (float(v) for v in row[5].split(","))
    return (lon, lat, "range", 0.8 if exact else 0.6, row[4], "")


def _nominatim_answer(answer: list) -> tuple:
    if not answer:
        return (np.nan, np.nan, "unmatched", 0.0, "", "not found by Nominatim")
    hit = answer[0]
    kind = hit.get("addresstype") or hit.get("type") or ""
    status, score = {"house": ("exact", 0.8), "building": ("exact", 0.8), "road": ("street", 0.3),
                     "postcode": ("postcode", 0.15)}.get(kind, ("street", 0.3))
    return (float(hit["lon"]), float(hit["lat"]), status, score, hit.get("display_name", ""), "")


def _multipart(fields: dict, file_field: str, filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{filename}"\r\n'
                 f"Content-Type: text/csv\r\n\r\n".encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), boundary
