"Packaging checks: what a fresh install must provide."
import configparser
import importlib.resources
from pathlib import Path

import ctml_nb
from ctml_nb.datasets import load_elec2

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
