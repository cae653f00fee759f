"""The daemon's interpreter settings (runtime.py), checked in a fresh interpreter: they are
process-wide and must not leak into the test process."""

from __future__ import annotations

import subprocess
import sys

from qsan_exporter import runtime

SCRIPT = """
import gc, weakref
from qsan_exporter import runtime
runtime.tune_process()
class Node: pass
a, b = Node(), Node(); a.other, b.other = b, a
alive = weakref.ref(a); del a, b
gc.collect()
print(gc.get_threshold()[0], gc.get_freeze_count() > 1000, alive() is None)
"""


def test_tune_process_freezes_start_up_and_still_collects_later_cycles() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         check=True, timeout=60).stdout.split()
    assert out == [str(runtime.GC_YOUNG_THRESHOLD), "True", "True"]

