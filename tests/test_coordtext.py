import doctest

import numpy as np
import pandas as pd

import odgeo.incidents.coordtext as coordtext
from odgeo.incidents.coordtext import looks_like_locations, parse_location_text


def test_doctests():
    assert doctest.testmod(coordtext).failed == 0


def test_shapes_of_location_text():
    lon, lat = parse_location_text(pd.Series([
        "(41.575155, -72.738288)", "41.3,-72.9", "point z (-72.9 41.3 12)", "NEW HAVEN, CT\n(41.30, -72.92)",
        "Residence", "", "(41.3)",
    ]))
    assert np.allclose(lon[:4], [-72.738288, -72.9, -72.9, -72.92])
    assert np.allclose(lat[:4], [41.575155, 41.3, 41.3, 41.30])
    assert np.isnan(lon[4:]).all()


def test_looks_like_locations_needs_most_values():
    assert looks_like_locations(pd.Series(["(1, 2)", "(3, 4)", ""]))
    assert not looks_like_locations(pd.Series(["Hospital", "Residence", "(3, 4)"]))
