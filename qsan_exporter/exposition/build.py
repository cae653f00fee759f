"""One build of the full body: every array's live families merged, compressed or not.

cache.py decides when to build (and says why); this is what a build is.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from qsan_exporter.exposition.chunks import FamilyChunks
from qsan_exporter.exposition.deflate import Gzipped, crc32, gzip_header
from qsan_exporter.exposition.parts import (
    Merged,
    Part,
    RenderedSnapshot,
    joined,
    live_parts,
    merged,
)

COMPRESS_BATCH_BYTES = 4 << 20
GZIP_LEVEL = 1  # ~3x cheaper than 6 on this text, ~25 % more bytes: built often, sent on LANs


@dataclass(frozen=True)
class Built:
    """The arrays' part of one format of the full body, as of `version`."""

    version: int
    members: int  # Exposition._members when built: which arrays it holds
    built_at: float  # the `now` it was built for
    valid_until: float  # the first collector in it goes stale after this
    plain: bytes | None
    gzipped: Gzipped | None  # ended by the scrape, with the tail in the same gzip member
    families_compressed: int = 0  # by this build
    families_reused: int = 0  # compressed bytes this build took from the one before

    def serves(self, now: float, compress: bool) -> bool:
        has = (self.gzipped if compress else self.plain) is not None
        return has and self.built_at <= now <= self.valid_until

    def data(self, compress: bool) -> bytes | Gzipped:
        """The body in that encoding; only asked for where `serves` (or the build) said so."""
        body = self.gzipped if compress else self.plain
        if body is None:
            raise LookupError(f"body not built {'gzipped' if compress else 'plain'}")
        return body


def build_body(rendered: dict[str, RenderedSnapshot], version: int, members: int, now: float,
               openmetrics: bool, *, plain: bool, gzipped: bool,
               chunks: FamilyChunks | None = None) -> Built:
    """One format of the full body for `rendered` at `now`, plain and/or gzipped (with
    `chunks`: compressing only the families that changed since its previous build)."""
    parts, valid_until, _ = live_parts((rendered[a] for a in sorted(rendered)), now)
    data, compressed = encode(parts, openmetrics, plain=plain, gzipped=gzipped, chunks=chunks)
    if chunks is None or compressed is None:
        return Built(version, members, now, valid_until, data, compressed)
    return Built(version, members, now, valid_until, data, compressed,
                 chunks.compressed, chunks.reused)


def encode(parts: Sequence[Part], openmetrics: bool, *, plain: bool, gzipped: bool,
           chunks: FamilyChunks | None = None) -> tuple[bytes | None, Gzipped | None]:
    """The assembled body of `parts`, plain and/or gzipped (None where not asked for). With
    `chunks`, each family is compressed apart and kept for the next build; without (/probe's
    one-off bodies), all of them in one stream, which compresses one array's body smaller."""
    families = merged(parts, openmetrics)
    data = joined(families) if plain else None
    if not gzipped:
        return data, None
    if chunks is not None:
        return data, chunks.gzip(families)
    return data, _streamed(families)


def _streamed(families: Sequence[Merged]) -> Gzipped:
    """One deflate stream over every family, ended with a sync flush like a kept piece."""
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    out, crc, size = [gzip_header(GZIP_LEVEL)], 0, 0
    for batch in _batches(families):
        out.append(compressor.compress(batch))
        crc = crc32(batch, crc)
        size += len(batch)
    out.append(compressor.flush(zlib.Z_SYNC_FLUSH))
    return Gzipped(b"".join(out), crc, size)


def _batches(families: Sequence[Merged]) -> Iterator[bytes]:
    """Families a few MiB at a time: the plain body is never held whole, and the compressor
    lets the GIL go (and must win it back from busy threads) a few times, not per family."""
    batch: list[bytes] = []
    size = 0
    for family in families:
        pieces = family.pieces()
        batch += pieces
        size += sum(map(len, pieces))
        if size >= COMPRESS_BATCH_BYTES:
            yield b"".join(batch)
            batch, size = [], 0
    yield b"".join(batch)


@dataclass
class BuildStats:
    builds: int = 0  # background builds
    seconds: float = 0.0  # wall time of those builds
    on_demand: int = 0  # bodies a scrape had to build itself
    served_previous: int = 0  # scrapes answered with the previous body while a build was due
    last_seconds: float = 0.0  # the latest background build
    last_end: float = float("-inf")  # time.monotonic() at its end
    families_compressed: int = 0  # by full gzipped builds, background or on demand
    families_reused: int = 0  # compressed bytes a full build took from the build before
