"""House rules that keep the code base one thing: lint-clean, h3 behind the hex module, one vocabulary."""

import ast
import re
import subprocess
import sys
import tomllib
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


def test_only_the_input_source_tells_inputs_apart():
    """"A database URL? A folder or a glob?" is asked once, by incidents.source.InputSource.of."""
    askers = []
    for path in [*LIBRARY.rglob("*.py"), *(ROOT / "cli").rglob("*.py")]:
        if path.relative_to(ROOT).as_posix() in ("odgeo/incidents/source.py", "odgeo/engine/partitions.py"):
            continue  # the one place, and the planner that lists a glob's files
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func).split(".")[-1] in ("is_database_url",
                                                                                       "is_partitioned"):
                askers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not askers, "resolve the input once with InputSource.of and pass it down"


def test_the_vocabulary_and_the_defaults_import_nothing():
    # The command line's help reads both: importing them must cost nothing.
    assert _imports(LIBRARY / "vocabulary.py") <= {"__future__"}
    assert _imports(LIBRARY / "defaults.py") <= {"__future__", "dataclasses", "typing"}


def test_mypy_finds_nothing():
    done = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_exported_function_has_numpydoc_sections():
    """odgeo's exports and every package's ``__all__`` (its contract) carry Parameters and Returns."""
    import importlib
    import inspect

    from odgeo import _EXPORTS

    contracts = {f"odgeo.{name}": getattr(importlib.import_module(f"odgeo.{module}"), name)
                 for name, module in _EXPORTS.items()}
    for package in sorted(p.name for p in LIBRARY.iterdir() if (p / "__init__.py").exists()):
        module = importlib.import_module(f"odgeo.{package}")
        contracts |= {f"odgeo.{package}.{name}": getattr(module, name) for name in module.__all__}
    missing = []
    for name, obj in contracts.items():
        doc = inspect.getdoc(obj) or ""
        if inspect.isclass(obj):  # odgeo's own exports describe their fields; a package's say what they are
            enough = len(doc.splitlines()) > 1 if name.count(".") == 1 else bool(doc)
            if not (enough or issubclass(obj, Exception)):
                missing.append(name)
            continue
        if callable(obj) and not ("Parameters\n----------" in doc and "Returns\n-------" in doc):
            missing.append(name)
    assert len(contracts) > 100 and not missing, f"no numpydoc Parameters/Returns: {missing}"


# --- the layout (docs/architecture.md) ---------------------------------------------------------------

#: The shared words: what every package may use, and nothing else at the top of odgeo/.
SHARED_WORDS = {"__init__", "_exports", "_version", "arrowtext", "defaults", "errors", "h3_lattice", "hexes",
                "projection", "runrecord", "schema", "vocabulary"}
#: Layers from the top: a module imports its own package, the shared words and the layers below its own.
LAYERS = [("cli",), ("jobs",), ("maps",),
          ("density", "gistar", "clusters", "alerts", "scan", "sites", "outreach", "report", "geocode"),
          ("boundaries",), ("publish",), ("engine",), ("incidents",), ("drugs",), ("io",)]
#: The command modules of odgeo/jobs (the others are steps they share).
COMMANDS = {"alerts", "emerging", "geocode", "hotspots", "outreach", "report", "scan", "sites"}
#: ``odgeo sites`` chooses sites over the hotspots analysis and draws them on its map: the one job
#: that imports another, until that analysis lives in its stage.
COMMAND_IMPORTS_ALLOWED: set[tuple[str, str]] = set()


def _unit(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "odgeo_cli":
        return "cli"
    return parts[1] if len(parts) > 1 and (LIBRARY / parts[1]).is_dir() else "shared"


def _runtime_imports(path: Path, module: str) -> list[tuple[int, str]]:
    """Absolute names of the odgeo modules a file imports when it runs (not under ``if TYPE_CHECKING``)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(
        node.test) for n in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            names = [f"{base}.{a.name}" for a in node.names]
            found += [(node.lineno, n) for n in names if n.split(".")[0] in ("odgeo", "odgeo_cli")]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] in ("odgeo", "odgeo_cli")]
    return found


def _modules():
    for path in sorted([*LIBRARY.rglob("*.py"), *(ROOT / "cli").rglob("*.py")]):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        parts[0] = "odgeo_cli" if parts[0] == "cli" else parts[0]
        yield path, ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_the_top_level_holds_shared_words_only():
    top = {p.stem for p in LIBRARY.glob("*.py")}
    assert top == SHARED_WORDS, "a capability's module belongs in its package (docs/architecture.md)"
    packages = {p.parent.name for p in LIBRARY.glob("*/__init__.py")}
    assert packages == {u for layer in LAYERS for u in layer} - {"cli"}


def test_imports_run_down_the_layers():
    rank = {unit: i for i, layer in enumerate(LAYERS) for unit in layer} | {"shared": len(LAYERS)}
    wrong = []
    for path, module in _modules():
        unit = _unit(module)
        for line, name in _runtime_imports(path, module):
            target = _unit(name)
            if module != "odgeo" and target != unit and rank[target] <= rank[unit]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} {unit} imports {target} ({name})")
    assert not wrong, "\n".join(wrong)


def test_no_command_imports_another():
    wrong = []
    for command in COMMANDS:
        path = LIBRARY / "jobs" / f"{command}.py"
        for line, name in _runtime_imports(path, f"odgeo.jobs.{command}"):
            other = name.split(".")[2] if name.startswith("odgeo.jobs.") else None
            if other in COMMANDS and other != command and (command, other) not in COMMAND_IMPORTS_ALLOWED:
                wrong.append(f"odgeo/jobs/{command}.py:{line} imports the {other} command")
    assert not wrong, "\n".join(wrong)


#: Where an audience's policy may be read: the gate's package, each stage's public.py, and the one
#: module that puts the main job's public products together from them.
POLICY_PLACES = ("odgeo/publish/", "/public.py", "odgeo/jobs/hotspot_products.py")


def _policy_reads(path: Path) -> list[str]:
    """Audience names compared, or the gate's smallest count read, in ``path`` (settings may name min_count)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Compare):
            words = [c.value for c in [node.left, *node.comparators] if isinstance(c, ast.Constant)]
            if any(w in ("public", "restricted") for w in words):
                found.append(f"{node.lineno}: compares an audience name")
        elif isinstance(node, ast.Attribute) and node.attr in ("min_count", "limit"):
            owner = node.value.id if isinstance(node.value, ast.Name) else getattr(node.value, "attr", "")
            if owner not in ("settings", "args", "self", "options"):
                found.append(f"{node.lineno}: reads {owner}.{node.attr}")
    return found


def test_only_the_gate_and_public_modules_know_the_audiences():
    wrong = []
    for path in sorted(LIBRARY.rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        if not any(place in name for place in POLICY_PLACES):
            wrong += [f"{name}:{finding}" for finding in _policy_reads(path)]
    assert not wrong, "privacy rules belong in publish/ or a stage's public.py:\n" + "\n".join(wrong)


def test_the_policy_check_sees_a_map_that_decides_for_itself(tmp_path):
    sample = tmp_path / "summary.py"
    sample.write_text("def page(gate, n):\n    if gate.audience == 'restricted':\n        return n\n"
                      "    return n if n >= gate.min_count else None\n")
    assert _policy_reads(sample) == ["2: compares an audience name", "4: reads gate.min_count"]


#: Flags a library message may name: settings of the command line alone (sending e-mail).
CLI_ONLY_FLAGS = {"--notify", "--to", "--from"}


def _flags_in_messages(path: Path) -> list[str]:
    """Command-line flags in the errors raised and the lines logged by ``path`` (they should name settings)."""
    source = path.read_text()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        logged = isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "log"
        if name.endswith("Error") or logged:
            text = ast.get_source_segment(source, node) or ""
            found += [f"{node.lineno}: {flag}" for flag in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text)
                      if flag not in CLI_ONLY_FLAGS]
    return found


def test_library_messages_name_settings_not_flags():
    """A notebook user is told `bandwidth_m`; the command line turns it into --bandwidth (cli.main.in_flags)."""
    wrong = [f"{path.relative_to(ROOT)}:{finding}" for path in sorted(LIBRARY.rglob("*.py"))
             for finding in _flags_in_messages(path)]
    assert not wrong, "\n".join(wrong)


def test_the_message_check_sees_a_flag(tmp_path):
    sample = tmp_path / "m.py"
    sample.write_text("def f(x):\n    if x < 0:\n"
                      "        raise ParameterError(f'--bandwidth must be positive, not {x}')\n")
    assert _flags_in_messages(sample) == ["3: --bandwidth"]


def test_the_checks_see_a_wrong_import():
    """The layer check itself: an upward import and a typing-only one, in a file made here."""
    sample = ROOT / "tests" / "_layer_sample.py"
    sample.write_text("from typing import TYPE_CHECKING\nfrom ..jobs import hotspots\n"
                      "if TYPE_CHECKING:\n    from ..density import kernel\n")
    try:
        found = _runtime_imports(sample, "odgeo.publish._layer_sample")
    finally:
        sample.unlink()
    assert found == [(2, "odgeo.jobs.hotspots")]
    assert _unit("odgeo.jobs.hotspots") == "jobs" and _unit("odgeo.hexes") == "shared"


def test_every_package_is_installed():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    packages = {"odgeo", *(f"odgeo.{p.parent.name}" for p in LIBRARY.glob("*/__init__.py")), "odgeo_cli"}
    assert listed == packages


def test_each_package_names_its_contract():
    import importlib

    for init in sorted(LIBRARY.glob("*/__init__.py")):
        package = importlib.import_module(f"odgeo.{init.parent.name}")
        assert package.__doc__ and package.__all__, init
        for name in package.__all__:
            assert getattr(package, name) is not None, (init, name)
