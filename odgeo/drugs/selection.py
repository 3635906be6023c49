"""``drug``: keep the incidents of some drug groups, read from the input's drug columns, before anything else."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ColumnError, ParameterError
from .columns import flag_columns
from .definitions import GROUP_LABELS, DrugTerms, load_terms

__all__ = ["DRUG_CODE", "DrugSelection"]

#: The reject code of an incident ``drug`` leaves out.
DRUG_CODE = "drug_filtered"


@dataclass(frozen=True)
class DrugSelection:
    """The drug groups to keep, the columns that say, and the terms that read them.

    Attributes
    ----------
    groups : tuple of str
        Keep an incident in any of these groups (``("xylazine",)``).
    columns : tuple of str
        The input's drug columns (``drug_columns``); empty: its suspected-drug column.
    terms : str, optional
        A CSV extending the packaged terms (``drug_terms``).
    """

    groups: tuple[str, ...]
    columns: tuple[str, ...] = ()
    terms: str | None = None

    def table(self) -> DrugTerms:
        """The terms, checked against the groups asked for (a group no term defines is said now)."""
        terms = load_terms(Path(self.terms) if self.terms else None)
        for group in self.groups:
            if group not in terms.groups:
                near = difflib.get_close_matches(group, terms.groups, n=1)
                raise ParameterError(f"`drug` {group!r} is not a drug group"
                                     + (f" (did you mean {near[0]}?)" if near else "")
                                     + f"; the groups are {', '.join(terms.groups)}, or add one with `drug_terms`")
        return terms

    def label(self) -> str:
        """The groups as a page says them: "xylazine or fentanyl and analogues"."""
        return " or ".join(GROUP_LABELS.get(g, g) for g in self.groups)

    def leaves_out(self, data: pd.DataFrame, suspected_drug: str | None,
                   path: str) -> list[tuple[np.ndarray, str, str]]:
        """The rows this selection leaves out, as (rows, column, reason) by reason.

        ``suspected_drug``: the column detected as the suspected drug, read when no columns are named.
        """
        columns = list(self.columns) or ([suspected_drug] if suspected_drug else [])
        if not columns:
            raise ColumnError(f"{path}: `drug` needs the incidents' drugs, and the input has no suspected-drug "
                              "column; name the columns that say (a cause of death, yes/no drug columns, "
                              "ICD-10 codes) with `drug_columns`")
        try:
            read = flag_columns(data, columns, self.table())
        except ColumnError as err:
            raise ColumnError(f"{path}: {err}") from err
        wanted = read.flags[list(self.groups)].to_numpy().any(axis=1)
        named = read.flags.to_numpy().any(axis=1)
        blank = np.ones(len(data), dtype=bool)
        for column in columns:
            text = data[column].astype("string").str.strip()
            blank &= (text.isna() | (text == "")).to_numpy(dtype=bool)
        where = ", ".join(columns)
        return [(blank, columns[0], f"no drug recorded in {where} (--drug {','.join(self.groups)})"),
                (~blank & ~named, columns[0], f"{where} name no drug group (--drug {','.join(self.groups)})"),
                (named & ~wanted, columns[0], f"not {self.label()} (--drug {','.join(self.groups)})")]
