"""odgeo outreach: linkage against the generator's truth, tiers at their edges, the funnel by hand, privacy."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from odgeo_cli.main import cli

from odgeo.jobs.outreach import OutreachSettings, run_outreach
from odgeo.outreach.backtest import backtest_worklist
from odgeo.outreach.funnel import funnel_table, practice_checks, read_attempts
from odgeo.outreach.linkage import LinkSettings, link_records
from odgeo.outreach.persons import name_key, soundex
from odgeo.outreach.places import PlaceSettings, canvass_places
from odgeo.outreach.public import public_funnel
from odgeo.outreach.worklist import WorklistSettings, build_worklist
from odgeo.publish.leakscan import scan_public_outputs
from odgeo.publish.restricted import gate_for

from .conftest import SAMPLE, SAMPLE_TZ

EMS, POLICE, ATTEMPTS = (SAMPLE / f"outreach_{n}.csv" for n in ("ems", "police", "attempts"))
TRUTH = json.loads((SAMPLE / "outreach_truth.json").read_text())
TZ = SAMPLE_TZ


# --- names ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "code"), [
    # The National Archives' published examples of the American Soundex rule (its "Soundex System" page).
    ("Robert", "R163"), ("Rupert", "R163"), ("Rubin", "R150"), ("Ashcraft", "A261"), ("Ashcroft", "A261"),
    ("Tymczak", "T522"), ("Pfister", "P236"), ("Honeyman", "H555"), ("Lee", "L000"), ("", ""),
])
def test_soundex_matches_the_published_examples(name, code):
    assert soundex(name) == code


def test_a_name_key_ignores_case_punctuation_and_accents():
    assert name_key("Chris", "St. John") == name_key("CHRIS", "stjohn") == name_key("chris", "St John")
    assert name_key("José", "Núñez") == name_key("Jose", "Nunez")
    assert name_key("", "Smith") == "" and name_key("Ann", "") == ""


# --- linkage ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_outreach(tmp_path_factory):
    key = tmp_path_factory.mktemp("key") / "team.key"
    out = tmp_path_factory.mktemp("outreach") / "today"
    settings = OutreachSettings(timezone=TZ, audience="restricted", key_file=str(key), attempts=str(ATTEMPTS),
                                keep_columns=("phone",), capacity=5)
    run = run_outreach([EMS, POLICE], out, settings)
    return run, out, key


def test_linkage_finds_the_generators_same_overdoses(sample_outreach):
    run = sample_outreach[0]
    links = run.linkage.links
    matched = links[(links["kind"] == "same overdose") & (links["status"] == "matched")]
    found = set(zip(matched["record_a"], matched["record_b"]))
    truth = set(map(tuple, TRUTH["same_event"]))
    precision, recall = len(found & truth) / len(found), len(found & truth) / len(truth)
    assert precision >= 0.99 and recall >= 0.97, (precision, recall)
    assert run.linkage.report[0]["matched"] == len(matched)


def test_linkage_groups_the_generators_persons(sample_outreach):
    run = sample_outreach[0]
    ems = run.records[run.records["source"] == "outreach_ems"]
    true_person = ems["record_id"].map(TRUTH["person_of_ems_record"]).to_numpy()
    found = ems["person"].to_numpy()
    same_true = {(i, j) for i, j in combinations(range(len(ems)), 2) if true_person[i] == true_person[j]}
    same_found = {(i, j) for i, j in combinations(range(len(ems)), 2) if found[i] == found[j]}
    precision = len(same_true & same_found) / len(same_found)
    recall = len(same_true & same_found) / len(same_true)
    assert precision >= 0.98 and recall >= 0.9, (precision, recall)


def _records(rows):
    frame = pd.DataFrame(rows, columns=["source", "record_id", "minute", "x_m", "y_m", "sex", "age"])
    frame["t_ns"] = (pd.Timestamp("2025-05-01", tz="UTC") + pd.to_timedelta(frame["minute"], unit="min")).astype(
        "int64")
    frame["person_id"], frame["name_key"], frame["birth_date"] = "", "", pd.NaT
    return frame


def test_two_equally_good_candidates_are_left_for_review_not_merged():
    # Two people overdose together (same sex and age); the police report fits both EMS records equally.
    records = _records([("ems", "E1", 0, 0, 0, "M", 30), ("ems", "E2", 3, 2, 0, "M", 31),
                        ("police", "P1", 8, 40, 10, "M", 30)])
    linkage = link_records(records, LinkSettings(minutes=60, metres=300))
    statuses = linkage.links.set_index("record_b")["status"]
    assert statuses["P1"] == "review"
    assert len(set(linkage.event)) == 3  # nothing merged


def test_a_record_that_contradicts_is_never_linked():
    records = _records([("ems", "E1", 0, 0, 0, "F", 30), ("police", "P1", 2, 10, 0, "M", 30),
                        ("police", "P2", 3, 10, 0, "F", 45)])
    linkage = link_records(records, LinkSettings(minutes=60, metres=300))
    assert linkage.links.empty and len(set(linkage.event)) == 3


def test_the_better_agreeing_candidate_wins_by_a_clear_margin():
    records = _records([("ems", "E1", 0, 0, 0, "M", 30), ("ems", "E2", 3, 2, 0, "", np.nan),
                        ("police", "P1", 8, 40, 10, "M", 30)])
    linkage = link_records(records, LinkSettings(minutes=60, metres=300))
    row = linkage.links.iloc[0]
    assert (row["record_a"], row["record_b"], row["status"]) == ("E1", "P1", "matched")


# --- the worklist ----------------------------------------------------------------------------------------------


def _events(times, tz="America/Chicago", **flags):
    n = len(times)
    return pd.DataFrame({
        "event": range(n), "person": range(n), "occurred_at": pd.to_datetime(times, format="mixed").tz_localize(tz),
        "fatal": flags.get("fatal", [False] * n), "refused_transport": flags.get("refused", [False] * n),
        "unhoused": flags.get("unhoused", [False] * n), "lon": [-97.4] * n, "lat": [38.2] * n,
        "address": ["1 Main St"] * n, "residence": flags.get("residence", ["9 Home Ave"] * n),
        "records": [f"ems:E{k}" for k in range(n)],
        "contact": [{} for _ in range(n)], "worklist_id": flags.get("ids", [f"W-{k}" for k in range(n)])})


def _attempts(rows, tz="America/Chicago"):
    frame = pd.DataFrame(rows, columns=["worklist_id", "attempted_at", "result"])
    frame["attempted_at"] = pd.to_datetime(frame["attempted_at"]).dt.tz_localize(tz)
    frame["reached"] = frame["result"].isin(["refused", "engaged", "engaged through family or friends"])
    frame["engaged"] = frame["result"].str.startswith("engaged")
    for col in ("naloxone_kits", "referrals_made", "referrals_accepted"):
        frame[col] = 0
    frame["care_started"] = False
    return frame


def _tier(worklist, wid):
    row = worklist[worklist["worklist_id"] == wid]
    return row["tier"].iloc[0] if len(row) else None


def test_tiers_at_their_edges():
    as_of = pd.Timestamp("2025-06-10 12:00", tz="America/Chicago")
    events = _events(["2025-06-09 12:00:01", "2025-06-09 12:00", "2025-06-07 12:00", "2025-06-07 11:59:59",
                      "2025-06-07 11:59:59", "2025-06-03 12:00:01", "2025-06-03 12:00"])
    tried = _attempts([("W-4", "2025-06-08 09:00", "no answer")])
    worklist = build_worklist(events, tried, as_of)
    assert [_tier(worklist, f"W-{k}") for k in range(7)] == [
        "new",  # 23 h 59 min 59 s
        "due",  # exactly 24 h
        "due",  # exactly 72 h: due by now, not yet past it
        "overdue",  # 72 h and a second, never tried
        "catch-up",  # the same, tried and not reached
        "overdue",  # 7 days less a second
        None,  # exactly 7 days: out of the catch-up window
    ]


def test_tiers_count_real_hours_across_the_clock_changes():
    # 2025-03-09 02:00 CST became 03:00 CDT: from Saturday 06:00 to Sunday 06:00 is 23 real hours.
    spring = pd.Timestamp("2025-03-09 06:00", tz="America/Chicago")
    assert _tier(build_worklist(_events(["2025-03-08 06:00"]), _attempts([]), spring), "W-0") == "new"
    # 2025-11-02 02:00 CDT became 01:00 CST: from Saturday 06:00 to Sunday 05:00 is 24 real hours.
    autumn = pd.Timestamp("2025-11-02 05:00", tz="America/Chicago")
    assert _tier(build_worklist(_events(["2025-11-01 06:00"]), _attempts([]), autumn), "W-0") == "due"


def test_reached_people_leave_the_list_and_later_tries_are_not_known_yet():
    as_of = pd.Timestamp("2025-06-10 12:00", tz="America/Chicago")
    events = _events(["2025-06-09 08:00"] * 4)
    tried = _attempts([("W-0", "2025-06-09 18:00", "engaged"), ("W-1", "2025-06-09 18:00", "refused"),
                       ("W-2", "2025-06-10 13:00", "engaged"),  # after as_of
                       ("W-3", "2025-06-09 07:00", "engaged")])  # before this overdose: an earlier episode
    ids = set(build_worklist(events, tried, as_of)["worklist_id"])
    assert ids == {"W-2", "W-3"}


def test_dead_people_and_fatal_overdoses_are_never_listed():
    as_of = pd.Timestamp("2025-06-10 12:00", tz="America/Chicago")
    events = _events(["2025-06-09 08:00", "2025-06-09 20:00", "2025-06-09 09:00"], fatal=[False, True, True],
                     ids=["W-a", "W-a", "W-b"])
    assert build_worklist(events, _attempts([]), as_of).empty


def test_priority_reasons_and_capacity():
    as_of = pd.Timestamp("2025-06-10 12:00", tz="America/Chicago")
    events = _events(["2025-05-01 10:00", "2025-06-10 10:00", "2025-06-08 12:00", "2025-06-09 12:00"],
                     refused=[False, False, True, False], unhoused=[False, False, False, True],
                     ids=["W-r", "W-r", "W-t", "W-u"])
    worklist = build_worklist(events, _attempts([]), as_of, WorklistSettings(capacity=2))
    by_id = worklist.set_index("worklist_id")
    # recency 1 - h/168 plus the weights of the defaults: repeat 1, refused 1, unhoused 0.25
    assert by_id.loc["W-r", "priority"] == round(1 - 2 / 168 + 1.0, 2)
    assert by_id.loc["W-t", "priority"] == round(1 - 48 / 168 + 1.0, 2)
    assert by_id.loc["W-u", "priority"] == round(1 - 24 / 168 + 0.25, 2)
    assert by_id.loc["W-r", "reason"] == "2 h ago; second overdose in 40 days"
    assert by_id.loc["W-u", "reason"] == "24 h ago; unhoused: go to the overdose location"
    assert by_id.loc["W-u", "visit_where"] == "overdose location" and by_id.loc["W-u", "visit_at"] == "1 Main St"
    assert list(worklist["worklist_id"]) == ["W-r", "W-t", "W-u"]
    assert list(worklist["today"]) == ["yes", "yes", "no"]


def test_worklist_ids_are_the_same_on_two_days_and_differ_with_another_key(sample_outreach, tmp_path):
    key = sample_outreach[2]
    settings = OutreachSettings(timezone=TZ, audience="restricted", key_file=str(key), clusters=False)
    day1 = run_outreach([EMS, POLICE], tmp_path / "d1", replace(settings, as_of="2025-12-30"))
    day2 = run_outreach([EMS, POLICE], tmp_path / "d2", replace(settings, as_of="2025-12-31"))
    by_event1 = day1.events.set_index("records")["worklist_id"]
    by_event2 = day2.events.set_index("records")["worklist_id"]
    both = by_event1.index.intersection(by_event2.index)
    assert len(both) > 900 and (by_event1[both] == by_event2[both]).all()
    assert set(day1.worklist["worklist_id"]) & set(day2.worklist["worklist_id"])
    other = run_outreach([EMS, POLICE], tmp_path / "d3",
                         replace(settings, as_of="2025-12-31", key_file=str(tmp_path / "other.key")))
    assert not set(other.events["worklist_id"]) & set(day2.events["worklist_id"])
    written = pd.read_csv(tmp_path / "d2" / "worklist.csv")
    assert list(written.columns[:5]) == ["worklist_id", "tier", "due_by", "priority", "reason"]
    text = (tmp_path / "d2" / "worklist.csv").read_text() + (tmp_path / "d2" / "linkage.csv").read_text()
    names = pd.read_csv(EMS, dtype=str)
    assert not any(f",{n}," in text for n in set(names["last_name"]) | set(names["first_name"]))


# --- the funnel and the practice checks ------------------------------------------------------------------------


def test_the_funnel_by_hand(tmp_path):
    as_of = pd.Timestamp("2025-03-31 23:00", tz="America/Chicago")
    events = _events(["2025-02-10 10:00", "2025-02-20 10:00", "2025-03-05 10:00", "2025-03-06 10:00",
                      "2025-03-07 10:00"])
    path = tmp_path / "attempts.csv"
    path.write_text("worklist_id,attempted_at,mode,result,naloxone_kits,referrals_made,care_started\n"
                    "W-0,2025-02-11 10:00,phone,no answer,0,0,no\n"      # 24 h
                    "W-0,2025-02-12 10:00,visit,engaged,2,1,yes\n"
                    "W-1,2025-02-25 10:00,visit,refused,0,0,no\n"        # 120 h: not within 72
                    "W-2,2025-03-05 16:00,phone,Engaged through family,1,1,no\n"
                    "W-3,2025-03-06 12:00,visit,not found,1,0,no\n"      # a kit left without contact
                    "W-9,2025-03-06 12:00,visit,engaged,0,0,no\n"        # nobody of this run
                    "W-2,yesterday,visit,engaged,0,0,no\n")
    attempts = read_attempts(path, timezone="America/Chicago", ids_of_records={}, known_ids=set(events["worklist_id"]))
    assert list(attempts.rejects["row"]) == [6, 7] and attempts.n_input == 7
    table = funnel_table(events, attempts.rows, as_of).set_index("month")
    feb, mar, pooled = table.loc["2025-02"], table.loc["2025-03"], table.loc["all"]
    assert (feb["eligible"], feb["attempted"], feb["reached"], feb["engaged"], feb["referred"],
            feb["started_care"], feb["tried_within_72h"]) == (2, 2, 2, 1, 1, 1, 1)
    assert (mar["eligible"], mar["attempted"], mar["reached"], mar["engaged"],
            mar["tried_within_72h"]) == (3, 2, 1, 1, 2)
    assert pooled["median_hours_to_first_attempt"] == 15.0  # of 24, 120, 6 and 2 hours
    # pooled: 3 of 5 reached (never the mean of 100% and 33%)
    assert pooled["share_reached"] == 0.6 and feb["share_reached"] == 1.0
    assert pooled["naloxone_kits_left"] == 4
    checks = practice_checks(events, attempts.rows, as_of, max_attempts=1)
    assert sorted(checks["check"]) == ["materials left without contact", "more tries than the cap"]


def test_the_public_funnel_hides_small_months_and_what_subtraction_would_give():
    funnel = pd.DataFrame({"month": ["2025-01", "2025-02", "2025-03", "all"], "eligible": [40, 4, 25, 69],
                           "attempted": [30, 3, 20, 53], "reached": [20, 2, 10, 32], "engaged": [10, 1, 5, 16],
                           "referred": [5, 1, 2, 8], "started_care": [2, 0, 1, 3], "tried_within_72h": [25, 3, 15, 43],
                           "median_hours_to_first_attempt": [30.0, 20.0, 40.0, 31.0]})
    shown = public_funnel(gate_for("public", min_count=10), funnel).set_index("month")
    # 2025-02 is small; 2025-03 is hidden with it, so the pooled row minus 2025-01 gives only their sum (29).
    assert shown["eligible"].isna().tolist() == [False, True, True, False]
    assert shown.loc["2025-01", "share_reached"] == 0.5 and shown.loc["all", "share_reached"] == round(32 / 69, 2)
    assert shown.loc[["2025-02", "2025-03"], "share_reached"].isna().all()
    # Without the second hidden month the pooled row would give the small one away: the scanner says so.
    naive = shown.copy()
    naive.loc["2025-03", "eligible"], naive.loc["all", "eligible"] = 25, 69
    from odgeo.publish.leakscan import _funnel_problems

    assert [k for k, _ in _funnel_problems(naive.reset_index(), 10)] == ["subtraction"]
    assert not list(_funnel_problems(shown.reset_index(), 10))


def test_the_backtest_by_hand():
    # Each day k: at 06:00 someone who overdosed 20 days before (a repeater) overdoses, and overdoses again
    # at 05:00 three days later; at 06:30 a first-timer who never does. One visit a morning at 07:00.
    # Most recent first visits the first-timer every morning and reaches no repeater before their repeat;
    # the priority (repeat weight 1) visits the 06:00 repeater first: all ten, each before their repeat.
    day0 = pd.Timestamp("2025-04-01")
    times, ids = [], []
    for k in range(10):
        d = day0 + pd.Timedelta(days=k)
        times += [d - pd.Timedelta(days=20) + pd.Timedelta(hours=6), d + pd.Timedelta(hours=6),
                  d + pd.Timedelta(days=3, hours=5), d + pd.Timedelta(hours=6, minutes=30)]
        ids += [f"W-r{k}"] * 3 + [f"W-f{k}"]
    events = _events([str(t) for t in times], ids=ids)
    as_of = (day0 + pd.Timedelta(days=14, hours=7)).tz_localize("America/Chicago")
    result = backtest_worklist(events, as_of, WorklistSettings(), days=15, capacity=1, horizon_days=30)
    shares = result.table.set_index("ordering")["reached_in_time"]
    assert result.n_repeats == 10 and result.n_mornings == 15
    assert shares["priority (the weights given)"] == 10 and shares["most recent first"] == 0


# --- places ----------------------------------------------------------------------------------------------------


def test_places_are_new_when_they_were_not_places_the_day_before():
    as_of = pd.Timestamp("2025-06-10 12:00", tz="America/Chicago")
    events = _events(["2025-06-01 10:00", "2025-06-10 09:00", "2025-06-02 10:00", "2025-06-05 10:00",
                      "2025-06-08 10:00"])
    events["lon"] = [-97.40, -97.40, -97.35, -97.35, -97.30]
    places = canvass_places(events, as_of, PlaceSettings(days=30, resolution=9, min_events=2))
    assert sorted(places["status"]) == ["new", "ongoing"]
    assert places.set_index("status").loc["ongoing", "overdoses"] == 2
    assert (places["reason"] == "2 overdoses in 30 days").all()


# --- the job, its audiences and the leak scanner -----------------------------------------------------------------


def test_restricted_run_writes_the_team_files(sample_outreach):
    run, out, _ = sample_outreach
    names = {p.name for p in out.iterdir()}
    assert {"worklist.csv", "linkage.csv", "places.geojson", "funnel.csv", "practice_checks.csv", "summary.html",
            "map.html", "run.json", "rejects.csv", "log.txt"} <= names
    record = json.loads((out / "run.json").read_text())
    assert record["counts"]["n_input"] == len(pd.read_csv(EMS)) + len(pd.read_csv(POLICE))
    assert record["priority"]["repeat"]["weight"] == 1.0 and "Ray et al." in record["priority"]["repeat"]["source"]
    assert record["worklist"]["n_rows"] == len(run.worklist)
    assert (pd.read_csv(out / "worklist.csv")["today"] == "yes").sum() == min(5, len(run.worklist))
    page = (out / "summary.html").read_text()
    assert "RESTRICTED" in page and run.worklist["worklist_id"].iloc[0] in page
    months, areas = (pd.read_csv(out / f, dtype={"area": str}) for f in ("funnel.csv", "funnel_by_area.csv"))
    assert set(areas["area"]) - {"all"} <= set(pd.read_csv(EMS, dtype=str)["zip"])  # the sample's records have ZIPs
    for col in ("eligible", "attempted", "engaged", "started_care"):  # one pooled row, however it is cut
        assert months[col].iloc[-1] == areas[col].iloc[-1] == areas[col].iloc[:-1].sum()


def test_a_public_run_writes_no_person_and_the_scanner_finds_the_restricted_files(sample_outreach, tmp_path):
    settings = OutreachSettings(timezone=TZ, attempts=str(ATTEMPTS), min_count=10, backtest=True, capacity=1)
    run = run_outreach([EMS, POLICE], tmp_path / "public", settings)
    trial = pd.read_csv(tmp_path / "public" / "backtest.csv")
    assert list(trial.columns) == ["ordering", "weights", "share"] and trial["share"].notna().all()
    names = {p.name for p in (tmp_path / "public").iterdir()}
    assert not names & {"worklist.csv", "linkage.csv", "practice_checks.csv", "attempts_rejects.csv"}
    record = json.loads((tmp_path / "public" / "run.json").read_text())
    assert record["parameters"]["as_of"]["value"] == "2025-12" and "no:" in record["worklist"]["written"]
    for name in ("funnel.csv", "funnel_by_area.csv"):
        funnel = pd.read_csv(tmp_path / "public" / name)
        assert "engaged" not in funnel.columns and (funnel["eligible"].dropna() >= 10).all()
    ids = [*run.records["record_id"], *run.records["incident_id"]]
    located = run.read.incidents
    assert scan_public_outputs(tmp_path / "public", located, min_count=10, identifying=ids) == []
    planted = tmp_path / "planted"
    shutil.copytree(tmp_path / "public", planted)
    restricted_out = sample_outreach[1]
    for name in ("worklist.csv", "funnel.csv"):
        shutil.copy(restricted_out / name, planted / name)
    kinds = {(leak.file, leak.kind) for leak in scan_public_outputs(planted, located, min_count=10, identifying=ids)}
    assert ("worklist.csv", "restricted file") in kinds and ("worklist.csv", "identifier") in kinds
    assert ("funnel.csv", "small count") in kinds  # the team's funnel: started care in single digits


def test_monthly_public_releases_difference_to_nothing_with_a_ledger(tmp_path):
    # The adversary subtracts November's release from December's: a month's eligible count that moved
    # by 1-9 (late records), or a place's count, gives people away. With --ledger nothing moves that little.
    from odgeo.publish.release_diff import difference_releases

    def release(folder, as_of, ledger):
        settings = OutreachSettings(timezone=TZ, attempts=str(ATTEMPTS), as_of=as_of, ledger=ledger, clusters=False)
        run_outreach([EMS, POLICE], tmp_path / folder, settings)
        return tmp_path / folder

    bare = [release(f"bare-{m}", m, None) for m in ("2025-11-30", "2025-12-31")]
    assert difference_releases(*bare), "without a ledger the releases should difference"
    ledger = str(tmp_path / "outreach.ledger")
    held = [release(f"held-{m}", m, ledger) for m in ("2025-11-30", "2025-12-31")]
    assert difference_releases(*held) == []


def test_a_file_without_persons_gives_an_event_level_list(tmp_path):
    # Tempe's EMS calls name no one: each overdose is its own row, and places still work.
    source = pd.read_csv(EMS, dtype=str)[["incident_id", "occurred_at", "outcome", "longitude", "latitude"]]
    path = tmp_path / "calls.csv"
    source.to_csv(path, index=False)
    run = run_outreach([path], tmp_path / "out", OutreachSettings(timezone=TZ, audience="restricted",
                                                                  key_file=str(tmp_path / "k"), clusters=False))
    assert len(run.worklist) and run.events["person"].nunique() == len(run.events) == len(source)
    assert (run.worklist["earlier_overdoses"] == 0).all() and len(run.places)


def test_cli_outreach_one_line_errors_and_the_summary(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["outreach", str(EMS), "--out", str(tmp_path / "o"), "--timezone", TZ,
                                 "--audience", "restricted"])
    assert result.exit_code != 0 and "needs --key-file" in result.output and "Traceback" not in result.output
    result = runner.invoke(cli, ["outreach", str(EMS), str(POLICE), "--out", str(tmp_path / "o"), "--timezone", TZ,
                                 "--audience", "restricted", "--key-file", str(tmp_path / "k"),
                                 "--keep-columns", "phone", "--no-clusters", "--weights", "repeat=2", "--backtest",
                                 "--capacity", "2"])
    assert result.exit_code == 0, result.output
    assert "Worklist:" in result.output and "Linked:" in result.output
    assert "Backtest, 90 mornings with 2 visits each" in result.output
    shown = pd.read_csv(tmp_path / "o" / "backtest.csv")
    assert set(shown["ordering"]) >= {"priority (the weights given)", "most recent first"}
    record = json.loads((tmp_path / "o" / "run.json").read_text())
    assert record["priority"]["repeat"]["weight"] == 2.0
    result = runner.invoke(cli, ["outreach", str(EMS), "--out", str(tmp_path / "p"), "--timezone", TZ,
                                 "--keep-columns", "telephone"])
    assert result.exit_code != 0 and "--keep-columns telephone" in result.output
