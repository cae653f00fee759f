"""The answers an area's collector reads besides its own (`needs` in the areas table).

Volumes name their pool through the pools answer; tasks name their volume through the volumes
answer. Those areas may have other intervals or fail alone, so the latest successful answer of
each needed area is kept and handed over when the area itself was not fetched this poll.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from qsan_exporter.areas import BY_NAME


class NeededAnswers:
    """The latest answer of every area that a polled area needs."""

    def __init__(self, polled: Iterable[str]) -> None:
        self._needed = tuple(dict.fromkeys(
            need for name in polled for need in BY_NAME[name].needs))
        self._kept: dict[str, Any] = {}

    def complete(self, fetched: Mapping[str, Any]) -> dict[str, Any]:
        """`fetched`, plus the kept answer of each needed area not fetched this time."""
        raw = dict(fetched)
        for need in self._needed:
            if need in fetched:
                self._kept[need] = fetched[need]
            elif need in self._kept:
                raw[need] = self._kept[need]
        return raw
