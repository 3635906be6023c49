"""SHA-256 of every product the commands write on the sample city, for refactors that must not change them.

    python scripts/product_hashes.py > before.txt
    ... change the code ...
    python scripts/product_hashes.py | diff before.txt -

run.json is hashed without its timings and software versions (they change between runs).
"""

from __future__ import annotations

import hashlib
import json
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


def _digest(path: Path) -> str:
    data = path.read_bytes()
    if path.name == "run.json":
        doc = json.loads(data)
        for key in ("timings_s", "software"):
            doc.pop(key, None)
        doc.get("parameters", {}).pop("reference", None)  # holds the cache path
        doc.get("solution", {}).pop("seconds", None)
        data = json.dumps(doc, sort_keys=True).encode()
    return hashlib.sha256(data).hexdigest()[:16]


def main() -> int:
    from odgeo_cli.main import cli

    with tempfile.TemporaryDirectory() as tmp:
        for name, args in RUNS.items():
            out = Path(tmp) / name
            result = CliRunner().invoke(cli, [*args, "--out", str(out)])
            if result.exit_code != 0:
                print(f"{name}: exit {result.exit_code}: {result.output}", file=sys.stderr)
                return 1
            for path in sorted(out.iterdir()):
                print(f"{name}/{path.name} {_digest(path)}")
        geocoded = Path(tmp) / "geocoded.gpkg"
        CliRunner().invoke(cli, ["geocode", str(SAMPLE / "incidents.csv"), "--reference",
                                 str(SAMPLE / "address_points.csv"), "--out", str(geocoded)])
        print(f"geocode/geocoded.gpkg {_digest(geocoded)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
