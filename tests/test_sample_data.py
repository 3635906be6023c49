"""The committed sample city is exactly what its seeded generator makes."""

import subprocess
import sys

from .conftest import SAMPLE


def test_generator_reproduces_the_committed_files_byte_for_byte(tmp_path):
    subprocess.run([sys.executable, str(SAMPLE / "generate.py"), str(tmp_path)], check=True)
    made = sorted(p.name for p in tmp_path.iterdir())
    assert made == sorted(p.name for p in SAMPLE.iterdir() if p.suffix in (".csv", ".geojson", ".json"))
    for name in made:
        assert (tmp_path / name).read_bytes() == (SAMPLE / name).read_bytes(), name


def test_sample_is_small_and_labelled_synthetic():
    total = sum(p.stat().st_size for p in SAMPLE.iterdir())
    assert total < 4_000_000
    assert "synthetic" in (SAMPLE / "README.md").read_text().lower()
