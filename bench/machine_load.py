"""How busy this machine is: benchmarks on 2 shared cores must know when other
processes would skew their numbers."""

from __future__ import annotations

import os
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def system_busy_s() -> float:
    """CPU seconds all processes on the machine have used so far (from /proc/stat)."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def wait_quiet(max_wait: float, threshold: float = 0.3) -> float:
    """Wait up to ``max_wait`` s until other processes use less than ``threshold`` cores;
    return the load seen last (cores busy)."""
    deadline = time.time() + max_wait
    while True:
        b0, t0 = system_busy_s(), time.time()
        time.sleep(2.0)
        load = (system_busy_s() - b0) / (time.time() - t0)
        if load < threshold or time.time() > deadline:
            return load
        print(f"  machine busy ({load:.1f} cores used by other processes), waiting ...", flush=True)
