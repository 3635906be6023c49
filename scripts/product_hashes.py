"""SHA-256 of every product the commands write on the sample city, for refactors that must not change them.

    python scripts/product_hashes.py > before.txt
    ... change the code ...
    python scripts/product_hashes.py | diff before.txt -
    python scripts/product_hashes.py --record   # store them for these library versions (tests/product_hashes.json)

tests/test_product_hashes.py compares every product with the hashes recorded for the library
versions installed, so a change that alters any byte of any product fails the suite. Hashes differ
between library versions (FFT rounding, GEOS, PROJ, fonts), hence one record per set of versions.
run.json is hashed without its timings and software versions (they change between runs), and
paths inside the repository are written relative to it (a clone elsewhere gives the same bytes).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_geodata"
TZ = ("--timezone", "America/Chicago", "--tiles", "none")
RUNS = {
    "hotspots-public": ["hotspots", str(SAMPLE / "incidents.csv"), *TZ],
    "hotspots-restricted": ["hotspots", str(SAMPLE / "incidents.csv"), *TZ, "--audience", "restricted",
                            "--mask-points", "50,300"],
    "hotspots-boundaries": ["hotspots", str(SAMPLE / "incidents.csv"), *TZ, "--boundaries",
                            str(SAMPLE / "neighbourhoods.geojson"), "--method", "optimized"],
    "hotspots-geocoded": ["hotspots", str(SAMPLE / "incidents.csv"), *TZ, "--reference",
                          str(SAMPLE / "address_points.csv")],
    "emerging": ["emerging", str(SAMPLE / "incidents.csv"), *TZ],
    "sites": ["sites", str(SAMPLE / "incidents.csv"), *TZ, "--candidates", str(SAMPLE / "candidate_sites.csv"),
              "--existing", str(SAMPLE / "existing_sites.csv")],
}

_OUTREACH = ["outreach", str(SAMPLE / "outreach_ems.csv"), str(SAMPLE / "outreach_police.csv"), *TZ, "--attempts",
             str(SAMPLE / "outreach_attempts.csv"), "--backtest", "--capacity", "2"]
OUTREACH_RUNS = {
    "outreach-restricted": [*_OUTREACH, "--audience", "restricted", "--keep-columns", "phone"],
    "outreach-public": _OUTREACH,
}

#: odgeo report takes no --tiles, and its PDF holds the moment it was printed: hashed without it.
REPORT_RUNS = {
    "report-public": ["report", str(SAMPLE / "incidents.csv"), "--timezone", "America/Chicago", "--boundaries",
                      str(SAMPLE / "neighbourhoods.geojson"), "--as-of", "2025-12-31", "--no-pdf",
                      "--population-by-age", str(SAMPLE / "neighbourhoods_by_age.csv")],
}

RECORD = ROOT / "tests" / "product_hashes.json"
#: The libraries whose releases shape the products' bytes, with their C libraries.
VERSIONED = ("numpy", "scipy", "pandas", "shapely", "pyproj", "pyogrio", "rasterio", "h3", "scikit-learn",
             "hdbscan", "numba", "pyarrow", "matplotlib", "folium", "branca", "mapclassify", "usaddress",
             "rapidfuzz")


def environment() -> dict[str, str]:
    """The versions the hashes depend on: the Python packages and GEOS, PROJ and GDAL."""
    from importlib import metadata

    import pyogrio
    import pyproj
    import shapely

    versions = {name: metadata.version(name) for name in VERSIONED}
    versions.update(geos=shapely.geos_version_string, proj=pyproj.proj_version_str,
                    gdal=".".join(map(str, pyogrio.__gdal_version__)))
    return versions


def _digest(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix in (".json", ".html", ".geojson", ".csv"):
        data = data.replace(str(ROOT).encode(), b"<root>")
    if path.name == "run.json":
        doc = json.loads(data)
        for key in ("timings_s", "software"):
            doc.pop(key, None)
        doc.get("parameters", {}).pop("reference", None)  # holds the cache path
        doc.get("solution", {}).pop("seconds", None)
        data = json.dumps(doc, sort_keys=True).encode()
    return hashlib.sha256(data).hexdigest()[:16]


@contextlib.contextmanager
def _own_geocoder_cache(folder: Path):
    """An empty geocoder cache for these runs: a cache another run left (or damaged) would add a warning to log.txt."""
    before = os.environ.get("ODGEO_CACHE")
    os.environ["ODGEO_CACHE"] = str(folder)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("ODGEO_CACHE", None)
        else:
            os.environ["ODGEO_CACHE"] = before


def product_hashes() -> dict[str, str]:
    """Run every sample command into a temporary folder; "run/file" to the first 16 hex digits of its SHA-256."""
    from odgeo_cli.main import cli

    hashes = {}
    with tempfile.TemporaryDirectory() as tmp, _own_geocoder_cache(Path(tmp) / "cache"):
        for name, args in {**RUNS, **REPORT_RUNS}.items():
            out = Path(tmp) / name
            result = CliRunner().invoke(cli, [*args, "--out", str(out)])
            if result.exit_code != 0:
                raise RuntimeError(f"{name}: exit {result.exit_code}: {result.output}")
            for path in sorted(out.iterdir()):
                hashes[f"{name}/{path.name}"] = _digest(path)
        key = Path(tmp) / "team.key"  # a fixed key: the worklist ids are the same on every run
        key.write_text("00" * 32 + "\n")
        for name, args in OUTREACH_RUNS.items():
            out = Path(tmp) / name
            result = CliRunner().invoke(cli, [*args, "--key-file", str(key), "--out", str(out)])
            if result.exit_code != 0:
                raise RuntimeError(f"{name}: exit {result.exit_code}: {result.output}")
            for path in sorted(out.iterdir()):
                hashes[f"{name}/{path.name}"] = _digest(path)
        geocoded = Path(tmp) / "geocoded.gpkg"
        CliRunner().invoke(cli, ["geocode", str(SAMPLE / "incidents.csv"), "--reference",
                                 str(SAMPLE / "address_points.csv"), "--out", str(geocoded)])
        hashes["geocode/geocoded.gpkg"] = _digest(geocoded)
    return hashes


def recorded(versions: dict[str, str]) -> tuple[dict[str, str], dict[str, str]] | None:
    """The record nearest these versions: ``(its versions, its hashes)``, or None when nothing is recorded.

    An exact match when there is one; otherwise the record that shares the most versions (the latest
    of equals), since a fresh install brings patch releases every week and most leave every byte
    alone. The test then compares with that record and names the libraries that differ when a
    product changed, so a release that does change bytes is checked and recorded, not waved through.
    """
    if not RECORD.exists():
        return None
    entries = json.loads(RECORD.read_text())["environments"]
    if not entries:
        return None
    shared = [sum(entry["versions"].get(k) == v for k, v in versions.items()) for entry in entries]
    best = max(range(len(entries)), key=lambda i: (shared[i], i))
    return entries[best]["versions"], entries[best]["hashes"]


def record(versions: dict[str, str], hashes: dict[str, str]) -> None:
    """Store ``hashes`` for ``versions`` in tests/product_hashes.json, replacing an entry for the same versions."""
    doc = json.loads(RECORD.read_text()) if RECORD.exists() else {"environments": []}
    doc["environments"] = [e for e in doc["environments"] if e["versions"] != versions]
    doc["environments"].append({"versions": versions, "hashes": hashes})
    RECORD.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")


def main() -> int:
    hashes = product_hashes()
    if "--record" in sys.argv[1:]:
        record(environment(), hashes)
        print(f"recorded {len(hashes)} product hashes for these library versions in {RECORD}")
        return 0
    for name, digest in hashes.items():
        print(f"{name} {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
