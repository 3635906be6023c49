"""odgeo outreach's linkage and worklist beside recordlinkage on the same pairs, in the same run.

    .venv-oldest/bin/pip install recordlinkage   # it requires pandas < 3, so not in .venv (pandas 3)
    .venv-oldest/bin/python benchmarks/outreach_benchmark.py [--records 1000000] [--persons 100000] [--years 5] \
        [--rl-sample 20000]

A state's day (issue 44): ``--records`` incidents over ``--years`` years from two sources of half
each (EMS, and police: 60% of them copies of EMS events, times moved by minutes and places by tens
of metres, names retyped), ``--persons`` people with repeat overdoses, in 50 towns.

- odgeo, in a child process of its own (its peak memory is its own): :func:`odgeo.outreach.linkage.
  link_records` on every record, then the worklist after it (the overdoses, the worklist ids and
  :func:`odgeo.outreach.worklist.build_worklist`);
- recordlinkage 0.16 on the same candidate pairs (the time window both block on): its ``Compare``
  of sex, age, birth date, name key, minutes apart and the haversine distance, then a sum-of-scores
  rule; timed on the pairs of ``--rl-sample`` EMS records and scaled to all (noted);
- both against the generator's truth: precision and recall of the same-overdose links.

Targets (issue 44): linking <= 30 s and the worklist <= 5 s after it, memory <= 2 GB.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_benchmarks import table

START = pd.Timestamp("2021-01-01", tz="UTC")


def synthesise(n_records: int, n_persons: int, years: float, seed: int = 44) -> tuple[pd.DataFrame, set]:
    """Records in link_records' columns, and the true (EMS id, police id) pairs."""
    rng = np.random.default_rng(seed)
    n_ems = n_records // 2
    towns = rng.uniform(0, [400_000, 300_000], size=(50, 2))
    person = rng.integers(0, n_persons, n_ems)
    born = START - pd.to_timedelta(rng.integers(18 * 365, 65 * 365, n_persons), unit="D")
    sex = np.where(rng.random(n_persons) < 0.68, "M", "F")
    keys = np.array([f"{chr(65 + k % 26)}{k % 1000:03d}{chr(65 + k // 1000 % 26)}" for k in range(n_persons)])
    home = rng.integers(0, 50, n_persons)
    span = years * 365.25 * 86400e9
    t = np.sort(rng.uniform(0, span, n_ems)).astype(np.int64) + START.value
    where = towns[home[person]] + rng.normal(0, 4000, (n_ems, 2))
    ems = pd.DataFrame({"source": "ems", "record_id": [f"E{k}" for k in range(n_ems)], "t_ns": t,
                        "x_m": where[:, 0], "y_m": where[:, 1], "sex": sex[person],
                        "birth_date": born[person].tz_localize(None), "name_key": keys[person],
                        "person_id": np.where(rng.random(n_ems) < 0.75, np.char.add("P", person.astype(str)), "")})
    ems["age"] = np.floor((pd.to_datetime(t).tz_localize(None) - ems["birth_date"]).dt.days / 365.25)
    n_police = n_records - n_ems
    copied = np.sort(rng.choice(n_ems, int(0.6 * n_police), replace=False))
    own = n_police - len(copied)
    pol_person = np.r_[person[copied], rng.integers(0, n_persons, own)]
    pol_t = np.r_[t[copied] + (rng.normal(6, 6, len(copied)) * 60e9).astype(np.int64),
                  rng.uniform(0, span, own).astype(np.int64) + START.value]
    pol_xy = np.r_[where[copied] + rng.normal(0, 45, (len(copied), 2)),
                   towns[home[pol_person[len(copied):]]] + rng.normal(0, 4000, (own, 2))]
    police = pd.DataFrame({"source": "police", "record_id": [f"P{k}" for k in range(n_police)], "t_ns": pol_t,
                           "x_m": pol_xy[:, 0], "y_m": pol_xy[:, 1], "sex": sex[pol_person],
                           "birth_date": born[pol_person].tz_localize(None).where(rng.random(n_police) < 0.7),
                           "name_key": keys[pol_person], "person_id": ""})
    police["age"] = np.floor((pd.to_datetime(pol_t).tz_localize(None) - born[pol_person].tz_localize(None)).days
                             / 365.25)
    truth = {(f"E{e}", f"P{p}") for p, e in enumerate(copied)}
    return pd.concat([ems, police], ignore_index=True), truth


CHILD = textwrap.dedent("""
    import json, resource, sys, time
    import pandas as pd
    from odgeo.outreach.events import overdose_events, person_anchor, worklist_ids
    from odgeo.outreach.linkage import link_records
    from odgeo.outreach.worklist import build_worklist
    records = pd.read_parquet(sys.argv[1])
    t0 = time.perf_counter()
    linkage = link_records(records)
    t1 = time.perf_counter()
    records["event"], records["person"] = linkage.event, linkage.person
    records["occurred_at"] = pd.to_datetime(records["t_ns"], utc=True).dt.tz_convert("America/Chicago")
    records["outcome"], records["source_rank"] = "nonfatal", (records["source"] == "police").astype(int)
    records["refused_transport"] = records["unhoused"] = False
    records["lon"], records["lat"] = records["x_m"] / 1e5, records["y_m"] / 1e5
    records["address"] = records["residence"] = ""
    events = overdose_events(records, [])
    events["worklist_id"] = worklist_ids(person_anchor(records), b"k" * 32).reindex(events["person"]).to_numpy()
    attempts = pd.DataFrame({"worklist_id": pd.Series(dtype=str),
                             "attempted_at": pd.Series(dtype="datetime64[ns, America/Chicago]"),
                             "result": pd.Series(dtype=str), "reached": pd.Series(dtype=bool)})
    worklist = build_worklist(events, attempts, events["occurred_at"].max())
    t2 = time.perf_counter()
    matched = linkage.links[(linkage.links["kind"] == "same overdose") & (linkage.links["status"] == "matched")]
    json.dump({"link_s": t1 - t0, "worklist_s": t2 - t1, "rows": len(worklist),
               "pairs": list(zip(matched["record_a"], matched["record_b"])),
               "review": int((linkage.links["status"] == "review").sum()),
               "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}, sys.stdout)
""")


def odgeo_child(records: pd.DataFrame) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "records.parquet"
        records.to_parquet(path)
        out = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(f"the odgeo child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout)


def recordlinkage_on_same_pairs(records: pd.DataFrame, sample: int) -> dict:
    """recordlinkage's Compare on the time-window pairs of the first ``sample`` EMS records, scaled to all."""
    import recordlinkage

    from odgeo.outreach.linkage import LinkSettings, window_pairs

    ems, police = records[records["source"] == "ems"], records[records["source"] == "police"]
    part = ems.iloc[:sample]
    settings = LinkSettings()
    # The blocking odgeo scores (every pair within the time window), for recordlinkage to compare in full.
    chunks = list(window_pairs(part["t_ns"].to_numpy(), police["t_ns"].to_numpy(), settings.minutes))
    i, j = np.concatenate([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks])
    index = pd.MultiIndex.from_arrays([part.index[i], police.index[j]])
    left, right = part.copy(), police.copy()
    for frame in (left, right):
        frame["lat"], frame["lng"] = 38 + frame["y_m"] / 111_000, -97 + frame["x_m"] / 88_000
        frame["minute"] = frame["t_ns"] / 60e9
        frame["dob"] = frame["birth_date"].astype(str).where(frame["birth_date"].notna())
    start = time.perf_counter()
    compare = recordlinkage.Compare()
    compare.exact("sex", "sex", label="sex")
    compare.numeric("age", "age", method="step", offset=2, label="age")
    compare.exact("dob", "dob", label="dob")
    compare.exact("name_key", "name_key", label="name")
    compare.numeric("minute", "minute", method="step", offset=settings.minutes, label="minutes")
    compare.geo("lat", "lng", "lat", "lng", method="step", offset=settings.metres / 1000, label="km")
    features = compare.compute(index, left, right)
    linked = features[(features["minutes"] == 1) & (features["km"] == 1) & (features["sex"] == 1)
                      & (features[["age", "dob", "name"]].sum(axis=1) >= 2)]
    seconds = time.perf_counter() - start
    found = set(zip(left.loc[linked.index.get_level_values(0), "record_id"],
                    right.loc[linked.index.get_level_values(1), "record_id"]))
    return {"seconds_sample": seconds, "scaled_s": seconds * len(ems) / len(part), "pairs": len(index),
            "found": found, "ems_ids": set(part["record_id"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--years", type=float, default=5.0)
    parser.add_argument("--rl-sample", type=int, default=20_000)
    args = parser.parse_args()
    start = time.perf_counter()
    records, truth = synthesise(args.records, args.persons, args.years)
    print(f"{len(records):,} records ({(records['source'] == 'ems').sum():,} EMS), {args.persons:,} persons, "
          f"{len(truth):,} true same-overdose pairs; made in {time.perf_counter() - start:.1f} s")
    ours = odgeo_child(records)
    try:
        theirs = recordlinkage_on_same_pairs(records, args.rl_sample)
    except ImportError:
        sys.exit("recordlinkage is not installed (it needs pandas < 3): .venv-oldest/bin/pip install recordlinkage, "
                 f"and run this with .venv-oldest/bin/python. odgeo alone: linking {ours['link_s']:.1f} s, "
                 f"the worklist after it {ours['worklist_s']:.1f} s, peak {ours['peak_mb']:,.0f} MB")
    found = set(map(tuple, ours["pairs"]))
    sample_truth = {p for p in truth if p[0] in theirs["ems_ids"]}
    ours_sample = {p for p in found if p[0] in theirs["ems_ids"]}

    def quality(pairs, true):
        hit = len(pairs & true)
        return f"{hit / max(len(pairs), 1):.4f}", f"{hit / max(len(true), 1):.4f}"

    table("Linking two sources (same-overdose links)", ["", "seconds", "precision", "recall", "note"], [
        ["odgeo link_records, every record", f"{ours['link_s']:.1f}", *quality(found, truth),
         f"{ours['review']:,} pairs left for review"],
        ["odgeo, the EMS sample's links", "", *quality(ours_sample, sample_truth), ""],
        [f"recordlinkage Compare, {args.rl_sample:,} EMS records", f"{theirs['seconds_sample']:.1f}",
         *quality(theirs["found"], sample_truth), f"{theirs['pairs']:,} time-window pairs"],
        ["recordlinkage, scaled to every record", f"{theirs['scaled_s']:.0f}", "", "",
         f"ratio to odgeo: {theirs['scaled_s'] / ours['link_s']:.1f}x"],
    ])
    table("After linking", ["", "seconds", "rows", "peak memory of the odgeo process"], [
        ["overdoses, worklist ids and the worklist", f"{ours['worklist_s']:.1f}", f"{ours['rows']:,}",
         f"{ours['peak_mb']:,.0f} MB"]])
    print(f"\nthis process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB peak")


if __name__ == "__main__":
    main()
