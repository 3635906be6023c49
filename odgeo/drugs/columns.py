"""Drug groups from a frame's drug columns, whatever each holds: text, yes/no flags named after a drug, ICD-10 codes."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import ColumnError, ParameterError
from ..schema import SUSPECTED_DRUG
from .definitions import DrugTerms, load_terms
from .icd10 import flag_icd10
from .text import TextFlags, flag_text

__all__ = ["COLUMN_KINDS", "DrugFlags", "carried", "flag_columns", "incident_flags"]

#: How a drug column is read.
COLUMN_KINDS = ("text", "flag", "icd10")
_YES = frozenset({"Y", "YES", "TRUE", "T", "1", "X", "POSITIVE", "POS"})
_NO = frozenset({"N", "NO", "FALSE", "F", "0", "NEGATIVE", "NEG"})
_ICD = re.compile(r"[A-Z]\d{2}(?:\.?[0-9A-Z]{1,4})?\Z")
#: Share of a column's filled cells that must look like ICD-10 codes for it to be read as codes.
_ICD_SHARE = 0.9
#: Share that must begin with a yes or a no (Connecticut writes "Y", and now and then "Y-A" or "Y (PTCH)").
_FLAG_SHARE = 0.9


@dataclass
class DrugFlags:
    """Drug groups of every record, with how each column was read and what matched nothing.

    Attributes
    ----------
    flags : pandas.DataFrame
        One boolean column per group, aligned with the frame.
    columns : dict
        Each drug column and how it was read (``text``, ``flag`` or ``icd10``).
    empty : int
        Records with nothing in any drug column.
    matched_none : int
        Records with something in a drug column that named no group.
    unmatched_words : pandas.Series
        Words of the text columns outside every term, with the records holding each.
    fuzzy : dict
        Words read as a term one edit away, with the term.
    unnamed_flags : list of str
        Yes/no columns whose names name no group (their yeses count as matching nothing).
    """

    flags: pd.DataFrame
    columns: dict[str, str]
    empty: int
    matched_none: int
    unmatched_words: pd.Series
    fuzzy: dict[str, str]
    unnamed_flags: list[str]

    def record(self, terms: DrugTerms, *, top: int = 20) -> dict:
        """What run.json says: the definition, the columns, the counts per group and what matched nothing."""
        return {"definition": terms.record(), "columns": dict(self.columns),
                "records_per_group": {g: int(self.flags[g].sum()) for g in self.flags.columns},
                "records_without_drug_text": self.empty, "records_matching_no_term": self.matched_none,
                "unmatched_words": {w: int(n) for w, n in self.unmatched_words.head(top).items()},
                "read_as_misspelling": dict(self.fuzzy), "flag_columns_naming_no_group": list(self.unnamed_flags)}


def _filled(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip()
    return text[text.notna() & (text != "")]


def column_kind(values: pd.Series) -> str:
    """``flag`` if 9 in 10 filled cells begin with a yes or a no, ``icd10`` if 9 in 10 are codes, else ``text``."""
    filled = _filled(values).str.upper()
    if filled.empty:
        return "text"
    first = filled.str.extract(r"^([A-Z0-9]+)", expand=False)
    if first.isin(_YES | _NO).mean() >= _FLAG_SHARE:
        return "flag"
    codes = filled.str.split(r"[\s,;|/]+", regex=True)
    looks = codes.map(lambda cs: all(_ICD.match(c) for c in cs if c))
    return "icd10" if looks.mean() >= _ICD_SHARE else "text"


def _camel_words(name: str) -> str:
    """A column name as words: ``Morphine_NotHeroin`` gives ``Morphine Not Heroin``."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).replace("_", " ")


def carried(name: str) -> str:
    """The incidents' column carrying the input's drug column ``name`` beside their roles (``drug:COD``)."""
    return f"drug:{name}"


def flag_columns(frame: pd.DataFrame, columns: list[str], terms: DrugTerms, *, fuzzy: bool = True) -> DrugFlags:
    """Flag each record with the drug groups its drug columns name (a record is in a group if any column says so).

    Parameters
    ----------
    frame : DataFrame
        The records.
    columns : list of str
        The drug columns (``drug_columns``): a suspected drug or cause-of-death text, yes/no
        columns named after a drug (Connecticut's ``Heroin``, ``Fentanyl``, ``Morphine_NotHeroin``),
        or ICD-10 multiple-cause or diagnosis codes. Each is read as what it holds.
    terms : DrugTerms
        From :func:`odgeo.drugs.load_terms`.
    fuzzy : bool, default True
        Read a word one edit from a term as that term.

    Returns
    -------
    DrugFlags
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ColumnError(f"`drug_columns`: no column {missing[0]!r} in the input; its columns are "
                          f"{', '.join(map(str, frame.columns))}")
    flags = pd.DataFrame(False, index=frame.index, columns=list(terms.groups))
    any_filled = np.zeros(len(frame), dtype=bool)
    kinds, unnamed, fuzzy_read, words = {}, [], {}, []
    for name in columns:
        values = frame[name]
        kind = kinds[name] = column_kind(values)
        text = values.astype("string").str.strip()
        filled = (text.notna() & (text != "")).to_numpy(dtype=bool)
        if kind == "flag":
            first = text.str.upper().str.extract(r"^([A-Z0-9]+)", expand=False)
            yes = first.isin(_YES).to_numpy(dtype=bool)
            named = flag_text([_camel_words(name)], terms, fuzzy=fuzzy).flags.iloc[0]
            if not named.any():
                unnamed.append(name)
            flags.loc[yes, named[named].index] = True
            any_filled |= yes
            odd = filled & ~yes & ~first.isin(_NO).to_numpy(dtype=bool)
            if not odd.any():
                continue
            any_filled |= odd
            values, kind = values.where(odd), "text"  # a note such as "STOLE MEDS" is read as text
        else:
            any_filled |= filled
        if kind == "icd10":
            flags |= flag_icd10(values, groups=terms.groups).to_numpy()
            continue
        read = flag_text(values, terms, fuzzy=fuzzy)
        flags |= read.flags.to_numpy()
        fuzzy_read.update(read.fuzzy)
        words.append(read.unmatched_words)
    unmatched = (pd.concat(words).groupby(level=0).sum().sort_values(ascending=False, kind="stable")
                 if words else pd.Series(dtype="int64"))
    none = any_filled & ~flags.to_numpy().any(axis=1)
    return DrugFlags(flags=flags, columns=kinds, empty=int((~any_filled).sum()), matched_none=int(none.sum()),
                     unmatched_words=unmatched, fuzzy=fuzzy_read, unnamed_flags=unnamed)


def incident_flags(incidents: pd.DataFrame, groups: tuple[str, ...], *, columns: tuple[str, ...] = (),
                   terms_file: str | None = None, option: str = "drug") -> DrugFlags | TextFlags:
    """The drug groups of each incident, for the groups a setting (``option``) names.

    Parameters
    ----------
    incidents
        The incidents used, with the drug ``columns`` carried on them (:func:`carried`) or a
        suspected-drug column.
    groups
        The groups asked for; an unknown one is refused before anything is read.
    columns
        The drug columns (``drug_columns``); none: the suspected-drug column.
    terms_file
        A CSV of the user's own terms (``drug_terms``).
    option
        The setting that asks, for the messages (``watch_drugs``, ``by_drug``).

    Returns
    -------
    DrugFlags or TextFlags
        One row of group flags per incident, in order.
    """
    terms = load_terms(terms_file)
    unknown = [g for g in groups if g not in terms.groups]
    if unknown:
        raise ParameterError(f"`{option}` {unknown[0]!r} is not a drug group; the groups are "
                             f"{', '.join(terms.groups)}, or add one with `drug_terms`")
    if columns and not all(carried(c) in incidents.columns for c in columns):
        raise ParameterError(f"`{option}` with `drug_columns` reads one file or table, with the command's run_ "
                             "function (the columns are carried as the file is read)")
    if columns:
        return flag_columns(pd.DataFrame({c: incidents[carried(c)].to_numpy() for c in columns}), list(columns),
                            terms)
    if SUSPECTED_DRUG not in incidents.columns or incidents[SUSPECTED_DRUG].isna().all():
        raise ParameterError(f"`{option}` reads the incidents' suspected-drug column, and the input has none "
                             "(or it is empty); name it with `columns[\"suspected_drug\"]`, or give the drug "
                             "columns with `drug_columns`")
    return flag_text(incidents[SUSPECTED_DRUG].reset_index(drop=True), terms)
