"""Case definitions: the term table against a hand-written corpus, ICD-10 at the edges of each range, columns."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest

from odgeo.drugs.columns import flag_columns
from odgeo.drugs.definitions import DRUG_GROUPS, load_terms, normalise_term
from odgeo.drugs.icd10 import flag_icd10, is_overdose_death
from odgeo.drugs.text import flag_text
from odgeo.errors import ColumnError, InputFileError, ParameterError

from .conftest import ROOT

#: DOSE's nesting, written out here as the dashboards state it (not read from the package).
NESTED = {"fentanyl": "opioid", "heroin": "opioid", "rx_opioid": "opioid", "methadone": "opioid",
          "nitazene": "opioid", "cocaine": "stimulant", "methamphetamine": "stimulant"}
CORPUS = ROOT / "tests" / "data" / "drug_text_corpus.csv"


def _expected(groups: str) -> set[str]:
    leaf = {g for g in groups.split(";") if g}
    return leaf | {NESTED[g] for g in leaf if g in NESTED}


def test_every_corpus_text_gets_exactly_its_groups():
    rows = list(csv.DictReader(CORPUS.open()))
    assert len(rows) >= 200
    flags = flag_text([r["text"] for r in rows], load_terms()).flags
    wrong = []
    for (_, got), row in zip(flags.iterrows(), rows):
        found = set(got[got].index)
        if found != _expected(row["groups"]):
            wrong.append(f"{row['text']!r}: {sorted(found)} != {sorted(_expected(row['groups']))}")
    assert not wrong, "\n".join(wrong)


def test_words_that_match_nothing_are_counted_and_typos_reported():
    texts = ["Medetomidine and fentanyl", "MEDETOMIDINE", "Acute fentnayl intoxication", "Multiple drug toxicity",
             None, "  ", "Citalopram toxicity"]
    read = flag_text(texts, load_terms())
    assert read.unmatched_words["MEDETOMIDINE"] == 2
    assert read.unmatched_words["CITALOPRAM"] == 1
    assert "TOXICITY" not in read.unmatched_words and "ACUTE" not in read.unmatched_words
    assert read.fuzzy == {"FENTNAYL": "FENTANYL"}
    assert read.empty == 2
    assert read.matched_none == 3  # MEDETOMIDINE, multiple drug toxicity, citalopram
    assert flag_text(["fentnayl"], load_terms(), fuzzy=False).flags.sum().sum() == 0


def test_word_terms_do_not_match_inside_other_words():
    flags = flag_text(["METHADONE", "METHOCARBAMOL", "BENZOYLECGONINE", "FENTANYL", "CRACKED RIB"],
                      load_terms()).flags
    assert not flags.loc[0, "methamphetamine"] and flags.loc[0, "methadone"]
    assert not flags.loc[1].any()
    assert flags.loc[2, "cocaine"] and not flags.loc[2, "benzodiazepine"]
    assert not flags.loc[4].any()


def test_a_users_file_adds_a_group_and_moves_a_term(tmp_path):
    extra = tmp_path / "terms.csv"
    extra.write_text("term,group,match\nmedetomidine,medetomidine,substring\nCOKE,cocaine,word\n")
    terms = load_terms(extra)
    assert terms.groups[: len(DRUG_GROUPS)] == DRUG_GROUPS and terms.groups[-1] == "medetomidine"
    flags = flag_text(["Medetomidine and fentanyl", "coke", "Coke bottle"], terms).flags
    assert flags.loc[0, "medetomidine"] and flags.loc[0, "fentanyl"]
    assert flags.loc[1, "cocaine"] and flags.loc[1, "stimulant"]
    assert terms.digest != load_terms().digest


@pytest.mark.parametrize("text, message", [
    ("term,drug\nx,y\n", "needs the columns term and group"),
    ("term,group\n,fentanyl\n", "row 2: the term is empty"),
    ("term,group\nfoo,Fentanyl Analogues\n", "row 2, column group"),
    ("term,group,match\nfoo,fentanyl,regex\n", "row 2, column match"),
])
def test_a_bad_terms_file_is_one_line_naming_row_and_column(tmp_path, text, message):
    extra = tmp_path / "terms.csv"
    extra.write_text(text)
    with pytest.raises(InputFileError, match=message):
        load_terms(extra)
    with pytest.raises(ParameterError, match="not a file"):
        load_terms(tmp_path / "absent.csv")


def test_terms_are_normalised_as_the_texts_are():
    assert normalise_term("4-ANPP") == "4ANPP"
    assert normalise_term(" para-Fluoro  butyryl, fentanyl ") == "PARAFLUORO BUTYRYL FENTANYL"


@pytest.mark.parametrize("code, groups", [
    ("T40.0", {"opioid"}), ("T40.1", {"opioid", "heroin"}), ("T40.2", {"opioid", "rx_opioid"}),
    ("T40.3", {"opioid", "methadone"}), ("T40.4", {"opioid", "fentanyl"}), ("T40.5", {"cocaine"}),
    ("T40.6", {"opioid"}), ("T40.7", set()), ("T39.9", set()), ("T43.6", {"methamphetamine"}),
    ("T42.4", {"benzodiazepine"}), ("T42.3", set()), ("T51.0", {"alcohol"}), ("T51.1", set()),
    ("T40.411A", {"opioid", "fentanyl"}), ("T40.421A", {"opioid", "rx_opioid"}), ("T40.491A", {"opioid"}),
    ("T40.1X4A", {"opioid", "heroin"}), ("T40.1X5A", set()), ("T40.1X6A", set()), ("T40.1X1D", set()),
    ("T43.611A", set()), ("T43.621A", {"methamphetamine"}), ("t401x1a", {"opioid", "heroin"}),
    ("F11.20 T40.5X1A", {"cocaine"}), ("", set()),
])
def test_icd10_codes_at_the_edges_of_each_group(code, groups):
    got = flag_icd10(pd.Series([code]), groups=DRUG_GROUPS).iloc[0]
    assert set(got[got].index) == groups


@pytest.mark.parametrize("underlying, overdose", [
    ("X39", False), ("X40", True), ("X44", True), ("X45", False), ("X59", False), ("X60", True), ("X64", True),
    ("X65", False), ("X84", False), ("X85", True), ("X86", False), ("Y09", False), ("Y10", True), ("Y14", True),
    ("Y15", False), ("X42.0", True), (None, False),
])
def test_overdose_underlying_causes_at_the_edges(underlying, overdose):
    assert is_overdose_death(pd.Series([underlying], dtype=object))[0] == overdose


def test_connecticut_style_columns_are_read_as_what_they_hold():
    frame = pd.DataFrame({
        "COD": ["Acute fentanyl intoxication", "Multiple drug toxicity", None, None, "Heroin toxicity"],
        "Heroin": [None, "Y", None, None, "Y"],
        "Fentanyl": ["Y", None, "Y (PTCH)", None, None],
        "Morphine_NotHeroin": [None, None, None, "Y", None],
        "Amphet": [None, None, None, "Y", None],
        "Other": [None, None, "bromazolam", None, None],
        "Codes": ["T40.4", None, None, None, "T40.1 T51.0"],
    })
    read = flag_columns(frame, list(frame.columns), load_terms())
    assert read.columns == {"COD": "text", "Heroin": "flag", "Fentanyl": "flag", "Morphine_NotHeroin": "flag",
                            "Amphet": "flag", "Other": "text", "Codes": "icd10"}
    f = read.flags
    assert f["fentanyl"].tolist() == [True, False, True, False, False]
    assert f["heroin"].tolist() == [False, True, False, False, True]
    assert f["rx_opioid"].tolist() == [False, False, False, True, False]  # Morphine, not heroin
    assert f["methamphetamine"].tolist() == [False, False, False, True, False]
    assert f["benzodiazepine"].tolist() == [False, False, True, False, False]
    assert f["alcohol"].tolist() == [False, False, False, False, True]
    assert f["opioid"].tolist() == [True, True, True, True, True]
    assert read.empty == 0 and read.matched_none == 0
    record = read.record(load_terms())
    assert record["records_per_group"]["opioid"] == 5 and record["definition"]["terms"] > 100
    with pytest.raises(ColumnError, match="`drug_columns`: no column 'cause'"):
        flag_columns(frame, ["cause"], load_terms())


def test_a_flag_column_named_after_no_drug_is_reported():
    frame = pd.DataFrame({"Other": ["Y", None, "N"], "COD": [None, None, "ETOH"]})
    read = flag_columns(frame, ["Other", "COD"], load_terms())
    assert read.unnamed_flags == ["Other"]
    assert read.matched_none == 1 and read.empty == 1
    assert np.array_equal(read.flags["alcohol"].to_numpy(), [False, False, True])


def test_a_note_in_a_yes_no_column_is_read_as_text():
    frame = pd.DataFrame({"Morphine_NotHeroin": ["Y"] * 9 + ["STOLE MEDS", "N", None]})
    read = flag_columns(frame, ["Morphine_NotHeroin"], load_terms())
    assert read.columns == {"Morphine_NotHeroin": "flag"}
    assert read.flags["rx_opioid"].sum() == 9 and read.flags["heroin"].sum() == 0
    assert read.unmatched_words.to_dict() == {"MEDS": 1, "STOLE": 1}
    assert read.matched_none == 1 and read.empty == 2


def test_the_docs_list_every_term_and_mask():
    text = (ROOT / "docs" / "drugs.md").read_text()
    with (ROOT / "odgeo" / "drugs" / "terms.csv").open() as handle:
        missing = [r["term"] for r in csv.DictReader(handle) if f"`{r['term']}`" not in text]
    with (ROOT / "odgeo" / "drugs" / "masks.csv").open() as handle:
        missing += [r["phrase"] for r in csv.DictReader(handle) if f"`{r['phrase']}`" not in text]
    assert not missing, f"docs/drugs.md does not list {missing}"


#: Suspected-drug texts and, by hand, whether each involves xylazine, and why a row without it is left out.
DRUG_TEXTS = {
    "Fentanyl + xylazine": "kept", "tranq dope": "kept", "FENT/TRANQ": "kept", "xylazine wounds": "kept",
    "fentanyl": "other", "heroin": "other", "cocaine": "other", "not xylazine; fentanyl": "other",
    "unknown": "no group", "pills": "no group", "": "blank",
}


def _drug_csv(path, n=660, seed=46):
    rng = np.random.default_rng(seed)
    texts = list(DRUG_TEXTS)
    pick = rng.integers(0, len(texts), n)
    frame = pd.DataFrame({
        "incident_id": [f"D{i}" for i in range(n)],
        "occurred_at": pd.Timestamp("2024-03-01") + pd.to_timedelta(rng.integers(0, 90 * 24, n), unit="h"),
        "longitude": -97.41 + rng.normal(0, 0.01, n), "latitude": 38.21 + rng.normal(0, 0.01, n),
        "outcome": rng.choice(["fatal", "nonfatal"], n), "suspected_drug": [texts[k] for k in pick],
        "cause": np.where(pick % 2 == 0, "Acute medetomidine and fentanyl toxicity", "Acute fentanyl toxicity"),
    })
    frame.to_csv(path, index=False)
    return frame


def test_drug_keeps_a_group_and_rejects_the_rest_with_reasons_on_both_engines(tmp_path):
    from odgeo.jobs.hotspots import HotspotSettings, run_hotspots

    frame = _drug_csv(tmp_path / "calls.csv")
    kind = frame["suspected_drug"].map(DRUG_TEXTS)
    common = {"timezone": "America/Chicago", "audience": "restricted", "drug": ("xylazine",)}
    memory = run_hotspots(tmp_path / "calls.csv", tmp_path / "memory", HotspotSettings(**common))
    counts = memory.record.sections["counts"]
    assert counts["n_used"] == (kind == "kept").sum()
    assert counts["n_used"] + counts["n_rejected"] + counts["n_unlocated"] == len(frame)
    rejects = pd.read_csv(tmp_path / "memory" / "rejects.csv", keep_default_na=False)
    by_reason = rejects[rejects["code"] == "drug_filtered"]["reason"].value_counts()
    assert by_reason["not xylazine (--drug xylazine)"] == (kind == "other").sum()
    assert by_reason["suspected_drug name no drug group (--drug xylazine)"] == (kind == "no group").sum()
    assert by_reason["no drug recorded in suspected_drug (--drug xylazine)"] == (kind == "blank").sum()
    assert memory.record.parameters["drug"].value == ["xylazine"]
    assert memory.record.sections["drug_definition"]["digest"] == load_terms().digest
    assert "Suspected overdoses involving xylazine: calls.csv" in (tmp_path / "memory" / "map.html").read_text()
    on_dask = run_hotspots(tmp_path / "calls.csv", tmp_path / "dask",
                           HotspotSettings(**common, engine="dask", workers=2, blocksize=16384))
    assert on_dask.record.sections["dask"]["parts"] > 2
    assert (tmp_path / "dask" / "rejects.csv").read_bytes() == (tmp_path / "memory" / "rejects.csv").read_bytes()
    assert on_dask.record.sections["counts"] == counts


def test_drug_reads_named_columns_with_a_users_terms(tmp_path):
    from odgeo.jobs.hotspots import HotspotSettings, run_hotspots

    frame = _drug_csv(tmp_path / "deaths.csv")
    terms = tmp_path / "terms.csv"
    terms.write_text("term,group\nmedetomidine,medetomidine\n")
    settings = HotspotSettings(timezone="America/Chicago", audience="restricted", drug=("medetomidine",),
                               drug_columns=("cause",), drug_terms=str(terms))
    run = run_hotspots(tmp_path / "deaths.csv", tmp_path / "out", settings)
    assert run.record.sections["counts"]["n_used"] == frame["cause"].str.contains("medetomidine").sum()
    assert run.record.sections["drug_definition"]["groups"][-1] == "medetomidine"


@pytest.mark.parametrize("args, code, message", [
    (["--drug", "xylazin"], 2, "Error: --drug 'xylazin' is not a drug group (did you mean xylazine?)"),
    (["--drug", "fentanyl", "--drug-columns", "COD"], 1, "--drug-columns: no column 'COD' in the input"),
    (["--drug-columns", "cause"], 2, "Error: --drug-columns and --drug-terms say how to read --drug"),
])
def test_drug_options_fail_in_one_line(tmp_path, args, code, message):
    from click.testing import CliRunner
    from odgeo_cli.main import cli

    from .conftest import message_lines

    _drug_csv(tmp_path / "calls.csv", n=50)
    result = CliRunner().invoke(cli, ["hotspots", str(tmp_path / "calls.csv"), "--out", str(tmp_path / "o"), *args])
    assert result.exit_code == code
    lines = message_lines(result.output)
    assert len(lines) == 1 and message in lines[0], result.output
