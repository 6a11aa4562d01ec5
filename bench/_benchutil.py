"""Helpers shared by the benchmarks: memory probes (Linux: current RSS, peak RSS of a section of a process), the code version
measured, and reference tools in virtualenvs of their own."""
from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path


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


# A reference tool in a virtualenv of its own beside the project (`bench/.venv-<tool>`), so that its pins never touch
# the project's: Evidently for `drift_bench.py`, NannyML for `estimate_bench.py`.
def tool_python(venv:Path, module:str, env_var:str, explicit:str|None=None)->Path|None:
    "The python of the tool's environment (`explicit`, else `$env_var`, else `venv`), or None when `module` is not there"
    py = Path(explicit) if explicit else Path(os.environ.get(env_var, venv / "bin" / "python"))
    if not py.exists(): return None
    return py if subprocess.run([str(py), "-c", f"import {module}"], capture_output=True).returncode == 0 else None


def setup_tool(venv:Path, spec:list, module:str, label:str):
    "Create `venv` and install `spec` there; print the version of `module` it holds"
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    subprocess.run([py, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([py, "-m", "pip", "install", "--quiet", *spec], check=True)
    out = subprocess.run([py, "-c", f"import {module}; print({module}.__version__)"], capture_output=True, text=True, check=True)
    print(f"{label} {out.stdout.strip()} installed in {venv}")
