"""Helpers shared by the benchmarks: memory probes (Linux: current RSS, peak RSS of a section of a process) and the code version measured."""
from __future__ import annotations

import os
import resource


def rss_kb()->int:
    "Current resident set size of this process, in kB"
    with open("/proc/self/statm") as f: pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") // 1024

def reset_peak()->bool:
    "Reset the kernel's high-water RSS of this process (Linux >= 4.0); False when not possible"
    try:
        with open("/proc/self/clear_refs", "w") as f: f.write("5")
        return True
    except OSError: return False

def peak_kb(reset_ok:bool)->int:
    "High-water RSS since the last reset (VmHWM), or over the process lifetime (ru_maxrss) when reset failed"
    if reset_ok:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"): return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

DRIFT_MODULES = ("ctml_nb/core.py", "ctml_nb/data/datasets.py", "ctml_nb/drift/stats.py", "ctml_nb/drift/profile.py",
                 "ctml_nb/drift/columns.py", "ctml_nb/drift/detector.py", "ctml_nb/drift/report.py")

def code_version(root, paths=DRIFT_MODULES)->str:
    "`git` commit of the checkout at `root`, marked when one of `paths` differs from it (`unknown` outside git)"
    import subprocess
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", *paths], capture_output=True,
                               text=True, check=True).stdout.split()[1::2]
    except (OSError, subprocess.CalledProcessError): return "unknown"
    return head + (f" + uncommitted changes to {', '.join(dirty)}" if dirty else "")
