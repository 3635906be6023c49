"""Every product of the sample runs, byte for byte, against the hashes recorded for these library versions.

A change meant to leave the products alone (a faster reader, a compiled loop, a lazy import)
must leave every byte alone: this test fails on any difference and names the files. Hashes are
recorded per set of library versions (scripts/product_hashes.py --record), since FFT rounding,
GEOS, PROJ and fonts differ between releases. Versions with no record of their own are compared
with the nearest record: a patch release that leaves the bytes alone passes, one that changes
them fails, naming the files and the libraries whose versions differ from the record's.
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
    nearest = product_hashes.recorded(versions)
    assert nearest is not None, "no product hashes recorded; run `python scripts/product_hashes.py --record`"
    record_versions, expected = nearest
    differ = {k: f"{record_versions.get(k)} -> {v}" for k, v in versions.items() if record_versions.get(k) != v}
    hint = (f" (compared with the record for other versions: {differ}; if these releases changed the "
            "products on purpose, check them, then run `python scripts/product_hashes.py --record`)"
            if differ else "")
    got = product_hashes.product_hashes()
    changed = sorted(k for k in expected.keys() & got.keys() if expected[k] != got[k])
    assert not changed, f"products changed: {changed}{hint}"
    assert got.keys() == expected.keys(), f"files added {sorted(got.keys() - expected.keys())}, " \
                                          f"gone {sorted(expected.keys() - got.keys())}{hint}"


def test_the_nearest_record_is_the_one_sharing_most_versions(tmp_path, monkeypatch):
    record = tmp_path / "hashes.json"
    monkeypatch.setattr(product_hashes, "RECORD", record)
    assert product_hashes.recorded({"numpy": "2.4.6"}) is None
    old = {"numpy": "1.26.0", "pandas": "2.2.0", "geos": "3.11"}
    new = {"numpy": "2.4.6", "pandas": "3.1.1", "geos": "3.14"}
    product_hashes.record(old, {"a/run.json": "old"})
    product_hashes.record(new, {"a/run.json": "new"})
    assert product_hashes.recorded(old) == (old, {"a/run.json": "old"})
    patched = {**new, "pandas": "3.1.2"}
    assert product_hashes.recorded(patched) == (new, {"a/run.json": "new"})
    assert product_hashes.recorded({**old, "geos": "3.14"})[1] == {"a/run.json": "old"}
