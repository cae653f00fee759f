"""A snapshot's rendered families as a body's parts: numbered, chosen while fresh, merged.

Every family a poll rendered carries a serial number that stays the same from one poll to the
next while its bytes do (compared when the poll is published, outside every lock: ~50 us for
a poll's ~80 KB). A build tells a merged family whose bytes did not change by its list of
serial numbers alone, and keeps that family's compressed bytes (chunks.py); most of a poll's
bytes (inventory, health, sizes, settings) are the same as the poll before.

Numbers rather than the previous poll's bytes objects: the poller keeps its latest poll's
bytes, so keeping the previous poll's equal ones here would hold every unchanged family twice.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from operator import attrgetter

from qsan_exporter.exposition.render import order_key
from qsan_exporter.snapshot import RenderedFamily, Snapshot

# One sequence for the whole process, never restarted: a number names one content only, in
# whichever Exposition a rendered snapshot ends up.
_SERIALS = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Part:
    """The families of one collector of one poll (or the poll's own), each with its serial."""

    families: tuple[RenderedFamily, ...]
    serials: tuple[int, ...]


@dataclass(frozen=True)
class RenderedSnapshot:
    """A snapshot's bytes: its exporter families, and each collector's families."""

    snapshot: Snapshot
    exporter: Part
    collectors: dict[str, Part]


def render_snapshot(snapshot: Snapshot, previous: RenderedSnapshot | None = None
                    ) -> RenderedSnapshot:
    """The snapshot's families as the assembly reads them (the poll rendered them already);
    those whose bytes are what they were in `previous` (the array's) keep their serials."""
    before: Mapping[str, Part] = previous.collectors if previous is not None else {}
    return RenderedSnapshot(
        snapshot=snapshot,
        exporter=numbered(snapshot.exporter_families,
                          previous.exporter if previous is not None else None),
        collectors={name: numbered(state.families, before.get(name))
                    for name, state in snapshot.collectors.items()},
    )


def numbered(families: tuple[RenderedFamily, ...], before: Part | None) -> Part:
    """`families` with serials: `before`'s for a family whose bytes are the same, else new."""
    if before is not None and before.families is families:
        return before  # carried from the poll before (a failed collector keeps its data)
    known = {} if before is None else {
        family.name: (family, serial)
        for family, serial in zip(before.families, before.serials, strict=True)}
    serials = []
    for family in families:
        old = known.get(family.name)
        if old is not None and _same_bytes(old[0], family):
            serials.append(old[1])
        else:
            serials.append(next(_SERIALS))
    return Part(families, tuple(serials))


def _same_bytes(a: RenderedFamily, b: RenderedFamily) -> bool:
    """Whether two renderings say the same in both formats. A rendering's samples are one
    object for both formats: compared once, not twice."""
    if a is b:
        return True
    if (a.text_header != b.text_header or a.om_header != b.om_header
            or a.om_samples != b.om_samples):
        return False
    one = a.text_samples is a.om_samples and b.text_samples is b.om_samples
    return one or a.text_samples == b.text_samples


def live_parts(
    selected: Iterable[RenderedSnapshot], now: float
) -> tuple[list[Part], float, tuple[object, ...]]:
    """The parts to serve at `now`, the time the first of them goes stale, and a version."""
    parts: list[Part] = []
    valid_until = float("inf")
    version = []
    for r in selected:
        parts.append(r.exporter)
        names = []
        for state in r.snapshot.live_collectors(now):
            assert state.data_at is not None  # live_collectors() guarantees it
            valid_until = min(valid_until, state.data_at + state.stale_after)
            names.append(state.name)
            if state.name in r.collectors:
                parts.append(r.collectors[state.name])
        version.append((r.snapshot.array, r.snapshot.generation, tuple(names)))
    return parts, valid_until, tuple(version)


@dataclass(frozen=True, slots=True)
class Merged:
    """One family of a body: every part's rendering of it, in order, and their serials (equal
    lists: equal bytes). Its bytes are picked only when asked for: a build asks only for the
    families it compresses again."""

    name: str
    families: list[RenderedFamily]
    serials: list[int]
    openmetrics: bool

    def pieces(self) -> list[bytes]:
        """The header (the first part's), then every part's samples."""
        first = self.families[0]
        if self.openmetrics:
            return [first.om_header, *map(_OM_SAMPLES, self.families)]
        return [first.text_header, *map(_TEXT_SAMPLES, self.families)]

    def data(self) -> bytes:
        return b"".join(self.pieces())


_OM_SAMPLES = attrgetter("om_samples")
_TEXT_SAMPLES = attrgetter("text_samples")


def merged(parts: Iterable[Part], openmetrics: bool) -> list[Merged]:
    """The parts' families merged by name, each family's samples contiguous across parts (as
    both formats require), in the body's order."""
    by_name: dict[str, tuple[list[RenderedFamily], list[int]]] = {}
    for part in parts:  # ~70,000 families for 1,000 arrays: as little work as can be per family
        for family, serial in zip(part.families, part.serials, strict=True):
            entry = by_name.get(family.name)
            if entry is None:
                by_name[family.name] = ([family], [serial])
            else:
                entry[0].append(family)
                entry[1].append(serial)
    return [Merged(name, *by_name[name], openmetrics) for name in sorted(by_name, key=order_key)]


def joined(families: Iterable[Merged]) -> bytes:
    """The plain body of merged families."""
    return b"".join([piece for family in families for piece in family.pieces()])
