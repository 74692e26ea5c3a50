"""`run.py` that reports what its objects are on SIGUSR1 (for `bench/idlemem.py`).

Each SIGUSR1 collects garbage, times one more full collection (the walk alone: the loop's
pause), then writes to the file named by `QRSTREAM_MEMWATCH` (appending) the live objects gc
tracks, counted by type, as a JSON line; with `PYTHONTRACEMALLOC=1` in the
environment, also the traced memory by allocating line since the previous signal. The server
itself is unchanged (same arguments, same environment).
"""

from __future__ import annotations

import collections
import gc
import json
import os
import runpy
import signal
import sys
import time
import tracemalloc
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
_previous: list[tracemalloc.Snapshot] = []


def _report(signum: int, frame: FrameType | None) -> None:
    gc.collect()
    started = time.perf_counter()
    gc.collect()  # nothing left to free: what a full collection's walk costs the loop
    full_gc_ms = (time.perf_counter() - started) * 1000
    counts = collections.Counter(type(o).__qualname__ for o in gc.get_objects())
    report: dict[str, object] = {
        "objects": sum(counts.values()),
        "types": dict(counts),
        "full_gc_ms": full_gc_ms,
    }
    if tracemalloc.is_tracing():
        ours = tracemalloc.Filter(False, tracemalloc.__file__)
        snapshot = tracemalloc.take_snapshot().filter_traces([ours])
        report["traced"] = sum(s.size for s in snapshot.statistics("filename"))
        if _previous:
            top = snapshot.compare_to(_previous[-1], "lineno")[:60]
            report["lines"] = [(str(s.traceback[0]), s.size_diff, s.count_diff) for s in top]
        _previous[:] = [snapshot]
    with open(os.environ["QRSTREAM_MEMWATCH"], "a", encoding="utf-8") as f:
        f.write(json.dumps(report) + "\n")


if __name__ == "__main__":
    signal.signal(signal.SIGUSR1, _report)
    sys.argv = [str(ROOT / "run.py"), *sys.argv[1:]]
    runpy.run_path(str(ROOT / "run.py"), run_name="__main__")
