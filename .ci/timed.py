"""Time one tier of `make test` and print the split at the end (standard library only: it runs before any venv).

    python3 .ci/timed.py FILE TIER -- COMMAND ...   run COMMAND, append its wall and CPU seconds to FILE; exit as it did
    python3 .ci/timed.py FILE --report              print the split (a tier that ran twice, e.g. install, is summed)

CPU seconds are those of COMMAND and every process it waited for (Jupyter kernels, pytest-xdist workers): unlike wall
time, they hardly change with the load of a shared machine. The 1-minute load average is printed beside each figure.
"""
import os
import resource
import subprocess
import sys
import time


def _cpu()->float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(path:str, tier:str, cmd:list)->int:
    load0, t0, c0 = os.getloadavg()[0], time.monotonic(), _cpu()
    code = subprocess.call(cmd)
    wall, cpu, load1 = time.monotonic() - t0, _cpu() - c0, os.getloadavg()[0]
    with open(path, "a") as f: f.write(f"{tier}\t{wall:.1f}\t{cpu:.1f}\t{max(load0, load1):.1f}\t{code}\n")
    return code


TIERS = ("install", "sync-check", "browser", "nbtest", "pytest", "install-min", "test-min")  # the Makefile's order


def report(path:str):
    rows = {}
    if os.path.exists(path):
        for line in open(path):
            tier, wall, cpu, load, code = line.rstrip("\n").split("\t")
            w, c, l, k = rows.get(tier, (0.0, 0.0, 0.0, 0))
            rows[tier] = (w + float(wall), c + float(cpu), max(l, float(load)), k or int(code))
    print("\nmake test: the split (wall and CPU seconds; load = highest 1-minute load average seen)")
    print(f"  {'tier':<18}{'wall s':>9}{'CPU s':>9}{'load':>7}  status")
    total_w = total_c = 0.0
    for tier in TIERS + tuple(t for t in rows if t not in TIERS):
        if tier not in rows:
            print(f"  {tier:<18}{'-':>9}{'-':>9}{'':>7}  not run (an earlier tier failed, or not asked for)"); continue
        w, c, l, k = rows[tier]
        total_w, total_c = total_w + w, total_c + c
        print(f"  {tier:<18}{w:>9.1f}{c:>9.1f}{l:>7.1f}  {'ok' if k == 0 else f'FAILED (exit {k})'}")
    print(f"  {'total':<18}{total_w:>9.1f}{total_c:>9.1f}   ({total_w / 60:.1f} min wall on {os.cpu_count()} cores)")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[2] == "--report": report(sys.argv[1]); sys.exit(0)
    if len(sys.argv) < 5 or sys.argv[3] != "--":
        sys.exit("usage: timed.py FILE TIER -- COMMAND ... | timed.py FILE --report")
    sys.exit(run(sys.argv[1], sys.argv[2], sys.argv[4:]))
