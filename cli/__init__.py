"""odgeo's command line (installed as ``odgeo_cli``, console script ``odgeo``)."""
