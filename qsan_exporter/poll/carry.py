"""The answers an area's collector reads besides its own (`needs` in the areas table).

Volumes name their pool through the pools answer; tasks name their volume through the volumes
answer. Those areas may have other intervals or fail alone, so the latest successful answer of
each needed area is kept and handed over when the area itself was not fetched this poll.

Kept as compressed pickle bytes, not as the parsed answer: parsed JSON costs several times its
text in Python objects, per array, for the whole life of the exporter, while it is read back
only on a poll where the needed area was not fetched (another interval, or its fetch failed).
Pickle round-trips every shape a source hands over exactly (a legacy translation's tuples too).
"""

from __future__ import annotations

import pickle
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

from qsan_exporter.areas import BY_NAME

_LEVEL = 1  # the answers are small and repetitive: level 1 is most of the saving for little CPU


def pack(answer: Any) -> bytes:
    return zlib.compress(pickle.dumps(answer, pickle.HIGHEST_PROTOCOL), _LEVEL)


def unpack(kept: bytes) -> Any:
    return pickle.loads(zlib.decompress(kept))  # our own bytes, never an array's


class NeededAnswers:
    """The latest answer of every area that a polled area needs."""

    def __init__(self, polled: Iterable[str]) -> None:
        self._needed = tuple(dict.fromkeys(
            need for name in polled for need in BY_NAME[name].needs))
        self._kept: dict[str, bytes] = {}

    def kept_sizes(self) -> dict[str, int]:
        """Bytes kept per needed area (compressed): what an array holds between polls."""
        return {area: len(kept) for area, kept in self._kept.items()}

    def complete(self, fetched: Mapping[str, Any]) -> dict[str, Any]:
        """`fetched`, plus the kept answer of each needed area not fetched this time."""
        raw = dict(fetched)
        for need in self._needed:
            if need in fetched:
                self._kept[need] = pack(fetched[need])
            elif need in self._kept:
                raw[need] = unpack(self._kept[need])
        return raw
