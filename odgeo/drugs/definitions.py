"""The drug groups and the table of terms that defines them (packaged, extended by a user's file)."""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputFileError, ParameterError

__all__ = ["DRUG_GROUPS", "GROUP_LABELS", "PARENTS", "PART_PREFIX", "DrugTerms", "load_terms", "normalise_term",
           "part_column", "part_parents"]

#: The drug groups, in the order products list them (DOSE's and SUDORS' groups, plus xylazine and nitazenes).
DRUG_GROUPS = ("opioid", "fentanyl", "heroin", "rx_opioid", "methadone", "nitazene", "stimulant", "cocaine",
               "methamphetamine", "xylazine", "benzodiazepine", "alcohol")
#: What each group is called on a page.
GROUP_LABELS = {
    "opioid": "any opioid",
    "fentanyl": "fentanyl and analogues",
    "heroin": "heroin",
    "rx_opioid": "prescription opioids",
    "methadone": "methadone",
    "nitazene": "nitazenes",
    "stimulant": "any stimulant",
    "cocaine": "cocaine",
    "methamphetamine": "methamphetamine and other stimulants",
    "xylazine": "xylazine",
    "benzodiazepine": "benzodiazepines",
    "alcohol": "alcohol",
}
#: Nested groups: a record of a child group is a record of its parent (DOSE's nesting).
PARENTS = {"fentanyl": "opioid", "heroin": "opioid", "rx_opioid": "opioid", "methadone": "opioid",
           "nitazene": "opioid", "cocaine": "stimulant", "methamphetamine": "stimulant"}
MATCHES = ("substring", "word")
#: An area table's column counting one group's incidents (``drug_fentanyl``): a part of ``count``, not a partition.
PART_PREFIX = "drug_"


def part_column(group: str) -> str:
    """The column counting a group's incidents in an area table (``drug_xylazine``)."""
    return f"{PART_PREFIX}{group}"


def part_parents(columns: list[str]) -> dict[str, str]:
    """Each group column's parent group column among ``columns`` (``drug_fentanyl`` in ``drug_opioid``)."""
    present = set(columns)
    return {part_column(c): part_column(p) for c, p in PARENTS.items()
            if part_column(c) in present and part_column(p) in present}
_PACKAGED = Path(__file__).with_name("terms.csv")
_MASKS = Path(__file__).with_name("masks.csv")
_GROUP_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")


def normalise_term(text: str) -> str:
    """Text as the matcher reads it: capitals, hyphens and apostrophes dropped, anything else not A–Z or 0–9 a space.

    ``4-ANPP`` and ``4 ANPP`` differ, ``4-ANPP`` and ``4ANPP`` do not; terms and texts go through the
    same function (odgeo.drugs.text does it on Arrow arrays with the same two patterns).
    """
    text = re.sub(r"[-'’]", "", text.upper())
    return " ".join(re.sub(r"[^A-Z0-9]+", " ", text).split())


@dataclass(frozen=True)
class DrugTerms:
    """The terms of every group, the phrases masked before matching, and where they came from.

    Attributes
    ----------
    terms : tuple of (term, group, match) tuples
        Normalised terms; ``match`` is ``"substring"`` (found inside run-together words such as
        ``OFFENTANYL``) or ``"word"`` (short abbreviations such as ``METH``, which a substring
        match would find in ``METHADONE``).
    groups : tuple of str
        Every group, the built-in ones first, then any a user's file adds.
    masks : tuple of str
        Phrases read as no drug (``ISOPROPYL ALCOHOL`` is not ethanol).
    sources : tuple of str
        The files the table was read from.
    digest : str
        First 12 hex digits of the SHA-256 of the terms, recorded in run.json.
    """

    terms: tuple[tuple[str, str, str], ...]
    groups: tuple[str, ...]
    masks: tuple[str, ...]
    sources: tuple[str, ...]
    digest: str

    def of(self, group: str) -> list[tuple[str, str]]:
        """The (term, match) pairs of one group."""
        return [(t, m) for t, g, m in self.terms if g == group]

    def record(self) -> dict:
        """The definition as run.json states it."""
        return {"table": list(self.sources), "terms": len(self.terms), "digest": self.digest,
                "groups": list(self.groups), "nested": dict(PARENTS)}


def _rows(path: Path, *, packaged: bool) -> list[tuple[str, str, str]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = {"term", "group"} - set(reader.fieldnames or ())
            if missing:
                raise InputFileError(f"{path}: the drug terms file needs the columns term and group "
                                     f"(and optionally match: substring or word); missing {sorted(missing)}")
            rows = []
            for line, row in enumerate(reader, start=2):
                rows.append(_term_row(path, line, row, packaged=packaged))
            return rows
    except OSError as err:
        raise InputFileError(f"{path}: cannot read the drug terms file ({err.strerror or err})") from err
    except UnicodeDecodeError as err:
        raise InputFileError(f"{path}: the drug terms file is not UTF-8 text; save it as UTF-8 CSV") from err


def _term_row(path: Path, line: int, row: dict, *, packaged: bool) -> tuple[str, str, str]:
    term = normalise_term(row.get("term") or "")
    group = (row.get("group") or "").strip().lower()
    match = (row.get("match") or "substring").strip().lower()
    if not term:
        raise InputFileError(f"{path}, row {line}: the term is empty; give the drug's name or remove the row")
    if not _GROUP_NAME.match(group):
        raise InputFileError(f"{path}, row {line}, column group: {group!r} is not a group name; use one of "
                             f"{', '.join(DRUG_GROUPS)} or a new name of lower-case letters and _")
    if match not in MATCHES:
        raise InputFileError(f"{path}, row {line}, column match: {match!r} is neither substring nor word")
    if packaged and group not in DRUG_GROUPS:
        raise InputFileError(f"{path}, row {line}: group {group!r} is not one of DRUG_GROUPS")
    return term, group, match


def load_terms(extra: Path | str | None = None) -> DrugTerms:
    """The packaged table of terms, extended by a user's CSV file.

    Parameters
    ----------
    extra : path, optional
        A CSV with the columns ``term`` and ``group`` (and optionally ``match``: ``substring``, the
        default, or ``word``). A row may add a term to a built-in group or name a new group (a new
        drug to watch, such as ``medetomidine``); a term already in the table moves to the group
        the file gives.

    Returns
    -------
    DrugTerms
    """
    rows = _rows(_PACKAGED, packaged=True)
    sources = ["odgeo/drugs/terms.csv"]
    if extra is not None:
        extra = Path(extra)
        if not extra.is_file():
            raise ParameterError(f"`drug_terms`: {extra} is not a file; give a CSV with the columns term and group")
        added = _rows(extra, packaged=False)
        replaced = {t for t, _, _ in added}
        rows = [r for r in rows if r[0] not in replaced] + added
        sources.append(str(extra))
    groups = tuple(DRUG_GROUPS) + tuple(sorted({g for _, g, _ in rows} - set(DRUG_GROUPS)))
    with _MASKS.open(newline="", encoding="utf-8") as handle:
        masks = tuple(normalise_term(r["phrase"]) for r in csv.DictReader(handle))
    digest = hashlib.sha256(repr(sorted(rows)).encode()).hexdigest()[:12]
    return DrugTerms(terms=tuple(rows), groups=groups, masks=masks, sources=tuple(sources), digest=digest)
