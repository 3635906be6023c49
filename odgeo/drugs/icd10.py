"""Drug groups from ICD-10 codes: deaths (underlying and multiple causes) and ICD-10-CM emergency visits.

Deaths follow NCHS and the HEALing Communities Study: a drug overdose death has an underlying
cause in X40–X44, X60–X64, X85 or Y10–Y14; the drugs are the T-codes among the multiple causes
(an opioid overdose death has one of T40.0–T40.4 or T40.6). ICD-10-CM visit codes follow CDC's
discharge guidance: a poisoning's sixth character is its intent, and only intents 1–4 (accidental,
intentional self-harm, assault, undetermined) count, never 5 (adverse effect) or 6 (underdosing);
a seventh character, when there is one, must be A (initial encounter).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

__all__ = ["ICD10_GROUPS", "OVERDOSE_UNDERLYING", "flag_icd10", "icd10_codes", "is_overdose_death"]

#: Underlying causes of a drug overdose death (NCHS): accidental, suicide, homicide, undetermined poisoning.
OVERDOSE_UNDERLYING = (("X40", "X44"), ("X60", "X64"), ("X85", "X85"), ("Y10", "Y14"))
#: Code prefixes (dots removed) of each group. T40.4 is "synthetic opioids other than methadone",
#: which NCHS reads as fentanyl; ICD-10-CM splits it into T40.41 fentanyl, T40.42 tramadol and
#: T40.49 others. T43.6 is psychostimulants with abuse potential; ICD-10-CM's T43.61 (caffeine) is
#: left out. There is no ICD-10 code for xylazine or for nitazenes: those come from the text.
ICD10_GROUPS: dict[str, tuple[str, ...]] = {
    "opioid": ("T400", "T401", "T402", "T403", "T404", "T406"),
    "heroin": ("T401",),
    "rx_opioid": ("T402", "T4042"),
    "methadone": ("T403",),
    "fentanyl": ("T404",),
    "cocaine": ("T405",),
    "methamphetamine": ("T436",),
    "benzodiazepine": ("T424",),
    "alcohol": ("T510",),
}
_NOT_IN = {"fentanyl": ("T4042", "T4049"), "methamphetamine": ("T4361",)}
_SPLIT = re.compile(r"[\s,;|/]+")


def icd10_codes(cell: object) -> list[str]:
    """The codes in one cell, capitals without dots: ``"T40.1, T40.4"`` gives ``["T401", "T404"]``."""
    if cell is None or (isinstance(cell, float) and np.isnan(cell)) or cell is pd.NA:
        return []
    return [c.replace(".", "") for c in _SPLIT.split(str(cell).upper()) if c.replace(".", "")]


def _counts_as_poisoning(code: str) -> bool:
    """ICD-10 (4 characters or fewer) always; ICD-10-CM only with intent 1–4 and, if given, encounter A."""
    if len(code) <= 5:
        return True
    return code[5] in "1234" and (len(code) < 7 or code[6] == "A")


def _in_range(code: str, low: str, high: str) -> bool:
    return low <= code[:3] <= high


def is_overdose_death(underlying: pd.Series) -> np.ndarray:
    """True where the underlying cause of death is a drug overdose (X40–X44, X60–X64, X85, Y10–Y14).

    Parameters
    ----------
    underlying : Series
        One underlying-cause code per death (``X42``, ``X42.0``, ``Y12``); the first code of a cell counts.

    Returns
    -------
    numpy.ndarray of bool
    """
    def one(cell: object) -> bool:
        codes = icd10_codes(cell)
        return bool(codes) and any(_in_range(codes[0], lo, hi) for lo, hi in OVERDOSE_UNDERLYING)
    return np.array([one(c) for c in underlying], dtype=bool)


def flag_icd10(codes: pd.Series, *, groups: tuple[str, ...]) -> pd.DataFrame:
    """Flag each cell of multiple-cause or diagnosis codes with the drug groups its T-codes name.

    Parameters
    ----------
    codes : Series
        One cell per record holding one or more codes (``T40.4 T40.5``, ``T40411A;F11.20``).
    groups : tuple of str
        The columns of the result (groups with no code, such as xylazine, stay False).

    Returns
    -------
    DataFrame
        One boolean column per group, aligned with ``codes``.
    """
    distinct, inverse = np.unique(codes.astype("string").fillna("").to_numpy(dtype=object), return_inverse=True)
    table = np.zeros((len(distinct), len(groups)), dtype=bool)
    for i, cell in enumerate(distinct):
        for code in icd10_codes(cell):
            if not code.startswith("T") or not _counts_as_poisoning(code):
                continue
            for j, group in enumerate(groups):
                prefixes = ICD10_GROUPS.get(group, ())
                if any(code.startswith(p) for p in prefixes) and \
                        not any(code.startswith(p) for p in _NOT_IN.get(group, ())):
                    table[i, j] = True
    return pd.DataFrame(table[inverse.ravel()], columns=list(groups), index=codes.index)
