"""Process facts read from /proc and the resource limits benchmarks need."""

from __future__ import annotations

import os
import resource


def rss_bytes(pid: int) -> int:
    """Resident set size of `pid` (VmRSS in /proc/PID/status)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_times(pid: int) -> tuple[float, float]:
    """User and system CPU seconds `pid` has used so far (utime, stime of /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / ticks, int(fields[12]) / ticks


def cpu_seconds(pid: int) -> float:
    """User + system CPU time `pid` has used so far."""
    return sum(cpu_times(pid))


def raise_nofile(wanted: int = 1_000_000) -> int:
    """Raise this process's open-file limit as far as allowed (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        try:  # root may raise the hard limit too (up to fs.nr_open)
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, max(wanted, hard)))
        except (ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def pin(pid: int, cpus: set[int]) -> int:
    """Run every thread of `pid`, and of its child processes, on `cpus` only (sched_setaffinity
    per thread id: a process's affinity call moves only its main thread). Returns how many
    threads were moved; threads and children started later inherit it."""
    moved = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            os.sched_setaffinity(int(tid), cpus)
            moved += 1
        except (ProcessLookupError, PermissionError):
            continue
        try:
            with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as f:
                children = [int(child) for child in f.read().split()]
        except OSError:
            children = []
        for child in children:
            moved += pin(child, cpus)
    return moved
