"""Memory probes shared by the benchmarks (Linux): current RSS, and the peak RSS of a section of a process."""
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
