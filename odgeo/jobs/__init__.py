"""The commands: one module each (hotspots, emerging, sites, geocode), and the steps they share.

Each command reads (:mod:`odgeo.jobs.common`), analyses with the concept modules of
:mod:`odgeo`, hands the result to the publishing gate (:mod:`odgeo.publish.restricted`) and
writes through :class:`odgeo.io.outputs.OutputFolder`.
"""
