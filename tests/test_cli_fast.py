"""`ctml --help` and `ctml --version` answer at once (issue 15, item 10): the CLI module loads no heavy library.

Each check runs in a fresh interpreter and reads `sys.modules`: importing `ctml_nb.cli`, and running `--help`,
`--version` and every command's `--help`, must not import pandas, numpy, scikit-learn, scipy, matplotlib, papermill,
nbformat or nbconvert (each command imports them in its handler). Timing lives in `bench/cli_bench.py`, not here.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("pandas", "numpy", "sklearn", "scipy", "matplotlib", "papermill", "nbformat", "nbconvert", "pyarrow", "yaml")
PROBE = """
import contextlib, io, json, sys
import ctml_nb.cli as cli
argv = json.loads(sys.argv[1])
if argv is not None:
    with contextlib.redirect_stdout(io.StringIO()) as out: code = cli.main(argv)
else: code, out = 0, io.StringIO()
print(json.dumps({"code": code, "out": out.getvalue(), "modules": sorted(m.split(".")[0] for m in sys.modules)}))
"""


def probe(argv):
    r = subprocess.run([sys.executable, "-c", PROBE, json.dumps(argv)], cwd=ROOT, capture_output=True, text=True,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, check=True)
    return json.loads(r.stdout)


def test_import_loads_no_heavy_library():
    loaded = set(probe(None)["modules"])
    assert not loaded & set(HEAVY), f"import ctml_nb.cli imported {sorted(loaded & set(HEAVY))}: import them lazily"
    assert "ctml_nb" in loaded


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["runs", "--help"], ["report", "--help"], ["ui", "--help"],
                                  ["run", "--help"], ["drift", "--help"], ["backtest", "--help"]])
def test_help_and_version_load_no_heavy_library(argv):
    r = probe(argv)
    assert r["code"] == 0
    assert not set(r["modules"]) & set(HEAVY), f"ctml {' '.join(argv)} imported {sorted(set(r['modules']) & set(HEAVY))}"
    if argv == ["--version"]:
        from ctml_nb import __version__
        assert r["out"].strip() == f"ctml-nb {__version__}"
    else:
        assert r["out"].startswith("usage: ctml")


def test_every_command_is_listed_in_help():
    out = probe(["--help"])["out"]
    for cmd in ("run", "runs", "show", "report", "ui", "registry", "retrain", "schedule", "backtest", "drift", "demo"):
        assert f"    {cmd} " in out or f"    {cmd}\n" in out, cmd


def test_report_without_a_run_or_index_is_a_usage_error(tmp_path, capsys):
    from ctml_nb.cli import EXIT_USAGE, main
    assert main(["report", "--runs", str(tmp_path)]) == EXIT_USAGE
    assert "name a RUN" in capsys.readouterr().err


def test_index_of_a_folder_without_runs_says_what_to_do(tmp_path, capsys):
    from ctml_nb.cli import EXIT_USAGE, main
    assert main(["report", "--index", "--runs", str(tmp_path)]) == EXIT_USAGE
    assert "holds no runs yet: run `ctml run --config FILE` first" in capsys.readouterr().err
