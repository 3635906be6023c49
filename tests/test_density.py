"""Kernel density: brute-force agreement, mass, the automatic bandwidth, the GeoTIFF."""

import math

import numpy as np
import pyproj
import pytest
import rasterio
from hypothesis import given, settings
from hypothesis import strategies as st

from odgeo.density.kernel import auto_bandwidth, default_cell_size, kernel_density, kernel_values
from odgeo.io.writers import write_density_geotiff

UTM = pyproj.CRS.from_epsg(32614)

# numpy 2 renamed trapz to trapezoid; the oldest numpy odgeo allows (1.26) has only trapz.
_trapezoid = getattr(np, "trapezoid", None) or np.trapz


def _brute_force(grid, x, y):
    cx, cy = grid.cell_centres()
    total = np.zeros(cx.shape)
    for a, b in zip(x, y):
        total += kernel_values(np.hypot(cx - a, cy - b), grid.bandwidth_m, grid.kernel)
    return total


def _points(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 700, n), rng.normal(0, 500, n)


@pytest.mark.parametrize("kernel", ["quartic", "gaussian"])
@pytest.mark.parametrize("cell_fraction", [None, 0.02, 0.1, 0.25, 0.37, 0.5])
def test_matches_brute_force_within_half_a_percent_of_peak(kernel, cell_fraction):
    x, y = _points(250)
    h = 350.0
    cell = None if cell_fraction is None else h * cell_fraction
    grid = kernel_density(x, y, crs=UTM, bandwidth_m=h, cell_size_m=cell, kernel=kernel)
    ref = _brute_force(grid, x, y)
    assert np.abs(grid.values - ref).max() <= 0.005 * ref.max()


def test_kernel_integrates_to_one_per_km2():
    d = np.linspace(0, 1000, 20001)
    for kernel, h in [("quartic", 400.0), ("gaussian", 150.0)]:
        mass = _trapezoid(kernel_values(d, h, kernel) * 2 * np.pi * d, d) / 1e6
        assert abs(mass - 1) < 1e-4


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 400), st.floats(100, 800), st.integers(0, 1000))
def test_mass_is_the_number_of_points(n, h, seed):
    x, y = _points(n, seed)
    grid = kernel_density(x, y, crs=UTM, bandwidth_m=h)  # quartic: no edge loss by construction
    assert grid.mass() == pytest.approx(n, rel=2e-3)


def test_grid_covers_every_point_plus_the_bandwidth():
    x, y = _points(100)
    grid = kernel_density(x, y, crs=UTM, bandwidth_m=300.0, cell_size_m=50.0)
    west, south, east, north = grid.bounds()
    assert west <= x.min() - 300 and east >= x.max() + 300
    assert south <= y.min() - 300 and north >= y.max() + 300
    # North-up: the first row is the northernmost.
    assert grid.transform.e < 0


def test_auto_bandwidth_is_the_documented_formula():
    x, y = _points(500, seed=3)
    h, reason = auto_bandwidth(x, y)
    d = np.hypot(x - x.mean(), y - y.mean())
    sd = math.sqrt(np.mean(d**2))
    dm = np.median(d)
    assert h == pytest.approx(0.9 * min(sd, math.sqrt(1 / math.log(2)) * dm) * 500**-0.2)
    assert reason["n"] == 500


def test_default_cell_size_is_extent_over_250_capped_at_half_bandwidth():
    x, y = np.array([0.0, 5000.0]), np.array([0.0, 2000.0])
    cell, _ = default_cell_size(x, y, 400.0)
    assert cell == pytest.approx((2000 + 800) / 250)
    cell, why = default_cell_size(x, y, 10.0)
    assert cell == 5.0 and "capped" in why


def test_geotiff_has_crs_units_nodata_and_overviews(tmp_path):
    x, y = _points(300)
    grid = kernel_density(x, y, crs=UTM, bandwidth_m=400.0, cell_size_m=5.0)
    path = write_density_geotiff(grid, tmp_path / "d.tif")
    with rasterio.open(path) as src:
        assert src.crs.to_epsg() == 32614
        assert src.nodata == -9999.0
        assert src.tags()["units"] == "incidents per km²"
        assert src.overviews(1)
        data = src.read(1)
        assert np.allclose(data, grid.values.astype(np.float32))
        assert src.transform == grid.transform


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(1, 40), st.integers(0, 20), st.integers(0, 20), st.integers(0, 12),
       st.integers(0, 10_000))
def test_row_convolution_equals_direct_convolution(rows, width, left, right, half, seed):
    from scipy.signal import convolve

    from odgeo.density.kernel import _convolve_rows

    rng = np.random.default_rng(seed)
    grid = np.zeros((rows, left + width + right))
    grid[:, left:left + width] = rng.random((rows, width)) * (rng.random((rows, width)) < 0.5)
    profile = rng.random(2 * half + 1)
    want = np.array([convolve(row, profile, mode="same", method="direct") for row in grid])
    got = _convolve_rows(grid, profile)
    assert got.shape == grid.shape
    assert np.abs(got - want).max() <= 1e-5 * max(np.abs(want).max(), 1e-12)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 60), st.integers(1, 60), st.integers(0, 9), st.integers(0, 9), st.integers(1, 7),
       st.integers(0, 10_000))
def test_fft_convolution_is_scipys_bit_for_bit(rows, cols, half_r, half_c, every, seed):
    from scipy.signal import fftconvolve

    from odgeo.density.kernel import fft_convolve_same

    rng = np.random.default_rng(seed)
    grid = rng.random((rows, cols)) * (rng.random((rows, cols)) < 0.3)
    kernel = rng.random((2 * half_r + 1, 2 * half_c + 1))
    want = fftconvolve(grid, kernel, mode="same")
    assert np.array_equal(fft_convolve_same(grid, kernel), want)
    assert np.array_equal(fft_convolve_same(grid, kernel, every), want[::every, ::every])


def test_fft_convolution_of_a_large_grid_is_scipys_bit_for_bit_with_two_workers():
    """Grids the size of a city's density, transformed by two threads (as a run does), kept rows only."""
    import scipy.fft
    from scipy.signal import fftconvolve

    from odgeo.density.kernel import fft_convolve_same

    rng = np.random.default_rng(7)
    grid = rng.random((611, 743)) * (rng.random((611, 743)) < 0.05)
    kernel = rng.random((49, 49))
    with scipy.fft.set_workers(2):
        got = fft_convolve_same(grid, kernel, 6)
        want = fftconvolve(grid, kernel, mode="same")[::6, ::6]
    assert np.array_equal(got, want)


@pytest.mark.parametrize("block", [1, 5, 64])
def test_fft_convolution_in_blocks_is_scipys_bit_for_bit(monkeypatch, block):
    """Blocks of rows and columns that do not divide the grid: the same bits as one whole transform."""
    import scipy.fft
    from scipy.signal import fftconvolve

    import odgeo.density.kernel as density

    monkeypatch.setattr(density, "FFT_BLOCK", block)
    rng = np.random.default_rng(block)
    grid = rng.random((97, 131)) * (rng.random((97, 131)) < 0.2)
    kernel = rng.random((13, 13))
    want = fftconvolve(grid, kernel, mode="same")
    assert np.array_equal(density.fft_convolve_same(grid, kernel), want)
    assert np.array_equal(density.fft_convolve_same(grid, kernel, 6), want[::6, ::6])
    # in the grid's own memory, as the binned nodes are transformed (rows with room for their spectra)
    room = 2 * (scipy.fft.next_fast_len(131 + 12, True) // 2 + 1)
    for every in (1, 6):
        padded = np.zeros((97, room))
        padded[:, :131] = grid
        nodes = padded[:, :131]
        assert np.array_equal(density.fft_convolve_same(nodes, kernel, every, overwrite_grid=True),
                              want[::every, ::every])
        assert not np.array_equal(nodes, grid)  # the transform did use the grid's memory


def test_binned_nodes_have_room_for_their_spectra_and_the_same_values():
    """A quartic layout's nodes sit in rows long enough for each row's spectrum; the values are the plain binning's."""
    from odgeo.density.kernel import _linear_binning, density_layout

    rng = np.random.default_rng(3)
    x, y = rng.uniform(0, 5000, 500), rng.uniform(0, 4000, 500)
    layout = density_layout((0.0, 0.0, 5000.0, 4000.0), bandwidth_m=400.0, cell_size_m=50.0, kernel="quartic")
    nodes = layout.binned(x, y)
    n_cols, n_rows = layout.nodes
    assert nodes.shape == (n_rows, n_cols) and nodes.base.shape[1] > n_cols
    plain = _linear_binning(x, y, np.ones(500), layout.west + 25.0, layout.south + 25.0, layout.step, n_cols, n_rows)
    assert plain.base is None and np.array_equal(nodes, plain)


def test_a_quartic_density_transforms_its_nodes_in_their_own_memory(monkeypatch):
    """kernel_density's nodes have exactly the room fft_convolve_same needs: the in-place path is taken."""
    import odgeo.density.kernel as density

    taken = []
    room = density._room_for_spectra

    def recording(grid, width):
        found = room(grid, width)
        taken.append(found is not None)
        return found

    monkeypatch.setattr(density, "_room_for_spectra", recording)
    rng = np.random.default_rng(5)
    x, y = rng.uniform(0, 6000, 300), rng.uniform(0, 3000, 300)
    density.kernel_density(x, y, crs=pyproj.CRS("EPSG:32614"), bandwidth_m=500.0, cell_size_m=40.0)
    assert taken == [True]


def _four_bincounts(x, y, w, x0, y0, step, n_cols, n_rows):
    """Linear binning as four np.bincount passes (the published formula, the bits the compiled one keeps)."""
    fx, fy = (x - x0) / step, (y - y0) / step
    ix = np.clip(np.floor(fx).astype(np.int64), 0, n_cols - 2 if n_cols > 1 else 0)
    iy = np.clip(np.floor(fy).astype(np.int64), 0, n_rows - 2 if n_rows > 1 else 0)
    tx, ty = np.clip(fx - ix, 0.0, 1.0), np.clip(fy - iy, 0.0, 1.0)
    grid = np.zeros(n_rows * n_cols)
    for dy, wy in ((0, 1.0 - ty), (1, ty)):
        for dx, wx in ((0, 1.0 - tx), (1, tx)):
            r, c = np.minimum(iy + dy, n_rows - 1), np.minimum(ix + dx, n_cols - 1)
            grid += np.bincount(r * n_cols + c, weights=w * wx * wy, minlength=n_rows * n_cols)
    return grid.reshape(n_rows, n_cols)


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 400), st.integers(1, 40), st.integers(1, 40), st.floats(0.3, 50.0),
       st.booleans(), st.integers(0, 10_000))
def test_linear_binning_is_four_bincounts_bit_for_bit(n, n_cols, n_rows, step, stacked, seed):
    from odgeo.density.kernel import _linear_binning

    rng = np.random.default_rng(seed)
    # points inside the grid, on its nodes and edges, and a little outside (clipped onto it)
    x = rng.uniform(-step, (n_cols + 1) * step, n)
    y = rng.uniform(-step, (n_rows + 1) * step, n)
    if stacked and n:
        x[: n // 2], y[: n // 2] = np.round(x[: n // 2] / step) * step, y[0]  # many on nodes and one row
    w = rng.uniform(0.0, 3.0, n) * (rng.random(n) < 0.9)
    got = _linear_binning(x, y, w, 0.0, 0.0, step, n_cols, n_rows)
    assert np.array_equal(got, _four_bincounts(x, y, w, 0.0, 0.0, step, n_cols, n_rows))
    assert got.sum() == pytest.approx(w.sum())
