"""One build of the full body: every array's live families merged, compressed or not.

cache.py decides when to build (and says why); this is what a build is.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from qsan_exporter.exposition.render import (
    RenderedSnapshot,
    assemble,
    assembled_families,
    live_parts,
)
from qsan_exporter.snapshot import RenderedFamily

_GZIP_WBITS = 16 + zlib.MAX_WBITS  # zlib writes the gzip header and trailer (mtime 0)
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
    gzipped: bytes | None

    def serves(self, now: float, compress: bool) -> bool:
        has = (self.gzipped if compress else self.plain) is not None
        return has and self.built_at <= now <= self.valid_until

    def data(self, compress: bool) -> bytes:
        """The body in that encoding; only asked for where `serves` (or the build) said so."""
        body = self.gzipped if compress else self.plain
        if body is None:
            raise LookupError(f"body not built {'gzipped' if compress else 'plain'}")
        return body


def build_body(rendered: dict[str, RenderedSnapshot], version: int, members: int, now: float,
               openmetrics: bool, *, plain: bool, gzipped: bool) -> Built:
    """One format of the full body for `rendered` at `now`, plain and/or gzipped."""
    parts, valid_until, _ = live_parts((rendered[a] for a in sorted(rendered)), now)
    data, compressed = encode(parts, openmetrics, plain=plain, gzipped=gzipped)
    return Built(version, members, now, valid_until, data, compressed)


def encode(parts: Sequence[Iterable[RenderedFamily]], openmetrics: bool, *, plain: bool,
           gzipped: bool) -> tuple[bytes | None, bytes | None]:
    """The assembled body of `parts`, plain and/or gzipped (None where not asked for)."""
    if plain:
        data = assemble(parts, openmetrics)
        return data, gzip.compress(data, GZIP_LEVEL, mtime=0) if gzipped else None
    # Compressed a few MiB of families at a time: the plain body is never held whole, and the
    # compressor lets the GIL go (and must win it back from busy threads) a few times a build,
    # not once per family.
    gz = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, _GZIP_WBITS)
    chunks, batch, size = [], [], 0
    for family in assembled_families(parts, openmetrics):
        batch.append(family)
        size += len(family)
        if size >= COMPRESS_BATCH_BYTES:
            chunks.append(gz.compress(b"".join(batch)))
            batch, size = [], 0
    chunks += [gz.compress(b"".join(batch)), gz.flush()]
    return None, b"".join(chunks)


@dataclass
class BuildStats:
    builds: int = 0  # background builds
    seconds: float = 0.0  # wall time of those builds
    on_demand: int = 0  # bodies a scrape had to build itself
    served_previous: int = 0  # scrapes answered with the previous body while a build was due
    last_seconds: float = 0.0  # the latest background build
    last_end: float = float("-inf")  # time.monotonic() at its end
