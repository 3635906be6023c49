"""Whether odgeo's compiled code (numba, ``cache=True``) is on disk yet, so a slow first step can say why.

numba compiles a jitted function on its first call and keeps the machine code in a cache
(``__pycache__`` beside the module, or ``NUMBA_CACHE_DIR``). A new environment, a new numba or
a changed source compiles again: the first ``odgeo hotspots`` spends seconds there with nothing
to show for it, so its progress line says "compiling, first run only".
"""

from __future__ import annotations

import importlib
import pickle
from typing import Any

__all__ = ["COMPILING_NOTE", "compiling_note", "uncompiled"]

COMPILING_NOTE = " (compiling, first run only)"


def uncompiled(*modules: str) -> list[str]:
    """The jitted functions of ``modules`` (dotted names) whose cache holds no machine code for this numba.

    A function that cannot be asked (a numba without the cache's index API) counts as compiled:
    the note is a courtesy, never a reason to fail.
    """
    from numba.core.registry import CPUDispatcher

    missing = []
    for name in modules:
        module = importlib.import_module(name)
        for obj in vars(module).values():
            if not isinstance(obj, CPUDispatcher) or obj.__module__ != module.__name__:
                continue
            jitted: Any = obj  # numba's dispatcher is typed without its cache
            try:
                cached = bool(jitted._cache._cache_file._load_index())  # {} when absent, stale or another numba's
            except (AttributeError, OSError, EOFError, ValueError, pickle.UnpicklingError):
                cached = True
            if not cached:
                missing.append(f"{name}.{jitted.__name__}")
    return missing


def compiling_note(*modules: str) -> str:
    """:data:`COMPILING_NOTE` when a function of ``modules`` will compile, else ""."""
    return COMPILING_NOTE if uncompiled(*modules) else ""
