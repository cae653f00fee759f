"""The daemon's interpreter settings, made once start-up is done (`tune_process`).

A poll is a few hundred KiB of JSON decoded, translated and dropped; a fleet runs a dozen of
them at once on one GIL. Of CPython's defaults:

- the cyclic GC collects the young generation every 700 container allocations: a poll ran
  dozens of collections, and their survivors fed the full ones that scan the whole heap. Nearly
  all of a poll's objects die by reference count, so what exists after start-up goes out of
  the collector's sight (`gc.freeze`) and the young generation is collected every
  `GC_YOUNG_THRESHOLD` allocations: a 1,000-array fleet spent 3.0 s in the GC, then 0.8 s (of
  47 s of CPU).
- the GIL's switch interval stays CPython's 5 ms: at 20 ms, paired fleet runs (500 arrays at
  30 s) differed by no more than run-to-run noise (15.4-17.7 ms CPU per poll against
  16.7-17.3), and threads would wait longer for it.
"""

from __future__ import annotations

import gc

GC_YOUNG_THRESHOLD = 10_000  # CPython's default is 700


def tune_process() -> None:
    """For the daemon's process, once its modules, config and server are in place."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)
