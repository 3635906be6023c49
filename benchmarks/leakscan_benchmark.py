"""odgeo leakscan on a public folder: the whole scan, and its identifier search beside the naive one.

    python benchmarks/leakscan_benchmark.py FOLDER INCIDENTS [--location-col COL] [--identifying-col COL ...]
    python benchmarks/leakscan_benchmark.py            # a public hotspots run of the sample city

The identifier check looks for every value of the identifying columns (ids, and free text when
asked) in every file. The peer, timed on the same texts in the same run, is what odgeo did
before: one search of the text per value (``value in text``, then a whole-word regular
expression). Both must find the same values. Target (issue 41): the whole scan under a minute on
a large county (Connecticut's deaths: 101 s, 161 s with a free-text column, before).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_benchmarks import table

from odgeo.incidents.read import read_incidents
from odgeo.publish import leakscan
from odgeo.publish.leakscan import scan_public_outputs

SAMPLE = Path(__file__).resolve().parents[1] / "sample_geodata"


def naive_found(text: str, values: list[str]) -> list[str]:
    """One search of the text per value: odgeo's check before this benchmark."""
    return sorted(v for v in values if v in text and re.search(rf"(?<!\w){re.escape(v)}(?!\w)", text))


def _identifying(path: Path, columns: list[str]) -> list[str]:
    import pandas as pd

    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    return sorted({v for c in columns for v in raw[c] if len(v) >= 5})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?")
    parser.add_argument("incidents", nargs="?")
    parser.add_argument("--location-col")
    parser.add_argument("--identifying-col", action="append", default=[])
    parser.add_argument("--timezone", default="America/Chicago")
    args = parser.parse_args()
    if args.folder is None:
        from odgeo.jobs.hotspots import HotspotSettings, run_hotspots

        folder = Path(tempfile.mkdtemp()) / "public"
        incidents_path = SAMPLE / "incidents.csv"
        run_hotspots(incidents_path, folder, HotspotSettings(timezone=args.timezone, tiles="none"))
        columns = args.identifying_col or ["incident_id", "address", "narrative"]
    else:
        folder, incidents_path = Path(args.folder), Path(args.incidents)
        columns = args.identifying_col
    read = read_incidents(incidents_path, timezone=args.timezone,
                          columns={"location": args.location_col} if args.location_col else None)
    id_col = read.columns.get("incident_id")
    values = _identifying(incidents_path, [*columns, *([id_col] if id_col and id_col not in columns else [])])

    start = time.perf_counter()
    leaks = scan_public_outputs(folder, read.incidents, identifying=values)
    whole = time.perf_counter() - start

    secrets = leakscan._Secrets.of(values)
    rows, ours_total, naive_total = [], 0.0, 0.0
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        text = leakscan._text_of(path)
        t0 = time.perf_counter()
        ours = secrets.found_in(text)
        t1 = time.perf_counter()
        naive = naive_found(text, values)
        t2 = time.perf_counter()
        assert ours == naive, (path.name, ours[:5], naive[:5])
        ours_total, naive_total = ours_total + t1 - t0, naive_total + t2 - t1
        rows.append([path.name, f"{len(text) / 1e6:.1f}", f"{t1 - t0:.2f}", f"{t2 - t1:.2f}",
                     f"{(t2 - t1) / max(t1 - t0, 1e-9):.0f}x"])
    rows.append(["all files", "", f"{ours_total:.2f}", f"{naive_total:.2f}",
                 f"{naive_total / max(ours_total, 1e-9):.0f}x"])
    print(f"{folder}: {len(leaks)} finding(s); {len(values):,} identifying values; whole scan {whole:.1f} s")
    table("identifier search, seconds (same texts, same values, same findings)",
          ["file", "MB", "odgeo", "naive", "naive/odgeo"], rows)


if __name__ == "__main__":
    main()
