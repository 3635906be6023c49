"""Every product of the sample runs, byte for byte, against the hashes recorded for these library versions.

A change meant to leave the products alone (a faster reader, a compiled loop, a lazy import)
must leave every byte alone: this test fails on any difference and names the files. Hashes are
recorded per set of library versions (scripts/product_hashes.py --record), since FFT rounding,
GEOS, PROJ and fonts differ between releases; versions with no record fail too, saying so.
"""

from __future__ import annotations

import importlib.util

from .conftest import ROOT

_spec = importlib.util.spec_from_file_location("product_hashes", ROOT / "scripts" / "product_hashes.py")
assert _spec is not None and _spec.loader is not None
product_hashes = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(product_hashes)


def test_every_sample_product_is_byte_identical_to_the_record():
    versions = product_hashes.environment()
    expected = product_hashes.recorded(versions)
    assert expected is not None, (
        "no product hashes recorded for these library versions: "
        f"{versions}; check the products, then run `python scripts/product_hashes.py --record`")
    got = product_hashes.product_hashes()
    changed = sorted(k for k in expected.keys() & got.keys() if expected[k] != got[k])
    assert not changed, f"products changed: {changed}"
    assert got.keys() == expected.keys(), f"files added {sorted(got.keys() - expected.keys())}, " \
                                          f"gone {sorted(expected.keys() - got.keys())}"
