"""The products of ``odgeo hotspots`` for the gate's audience, put together from each stage's ``public.py``."""

from __future__ import annotations

from ..boundaries.public import public_boundaries
from ..clusters.public import cluster_layer
from ..density.public import area_hotspots, public_density
from ..gistar.public import area_gistar, public_gi_plan
from ..hexes import cell_ints, cell_resolution, cell_strs
from ..publish.areas import SPREAD_LEVELS, coarse_extent, spread_counts
from ..publish.gate import Gate, HotspotLayers, Products
from ..publish.privacy import COARSEN_LEVELS
from ..publish.public import PublicGate
from ..publish.restricted import RestrictedGate

__all__ = ["hotspot_products"]


def hotspot_products(gate: Gate, layers: HotspotLayers) -> Products:
    """The main job's products as the gate's audience may see them.

    Parameters
    ----------
    gate
        :class:`~odgeo.publish.restricted.RestrictedGate`: every layer in full, with
        incident points (displaced when asked). :class:`~odgeo.publish.public.PublicGate`:
        the published areas and the layers made from them alone.
    layers
        The analysis (counts, density, hot spots, clusters, Gi*, boundary counts).

    Returns
    -------
    Products
        What may be written and drawn.
    """
    if isinstance(gate, PublicGate):
        return _public(gate, layers)
    if isinstance(gate, RestrictedGate):
        return _restricted(gate, layers)
    raise TypeError(f"no hot spot products for a {type(gate).__name__}")


def _restricted(gate: RestrictedGate, layers: HotspotLayers) -> Products:
    points, privacy = gate.point_layer(layers.incidents)
    clusters, _ = cluster_layer(gate, layers.clusters, layers.eps_m)
    return gate.label(Products(gate.audience, layers.hexes, layers.grid, layers.hotspots, clusters, points=points,
                               cluster_method=layers.cluster_method, privacy=privacy, areas=layers.areas,
                               gistar=layers.gistar.frame))


def _public(gate: PublicGate, layers: HotspotLayers) -> Products:
    """Published areas, and the density, hot spots, Gi* and clusters made from them alone."""
    m = gate.limit
    areas = gate.areas_for(layers.counts)
    kept, shown, hidden = gate.published_areas(areas, layers.counts)
    cells_of = {cell_strs([a.key])[0]: sorted(a.cells()) for a in areas}
    resolution = cell_resolution(int(cell_ints(layers.counts.index)[0])) if len(layers.counts) else 8
    spread = spread_counts(kept, cells_of, resolution, layers.grid.crs)
    grid = public_density(gate, layers.grid, spread)
    spots = area_hotspots(grid, spread, layers.percentile, m)
    clusters, cluster_rule = cluster_layer(gate, layers.clusters, layers.eps_m)
    gistar, gi_settings = area_gistar(kept, cells_of, public_gi_plan(gate, layers.gi_plan))
    shown_areas, areas_note = public_boundaries(gate, layers.areas)
    coarsest = max(0, resolution - COARSEN_LEVELS)
    privacy = {
        "audience": gate.audience, "min_count": m,
        "hexes": {"n_published": len(shown), "n_merged_areas": int(shown["merged"].sum()),
                  "coarsest_resolution": coarsest,
                  "breakdowns_hidden": {k: v["hidden"] + v["hidden_to_protect_others"] for k, v in hidden.items()},
                  "rule": f"H3 cells merged upwards until each area holds {m}; what is still fewer is not shown"},
        "density": {"made_from": f"the published area counts, each spread evenly over its H3 cells "
                                 f"(res {resolution + SPREAD_LEVELS}); no incident location is used",
                    "bandwidth_m": grid.bandwidth_m, "cell_size_m": grid.cell_size_m},
        "hotspots": {"n_shown": len(spots), "rule": f"from the public density; fewer than {m} incidents "
                                                   "(estimated from the published counts) are left out"},
        "clusters": {"n_shown": len(clusters), "rule": cluster_rule},
        "gistar": gi_settings,
        "points": "none (public products carry no incident locations)",
        "ledger": gate.ledger_note(),
    }
    if areas_note:
        privacy["areas"] = areas_note
    products = Products(gate.audience, shown, grid, spots, clusters, cluster_method=layers.cluster_method,
                        privacy=privacy, extent=coarse_extent(shown, coarsest), areas=shown_areas, gistar=gistar)
    return gate.label(products)
