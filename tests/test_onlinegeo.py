"""Online geocoding against a stub HTTP server on 127.0.0.1: parsing the services' answers, the
local cache (no address sent twice), Nominatim's pace and user agent, and the command's warning.
No test touches the internet."""

from __future__ import annotations

import io
import json
import threading
import urllib.parse
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pandas as pd
import pytest
from click.testing import CliRunner
from odgeo_cli.main import cli

from odgeo.geocode.online import OnlineGeocoder

from .conftest import SAMPLE


class _Stub(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict]] = []

    def log_message(self, *args):  # keep the test output clean
        pass

    def do_POST(self):  # the Census batch geocoder
        body = self.rfile.read(int(self.headers["Content-Length"]))
        message = BytesParser(policy=policy.HTTP).parsebytes(
            f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + body)
        parts = {part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
                 for part in message.iter_parts()}
        rows = list(pd.read_csv(io.BytesIO(parts["addressFile"]), header=None, dtype=str,
                                keep_default_na=False).itertuples(index=False))
        _Stub.seen.append({"path": self.path, "benchmark": parts["benchmark"].decode(), "rows": len(rows),
                           "agent": self.headers.get("User-Agent")})
        lines = []
        for row in rows:
            if "NOWHERE" in row[1].upper():
                lines.append(f'"{row[0]}","{row[1]}","No_Match"')
            elif "TWIN" in row[1].upper():
                lines.append(f'"{row[0]}","{row[1]}","Tie"')
            else:
                lines.append(f'"{row[0]}","{row[1]}","Match","Exact","{row[1].upper()}, X, KS, 67401",'
                             f'"-97.4,38.2","123","L"')
        self._reply("\n".join(lines).encode(), "text/csv")

    def do_GET(self):  # Nominatim
        query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        _Stub.seen.append({"q": query["q"][0], "agent": self.headers.get("User-Agent"), "format": query["format"][0]})
        answer = [] if "NOWHERE" in query["q"][0].upper() else [
            {"lat": "38.21", "lon": "-97.41", "addresstype": "house", "display_name": query["q"][0]}]
        self._reply(json.dumps(answer).encode(), "application/json")

    def _reply(self, body: bytes, kind: str):
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def stub():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Stub.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_census_batch_answers_and_the_cache(stub, tmp_path):
    geocoder = OnlineGeocoder("census", url=f"{stub}/batch", cache_path=tmp_path / "online.sqlite")
    queries = ["562 W Locust St|Sampleton|KS|67402", "1 Nowhere Rd|||", "2 Twin Ln|||", ""]
    out = geocoder.geocode(queries)
    assert out["geocode_status"].tolist() == ["range", "unmatched", "unmatched", "unmatched"]
    assert out.loc[0, ["longitude", "latitude", "geocode_score"]].tolist() == [-97.4, 38.2, 0.8]
    assert "Tie" in out.loc[2, "geocode_reason"]
    assert _Stub.seen == [{"path": "/batch", "benchmark": "Public_AR_Current", "rows": 3,
                           "agent": geocoder.user_agent}]
    again = OnlineGeocoder("census", url=f"{stub}/batch", cache_path=tmp_path / "online.sqlite").geocode(queries)
    assert len(_Stub.seen) == 1  # every answer came from the cache: nothing sent twice
    pd.testing.assert_frame_equal(out, again)


def test_nominatim_keeps_one_request_a_second_and_names_itself(stub, tmp_path):
    waits, now = [], [100.0]

    def sleep(seconds):
        waits.append(seconds)
        now[0] += seconds

    geocoder = OnlineGeocoder("nominatim", url=f"{stub}/search", cache_path=tmp_path / "n.sqlite",
                              user_agent="odgeo-test (health dept)", sleep=sleep, clock=lambda: now[0])
    out = geocoder.geocode(["562 W Locust St|Sampleton||67402", "1 Nowhere Rd|||", "3 Elm St|||"])
    assert out["geocode_status"].tolist() == ["exact", "unmatched", "exact"]
    assert [s["agent"] for s in _Stub.seen] == ["odgeo-test (health dept)"] * 3
    assert _Stub.seen[0]["q"] == "562 W Locust St, Sampleton, , 67402" and _Stub.seen[0]["format"] == "jsonv2"
    assert len(waits) == 2 and all(w >= 1.0 for w in waits)  # the clock did not move between requests


def test_command_warns_and_uses_the_service_only_for_what_the_references_miss(stub, tmp_path):
    path = tmp_path / "calls.csv"
    pd.DataFrame({"address": ["562 W Locust St", "1 Nowhere Rd", "77 Faraway Blvd"],
                  "zip": ["67402", "67402", "67402"]}).to_csv(path, index=False)
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(cli, ["geocode", str(path), "--reference", str(SAMPLE / "address_points.csv"),
                                      "--out", str(out), "--service", "census", "--service-url", f"{stub}/batch",
                                      "--state", "KS"])
    assert result.exit_code == 0, result.output
    assert "they leave this machine" in result.stderr
    written = pd.read_csv(out, keep_default_na=False)
    # The second is not found online either: it keeps its offline ZIP centre.
    assert written["geocode_status"].tolist() == ["exact", "postcode", "range"]
    assert _Stub.seen[0]["rows"] == 2  # the address found offline was not sent
