"""`--shard=I/N`: each array belongs to exactly one of N instances, by a stable hash of its name.

The hash must agree across processes, Python versions and restarts (unlike hash()), so that N
exporters started separately split the fleet without talking to each other.
"""

from __future__ import annotations

import zlib

from qsan_exporter.config import Config

Shard = tuple[int, int]  # (index I, count N)


def parse_shard(text: str) -> Shard:
    index, sep, count = text.partition("/")
    if not sep or not index.isdigit() or not count.isdigit():
        raise ValueError(f"--shard {text!r}: expected I/N, e.g. 0/3")
    i, n = int(index), int(count)
    if n < 1 or not 0 <= i < n:
        raise ValueError(f"--shard {text!r}: need 0 <= I < N")
    return i, n


def shard_of(name: str, count: int) -> int:
    """Stable across processes, Python versions and restarts (unlike hash())."""
    return zlib.crc32(name.encode("utf-8")) % count


def select_shard(config: Config, shard: Shard | None) -> Config:
    if shard is None:
        return config
    index, count = shard
    # An ordinal beyond the count (a pod of a StatefulSet being scaled down) owns nothing.
    return Config(arrays=tuple(a for a in config.arrays if shard_of(a.name, count) == index))
