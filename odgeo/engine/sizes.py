"""What odgeo's objects weigh on a Dask worker, for Dask's memory accounting (the ``dask.sizeof`` entry point).

Dask measures what a task returns with ``dask.sizeof.sizeof``, which knows frames and
arrays but counts any other object as a few bytes. A validated part (an
:class:`~odgeo.incidents.read.IncidentRead`, a part half validated between the read's
rounds) weighs tens of megabytes: counted as a few bytes, the parts of a large input
are never spilled to disk as the workers fill; the workers pause and their nannies
restart them instead. Registered through the package's ``dask.sizeof`` entry point,
so that every worker that has odgeo installed counts them, without odgeo importing Dask.
"""

from __future__ import annotations

import dataclasses
import sys

__all__ = ["register"]


def register(sizeof) -> None:
    """Teach ``sizeof`` (Dask's dispatch) odgeo's part objects, once a worker first measures one."""

    @sizeof.register_lazy("odgeo")
    def _odgeo() -> None:
        from ..incidents.read import IncidentRead, PartValidation, RowChecker, StartedValidation
        from ..incidents.tables import RawTable

        @sizeof.register((RawTable, StartedValidation, PartValidation, IncidentRead, RowChecker))
        def _sum_of_fields(obj) -> int:
            """The object's own bytes and those of what it holds (frames, arrays, dicts, other parts)."""
            if dataclasses.is_dataclass(obj):
                held = [getattr(obj, f.name) for f in dataclasses.fields(obj)]
            else:
                held = list(vars(obj).values())
            return sys.getsizeof(obj) + sum(sizeof(value) for value in held)
