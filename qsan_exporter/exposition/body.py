"""One answer of /metrics or /probe: the chunks to send, as they are cached."""

from __future__ import annotations

import gzip
from collections.abc import Sequence


class Body:
    """One answer: its content type and the chunks to send, in order, without joining them.

    `compressed` chunks are one gzip stream together. `data` is the uncompressed body,
    computed only if someone asks (tests, tools) - never on the serve path.
    """

    __slots__ = ("_data", "chunks", "compressed", "content_type")

    def __init__(self, content_type: str, chunks: Sequence[bytes], compressed: bool) -> None:
        self.content_type = content_type
        self.chunks = tuple(chunk for chunk in chunks if chunk)
        self.compressed = compressed
        self._data: bytes | None = None

    @property
    def length(self) -> int:
        return sum(len(chunk) for chunk in self.chunks)

    @property
    def data(self) -> bytes:
        if self._data is None:
            joined = b"".join(self.chunks)
            self._data = gzip.decompress(joined) if self.compressed else joined
        return self._data
