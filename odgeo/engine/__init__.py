"""The engine: where the incidents are held, in this process or in parts on a Dask cluster (``--engine``).

Choosing (``choose``), an input in parts (``partitions``), the parts read and validated on the
cluster (``dask_read``), the located incidents' parts and their H3 counts (``stages``), and what
odgeo's objects weigh on a worker (``sizes``). The stages' own steps over parts live with each
stage (``density.on_parts``, ``clusters.on_parts``).
"""

from .._exports import lazy_exports

_EXPORTS = {
    "choose_engine": "choose",
    "EngineChoice": "choose",
    "dask_client": "choose",
    "read_parts_dask": "dask_read",
    "IncidentParts": "dask_read",
    "plan_input": "partitions",
    "count_cells_parts": "stages",
}

__all__ = [*_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
