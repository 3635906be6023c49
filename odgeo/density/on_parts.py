"""Kernel density of incidents held in parts on a Dask cluster (``--engine dask``).

Each part is binned onto one grid (the whole extent's), the grids are added up on the
workers and one FFT follows: :func:`odgeo.density.kernel.kernel_density` to floating-point
error (the additions happen in another order). Only extents and binned grids travel.
"""

from __future__ import annotations

import math

import numpy as np
import pyproj

from ..engine.stages import extent_of, project_parts
from ..errors import NoDataError, ParameterError
from .kernel import DensityGrid, density_layout

__all__ = ["kernel_density_parts"]


def kernel_density_parts(client, parts: list, *, crs: pyproj.CRS, bandwidth_m: float, cell_size_m: float,
                         kernel: str = "quartic") -> DensityGrid:
    """:func:`odgeo.density.kernel.kernel_density` of the parts' incidents together, projected to ``crs``.

    Parameters
    ----------
    client
        A ``distributed.Client``.
    parts
        Futures of the located parts.
    crs
        The metric CRS of the surface.
    bandwidth_m, cell_size_m
        The kernel's radius and the grid's cell size, in metres.
    kernel
        "quartic" (default), "epanechnikov", "triangular", "uniform" or "gaussian".

    Returns
    -------
    DensityGrid
        Incidents per km², the same surface as in memory.
    """
    projected = project_parts(client, parts, crs)
    extents = client.gather(client.map(extent_of, projected, pure=False))
    n = sum(e[0] for e in extents)
    if n == 0:
        raise NoDataError("no located incidents to compute a density from")
    if any(math.isnan(e[1]) for e in extents):
        raise ParameterError("some points have no finite projected coordinates (too far from the map's centre)")
    extent = (min(e[1] for e in extents), min(e[2] for e in extents),
              max(e[3] for e in extents), max(e[4] for e in extents))
    layout = density_layout(extent, bandwidth_m=bandwidth_m, cell_size_m=cell_size_m, kernel=kernel)
    binned = client.map(_binned, projected, layout=layout, pure=False)
    while len(binned) > 1:  # added up pairwise on the workers: one grid travels to this process
        pairs = [binned[i:i + 2] for i in range(0, len(binned), 2)]
        binned = [client.submit(np.add, *p, pure=False) if len(p) == 2 else p[0] for p in pairs]
    return layout.surface(binned[0].result(), n_points=n, crs=crs)


def _binned(xy: tuple[np.ndarray, np.ndarray], layout) -> np.ndarray:
    return layout.binned(*xy)
