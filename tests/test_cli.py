"""The command line: exit codes, stdout holds only the summary, help, config."""

import json
import re
import subprocess
import sys

import click
from click.testing import CliRunner
from odgeo_cli import options
from odgeo_cli.main import cli

from odgeo import schema
from odgeo.density import kernel as density
from odgeo.maps import webmap

from .conftest import SAMPLE, message_lines

INPUT = str(SAMPLE / "incidents.csv")


def _run(*args):
    return CliRunner().invoke(cli, list(args))


def test_hotspots_writes_and_summarises(tmp_path):
    out = tmp_path / "res"
    result = _run("hotspots", INPUT, "--out", str(out), "--timezone", "America/Chicago", "--bandwidth", "400")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == f"Map: {out / 'map.html'}"
    assert "5,045 rows: 3,984 used, 1,053 without coordinates, 8 rejected" in result.stdout
    record = json.loads((out / "run.json").read_text())
    assert record["parameters"]["bandwidth_m"] == {"value": 400.0, "source": "given"}


def test_non_empty_out_is_exit_1_with_one_line(tmp_path):
    (tmp_path / "x").write_text("")
    result = _run("hotspots", INPUT, "--out", str(tmp_path))
    assert result.exit_code == 1
    assert len(message_lines(result.stderr)) == 1 and message_lines(result.stderr)[0].startswith("Error:")
    assert "--overwrite" in result.stderr


def test_usage_errors_are_exit_2(tmp_path):
    assert _run("hotspots", INPUT, "--out", str(tmp_path / "o"), "--bandwidth", "-3").exit_code == 2
    assert _run("hotspots", INPUT, "--out", str(tmp_path / "o"), "--kernel", "box").exit_code == 2
    assert _run("hotspots", INPUT, "--out", str(tmp_path / "o"), "--outcome", "dead").exit_code == 2
    assert _run("hotspots", "missing.csv", "--out", str(tmp_path / "o")).exit_code == 2


def test_bad_column_names_the_column(tmp_path):
    result = _run("hotspots", INPUT, "--out", str(tmp_path / "o"), "--lon-col", "LONG_X")
    assert result.exit_code == 1 and "'LONG_X'" in result.stderr and "Traceback" not in result.stderr


def test_vv_shows_the_traceback(tmp_path):
    (tmp_path / "x").write_text("")
    result = _run("-vv", "hotspots", INPUT, "--out", str(tmp_path))
    assert result.exit_code == 1 and "Traceback" in result.stderr


def test_config_file_sets_options_and_command_line_wins(tmp_path):
    cfg = tmp_path / "s.toml"
    cfg.write_text('[hotspots]\nbandwidth = "350"\ntimezone = "America/Chicago"\nresolution = 7\n')
    out = tmp_path / "o"
    result = _run("hotspots", INPUT, "--out", str(out), "--config", str(cfg), "--resolution", "9")
    assert result.exit_code == 0, result.output
    params = json.loads((out / "run.json").read_text())["parameters"]
    assert params["bandwidth_m"]["value"] == 350.0 and params["resolution"]["value"] == 9
    assert params["timezone"]["value"] == "America/Chicago"
    cfg.write_text("bandwith = 3\n")
    assert _run("hotspots", INPUT, "--out", str(tmp_path / "p"), "--config", str(cfg)).exit_code == 2


def test_help_and_version():
    assert "Example" in _run("--help").output
    page = _run("hotspots", "--help").output
    assert "odgeo hotspots incidents.csv --out results/" in page and "--bandwidth" in page
    assert _run("--version").output.strip().endswith("0.1.0")


def test_cli_choices_are_the_library_vocabulary():
    from odgeo import vocabulary

    assert options.AUDIENCES is vocabulary.AUDIENCES is webmap.AUDIENCES
    assert vocabulary.KERNELS is density.KERNELS
    assert options.OUTCOMES is vocabulary.OUTCOMES is schema.OUTCOMES
    # Every choice offered on the command line is one of the library's tuples.
    tuples = {getattr(vocabulary, name) for name in vocabulary.__all__}
    for command in cli.commands.values():
        for param in command.params:
            if isinstance(param.type, click.Choice):
                assert tuple(param.type.choices) in tuples, (command.name, param.name)


#: Options that are not a setting of the library: where to write, how to run, whom to tell.
CLI_ONLY = {"input_path", "out_dir", "overwrite", "config", "notify", "recipients", "sender", "verbose", "quiet",
            "lon_col", "lat_col", "date_col", "id_col", "outcome_col", "location_col", "drug_col",  # -> columns
            "mask_points", "mask_seed", "population", "population_col"}  # refused where no points are drawn


def test_every_option_is_named_after_its_setting():
    """One spelling: an option's name is its settings field, so no command maps options by hand."""
    import dataclasses

    from odgeo.jobs.alerts import AlertSettings
    from odgeo.jobs.emerging import EmergingSettings
    from odgeo.jobs.hotspots import HotspotSettings
    from odgeo.jobs.outreach import OutreachSettings
    from odgeo.jobs.scan import ScanJobSettings
    from odgeo.jobs.sites import SitesSettings

    settings = {"hotspots": [HotspotSettings], "emerging": [EmergingSettings], "alerts": [AlertSettings],
                "scan": [ScanJobSettings], "sites": [SitesSettings, HotspotSettings], "outreach": [OutreachSettings]}
    wrong = []
    for command, classes in settings.items():
        fields = {f.name for cls in classes for f in dataclasses.fields(cls)}
        wrong += [f"odgeo {command} {p.opts[0]} ({p.name})" for p in cli.commands[command].params
                  if p.name not in fields | CLI_ONLY]
    assert not wrong, f"options that are not a setting's name: {wrong}"


def test_library_errors_name_settings_and_the_command_line_names_flags(tmp_path):
    """A notebook is told `bandwidth_m`; the terminal is told --ledger and --audience, in its own words."""
    import pytest

    from odgeo.errors import ParameterError
    from odgeo.jobs.hotspots import HotspotSettings, run_hotspots

    with pytest.raises(ParameterError, match="`bandwidth_m` must be a positive number of metres"):
        run_hotspots(SAMPLE / "incidents.csv", tmp_path / "lib", HotspotSettings(timezone="UTC", bandwidth_m=-1))
    result = CliRunner().invoke(cli, ["hotspots", str(SAMPLE / "incidents.csv"), "--out", str(tmp_path / "cli"),
                                      "--audience", "restricted", "--ledger", str(tmp_path / "ledger.json")])
    assert result.exit_code == 2
    assert "Error: --ledger applies to --audience public" in result.output and "`" not in result.output
    from odgeo_cli.main import in_flags

    assert in_flags('give `columns["longitude"]` and `out_dir`; `no_such_setting`') == \
        "give --lon-col and --out; `no_such_setting`"


def test_settings_from_takes_each_setting_by_name():
    from odgeo.jobs.hotspots import HotspotSettings

    given = {"bandwidth_m": 400.0, "outcomes": ("fatal",), "lon_col": "X", "blocksize": 2, "reference": ["a.csv"]}
    made = options.settings_from(HotspotSettings, given)
    assert made.bandwidth_m == 400.0 and made.outcomes == ("fatal",) and made.columns["longitude"] == "X"
    assert made.blocksize == 2 * 1024 * 1024 and made.reference == ("a.csv",)
    assert "bandwidth_m" not in given  # taken out, so nothing is read twice


def test_console_script_is_installed_and_help_does_not_import_the_library():
    code = "import sys; from odgeo_cli.main import cli; print('odgeo.jobs.hotspots' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    done = subprocess.run([sys.executable, "-m", "odgeo_cli", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and "0.1.0" in done.stdout


def test_library_never_imports_click_prints_or_exits():
    # rasterio imports click itself, so the rule is checked on our source.
    import ast
    from pathlib import Path

    import odgeo

    for path in Path(odgeo.__file__).parent.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                assert not any(n.split(".")[0] == "click" for n in names), path
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id != "print", f"{path}:{node.lineno}"
            if isinstance(node, ast.Attribute) and node.attr == "exit":
                assert getattr(node.value, "id", "") != "sys", f"{path}:{node.lineno}"


def test_audience_options_reach_the_run(tmp_path):
    out = tmp_path / "r"
    result = CliRunner().invoke(cli, ["hotspots", str(SAMPLE / "incidents.csv"), "--out", str(out),
                                      "--timezone", "America/Chicago", "--audience", "restricted",
                                      "--mask-points", "40,200", "--mask-seed", "5",
                                      "--population", str(SAMPLE / "neighbourhoods.geojson")])
    assert result.exit_code == 0, result.output
    assert "RESTRICTED (exact counts and incident locations; do not share); points displaced 40-200 m" \
        in result.output
    record = json.loads((out / "run.json").read_text())
    assert record["parameters"]["mask_points_m"]["value"] == [40.0, 200.0]
    assert record["privacy"]["geomask"]["seed"] == 5
    # The same folder passed to the leak scanner is reported, with exit 1.
    scan = CliRunner().invoke(cli, ["leakscan", str(out), str(SAMPLE / "incidents.csv"),
                                    "--timezone", "America/Chicago"])
    assert scan.exit_code == 1 and "identifier" in scan.output


def test_min_count_and_a_clean_leakscan(tmp_path):
    out = tmp_path / "p"
    result = CliRunner().invoke(cli, ["hotspots", str(SAMPLE / "incidents.csv"), "--out", str(out),
                                      "--timezone", "America/Chicago", "--min-count", "25"])
    assert result.exit_code == 0, result.output
    assert "Audience: public (aggregates only)" in result.output
    scan = CliRunner().invoke(cli, ["leakscan", str(out), str(SAMPLE / "incidents.csv"), "--min-count", "25",
                                    "--timezone", "America/Chicago", "--identifying-col", "narrative",
                                    "--identifying-col", "address"])
    assert scan.exit_code == 0, scan.output
    assert scan.output.strip() == f"0 finding(s) in {out}"


def test_mask_points_with_public_audience_is_one_line(tmp_path):
    result = CliRunner().invoke(cli, ["hotspots", str(SAMPLE / "incidents.csv"), "--out", str(tmp_path / "x"),
                                      "--mask-points", "50,300"])
    assert result.exit_code == 2  # options that cannot go together: a usage error
    assert result.output.strip().splitlines() == [
        "Error: --mask-points applies to --audience restricted: public products carry no points to displace"]


#: run.json names of settings whose flag says something else.
_RECORDED_AS = {"percentile": "hotspot_percentile", "gi_permutations": "permutations"}
_HELP_DEFAULT = re.compile(r"\(default ([^\s;:)]*[^\s,;:)])")


def _help_defaults(command: click.Command) -> dict[str, str]:
    """Each option's default as its help text states it: {setting name: "100"}."""
    found = {}
    for param in command.params:
        match = _HELP_DEFAULT.search(getattr(param, "help", None) or "")
        if match and param.name:
            found[_RECORDED_AS.get(param.name, param.name)] = match.group(1)
    return found


def test_help_states_the_defaults_a_run_records(tmp_path):
    # What --help says a default is against what a run with no such option recorded as its
    # default in run.json: the two may not drift apart.
    sample, tz = str(SAMPLE / "incidents.csv"), ("--timezone", "America/Chicago", "--tiles", "none")
    runs = {
        "hotspots": [],
        "alerts": ["--scan"],
        "scan": [],
        "emerging": [],
        "sites": ["--candidates", str(SAMPLE / "candidate_sites.csv")],
        "outreach": [],
    }
    checked = set()
    for name, extra in runs.items():
        out = tmp_path / name
        result = CliRunner().invoke(cli, [name, sample, "--out", str(out), *tz, *extra])
        assert result.exit_code == 0, result.output
        recorded = json.loads((out / "run.json").read_text())["parameters"]
        for setting, stated in _help_defaults(cli.commands[name]).items():
            entry = recorded.get(setting)
            if entry is None or entry["source"] != "default":
                continue
            value = entry["value"]
            if setting == "ears_z":  # recorded per method; the flag sets C1 and C2
                value = value["c1"]
            shown = ",".join(value) if isinstance(value, list) else f"{value:g}" if isinstance(value, float) else value
            assert stated == str(shown), (name, setting)
            checked.add((name, setting))
    assert {("hotspots", "eps_m"), ("hotspots", "hotspot_percentile"), ("alerts", "ears_min_sd"),
            ("alerts", "scan_max_p"), ("scan", "max_radius_m"), ("scan", "report_p"), ("emerging", "resolution"),
            ("sites", "radius_m"), ("hotspots", "min_count"), ("outreach", "window_hours"),
            ("outreach", "link_m"), ("outreach", "place_resolution")} <= checked
    assert len(checked) >= 30
