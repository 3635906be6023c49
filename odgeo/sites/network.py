"""Walking distance along street centerlines, for coverage "within 400 m on foot".

The graph: every street line is split into pieces of at most ``step_m``
metres (shapely's segmentize) in a local metric CRS; their vertices are the
nodes (vertices within 1 cm are one node, so lines that meet join) and the
pieces are edges weighted by length. A point enters the network at its
nearest node, and the walk to it counts: the distance from a site to an
incident is (site to its node) + (shortest path) + (node to incident). Lines
that cross without sharing a vertex (a bridge over a road) do not connect,
as on foot. Points farther than ``max_snap_m`` from every street are off the
network: nothing covers them through it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyproj
import shapely
from scipy import sparse
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from ..errors import InputFileError
from ..incidents.tables import read_vector_layer

__all__ = ["StreetNetwork", "network_cover", "network_from_lines", "read_network", "straight_cover"]

_NODE_DECIMALS = 2  # vertices within 1 cm are the same node


@dataclass
class StreetNetwork:
    """Street centerlines as a graph in metres, with a k-d tree of its nodes for snapping."""

    graph: sparse.csr_matrix  # symmetric, edge lengths in metres
    nodes: np.ndarray  # (n, 2) node coordinates in ``crs``
    crs: pyproj.CRS
    tree: cKDTree
    max_snap_m: float

    @property
    def n_nodes(self) -> int:
        """Number of graph nodes."""
        return len(self.nodes)

    def snap(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest node of each point and the distance to it (inf when off the network)."""
        dist, node = self.tree.query(np.c_[x, y])
        dist = np.where(dist <= self.max_snap_m, dist, np.inf)
        return node, dist


def read_network(path, crs: pyproj.CRS, *, step_m: float = 25.0, max_snap_m: float = 150.0) -> StreetNetwork:
    """Street centerlines (any vector line file) as a walking graph in ``crs`` (metres)."""
    frame = read_vector_layer(path)
    kinds = set(frame.geometry.geom_type)
    if not kinds <= {"LineString", "MultiLineString"}:
        raise InputFileError(f"{path}: `network` needs street lines, not {', '.join(sorted(kinds))}")
    lines = frame.to_crs(crs).geometry.explode(index_parts=False)
    return network_from_lines(np.asarray(lines.values, dtype=object), crs, step_m=step_m, max_snap_m=max_snap_m)


def network_from_lines(lines, crs, *, step_m: float = 25.0, max_snap_m: float = 150.0) -> StreetNetwork:
    """A walking graph from line geometries already in a metric CRS."""
    lines = shapely.segmentize(np.asarray(lines, dtype=object), step_m)
    coords, line_of = shapely.get_coordinates(lines, return_index=True)
    if len(coords) < 2:
        raise InputFileError("the street network has no lines")
    keys = np.round(coords, _NODE_DECIMALS)
    nodes, node_of = np.unique(keys, axis=0, return_inverse=True)
    node_of = node_of.ravel()
    same_line = line_of[1:] == line_of[:-1]
    a, b = node_of[:-1][same_line], node_of[1:][same_line]
    length = np.hypot(*(coords[1:][same_line] - coords[:-1][same_line]).T)
    keep = a != b
    n = len(nodes)
    graph = sparse.coo_matrix((np.r_[length[keep], length[keep]], (np.r_[a[keep], b[keep]], np.r_[b[keep], a[keep]])),
                              shape=(n, n)).tocsr()
    graph.sum_duplicates()
    return StreetNetwork(graph, nodes, crs, cKDTree(nodes), max_snap_m)


def network_cover(network: StreetNetwork, site_xy: np.ndarray, demand_xy: np.ndarray, radius_m: float
                  ) -> sparse.csr_matrix:
    """Demand x site matrix: 1 where the walk from the site to the demand point is within the radius.

    Parameters
    ----------
    network
        The street network (metric CRS).
    site_xy, demand_xy
        (n x 2) coordinates in the network's CRS.
    radius_m
        The walking distance, in metres.

    Returns
    -------
    scipy.sparse.csr_matrix
        Demand x site.
    """
    site_node, site_snap = network.snap(site_xy[:, 0], site_xy[:, 1])
    demand_node, demand_snap = network.snap(demand_xy[:, 0], demand_xy[:, 1])
    rows, cols = [], []
    on = np.flatnonzero(np.isfinite(site_snap))
    if len(on):
        # Dijkstra from every site node at once, not farther than the radius.
        dist = dijkstra(network.graph, directed=False, indices=site_node[on], limit=radius_m)
        for k, site in enumerate(on):
            total = site_snap[site] + dist[k, demand_node] + demand_snap
            hit = np.flatnonzero(total <= radius_m)
            rows.append(hit)
            cols.append(np.full(len(hit), site))
    row_of = np.concatenate(rows) if rows else np.zeros(0, int)
    col_of = np.concatenate(cols) if cols else np.zeros(0, int)
    return sparse.csr_matrix((np.ones(len(row_of), dtype=np.int8), (row_of, col_of)),
                             shape=(len(demand_xy), len(site_xy)))


def straight_cover(site_xy: np.ndarray, demand_xy: np.ndarray, radius_m: float) -> sparse.csr_matrix:
    """Demand x site matrix: 1 where the straight-line distance is within the radius."""
    if not len(site_xy) or not len(demand_xy):
        return sparse.csr_matrix((len(demand_xy), len(site_xy)), dtype=np.int8)
    pairs = cKDTree(site_xy).query_ball_point(demand_xy, r=radius_m)
    rows = np.repeat(np.arange(len(demand_xy)), [len(p) for p in pairs])
    cols = np.fromiter((j for p in pairs for j in p), dtype=np.int64, count=len(rows))
    return sparse.csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)),
                             shape=(len(demand_xy), len(site_xy)))

