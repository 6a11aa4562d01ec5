"""Shared, seeded pipeline projects (issue 20): the Elec2 first cycle that many tests only need as a starting point is
run once per worker and per config, and each test gets its own copy (`cp -r`, which relocatable pipelines allow).

    def test_x(seeded, tmp_path):
        cfg = seeded(tmp_path, CONFIG)          # tmp_path/pipeline.yaml: version 1 is champion, live.csv has 14 days

The seed runs in-process (tests/inprocess_engine.py) whatever the test's own engine, since the first cycle is not
what such a test is about; a test that checks the first cycle itself runs it. Environment variables that name a path
inside the test's folder (a key file, for example) are pointed at the seed's folder while it is built, so the copy
finds its key where the test's own environment says.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from inprocess_engine import ENGINE
from ctml_nb.demo import demo_data
from ctml_nb.pipeline.runner import run_cycle
from ctml_nb.pipeline.steps import ENGINE_ENV, kernel_env


def live_days(folder:Path, days:int):
    "The first `days` days of the bundled Elec2 sample (48 rows a day) as `folder/live.csv`"
    demo_data().iloc[:days * 48].to_csv(Path(folder) / "live.csv", index=False)


class Seeds:
    "First cycles built once in `root` (one folder per config, days and path-valued environment), copied per test"
    def __init__(self, root:Path): self.root, self.built = Path(root), {}

    def _paths_env(self, dest:Path)->dict:
        "The environment variables naming a path inside `dest`"
        d = str(dest)
        return {k: v for k, v in os.environ.items() if v == d or v.startswith(d + os.sep)}

    def _build(self, config:str, days:int, env:dict, dest:Path)->Path:
        key = hashlib.sha256(repr((config, days, sorted((k, v[len(str(dest)):]) for k, v in env.items()))).encode()).hexdigest()[:16]
        seed = self.root / key
        if key not in self.built:
            shutil.rmtree(seed, ignore_errors=True)
            seed.mkdir(parents=True)
            (seed / "pipeline.yaml").write_text(config)
            live_days(seed, days)
            moved = {k: str(seed) + v[len(str(dest)):] for k, v in env.items()}
            with kernel_env(**moved, **{ENGINE_ENV: ENGINE}):
                first = run_cycle(seed / "pipeline.yaml", progress=False)
            assert first.status == "succeeded" and first.model_after == 1, f"the seed's first cycle: {first.reason}"
            self.built[key] = seed
        return seed

    def __call__(self, dest:Path, config:str, days:int=14)->Path:
        "`dest/pipeline.yaml` of a copy of the project whose first cycle, on `days` days of Elec2, made version 1 champion"
        dest = Path(dest)
        seed = self._build(config, days, self._paths_env(dest), dest)
        shutil.copytree(seed, dest, dirs_exist_ok=True, symlinks=True)
        return dest / "pipeline.yaml"
