"""Drug groups read from free text: a suspected drug, a cause of death, a toxicology line.

Texts are cut into words in Arrow and each distinct word is read once: a million causes of death
hold a few thousand distinct words, however many distinct sentences they make. Inside a word the
longest term wins (MONOACETYLMORPHINE is heroin's metabolite, not morphine) and terms are found in
run-together words (OFFENTANYL); short abbreviations (METH, ETOH) must be the whole word. A word
after NOT, NO, NON, WITHOUT or NEGATIVE FOR counts for nothing. What no term matched is kept and
counted: a new drug's name is a signal. A word one edit from a term (a typo, two letters swapped)
is read as that term and reported as such.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import ParameterError
from .definitions import PARENTS, DrugTerms

__all__ = ["COMMON_WORDS", "TextFlags", "flag_text"]

#: Words of cause-of-death and EMS wording that name no drug; left out of the words that matched nothing.
_COMMON = """
A ABUSE ACCIDENTAL ACUTE ADVERSE ALSO AN AND ANY AS ASSOCIATED AT BY CAUSE CHRONIC COMBINATION COMBINED
COMPLICATING COMPLICATIONS CONDITIONS CONTRIBUTING DEATH DERIVED DRUG DRUGS DUE EFFECT EFFECTS ELEVATED FOLLOWING
FOR FROM HE HER HIS ILLICIT IN INCLUDING INGESTION INHALATION INJECTION INTOX INTOXICATION INTOXICATIONS
LEVEL LEVELS MEDICATION MEDICATIONS MIXED MULTIDRUG MULTIPLE NARCOTIC NARCOTICS OD OF ON OR OTHER OTHERS OVERDOSE
PENDING PHARMACEUTICAL POISONING POSSIBLE PRESCRIPTION PRESENCE PROBABLE PROBABLY RECENT SUBSTANCE SUBSTANCES
PARA SUSPECTED SYNTHETIC THE TO TOXIC TOXICITIES TOXICITY TOXICOLOGY UNKNOWN UNSPECIFIED USE USING WHILE WITH NEGATIVE
"""
COMMON_WORDS = frozenset(_COMMON.split())
#: Words that deny the word after them ("NOT HEROIN", a column called Morphine_NotHeroin); NEGATIVE FOR too.
NEGATIONS = ("NOT", "NON", "NO", "WITHOUT")
#: Where texts are cut into words (after capitals): anything but letters, digits, hyphens and apostrophes.
_CUT = "[^A-Z0-9'’-]+"
_FUZZY_MIN_LENGTH = 6


@dataclass
class TextFlags:
    """Drug groups found in texts, and what was not found.

    Attributes
    ----------
    flags : pandas.DataFrame
        One boolean column per group, aligned with the texts.
    empty : int
        Texts that were missing or blank.
    matched_none : int
        Texts with words in them that matched no term of any group.
    unmatched_words : pandas.Series
        Words outside every term and outside COMMON_WORDS, with the number of texts holding each,
        most frequent first.
    fuzzy : dict
        Words read as a term one edit away (``FENTANLY`` to ``FENTANYL``), with the term.
    """

    flags: pd.DataFrame
    empty: int
    matched_none: int
    unmatched_words: pd.Series
    fuzzy: dict[str, str] = field(default_factory=dict)


class _Reader:
    """The terms made ready for reading words: whole-word terms, one alternation of the others, phrases."""

    def __init__(self, table: DrugTerms):
        if len(table.groups) > 62:
            raise ParameterError(f"`drug_terms`: {len(table.groups)} groups; odgeo reads at most 62")
        self.groups = table.groups
        self.bit = {g: 1 << i for i, g in enumerate(table.groups)}
        single = [(t, g, m) for t, g, m in table.terms if " " not in t]
        self.whole = {t: g for t, g, m in single if m == "word"}
        inside = [(t, g) for t, g, m in single if m == "substring"] + [(m, "") for m in table.masks if " " not in m]
        self.inside = dict(inside)
        ordered = sorted(self.inside, key=lambda t: (-len(t), t))
        self.pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        self.phrases = [(t.split(), g) for t, g, _ in table.terms if " " in t] + \
                       [(m.split(), "") for m in table.masks if " " in m]
        self.fuzzy_names = {t: g for t, g in inside if g and len(t) >= _FUZZY_MIN_LENGTH}

    def read(self, word: str) -> tuple[int, list[str]]:
        """A normalised word's group bits and the pieces of it no term covers (common words left out)."""
        if word in self.whole:
            return self.bit[self.whole[word]], []
        bits, pieces, at = 0, [], 0
        for found in self.pattern.finditer(word) if self.pattern else ():
            group = self.inside[found.group()]
            bits |= self.bit[group] if group else 0
            pieces.append(word[at:found.start()])
            at = found.end()
        pieces.append(word[at:])
        return bits, [p for p in pieces if len(p) > 1 and not p.isdigit() and p not in COMMON_WORDS]

    @cached_property
    def parents(self) -> list[tuple[int, int]]:
        return [(self.bit[c], self.bit[p]) for c, p in PARENTS.items() if c in self.bit and p in self.bit]


#: Each byte as the cut reads it: ASCII other than letters, digits, hyphens and apostrophes becomes a
#: space ("FENTANYL,COCAINE" and "FENT/TRANQ" are two words); bytes of longer UTF-8 characters stay.
_BYTES = np.array([b if b >= 128 or chr(b).isalnum() or chr(b) in "'-" else 32 for b in range(256)], dtype=np.uint8)
_PIECE = re.compile("[A-Z0-9'’-]+")


def _spaced(texts: pa.Array) -> pa.Array:
    """``texts`` with every separator byte a space, by one table lookup over Arrow's data buffer (no regex)."""
    validity, offsets, data = texts.buffers()
    if data is None:
        return texts
    spaced = _BYTES[np.frombuffer(data, dtype=np.uint8)]
    return pa.Array.from_buffers(texts.type, len(texts), [validity, offsets, pa.py_buffer(spaced)],
                                 null_count=texts.null_count, offset=texts.offset)


def _normal_words(token: str) -> tuple[str, ...]:
    """The words of one whitespace-free piece of text, hyphens and apostrophes dropped: ``(FENT/COCAINE)`` has two."""
    return tuple(w for w in (p.replace("-", "").replace("'", "").replace("’", "") for p in _PIECE.findall(token)) if w)


@dataclass
class _Words:
    """Every whitespace-separated token of the distinct texts, in order, read through its distinct spelling.

    Texts are cut at whitespace in Arrow (no regex over a million strings); each distinct token is
    then cut into words in Python, once. ``single`` is a token's one word's place in ``vocabulary``
    (-1 when the token holds none or several), what phrases and negations follow.
    """

    owner: np.ndarray
    token: np.ndarray
    entries: list[tuple[str, ...]]
    vocabulary: list[str]

    @classmethod
    def of(cls, texts: pa.Array) -> _Words:
        cut = pc.ascii_split_whitespace(_spaced(pc.utf8_upper(texts)))
        owner = pc.list_parent_indices(cut).to_numpy()
        encoded = pc.dictionary_encode(pc.list_flatten(cut))
        entries = [_normal_words(t) for t in encoded.dictionary.to_pylist()]
        vocabulary = sorted({w for entry in entries for w in entry})
        return cls(owner=owner, token=encoded.indices.to_numpy().astype(np.int64), entries=entries,
                   vocabulary=vocabulary)

    @cached_property
    def single(self) -> np.ndarray:
        place = {w: i for i, w in enumerate(self.vocabulary)}
        one = np.array([place[e[0]] if len(e) == 1 else -1 for e in self.entries], dtype=np.int64)
        return one[self.token] if len(self.token) else np.zeros(0, dtype=np.int64)

    def runs(self, words: list[str]) -> np.ndarray:
        """Where ``words`` follow each other inside one text: the positions of their first token."""
        place = {w: i for i, w in enumerate(self.vocabulary)}
        n = len(self.token) - len(words) + 1
        if n <= 0 or any(w not in place for w in words):
            return np.zeros(0, dtype=np.int64)
        at = np.flatnonzero(self.single[:n] == place[words[0]])
        for k, w in enumerate(words[1:], start=1):
            at = at[(self.single[at + k] == place[w]) & (self.owner[at + k] == self.owner[at])]
        return at


def _fuzzy_reading(candidates: list[str], reader: _Reader) -> dict[str, tuple[str, str]]:
    """Words one edit (or one swap of neighbours) from a term of six letters or more: word to (term, group)."""
    from rapidfuzz.distance import OSA
    from rapidfuzz.process import extractOne

    names = sorted(reader.fuzzy_names)
    read = {}
    for word in candidates:
        best = extractOne(word, names, scorer=OSA.distance, score_cutoff=1)
        if best is not None:
            read[word] = (best[0], reader.fuzzy_names[best[0]])
    return read


def _word_bits(words: _Words, reader: _Reader, fuzzy: bool) -> tuple[np.ndarray, list[list[str]], dict]:
    """Each distinct token's group bits and leftover pieces, typos read as their terms when ``fuzzy``."""
    read = {w: reader.read(w) for w in words.vocabulary}
    typos = {}
    if fuzzy:
        candidates = [w for w, (b, p) in read.items() if not b and p == [w] and len(w) >= _FUZZY_MIN_LENGTH
                      and w.isalpha()]
        for word, (term, group) in sorted(_fuzzy_reading(candidates, reader).items()):
            read[word], typos[word] = (reader.bit[group], []), term
    bits = np.zeros(len(words.entries), dtype=np.int64)
    pieces: list[list[str]] = []
    for at, entry in enumerate(words.entries):
        for word in entry:
            bits[at] |= read[word][0]
        pieces.append([p for word in entry for p in read[word][1]])
    return bits, pieces, typos


def _token_bits(words: _Words, reader: _Reader, bits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each word occurrence's bits, and whether its leftovers count, after phrases, masks and negations."""
    token = bits[words.token]
    counted = np.ones(len(token), dtype=bool)
    for phrase, group in reader.phrases:
        for k in range(len(phrase)):
            at = words.runs(phrase) + k
            counted[at] = False
            if not group:
                token[at] = 0
        if group:
            token[words.runs(phrase)] |= reader.bit[group]
    for negation in [[w] for w in NEGATIONS] + [["NEGATIVE", "FOR"]]:
        after = words.runs(negation) + len(negation)
        after = after[(after < len(token))]
        after = after[words.owner[after] == words.owner[after - 1]]
        token[after], counted[after] = 0, False
    return token, counted


def _text_bits(words: _Words, token: np.ndarray, n_texts: int, reader: _Reader) -> np.ndarray:
    out = np.zeros(n_texts, dtype=np.int64)
    if len(token):
        starts = np.flatnonzero(np.r_[True, words.owner[1:] != words.owner[:-1]])
        out[words.owner[starts]] = np.bitwise_or.reduceat(token, starts)
    for child, parent in reader.parents:
        out[(out & child) != 0] |= parent
    return out


def _unmatched(words: _Words, pieces: list[list[str]], counted: np.ndarray, per_text: np.ndarray) -> pd.Series:
    """Leftover pieces with the records holding them, most first (ties in alphabetical order)."""
    has = np.array([bool(p) for p in pieces], dtype=bool)
    keep = counted & has[words.token] if len(words.token) else np.zeros(0, dtype=bool)
    width = max(len(pieces), 1)
    pairs = np.unique(words.owner[keep] * width + words.token[keep])  # a token counted once per text
    weight = np.bincount(pairs % width, weights=per_text[pairs // width], minlength=len(pieces))
    totals: dict[str, int] = {}
    for at in np.flatnonzero(np.asarray(weight) > 0):
        for piece in set(pieces[at]):
            totals[piece] = totals.get(piece, 0) + int(weight[at])
    series = pd.Series(totals, dtype="int64", name="records").rename_axis("word").sort_index()
    return series.sort_values(ascending=False, kind="stable")


def flag_text(values: pd.Series | list, terms: DrugTerms, *, fuzzy: bool = True) -> TextFlags:
    """Flag each text with the drug groups its words name.

    Parameters
    ----------
    values : Series or list of str
        Texts such as ``ACUTE FENTANYL, XYLAZINE AND COCAINE TOXICITY``; missing values flag nothing.
    terms : DrugTerms
        From :func:`odgeo.drugs.load_terms`.
    fuzzy : bool, default True
        Read a word one edit from a term of six letters or more as that term (``FENTNAYL``).

    Returns
    -------
    TextFlags
    """
    index = values.index if isinstance(values, pd.Series) else pd.RangeIndex(len(values))
    codes, uniques = _distinct(values)
    reader = _Reader(terms)
    words = _Words.of(uniques)
    bits, pieces, typos = _word_bits(words, reader, fuzzy)
    token, counted = _token_bits(words, reader, bits)
    worded = np.array([bool(e) for e in words.entries], dtype=bool)
    # A distinct text's bits, or -1 when it holds no word (missing, blank, punctuation only).
    distinct = np.full(len(uniques) + 1, -1, dtype=np.int64)
    distinct[np.unique(words.owner[worded[words.token]]) if len(words.token) else []] = 0
    distinct[:-1][distinct[:-1] == 0] = _text_bits(words, token, len(uniques), reader)[distinct[:-1] == 0]
    row_bits = distinct[codes]  # codes of missing texts are -1: the last slot
    per_text = np.bincount(codes[codes >= 0], minlength=len(uniques)).astype(np.float64)
    shifts = np.array([reader.bit[g] for g in terms.groups], dtype=np.int64)
    frame = pd.DataFrame((np.maximum(row_bits, 0)[:, None] & shifts) != 0, columns=list(terms.groups), index=index)
    return TextFlags(flags=frame, empty=int((row_bits < 0).sum()), matched_none=int((row_bits == 0).sum()),
                     unmatched_words=_unmatched(words, pieces, counted, per_text), fuzzy=typos)


def _distinct(values: pd.Series | list) -> tuple[np.ndarray, pa.Array]:
    """Each value's place among the distinct values (-1 if missing), and those values, in Arrow."""
    if not (isinstance(values, pd.Series) and getattr(values.dtype, "storage", None) == "pyarrow"):
        values = pd.Series(values, dtype=object).astype("string")  # numbers too: a code column read as floats
    array = pa.array(values.array)
    encoded = pc.dictionary_encode(pa.chunked_array([array]) if isinstance(array, pa.Array) else array)
    encoded = encoded.combine_chunks() if isinstance(encoded, pa.ChunkedArray) else encoded
    codes = encoded.indices.fill_null(-1).to_numpy().astype(np.int64)
    return codes, encoded.dictionary
