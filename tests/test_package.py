"Packaging checks: what a fresh install must provide."
import configparser
import importlib.resources
from pathlib import Path

import ctml_nb
from ctml_nb.data.datasets import load_elec2

ROOT = Path(__file__).resolve().parents[1]


def test_version_matches_settings():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "settings.ini")
    assert ctml_nb.__version__ == cfg["DEFAULT"]["version"]


def test_settings_keep_papermill_parameters_tag():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "settings.ini")
    assert cfg["DEFAULT"]["allowed_cell_metadata_keys"].strip() == "tags"


def test_setup_py_does_not_use_pkg_resources():
    assert "pkg_resources" not in (ROOT / "setup.py").read_text()


def test_demo_data_ships_in_package():
    assert importlib.resources.files("ctml_nb").joinpath("data/elec2.csv.gz").is_file()
    df = load_elec2()
    assert len(df) == 45312 and df["target"].isin([0, 1]).all()


def _setup_kwargs() -> dict:
    "The keyword arguments setup.py passes to setuptools.setup (run with setup() captured, nothing built)"
    import runpy
    from unittest import mock
    captured = {}
    with mock.patch("setuptools.setup", lambda **kw: captured.update(kw)):
        runpy.run_path(str(ROOT / "setup.py"), run_name="__main__")
    return captured


def test_every_shipped_folder_is_a_declared_package():
    "Each folder of ctml_nb/ holding files is in `packages` with its files in `package_data` (a quiet build)"
    kw = _setup_kwargs()
    packages, data = set(kw["packages"]), kw["package_data"]
    for folder in [p for p in (ROOT / "ctml_nb").rglob("*") if p.is_dir()] + [ROOT / "ctml_nb"]:
        if "__pycache__" in folder.parts or any(part.startswith(".") for part in folder.relative_to(ROOT).parts): continue
        files = [f for f in folder.iterdir() if f.is_file()]
        if not files: continue
        name = ".".join(folder.relative_to(ROOT).parts)
        assert name in packages, f"{folder} holds files but {name} is not in setup.py's packages"
        for f in files:
            if f.suffix in (".py", ".pyc"): continue
            assert any(f.match(p) for p in data.get(name, [])), f"{f} is not declared in package_data[{name!r}]"


def test_wheel_ships_data_and_templates_without_warnings(tmp_path):
    "A wheel built from a copy of the sources holds the demo data and the templates, and setuptools warns of nothing"
    import shutil
    import subprocess
    import sys
    import zipfile
    src = tmp_path / "src"
    shutil.copytree(ROOT / "ctml_nb", src / "ctml_nb", ignore=shutil.ignore_patterns("__pycache__", ".*"))
    for f in ("setup.py", "settings.ini", "pyproject.toml", "README.md"): shutil.copy(ROOT / f, src / f)
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-v",
                        "-w", str(tmp_path / "dist"), str(src)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    log = r.stdout + r.stderr
    assert "would be ignored" not in log and "absent from the `packages`" not in log, log[-3000:]
    (whl,) = (tmp_path / "dist").glob("*.whl")
    names = set(zipfile.ZipFile(whl).namelist())
    shipped = {f"ctml_nb/data/{p.name}" for p in (ROOT / "ctml_nb" / "data").glob("*.csv.gz")}
    shipped |= {f"ctml_nb/templates/{p.name}" for p in (ROOT / "ctml_nb" / "templates").glob("*.ipynb")}
    assert shipped and shipped <= names, shipped - names
