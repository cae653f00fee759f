"""The full body's families, each compressed on its own and kept for the next build.

Compressing the whole 80 MB of a 1,000-array body took most of a build's CPU, yet between two
scrapes only a quarter of the arrays poll again, and most of what a poll renders is what it
rendered the time before. Each family (its header and every array's samples of it) is a
deflate piece of its own (deflate.py), so a family whose serial numbers (parts.py) are the ones
it had at the previous build keeps its compressed bytes and its CRC. Families are ~70 per body:
few compressor calls, as few times the GIL is let go and won back.

The kept pieces are views into the previous body, not copies: they hold nothing the body does
not, and only the families of the latest build are kept.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from qsan_exporter.exposition.deflate import Deflated, Gzipped, deflate, gzip_header
from qsan_exporter.exposition.parts import Merged


class FamilyChunks:
    """One format's compressed families, by name, as of the latest build. Builds of a format
    take turns (the exposition's build lock): no lock of its own."""

    def __init__(self, level: int) -> None:
        self._level = level
        self._header = gzip_header(level)
        self._kept: dict[str, tuple[list[int], Deflated]] = {}  # name -> (serials, piece)
        self.compressed = 0  # families compressed by the latest build
        self.reused = 0  # families whose previous piece it took as it was

    def gzip(self, families: Sequence[Merged]) -> Gzipped:
        """The body of `families`, compressing only those not as they were last time."""
        kept: dict[str, tuple[list[int], Deflated]] = {}
        pieces: list[bytes | memoryview] = [self._header]
        crc = size = compressed = 0
        for family in families:
            previous = self._kept.get(family.name)
            if previous is not None and previous[0] == family.serials:
                piece = previous[1]
            else:
                piece = deflate(family.data(), self._level)
                compressed += 1
            kept[family.name] = (family.serials, piece)
            pieces.append(piece.data)
            crc = piece.after(crc)
            size += piece.size
        body = b"".join(pieces)
        self._kept = _views(kept, body, len(self._header))
        self.compressed, self.reused = compressed, len(families) - compressed
        return Gzipped(body, crc, size)


def _views(kept: dict[str, tuple[list[int], Deflated]], body: bytes,
           offset: int) -> dict[str, tuple[list[int], Deflated]]:
    """`kept`'s pieces as views into `body`, where they lie one after another from `offset`:
    the separate bytes (new pieces, the previous body) can go."""
    view = memoryview(body)
    for name, (serials, piece) in kept.items():
        end = offset + len(piece.data)
        kept[name] = (serials, dataclasses.replace(piece, data=view[offset:end]))
        offset = end
    return kept
