"""Who an outreach record is about: a source's person columns, read beside its incidents, made comparable.

The incident reader keeps what every command needs (id, time, outcome, place). Outreach also needs
who the record is about: a patient id, date of birth, sex, age, name, home address, living
situation and what happened at the scene (refused transport). They are found by name like the
incident columns (:data:`PERSON_ALIASES`, overridden with ``person_columns``), read from the same
rows (joined on ``source_row``), and reduced to what linkage compares: names become a phonetic key
(Soundex of the family name and the first initial) that no output ever shows.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd

from ..errors import ColumnError
from ..schema import AGE_ALIASES, SEX_COLUMN_ALIASES, normalise_name, sex_of

__all__ = [
    "PERSON_ALIASES",
    "PERSON_ROLES",
    "find_person_columns",
    "name_key",
    "person_fields",
    "soundex",
]

#: For each person role, the column names recognised (normalised), best first.
PERSON_ALIASES: dict[str, tuple[str, ...]] = {
    "person_id": ("personid", "patientid", "clientid", "subjectid", "mrn", "medicalrecordnumber", "patientnumber"),
    "birth_date": ("dob", "dateofbirth", "birthdate", "patientdob", "birthday"),
    "age": AGE_ALIASES,
    "sex": SEX_COLUMN_ALIASES,
    "first_name": ("firstname", "fname", "givenname", "patientfirstname", "forename"),
    "last_name": ("lastname", "lname", "surname", "familyname", "patientlastname"),
    "residence": ("homeaddress", "residenceaddress", "residence", "patientaddress", "residentialaddress",
                  "homeaddr"),
    "living_situation": ("livingsituation", "housingstatus", "housing", "homeless", "unhoused", "patienthomeless",
                         "homelessstatus", "residencetype"),
    "disposition": ("disposition", "patientdisposition", "transportdisposition", "transport", "transported",
                    "incidentdisposition"),
}
PERSON_ROLES = tuple(PERSON_ALIASES)

# Living situations read as "no home to visit": the team goes to the overdose location (PRONTO's guidance).
_UNHOUSED = ("unhoused", "homeless", "unsheltered", "nofixed", "nfa", "transient", "street", "shelter", "camp")
# Dispositions read as "refused transport" (ePCR wording varies: refused, AMA, declined, signed release).
_REFUSED = ("refus", "ama", "againstmedicaladvice", "declin", "signedrelease", "nottransported", "notransport")
_YES = {"yes", "y", "true", "1"}


def find_person_columns(columns: list[str], overrides: dict[str, str] | None = None,
                        *, taken: frozenset[str] | set[str] = frozenset()) -> dict[str, str | None]:
    """Map each person role to a column of ``columns`` (or None); ``taken`` columns serve incident roles.

    Raises
    ------
    ColumnError
        If an override names an unknown role or a column that is not in the input.
    """
    overrides = dict(overrides or {})
    for role, col in overrides.items():
        if role not in PERSON_ALIASES:
            raise ColumnError(f"unknown person column role {role!r}; roles are {', '.join(PERSON_ROLES)}")
        if col not in columns:
            raise ColumnError(f"column {col!r} given for {role} is not in the input; columns are: "
                              f"{', '.join(map(str, columns))}")
    by_norm: dict[str, str] = {}
    for col in columns:
        if col not in taken:
            by_norm.setdefault(normalise_name(col), col)
    used = set(overrides.values())
    found: dict[str, str | None] = {}
    for role, aliases in PERSON_ALIASES.items():
        chosen: str | None = overrides.get(role) or next(
            (by_norm[a] for a in aliases if a in by_norm and by_norm[a] not in used), None)
        found[role] = chosen
        if chosen:
            used.add(chosen)
    return found


def person_fields(data: pd.DataFrame, roles: dict[str, str | None], source_rows: np.ndarray,
                  occurred_at: pd.Series) -> pd.DataFrame:
    """The person fields of the incidents at ``source_rows`` (1-based rows of ``data``), made comparable.

    Returns one row per incident: ``person_id`` (text, "" when absent), ``birth_date`` (NaT),
    ``age`` (years at the overdose, NaN), ``sex`` ("M", "F" or ""), ``name_key`` ("" when a name
    part is missing), ``residence`` (text), ``unhoused`` and ``refused_transport`` (bool), and
    ``unreadable_birth_date`` (bool: a value that is not a date, counted in the run record).
    """
    rows = np.asarray(source_rows, dtype=np.int64) - 1
    picked = {role: (data[col].iloc[rows].reset_index(drop=True).fillna("").astype(str).str.strip()
                     if col else pd.Series([""] * len(rows), dtype=object)) for role, col in roles.items()}
    born = pd.to_datetime(picked["birth_date"].where(picked["birth_date"] != ""), errors="coerce", format="mixed")
    when = pd.Series(occurred_at).reset_index(drop=True)
    local_days = when.dt.tz_localize(None) if getattr(when.dt, "tz", None) is not None else when
    age_from_birth = (local_days - born).dt.days / 365.25
    stated_age = pd.to_numeric(picked["age"], errors="coerce")
    age = np.floor(age_from_birth).where(born.notna(), stated_age)
    age = age.where((age >= 0) & (age < 120))
    return pd.DataFrame({
        "person_id": picked["person_id"],
        "birth_date": born.dt.normalize(),
        "age": age.astype(float),
        "sex": picked["sex"].map(sex_of),
        "name_key": [name_key(f, last) for f, last in zip(picked["first_name"], picked["last_name"])],
        "residence": picked["residence"],
        "unhoused": picked["living_situation"].map(_unhoused).astype(bool),
        "refused_transport": picked["disposition"].map(_refused).astype(bool),
        "unreadable_birth_date": (picked["birth_date"] != "").to_numpy() & born.isna().to_numpy(),
    })


def _unhoused(value: str) -> bool:
    word = normalise_name(value)
    return bool(word) and (word in _YES or any(word.startswith(w) or w in word for w in _UNHOUSED))


def _refused(value: str) -> bool:
    word = normalise_name(value)
    return bool(word) and any(w in word for w in _REFUSED)


_LETTERS = re.compile(r"[^A-Z]")
_SOUNDEX_CODES = {**dict.fromkeys("BFPV", "1"), **dict.fromkeys("CGJKQSXZ", "2"), **dict.fromkeys("DT", "3"),
                  "L": "4", **dict.fromkeys("MN", "5"), "R": "6"}


def _letters(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return _LETTERS.sub("", folded.upper())


def soundex(name: str) -> str:
    """American Soundex (the US Census rule: H and W do not separate equal codes); "" for no letters.

    >>> soundex("Robert"), soundex("Rupert"), soundex("Ashcraft"), soundex("Tymczak"), soundex("O'Brien")
    ('R163', 'R163', 'A261', 'T522', 'O165')
    """
    letters = _letters(name)
    if not letters:
        return ""
    out, last = letters[0], _SOUNDEX_CODES.get(letters[0], "")
    for ch in letters[1:]:
        code = _SOUNDEX_CODES.get(ch, "")
        if code and code != last:
            out += code
            if len(out) == 4:
                break
        if ch not in "HW":  # a vowel separates equal codes; H and W do not
            last = code
    return (out + "000")[:4]


def name_key(first: str, last: str) -> str:
    """The name as linkage compares it: Soundex of the family name and the first initial ("" if either is missing).

    >>> name_key("Chris", "St. John"), name_key("CHRIS", "StJohn"), name_key("", "Smith")
    ('S325C', 'S325C', '')
    """
    family, given = soundex(last), _letters(first)[:1]
    return family + given if family and given else ""
