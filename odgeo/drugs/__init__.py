"""Case definitions as code: drug groups from suspected-drug columns, cause-of-death text and ICD-10 codes."""

from .._exports import lazy_exports

_EXPORTS = {
    "DRUG_GROUPS": "definitions",
    "GROUP_LABELS": "definitions",
    "DrugTerms": "definitions",
    "load_terms": "definitions",
    "flag_text": "text",
    "flag_columns": "columns",
    "DrugFlags": "columns",
    "flag_icd10": "icd10",
    "is_overdose_death": "icd10",
}

__all__ = [*_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
