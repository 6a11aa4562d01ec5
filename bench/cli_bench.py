"""Start-up time of the `ctml` command (issue 15, item 10): `ctml --help` and `ctml --version` against `python -c pass`.

Each case is a fresh process, started `--repeats` times (default 9) after one untimed warm-up, round-robin so every
case sees the same background load; the figures are the median and the fastest wall time, and the median CPU time
(user + system of the child), the steadier figure on a shared machine. The `ctml` cases run exactly what the
console script runs (`from ctml_nb.cli import main; sys.exit(main())`) with the repository root first on the path, so
the checkout is measured, not an installed copy. For comparison: `import ctml_nb.pipeline.config` (what `ctml --help` used to
import: pandas, numpy, the config types) and `import pandas`.

Target: `ctml --help` and `ctml --version` within 0.5 s wall (median).

Usage: .venv/bin/python bench/cli_bench.py [--repeats 9]
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _benchutil import code_version  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TARGET = 0.5
CTML = "import sys; from ctml_nb.cli import main; sys.exit(main())"
CASES = [("python -c pass", ["-c", "pass"]),
         ("ctml --help", ["-c", CTML, "--help"]),
         ("ctml --version", ["-c", CTML, "--version"]),
         ("ctml report --help", ["-c", CTML, "report", "--help"]),
         ("import ctml_nb.pipeline.config", ["-c", "import ctml_nb.pipeline.config"]),
         ("import pandas", ["-c", "import pandas"])]


def run_once(args: list) -> tuple:
    "(wall seconds, child CPU seconds) of one `python ARGS` from the repository root"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9)
    a = ap.parse_args()
    load0 = os.getloadavg()[0]
    for _, args in CASES: run_once(args)  # warm-up: file cache, .pyc
    walls, cpus = {n: [] for n, _ in CASES}, {n: [] for n, _ in CASES}
    for _ in range(a.repeats):
        for name, args in CASES:
            w, c = run_once(args); walls[name].append(w); cpus[name].append(c)
    base = statistics.median(walls["python -c pass"])
    print(f"cli_bench: code {code_version(ROOT, ['ctml_nb/cli'])}; Python {sys.version.split()[0]}; "
          f"{os.cpu_count()} CPUs; load average {load0:.2f} at start, {os.getloadavg()[0]:.2f} at end; "
          f"{a.repeats} runs per case")
    print(f"{'case':<24}{'median s':>10}{'min s':>9}{'CPU s':>8}{'minus python':>14}  target")
    for name, _ in CASES:
        med = statistics.median(walls[name])
        target = ""
        if name in ("ctml --help", "ctml --version"):
            target = f"<= {TARGET} s: {'PASS' if med <= TARGET else 'FAIL'}"
        print(f"{name:<24}{med:>10.3f}{min(walls[name]):>9.3f}{statistics.median(cpus[name]):>8.3f}"
              f"{med - base:>14.3f}  {target}")
    return 0 if all(statistics.median(walls[n]) <= TARGET for n in ("ctml --help", "ctml --version")) else 1


if __name__ == "__main__":
    sys.exit(main())
