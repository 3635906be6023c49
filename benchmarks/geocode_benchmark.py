"""The offline geocoder: accuracy on the sample city's truth, a hold-out test, and throughput.

    python benchmarks/geocode_benchmark.py [--reference-size 500000] [--previous DIR] [--speed-only]

1. The sample's 1,053 addresses without coordinates against its address points and
   centerlines: error by status and by score band.
2. Hold-out: 30% of the address points removed at random (seeded), their own
   addresses geocoded against the rest: error by status (interpolation and ranges
   at work).
3. Speed: a synthetic reference of N points (streets on a grid), the index built
   and cached, loaded back, then 100,000 addresses (20,000 distinct) geocoded;
   beside the naive peer, a usaddress parse per address (before any matching).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run_benchmarks import table  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "sample_geodata"


def _error(out, lon, lat):
    return np.hypot((out["longitude"].to_numpy() - lon) * 111_320 * np.cos(np.radians(38.2)),
                    (out["latitude"].to_numpy() - lat) * 110_540)


def _by(out, err, key):
    frame = out.assign(err=err)
    rows = []
    for name, grp in frame.groupby(key, observed=True, sort=True):
        e = grp["err"].to_numpy()
        rows.append([str(name), len(grp), f"{np.nanmedian(e):.1f}" if np.isfinite(e).any() else "-",
                     f"{np.nanpercentile(e, 95):.1f}" if np.isfinite(e).any() else "-",
                     f"{np.mean(e <= 100):.3f}"])
    return rows


def accuracy() -> None:
    from odgeo.geocode.index import load_index
    from odgeo.geocode.matcher import geocode_frame

    index, _ = load_index([SAMPLE / "address_points.csv", SAMPLE / "streets.geojson"], cache=False)
    truth = {u["incident_id"]: u for u in json.loads((SAMPLE / "truth.json").read_text())["unlocated_truth"]}
    rows = pd.read_csv(SAMPLE / "incidents.csv", dtype=str, keep_default_na=False)
    rows = rows[rows["incident_id"].isin(truth)].reset_index(drop=True)
    out = geocode_frame(index, rows["address"], rows["city"], rows["zip"])
    err = _error(out, np.array([truth[i]["longitude"] for i in rows["incident_id"]]),
                 np.array([truth[i]["latitude"] for i in rows["incident_id"]]))
    header = ["", "n", "median m", "p95 m", "share <= 100 m"]
    table("Sample city, 1,053 addresses without coordinates: by status", header, _by(out, err, "geocode_status"))
    bands = pd.cut(out["geocode_score"], [-0.01, 0.2, 0.5, 0.7, 0.8, 0.9, 1.0])
    table("... by score band", header, _by(out.assign(band=bands), err, "band"))


def holdout(share: float, centerlines: bool) -> None:
    """Remove ``share`` of the sample's address points and geocode their addresses against the rest."""
    from odgeo.geocode.index import load_index
    from odgeo.geocode.matcher import geocode_frame

    points = pd.read_csv(SAMPLE / "address_points.csv", dtype=str, keep_default_na=False)
    rng = np.random.default_rng(0)
    held = rng.random(len(points)) < share
    with tempfile.TemporaryDirectory() as tmp:
        kept = Path(tmp) / "kept.csv"
        points[~held].to_csv(kept, index=False)
        index, _ = load_index([kept, *([SAMPLE / "streets.geojson"] if centerlines else [])], cache=False)
    test = points[held].reset_index(drop=True)
    out = geocode_frame(index, test["NUMBER"] + " " + test["STREET"], test["CITY"], test["POSTCODE"])
    err = _error(out, test["LON"].astype(float).to_numpy(), test["LAT"].astype(float).to_numpy())
    what = "points and centerlines" if centerlines else "points only"
    header = ["", "n", "median m", "p95 m", "share <= 100 m"]
    table(f"Hold-out ({what}): {held.sum():,} of {len(points):,} address points ({share:.0%}) removed, geocoded "
          "against the rest: by status", header, _by(out, err, "geocode_status"))
    bands = pd.cut(out["geocode_score"], [-0.01, 0.2, 0.5, 0.7, 0.8, 0.9, 1.0])
    table("... by score band", header, _by(out.assign(band=bands), err, "band"))


def speed(n_points: int, previous: str | None = None) -> None:
    """Build, load and match on a synthetic reference; with ``previous`` (a checkout of an earlier
    odgeo), the same measured there in a process of its own, in the same run, as the row above."""
    rows = [["this checkout", *_speed_row(n_points)]]
    if previous:
        code = (f"import sys; sys.path.insert(0, {previous!r}); sys.path.insert(1, {str(HERE)!r}); "
                f"import json, geocode_benchmark as g; print(json.dumps(g._speed_row({n_points})))")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        rows.insert(0, [f"previous ({previous})", *json.loads(done.stdout.strip().splitlines()[-1])])
    table(f"Speed: synthetic reference of {n_points:,} points ({max(100, n_points // 200):,} streets)",
          ["odgeo", "index build s", "cache load s", "100,000 addresses s", "addresses/s", "exact share",
           "usaddress parse alone, s (extrapolated)"], rows)


def _speed_row(n_points: int) -> list[str]:
    import usaddress

    from odgeo.geocode.index import load_index
    from odgeo.geocode.matcher import geocode_frame

    rng = np.random.default_rng(1)
    n_streets = max(100, n_points // 200)
    names = [f"STREET{i}" for i in range(n_streets)]
    street = rng.integers(0, n_streets, n_points)
    number = rng.integers(1, 5000, n_points)
    frame = pd.DataFrame({"LON": -97.4 + (street % 100) * 0.003 + number * 1e-6,
                          "LAT": 38.2 + (street // 100) * 0.003 + (number % 2) * 1e-4,
                          "NUMBER": number, "STREET": [f"N {names[s]} ST" for s in street], "CITY": "SYNTH",
                          "POSTCODE": "67401"})
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["ODGEO_CACHE"] = tmp
        path = Path(tmp) / "ref.csv"
        frame.to_csv(path, index=False)
        start = time.perf_counter()
        index, _ = load_index([path])
        build = time.perf_counter() - start
        start = time.perf_counter()
        index, how = load_index([path])
        load = time.perf_counter() - start
        assert not how["built"]
    pick = rng.integers(0, n_points, 20_000)
    distinct = pd.Series([f"{number[i]} N {names[street[i]]} ST" for i in pick])
    addresses = distinct.sample(100_000, replace=True, random_state=1).reset_index(drop=True)
    start = time.perf_counter()
    out = geocode_frame(index, addresses, zips=pd.Series(["67401"] * len(addresses)))
    ours = time.perf_counter() - start
    start = time.perf_counter()
    for text in addresses[:5_000]:
        usaddress.tag(text)
    peer = (time.perf_counter() - start) / 5_000 * len(addresses)
    return [f"{build:.1f}", f"{load:.2f}", f"{ours:.2f}", f"{len(addresses) / ours:,.0f}",
            f"{(out['geocode_status'] == 'exact').mean():.3f}", f"{peer:.1f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference-size", type=int, default=500_000)
    parser.add_argument("--previous", metavar="DIR", help="a checkout of an earlier odgeo (git worktree add DIR TAG): "
                                                          "its speed measured in the same run, beside this one's")
    parser.add_argument("--speed-only", action="store_true", help="leave out the accuracy tables")
    args = parser.parse_args()
    if not args.speed_only:
        accuracy()
        for share in (0.3, 0.4, 0.8):
            for centerlines in (True, False):
                holdout(share, centerlines)
    speed(args.reference_size, args.previous)


if __name__ == "__main__":
    main()
