"""H3 cells of many points with one h3 call per occupied cell, not per point.

H3 puts a point on the icosahedron face whose centre is nearest, projects it gnomonically onto
that face and rounds it to the nearest centre of a regular hexagonal lattice drawn on the face
(``latLngToCell``: the face and the lattice point decide the cell). Here that is done in compiled
code for every point, with the lattice of each face measured from h3's own cell centres (nothing
of H3's tables is copied), and h3 is called once per occupied (face, lattice point) on one of its
points. A point is decided only when its face and its lattice point are clear by a margin that
covers the rounding of both computations (H3's ``acos`` of a chord is imprecise near a face
centre, so the margin grows there); the rest go to ``h3.latlng_to_cell`` one by one. The result
equals per-point calls (tests/test_hexes.py checks every point, worldwide, every resolution).
"""

from __future__ import annotations

import math
from functools import lru_cache

import h3.api.basic_int as h3i
import numba
import numpy as np

__all__ = ["MIN_RESOLUTION", "cell_index", "points_to_cells_lattice"]

#: Below this resolution a face holds too few lattice points to measure it well: h3 per point.
MIN_RESOLUTION = 2
_FACE_MARGIN = 1e-12  # in dot products of unit vectors: H3 compares squared chords, rounded otherwise
_FIT_RINGS_MAX = 64
_HALF = 1 << 25  # lattice coordinates reach about 7e6 at resolution 15


def _unit(lat_deg: float, lng_deg: float) -> np.ndarray:
    lat, lng = math.radians(lat_deg), math.radians(lng_deg)
    return np.array([math.cos(lat) * math.cos(lng), math.cos(lat) * math.sin(lng), math.sin(lat)])


@lru_cache(maxsize=1)
def _faces() -> np.ndarray:
    """The 20 face centres (unit vectors), in H3's face order.

    Each is the centre of a base cell lying on one face only, the one nearest the centroid of the
    face's three pentagons (each face holds four such base cells; the middle one is at its centre).
    """
    base = h3i.get_res0_cells()
    pentagons = [c for c in base if h3i.is_pentagon(c)]
    centres = np.zeros((20, 3))
    for face in range(20):
        corners = [_unit(*h3i.cell_to_latlng(p)) for p in pentagons if face in h3i.get_icosahedron_faces(p)]
        middle = np.sum(corners, axis=0)
        middle /= np.linalg.norm(middle)
        inside = [c for c in base if h3i.get_icosahedron_faces(c) == [face] and not h3i.is_pentagon(c)]
        best = max(inside, key=lambda c: float(_unit(*h3i.cell_to_latlng(c)) @ middle))
        centres[face] = _unit(*h3i.cell_to_latlng(best))
    return centres


def _tangent_axes(centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two orthonormal vectors in the plane touching the sphere at ``centre``."""
    helper = np.array([0.0, 0.0, 1.0]) if abs(centre[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    u = np.cross(helper, centre)
    u /= np.linalg.norm(u)
    return u, np.cross(centre, u)


@lru_cache(maxsize=16)
def _lattices(resolution: int) -> np.ndarray:
    """The table of the faces' lattices at ``resolution``, shape (20, 20), filled as points need faces.

    Per face: centre (3), tangent axes u, v (3 + 3), lattice basis e1, e2 at 60 degrees in the
    gnomonic plane (2 + 2), the basis' relative error (1: NaN until the face is measured by
    :func:`_measure_face`, inf where its lattice does not fit), the inverse of the basis (4), the
    lattice spacing and its inverse (2).
    """
    out = np.zeros((20, 20))
    out[:, :3] = _faces()
    out[:, 13] = np.nan
    return out


def _measure_face(table: np.ndarray, face: int, resolution: int) -> None:
    """Fill ``face``'s row of ``table`` from the centres of the cells a few rings around the face centre."""
    centre = table[face, :3]
    u, v = _tangent_axes(centre)
    rings = int(min(_FIT_RINGS_MAX, max(1, 0.25 * math.sqrt(7.0) ** resolution)))
    origin = h3i.latlng_to_cell(*np.degrees([math.asin(centre[2]), math.atan2(centre[1], centre[0])]), resolution)
    cells = h3i.grid_ring(origin, rings)
    ij = np.array([h3i.cell_to_local_ij(origin, c) for c in cells], dtype=float)
    points = np.array([_unit(*h3i.cell_to_latlng(c)) for c in cells])
    plane = np.c_[points @ u, points @ v] / (points @ centre)[:, None]
    basis, *_ = np.linalg.lstsq(ij, plane, rcond=None)  # the origin cell's centre is the face centre
    e1, e2 = basis[0], basis[1]
    if e1 @ e2 < 0:  # 120 degrees apart: make it 60 (the hexagon rounding expects that)
        e2 = e1 + e2
    spacing = float(np.linalg.norm(e1))
    residual = float(np.abs(ij @ basis - plane).max())
    regular = abs(np.linalg.norm(e2) / spacing - 1) < 1e-9 and abs((e1 @ e2) / spacing**2 - 0.5) < 1e-9
    error = max(residual / (rings * spacing), 1e-15) if regular else math.inf
    inverse = np.linalg.inv(np.array([e1, e2]).T)  # (a, b) = inverse @ (gx, gy)
    table[face] = [*centre, *u, *v, *e1, *e2, error, *inverse.ravel(), spacing, 1.0 / spacing]


@lru_cache(maxsize=1)
def _face_neighbours() -> np.ndarray:
    """Each face's three edge neighbours: a point is on face f when f's centre is nearer than theirs."""
    centres = _faces()
    near = centres @ centres.T
    np.fill_diagonal(near, -2.0)
    return np.ascontiguousarray(np.argsort(-near, axis=1)[:, :3])


@numba.njit(cache=True)
def _sin_cos(angle, ref, sin_ref, cos_ref):
    """Sine and cosine of ``angle``, from those of a nearby ``ref`` when it is within a quarter radian.

    Taylor series of the difference (rounding-level error there), else libm: most points of one
    file are near each other.
    """
    d = angle - ref
    if abs(d) >= 0.25:
        return math.sin(angle), math.cos(angle)
    d2 = d * d
    sd = d * (1 - d2 / 6 * (1 - d2 / 20 * (1 - d2 / 42 * (1 - d2 / 72 * (1 - d2 / 110 * (1 - d2 / 156))))))
    cd = 1 - d2 / 2 * (1 - d2 / 12 * (1 - d2 / 30 * (1 - d2 / 56 * (1 - d2 / 90 * (1 - d2 / 132)))))
    return sin_ref * cd + cos_ref * sd, cos_ref * cd - sin_ref * sd


@numba.njit(cache=True)
def _nearest_face(x, y, z, table, neighbours, hint):
    """The face whose centre is nearest and how much nearer it is than the next (dot products)."""
    for attempt in range(2):
        face = hint
        if attempt == 1:  # the last point's face is not this one's: all twenty
            best = -2.0
            for f in range(20):
                d = x * table[f, 0] + y * table[f, 1] + z * table[f, 2]
                if d > best:
                    best, face = d, f
        best = x * table[face, 0] + y * table[face, 1] + z * table[face, 2]
        second = -2.0
        for k in range(3):
            g = neighbours[face, k]
            second = max(second, x * table[g, 0] + y * table[g, 1] + z * table[g, 2])
        if best > second:
            return face, best, best - second
    return face, best, best - second


@numba.njit(cache=True, fastmath={"contract", "arcp", "reassoc", "nsz"})
def _face_keys(lon, lat, table, neighbours, keys):
    """Per point: face, then the lattice point's two coordinates in 26 bits each, or -1 where h3 must decide."""
    n = lon.shape[0]
    lo0, la0 = math.radians(lon[0]), math.radians(lat[0])
    slo0, clo0, sla0, cla0 = math.sin(lo0), math.cos(lo0), math.sin(la0), math.cos(la0)
    face = 0
    for p in range(n):
        sla, cla = _sin_cos(math.radians(lat[p]), la0, sla0, cla0)
        slo, clo = _sin_cos(math.radians(lon[p]), lo0, slo0, clo0)
        x, y, z = cla * clo, cla * slo, sla
        face, best, clear = _nearest_face(x, y, z, table, neighbours, face)
        if clear < _FACE_MARGIN:
            keys[p] = -1
            continue
        if math.isnan(table[face, 13]):  # the face's lattice is not measured yet
            keys[p] = -2 - face
            continue
        inv_best = 1.0 / best
        gx = (x * table[face, 3] + y * table[face, 4] + z * table[face, 5]) * inv_best
        gy = (x * table[face, 6] + y * table[face, 7] + z * table[face, 8]) * inv_best
        a = table[face, 14] * gx + table[face, 15] * gy  # lattice coordinates: (gx, gy) = a * e1 + b * e2
        b = table[face, 16] * gx + table[face, 17] * gy
        # nearest lattice point (cube rounding of axial coordinates, basis 60 degrees apart)
        c = -a - b
        ra, rb, rc = math.floor(a + 0.5), math.floor(b + 0.5), math.floor(c + 0.5)
        da, db, dc = abs(ra - a), abs(rb - b), abs(rc - c)
        if da > db and da > dc:
            ra = -rb - rc
        elif db > dc:
            rb = -ra - rc
        # distance from the lattice point's hexagon edge along e1, e2 and e1 - e2 (gnomonic units)
        px = (a - ra) * table[face, 9] + (b - rb) * table[face, 11]
        py = (a - ra) * table[face, 10] + (b - rb) * table[face, 12]
        p1 = abs(px * table[face, 9] + py * table[face, 10])
        p2 = abs(px * table[face, 11] + py * table[face, 12])
        p3 = abs(px * (table[face, 9] - table[face, 11]) + py * (table[face, 10] - table[face, 12]))
        margin = 0.5 * table[face, 18] - max(p1, p2, p3) * table[face, 19]
        # H3 takes the distance from the face centre as acos of a chord: imprecise near the centre
        # (1 / sin(atan(r)) <= (1 + r^2) / r)
        r2 = gx * gx + gy * gy
        radius = math.sqrt(r2)
        slack = 1e-13 + 1e-14 * (1.0 + r2) * (1.0 + r2) / max(radius, 1e-300) + 10.0 * radius * table[face, 13]
        if not margin > slack:
            keys[p] = -1
            continue
        keys[p] = (face << 52) + ((int(ra) + _HALF) << 26) + (int(rb) + _HALF)


@numba.njit(cache=True)
def _dense_slots(keys, limit):
    """Distinct keys numbered in order of first appearance, through a table over their range.

    Only when the table has at most ``limit`` entries (else the first value is False). Returns each
    point's slot (-1 undecided) and each slot's first point.
    """
    n = keys.shape[0]
    lo_f, hi_f, lo_a, hi_a, lo_b, hi_b = 1 << 62, -1, 1 << 62, -1, 1 << 62, -1
    mask = (1 << 26) - 1
    for p in range(n):
        k = keys[p]
        if k >= 0:
            f, a, b = k >> 52, (k >> 26) & mask, k & mask
            lo_f, hi_f = min(lo_f, f), max(hi_f, f)
            lo_a, hi_a = min(lo_a, a), max(hi_a, a)
            lo_b, hi_b = min(lo_b, b), max(hi_b, b)
    slots = np.full(n, -1, dtype=np.int64)
    if hi_f < 0:
        return True, slots, np.zeros(0, dtype=np.int64)
    wa, wb = hi_a - lo_a + 1, hi_b - lo_b + 1
    size = (hi_f - lo_f + 1) * wa * wb
    if size > limit:
        return False, slots, np.zeros(0, dtype=np.int64)
    table = np.full(size, -1, dtype=np.int64)
    first = np.empty(n, dtype=np.int64)
    count = 0
    for p in range(n):
        k = keys[p]
        if k >= 0:
            i = ((k >> 52) - lo_f) * wa * wb + (((k >> 26) & mask) - lo_a) * wb + ((k & mask) - lo_b)
            if table[i] < 0:
                table[i] = count
                first[count] = p
                count += 1
            slots[p] = table[i]
    return True, slots, first[:count]


def points_to_cells_lattice(lon: np.ndarray, lat: np.ndarray, resolution: int) -> np.ndarray:
    """The H3 cell of each point (finite coordinates, degrees), equal to ``h3.latlng_to_cell`` on each."""
    codes, index = cell_index(lon, lat, resolution)
    return codes[index]


def cell_index(lon: np.ndarray, lat: np.ndarray, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(cells, return_inverse=True)`` of the points' H3 cells, without sorting the points.

    The distinct cells (sorted uint64) and each point's position among them.
    """
    lon = np.ascontiguousarray(lon, dtype=np.float64)
    lat = np.ascontiguousarray(lat, dtype=np.float64)
    slots = np.arange(len(lon), dtype=np.int64)
    cells = np.zeros(0, dtype=np.uint64)
    todo = slots
    if resolution >= MIN_RESOLUTION and len(lon):
        keys = _keys(lon, lat, resolution)
        known = keys >= 0
        slots, first = _key_slots(keys, known)
        cells = np.array([h3i.latlng_to_cell(lat[i], lon[i], resolution) for i in first.tolist()], dtype=np.uint64)
        todo = np.flatnonzero(~known)
        slots[todo] = len(cells) + np.arange(len(todo))
    alone = np.array([h3i.latlng_to_cell(lat[i], lon[i], resolution) for i in todo.tolist()], dtype=np.uint64)
    # two keys can name one cell (a cell across a face edge): distinct cells from the few per key
    codes, of_slot = np.unique(np.concatenate([cells, alone]), return_inverse=True)
    return codes, of_slot.reshape(-1)[slots]


def _key_slots(keys: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each point's distinct key number (-1 where unknown) and each number's first point."""
    dense, slots, first = _dense_slots(keys, 4 * len(keys) + (1 << 20))
    if not dense:  # points spread over a continent or more: sort the keys instead
        _, first_known, slots_known = np.unique(keys[known], return_index=True, return_inverse=True)
        first = np.flatnonzero(known)[first_known]
        slots = np.full(len(keys), -1, dtype=np.int64)
        slots[known] = slots_known.reshape(-1)
    return slots, first


def _keys(lon: np.ndarray, lat: np.ndarray, resolution: int) -> np.ndarray:
    """Each point's key (face and lattice point), -1 where h3 must decide; faces measured as points need them."""
    table = _lattices(resolution)
    keys = np.empty(len(lon), dtype=np.int64)
    _face_keys(lon, lat, table, _face_neighbours(), keys)
    waiting = keys <= -2
    if waiting.any():
        for face in np.unique(-2 - keys[waiting]).tolist():
            _measure_face(table, face, resolution)
        again = np.flatnonzero(waiting)
        redo = np.empty(len(again), dtype=np.int64)
        _face_keys(lon[again], lat[again], table, _face_neighbours(), redo)
        keys[again] = redo
    return keys
