"""`run.py` with every garbage collection timed (for `bench/instances.py --gc`).

Each collection of at least `GC_PAUSE_MS` goes to stderr as
`gc-pause gen=<generation> ms=<duration> at=<unix time>`; the server itself is unchanged
(same arguments, same environment). `GCWATCH_THRESHOLDS=700,10,100` tries other collector
thresholds (`qrstream.cli.GC_THRESHOLDS`) without touching the server's code.
"""

from __future__ import annotations

import gc
import os
import runpy
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GC_PAUSE_MS = 5.0
_started: list[float] = []


def _timed(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started.append(time.perf_counter())
        return
    if not _started:
        return
    ms = (time.perf_counter() - _started.pop()) * 1000
    if ms >= GC_PAUSE_MS:
        print(
            f"gc-pause gen={info['generation']} ms={ms:.1f} at={time.time():.3f}", file=sys.stderr, flush=True
        )


if __name__ == "__main__":
    gc.callbacks.append(_timed)
    if thresholds := os.environ.get("GCWATCH_THRESHOLDS"):
        import qrstream.cli  # the server sets its thresholds once serving: set the ones tried instead

        qrstream.cli.GC_THRESHOLDS = tuple(int(t) for t in thresholds.split(","))  # type: ignore[assignment]
    sys.argv = [str(ROOT / "run.py"), *sys.argv[1:]]
    runpy.run_path(str(ROOT / "run.py"), run_name="__main__")
