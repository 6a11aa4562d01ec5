"Packaging for ctml-nb, driven by settings.ini (nbdev 2 layout); setuptools only."
from configparser import ConfigParser
from pathlib import Path

import setuptools

cfg = ConfigParser(delimiters=["="])
cfg.read(Path(__file__).parent / "settings.ini", encoding="utf-8")
cfg = cfg["DEFAULT"]

for key in "lib_name lib_path version description min_python author author_email license".split():
    if key not in cfg:
        raise SystemExit(f"settings.ini is missing the key {key!r}")

requirements = cfg.get("requirements", "").split()
dev_requirements = cfg.get("dev_requirements", "").split()
extras = {
    "dev": dev_requirements,
    # Optional extras: heavy or specialised libraries, imported lazily by the modules that use them
    "river": ["river>=0.21.1"],
    "skops": ["skops>=0.15"],
    "browser": ["playwright>=1.40"],
    "alerts": ["apprise>=1.6"],   # email, PagerDuty and the other services of `kind: apprise` notifiers
    "dask": ["dask[dataframe,distributed]>=2025.1.0"],   # drift profiles and policy comparisons on a Dask cluster
    "mlflow": ["mlflow>=2.9"],  # the MLflow registry backend (ctml_nb.registry.mlflow_backend)
}
extras["all"] = sorted({r for k, v in extras.items() if k != "dev" for r in v})
extras["dev"] = sorted(set(dev_requirements) | set(extras["all"]))

DATA_PACKAGES = [cfg["lib_path"] + ".data", cfg["lib_path"] + ".templates"]
console_scripts = [s for s in cfg.get("console_scripts", "").split() if s]
long_description = (Path(__file__).parent / "README.md").read_text(encoding="utf-8")

setuptools.setup(
    name=cfg["lib_name"],
    version=cfg["version"],
    description=cfg["description"],
    long_description=long_description,
    long_description_content_type="text/markdown",
    author=cfg["author"],
    author_email=cfg["author_email"],
    license="Apache-2.0",
    url=cfg.get("git_url", ""),
    keywords=cfg.get("keywords", ""),
    # The data and template folders are packages of their own (namespace packages, no __init__.py), each with its
    # files declared: setuptools then ships them without its "Package ... would be ignored" warnings
    packages=sorted(set(setuptools.find_packages(include=[cfg["lib_path"], cfg["lib_path"] + ".*"]) + DATA_PACKAGES)),
    package_data={p: patterns for p, patterns in zip(DATA_PACKAGES, (["*.csv.gz"], ["*.ipynb"]))},
    python_requires=">=" + cfg["min_python"],
    install_requires=requirements,
    extras_require=extras,
    entry_points={
        "console_scripts": console_scripts,
        "nbdev": [f"{cfg['lib_path']}={cfg['lib_path']}._modidx:d"],
    },
    classifiers=[
        "Development Status :: 3 - Alpha",
        "Intended Audience :: Developers",
        "Intended Audience :: Science/Research",
        "Programming Language :: Python :: 3",
        "Framework :: Jupyter",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
    project_urls={"Source": cfg.get("git_url", "")},
    zip_safe=False,
)
