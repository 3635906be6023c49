"""Kernel density in metres (DensityGrid): quartic by default, as ArcGIS and QGIS.

The bandwidth is the kernel's radius (quartic) or standard deviation (Gaussian),
in metres of a local projected CRS, so the surface does not change with zoom
the way a web heat map's pixel radius does. Points are linearly binned onto a
grid whose nodes include every output cell centre, fine enough (node spacing at
most bandwidth / 20 for the quartic, / 6 for the Gaussian, whose kernel is
narrowed by the binning blur) that binning moves no value by more than about 0.25% of
the peak, and convolved with the kernel by FFT (the Gaussian as two 1-D convolutions in
float32: it is the product of one profile per axis).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np
import pyproj
from affine import Affine

from ..errors import NoDataError, ParameterError
from ..vocabulary import KERNELS

__all__ = [
    "KERNELS",
    "DensityGrid",
    "DensityLayout",
    "auto_bandwidth",
    "default_cell_size",
    "density_layout",
    "fft_convolve_same",
    "kernel_density",
    "kernel_values",
]

UNITS = "incidents per km²"
# Binning node spacing never exceeds bandwidth / this. For the quartic, linear binning
# moves a value by at most (spacing / bandwidth)² of the peak: 0.25%. The Gaussian's
# kernel is narrowed by the binning blur, which leaves a fourth-order error, so a
# coarser spacing gives the same accuracy.
_NODES_PER_BANDWIDTH = {"quartic": 20, "gaussian": 6}
_MAX_FINE_CELLS = 40_000_000
#: Threads of the FFT (every core this process may use).
_FFT_WORKERS = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
_MAX_OUTPUT_CELLS = 25_000_000
_GAUSS_TRUNCATE = 4.0  # standard deviations


@dataclass(frozen=True)
class DensityGrid:
    """A kernel density surface on a north-up grid in a metric CRS.

    Attributes
    ----------
    values
        2-D array (rows from north to south) of density in ``units``.
    transform
        Affine transform from (col, row) to CRS coordinates of cell corners.
    crs
        The projected CRS (metres).
    bandwidth_m, cell_size_m, kernel
        The parameters used.
    n_points
        Number of points that went in.
    units
        Always "incidents per km²".
    """

    values: np.ndarray
    transform: Affine
    crs: pyproj.CRS
    bandwidth_m: float
    cell_size_m: float
    kernel: str
    n_points: int
    units: str = UNITS
    method: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of the grid."""
        rows, cols = self.values.shape
        return int(rows), int(cols)

    def cell_centres(self) -> tuple[np.ndarray, np.ndarray]:
        """X and y of every cell centre, arrays shaped like ``values``."""
        rows, cols = np.indices(self.values.shape)
        x = np.asarray(self.transform.c + (cols + 0.5) * self.transform.a)
        y = np.asarray(self.transform.f + (rows + 0.5) * self.transform.e)
        return x, y

    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) in the grid's CRS."""
        rows, cols = self.values.shape
        west, north = self.transform.c, self.transform.f
        return west, north + rows * self.transform.e, west + cols * self.transform.a, north

    def mass(self) -> float:
        """Integral of the surface: about the number of points (edge loss aside)."""
        return float(self.values.sum() * (self.cell_size_m / 1000.0) ** 2)


def kernel_values(distance_m: np.ndarray, bandwidth_m: float, kernel: str = "quartic") -> np.ndarray:
    """The kernel at distances ``distance_m``, per km² (integrates to 1 over the plane).

    Quartic: ``3 / (pi h^2) * (1 - d^2 / h^2)^2`` for ``d < h`` (ArcGIS, QGIS).
    Gaussian: ``exp(-d^2 / (2 s^2)) / (2 pi s^2)`` with ``s`` the bandwidth.
    """
    d2 = np.asarray(distance_m, dtype=float) ** 2
    h2 = bandwidth_m**2
    if kernel == "quartic":
        k = 3.0 / (np.pi * h2) * np.clip(1.0 - d2 / h2, 0.0, None) ** 2
    elif kernel == "gaussian":
        k = np.exp(-d2 / (2.0 * h2)) / (2.0 * np.pi * h2)
    else:
        raise ParameterError(f"kernel must be one of {', '.join(KERNELS)}, not {kernel!r}")
    return k * 1e6  # per m² -> per km²


def auto_bandwidth(x: np.ndarray, y: np.ndarray) -> tuple[float, dict]:
    """The spatial variant of Silverman's rule that ArcGIS Kernel Density uses.

    ``h = 0.9 * min(SD, sqrt(1 / ln 2) * Dm) * n ** -0.2`` where SD is the
    standard distance of the points and Dm the median distance to their mean
    centre.

    Parameters
    ----------
    x, y
        Projected coordinates in metres.

    Returns
    -------
    bandwidth_m, reason
        The bandwidth and the figures behind it (for the run record).

    Raises
    ------
    NoDataError
        With fewer than two points, or when every point is at one place (the rule gives 0).
    """
    n = len(x)
    if n < 2:
        raise NoDataError("the automatic bandwidth needs at least 2 located incidents; give `bandwidth_m` in metres")
    dx, dy = x - x.mean(), y - y.mean()
    sd = math.sqrt(float(np.mean(dx**2 + dy**2)))
    dm = float(np.median(np.hypot(dx, dy)))
    spread = min(sd, math.sqrt(1.0 / math.log(2.0)) * dm)
    h = 0.9 * spread * n**-0.2
    if not h >= 1.0:  # identical points project to a spread of float noise, not of metres
        raise NoDataError("every located incident is at the same place: the automatic bandwidth is 0; "
                          "give `bandwidth_m`")
    reason = {
        "rule": "0.9 * min(SD, sqrt(1/ln 2) * Dm) * n^-0.2 (ArcGIS spatial Silverman)",
        "standard_distance_m": round(sd, 2),
        "median_distance_m": round(dm, 2),
        "n": n,
    }
    return h, reason


def nice_below(value: float) -> float:
    """The largest of 1, 2, 2.5 and 5 times a power of ten not above ``value`` (a cell size to print)."""
    power = 10.0 ** math.floor(math.log10(value))
    return max(f * power for f in (1.0, 2.0, 2.5, 5.0) if f * power <= value * (1 + 1e-12))


def default_cell_size(x: np.ndarray, y: np.ndarray, bandwidth_m: float) -> tuple[float, str]:
    """Shorter side of the points' extent (padded by the bandwidth) / 250, as ArcGIS.

    Never more than half the bandwidth.
    """
    width = float(np.ptp(x)) + 2 * bandwidth_m
    height = float(np.ptp(y)) + 2 * bandwidth_m
    cell = min(width, height) / 250.0
    if cell > bandwidth_m / 2:
        return bandwidth_m / 2, "shorter side of the extent / 250 exceeded half the bandwidth; capped"
    return cell, "shorter side of the extent (points plus bandwidth) / 250"


def kernel_density(
    x: np.ndarray,
    y: np.ndarray,
    *,
    crs: pyproj.CRS,
    bandwidth_m: float,
    cell_size_m: float | None = None,
    kernel: str = "quartic",
    weights: np.ndarray | None = None,
) -> DensityGrid:
    """Kernel density of points given in metres.

    Parameters
    ----------
    x, y
        Projected coordinates in metres (see :func:`odgeo.projection.project_points`).
    crs
        Their CRS (kept with the grid).
    bandwidth_m
        Kernel radius (quartic) or standard deviation (Gaussian), metres.
    cell_size_m
        Output cell size; default :func:`default_cell_size`.
    kernel
        ``"quartic"`` (default) or ``"gaussian"``.
    weights
        Optional weight per point (default 1).

    Returns
    -------
    DensityGrid
        Covers every point plus the kernel's reach; values per km².
    """
    _check_kernel(kernel, bandwidth_m)
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if len(x) == 0:
        raise NoDataError("no located incidents to compute a density from")
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=float)
    if cell_size_m is None:
        cell_size_m, _ = default_cell_size(x, y, bandwidth_m)
    if not (cell_size_m > 0 and math.isfinite(cell_size_m)):
        raise ParameterError(f"cell size must be a positive number of metres, not {cell_size_m!r}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ParameterError("some points have no finite projected coordinates (too far from the map's centre)")
    layout = density_layout((float(x.min()), float(y.min()), float(x.max()), float(y.max())),
                            bandwidth_m=bandwidth_m, cell_size_m=cell_size_m, kernel=kernel)
    return layout.surface(layout.binned(x, y, w), n_points=len(x), crs=crs)


@dataclass(frozen=True)
class DensityLayout:
    """The grid a density is computed on, fixed by the points' extent and the settings.

    Points are spread onto binning nodes (:meth:`binned`, which adds up over parts
    of the points), then one convolution gives the surface (:meth:`surface`).
    Binning node (r, c) sits at (x0 + c * step, y0 + r * step): every ``sub``-th node
    is an output cell centre, so the output is the convolution read at those nodes.
    """

    bandwidth_m: float
    cell_size_m: float
    kernel: str
    reach: float
    west: float
    south: float
    cols: int
    rows: int
    sub: int

    @property
    def step(self) -> float:
        """Spacing of the binning nodes, metres."""
        return self.cell_size_m / self.sub

    @property
    def nodes(self) -> tuple[int, int]:
        """(columns, rows) of binning nodes."""
        return (self.cols - 1) * self.sub + 1, (self.rows - 1) * self.sub + 1

    def binned(self, x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
        """Points (metres, inside the extent the layout was made for) spread onto the nodes; rows south to north."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        w = np.ones(len(x)) if w is None else np.asarray(w, dtype=float)
        n_cols, n_rows = self.nodes
        return _linear_binning(x, y, w, self.west + self.cell_size_m / 2.0, self.south + self.cell_size_m / 2.0,
                               self.step, n_cols, n_rows, self._row_room(n_cols))

    def _row_room(self, n_cols: int) -> int:
        """Values per row of the nodes' memory: room for each row's spectrum where an FFT kernel transforms them.

        (What :func:`fft_convolve_same` needs to transform the nodes in their own memory,
        not beside them: 130 MB less for the public density of 1M incidents.)
        """
        if self.kernel == "gaussian":
            return n_cols
        stencil_cols = _kernel_stencil(self.bandwidth_m, self.step, self.kernel).shape[1]  # what surface convolves
        return 2 * (_fft().next_fast_len(n_cols + stencil_cols - 1, True) // 2 + 1)  # fft_convolve_same's rows

    def surface(self, binned: np.ndarray, *, n_points: int, crs: pyproj.CRS) -> DensityGrid:
        """The density of the binned points (:meth:`binned`, or the sum of several parts' binned nodes).

        ``binned`` is used up: an FFT kernel's transform may overwrite it.
        """
        bandwidth_m, step, sub, reach = self.bandwidth_m, self.step, self.sub, self.reach
        with _fft().set_workers(_FFT_WORKERS):  # pocketfft splits the rows and columns: the same bits
            if self.kernel == "gaussian":  # separable: one 1-D convolution per axis
                profile = _gaussian_profile(bandwidth_m, step, reach)
                fine = _convolve_rows(_convolve_rows(binned.T, profile).T, profile).astype(float)
                at_cells = fine[::sub, ::sub]
            else:
                stencil = _kernel_stencil(bandwidth_m, step, self.kernel)
                at_cells = fft_convolve_same(binned, stencil, sub, overwrite_grid=True)
        values = at_cells[::-1]  # rows north to south
        values = np.where(values < 1e-9 * max(values.max(), 1e-300), 0.0, values)  # FFT round-off
        cell = self.cell_size_m
        transform = Affine(cell, 0.0, self.west, 0.0, -cell, self.south + self.rows * cell)
        return DensityGrid(
            values=values,
            transform=transform,
            crs=crs,
            bandwidth_m=float(bandwidth_m),
            cell_size_m=float(cell),
            kernel=self.kernel,
            n_points=n_points,
            method={"binning": "linear", "nodes_per_cell": sub, "node_spacing_m": step,
                    "convolution": "FFT, separable (one axis at a time), float32" if self.kernel == "gaussian"
                    else "FFT"},
        )


def _check_kernel(kernel: str, bandwidth_m: float) -> None:
    if kernel not in KERNELS:
        raise ParameterError(f"kernel must be one of {', '.join(KERNELS)}, not {kernel!r}")
    if not (bandwidth_m and bandwidth_m > 0 and math.isfinite(bandwidth_m)):
        raise ParameterError(f"bandwidth must be a positive number of metres, not {bandwidth_m!r}")


def density_layout(extent: tuple[float, float, float, float], *, bandwidth_m: float, cell_size_m: float,
                   kernel: str = "quartic") -> DensityLayout:
    """The grid for points within ``extent`` (min x, min y, max x, max y, metres); parameters checked here.

    Raises
    ------
    ParameterError
        For an unknown kernel, a bandwidth or cell size that is not a positive number,
        or a grid of more than 25 million cells.
    """
    _check_kernel(kernel, bandwidth_m)
    if not (cell_size_m > 0 and math.isfinite(cell_size_m)):
        raise ParameterError(f"cell size must be a positive number of metres, not {cell_size_m!r}")
    min_x, min_y, max_x, max_y = extent
    reach = bandwidth_m if kernel == "quartic" else _GAUSS_TRUNCATE * bandwidth_m
    cols, rows = grid_shape(np.array([min_x, max_x]), np.array([min_y, max_y]), cell_size_m, reach)
    if rows * cols > _MAX_OUTPUT_CELLS:
        width_km, height_km = (max_x - min_x + 2 * reach) / 1000, (max_y - min_y + 2 * reach) / 1000
        raise ParameterError(
            f"the density grid would be {cols:,} x {rows:,} cells ({width_km:,.0f} x {height_km:,.0f} km at "
            f"{cell_size_m:g} m, at most {_MAX_OUTPUT_CELLS:,} cells); give a larger `cell_size_m` or a smaller "
            "`bandwidth_m`, or filter the incidents to a smaller area")
    west = math.floor((min_x - reach) / cell_size_m) * cell_size_m
    south = math.floor((min_y - reach) / cell_size_m) * cell_size_m
    sub = max(1, math.ceil(cell_size_m * _NODES_PER_BANDWIDTH[kernel] / bandwidth_m))
    while sub > 1 and rows * cols * sub * sub > _MAX_FINE_CELLS:
        sub -= 1
    return DensityLayout(float(bandwidth_m), float(cell_size_m), kernel, reach, west, south, cols, rows, sub)


def grid_shape(x: np.ndarray, y: np.ndarray, cell_size_m: float, reach_m: float) -> tuple[int, int]:
    """(columns, rows) of the grid that covers the points plus the kernel's reach."""
    west = math.floor((float(np.min(x)) - reach_m) / cell_size_m) * cell_size_m
    south = math.floor((float(np.min(y)) - reach_m) / cell_size_m) * cell_size_m
    cols = math.ceil((float(np.max(x)) + reach_m - west) / cell_size_m)
    rows = math.ceil((float(np.max(y)) + reach_m - south) / cell_size_m)
    return int(cols), int(rows)


def _linear_binning(x, y, w, x0, y0, step, n_cols, n_rows, row_room=None) -> np.ndarray:
    """Spread each weight over its four nearest nodes (bilinear); rows south to north.

    Each node's value is what four ``np.bincount`` passes would give, one per corner
    in the order (0, 0), (0, 1), (1, 0), (1, 1), added to zeros (tests/test_density.py
    checks the bits): without four node-sized arrays per pass, which on a fine grid cost
    more than the points. With ``row_room`` (>= n_cols), the nodes are the first
    ``n_cols`` values of rows that long (a view of a padded array).
    """
    from .binning import bin_corners  # numba and its cache load here, not on every import of the density

    row_room = n_cols if row_room is None else int(row_room)
    grid = np.zeros((n_rows, row_room))
    bin_corners(np.ascontiguousarray(x, dtype=np.float64), np.ascontiguousarray(y, dtype=np.float64),
                 np.ascontiguousarray(w, dtype=np.float64), float(x0), float(y0), float(step),
                 int(n_cols), int(n_rows), row_room, grid.reshape(-1))
    return grid if row_room == n_cols else grid[:, :n_cols]


def _kernel_stencil(bandwidth_m: float, step: float, kernel: str) -> np.ndarray:
    """The (quartic) kernel sampled at node offsets, an odd square array centred on zero."""
    half = math.ceil(bandwidth_m / step)
    d = np.arange(-half, half + 1) * step
    return kernel_values(np.hypot(*np.meshgrid(d, d)), bandwidth_m, kernel)


def _fft():
    """scipy.fft, imported when a density is computed (half a second that a map or an alert need not pay)."""
    import scipy.fft

    return scipy.fft


def fft_convolve_same(grid: np.ndarray, kernel: np.ndarray, every: int = 1, *,
                      overwrite_grid: bool = False) -> np.ndarray:
    """``scipy.signal.fftconvolve(grid, kernel, mode="same")[::every, ::every]`` for 2-D float arrays, bit for bit.

    The same transforms of the same sizes, so the same bits (tests/test_density.py checks),
    without importing scipy.signal, which takes longer to import than most runs take to
    convolve. Only the kept rows are transformed back along the second axis, and the full
    "same" array is never made: a density's nodes are ``every`` x ``every`` per cell, and
    the public one would hold hundreds of megabytes for nothing. Rows and columns go a block
    at a time, and with ``overwrite_grid`` a grid whose rows have room for their spectra (as
    :meth:`DensityLayout.binned` makes them) is transformed in its own memory (its values are
    lost): the privacy step of ``odgeo hotspots`` on 1M incidents (defaults), whose public density
    this is, peaked 415 MB above its start with whole-array transforms, about 200 MB so.
    """
    axes = [a for a in range(2) if grid.shape[a] != 1 and kernel.shape[a] != 1]  # length 1: a broadcast product
    full = [grid.shape[a] + kernel.shape[a] - 1 if a in axes else max(grid.shape[a], kernel.shape[a]) for a in range(2)]
    top, left = (full[0] - grid.shape[0]) // 2, (full[1] - grid.shape[1]) // 2
    rows = slice(top, top + grid.shape[0], every)
    cols = slice(left, left + grid.shape[1], every)
    if axes != [0, 1]:
        if not axes:
            return (grid * kernel)[rows, cols].copy()
        sizes = [_fft().next_fast_len(full[a], True) for a in axes]
        spectrum = _fft().rfftn(grid, sizes, axes=axes) * _fft().rfftn(kernel, sizes, axes=axes)
        return _fft().irfftn(spectrum, sizes, axes=axes)[: full[0], : full[1]][rows, cols].copy()
    sizes = [_fft().next_fast_len(n, True) for n in full]
    # rfftn and irfftn in pocketfft's own steps (the same transforms, so the same bits), a block of
    # rows or columns at a time: neither the padded grid nor the kernel's padded spectrum is made whole.
    spectrum = _row_spectra(grid, sizes[1], overwrite_grid)
    kernel_rows = _fft().rfft(kernel, sizes[1], axis=1)
    kept_rows = np.empty((len(range(*rows.indices(sizes[0]))), spectrum.shape[1]), dtype=complex)
    for start in range(0, spectrum.shape[1], FFT_BLOCK):
        block = slice(start, start + FFT_BLOCK)
        columns = _fft().fft(spectrum[:, block], sizes[0], axis=0)  # rfftn's second step: down the columns
        columns *= _fft().fft(kernel_rows[:, block], sizes[0], axis=0)
        # irfftn: a complex transform down the columns, unscaled, then a real one along each kept row
        # scaled by 1 / (rows x columns) (pocketfft's c2r)
        kept_rows[:, block] = _fft().ifft(columns, axis=0, norm="forward", overwrite_x=True)[rows]
    del spectrum
    kept = _fft().irfft(kept_rows, sizes[1], axis=1, norm="forward")[:, cols]
    return kept * _pocketfft_scale(sizes[0] * sizes[1])


def _room_for_spectra(grid: np.ndarray, width: int) -> np.ndarray | None:
    """The grid's own memory as ``width`` complex values per row, if its rows are the start of rows that long."""
    owner = grid.base
    if not (isinstance(owner, np.ndarray) and owner.base is None and owner.ndim == 2 and owner.dtype == np.float64
            and owner.flags.c_contiguous and grid.dtype == np.float64 and owner.shape[0] == grid.shape[0]
            and owner.shape[1] >= 2 * width and owner.shape[1] % 2 == 0 and grid.strides == owner.strides
            and grid.ctypes.data == owner.ctypes.data):
        return None
    return owner.view(complex)[:, :width]


#: Rows or columns transformed at a time by :func:`fft_convolve_same` (a few megabytes of a city's grid).
FFT_BLOCK = 64


def _row_spectra(grid: np.ndarray, length: int, in_place: bool) -> np.ndarray:
    """``_fft().rfft(grid, length, axis=1)``, a block of rows at a time (the zero-padded copy stays small).

    ``in_place``: written over the grid where its rows have room (each block is read whole before it is written).
    """
    out = _room_for_spectra(grid, length // 2 + 1) if in_place else None
    if out is None:
        out = np.empty((grid.shape[0], length // 2 + 1), dtype=complex)
    for start in range(0, grid.shape[0], FFT_BLOCK):
        out[start:start + FFT_BLOCK] = _fft().rfft(grid[start:start + FFT_BLOCK], length, axis=1)
    return out


def _pocketfft_scale(n: int) -> float:
    """The factor pocketfft's inverse applies for ``n`` points: 1/n taken in long double, then rounded to double."""
    return float(np.longdouble(1) / np.longdouble(n))


def _convolve_rows(grid: np.ndarray, profile: np.ndarray) -> np.ndarray:
    """Each row of ``grid`` convolved with the odd-length ``profile`` ("same" size), by FFT in float32.

    Only the columns between the first and last non-zero one are transformed (the grid's margin
    of one kernel reach is empty), along the contiguous axis. float32 keeps 7 digits: its error
    (below 1e-6 of the peak) is a thousandth of the binning's.
    """
    rows, cols = grid.shape
    occupied = np.flatnonzero(grid.any(axis=0))
    out = np.zeros((rows, cols), dtype=np.float32)
    if not len(occupied):
        return out
    lo, hi = int(occupied[0]), int(occupied[-1]) + 1
    half = len(profile) // 2
    n = _fft().next_fast_len(hi - lo + 2 * half, real=True)
    spectrum = _fft().rfft(np.ascontiguousarray(grid[:, lo:hi], dtype=np.float32), n=n, axis=1)
    spectrum *= _fft().rfft(profile.astype(np.float32), n=n)
    full = _fft().irfft(spectrum, n=n, axis=1)  # column j of full is column lo - half + j of the output
    first, last = max(lo - half, 0), min(hi + half, cols)
    out[:, first:last] = full[:, first - (lo - half):last - (lo - half)]
    return out


def _gaussian_profile(bandwidth_m: float, step: float, reach: float) -> np.ndarray:
    """One axis of the Gaussian stencil: its outer product with itself is the 2-D kernel, per km².

    Truncated to a square of side 2 * reach (the kernel beyond 4 standard deviations is below
    0.04% of its peak). Linear binning blurs by a variance of step²/6 per axis: that is taken
    off the kernel's.
    """
    sigma = math.sqrt(max(bandwidth_m**2 - step**2 / 6.0, (bandwidth_m * 0.5) ** 2))
    half = math.ceil(reach / step)
    d = np.arange(-half, half + 1) * step
    return np.exp(-(d**2) / (2.0 * sigma**2)) * (1e3 / (math.sqrt(2.0 * np.pi) * sigma))
