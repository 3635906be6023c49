"""House rules that keep the code base one thing: lint-clean, h3 behind the hex module, one vocabulary."""

import ast
import subprocess
import sys
from pathlib import Path

import odgeo

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = Path(odgeo.__file__).parent


def test_ruff_finds_nothing():
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "odgeo", "cli", "tests", "benchmarks", "scripts"],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_only_the_hex_module_touches_h3():
    """hexes.py, and h3_lattice.py (its point-to-cell assignment), which nothing else imports."""
    users = sorted(p.name for p in LIBRARY.rglob("*.py") if any(n.split(".")[0] == "h3" for n in _imports(p)))
    assert users == ["h3_lattice.py", "hexes.py"]
    lattice_users = sorted(p.name for p in LIBRARY.rglob("*.py")
                           if "h3_lattice" in p.read_text() and p.name != "h3_lattice.py")
    assert lattice_users == ["hexes.py"]


def test_choices_live_in_the_vocabulary_only():
    """No module defines its own tuple of choice words: they come from odgeo.vocabulary."""
    from odgeo import vocabulary

    words = {getattr(vocabulary, name) for name in vocabulary.__all__}
    for path in [*LIBRARY.rglob("*.py"), *(ROOT / "cli").rglob("*.py")]:
        if path.name == "vocabulary.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Tuple) and all(isinstance(e, ast.Constant) for e in node.elts):
                value = tuple(e.value for e in node.elts)
                assert value not in words, f"{path.name}:{node.lineno} repeats {value}"


def test_the_vocabulary_imports_nothing():
    assert _imports(LIBRARY / "vocabulary.py") <= {"__future__"}


def test_mypy_finds_nothing():
    done = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_exported_function_has_numpydoc_sections():
    import importlib
    import inspect

    from odgeo import _EXPORTS

    for name, module in _EXPORTS.items():
        obj = getattr(importlib.import_module(f"odgeo.{module}"), name)
        doc = inspect.getdoc(obj) or ""
        if inspect.isclass(obj):
            assert len(doc.splitlines()) > 1 or issubclass(obj, Exception), name
            continue
        assert "Parameters\n----------" in doc and "Returns\n-------" in doc, name
