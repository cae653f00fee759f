"""Gzipped bodies made of separately compressed families: the same bytes as the plain body, one
gzip member, and only the families that changed compressed again."""

from __future__ import annotations

import dataclasses
import gzip
import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

from qsan_exporter.collectors.base import FamilyBuilder
from qsan_exporter.exposition import Exposition, render_families
from qsan_exporter.exposition.deflate import Gzipped, crc32_combine, deflate, gzip_header
from qsan_exporter.exposition.parts import render_snapshot
from qsan_exporter.snapshot import CollectorState, Snapshot
from tests.exposition_helpers import ScrapeCounter

SETTINGS = settings(derandomize=True, database=None, deadline=None, max_examples=60)
STALE_AFTER = 180.0


@SETTINGS
@given(st.binary(max_size=3000), st.binary(max_size=70_000), st.integers(0, 1 << 32))
def test_crc32_combine_is_the_crc_of_the_concatenation(a: bytes, b: bytes, seed: int) -> None:
    assert crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)
    # Any CRC continued by a piece: the CRC of whatever it stood for, then the piece's bytes.
    assert deflate(b, 1).after(zlib.crc32(a)) == zlib.crc32(a + b)
    assert crc32_combine(seed & 0xFFFFFFFF, 0, 0) == seed & 0xFFFFFFFF


@SETTINGS
@given(st.lists(st.binary(max_size=20_000) | st.sampled_from([b"", b"# EOF\n", b"a" * 9000]),
                max_size=6))
def test_pieces_compressed_apart_make_one_gzip_member(pieces: list[bytes]) -> None:
    deflated = [deflate(piece, 1) for piece in pieces]
    crc = 0
    for piece in deflated[:-1]:
        crc = piece.after(crc)
    head = Gzipped(gzip_header(1) + b"".join(p.data for p in deflated[:-1]), crc,
                   sum(len(p) for p in pieces[:-1]))
    body = b"".join(head.ended(deflated[-1]) if deflated else head.ended())
    _assert_one_member(body, b"".join(pieces))


def _assert_one_member(body: bytes, expected: bytes) -> None:
    """Both readers get `expected`, and a reader of one member only gets all of it."""
    assert gzip.decompress(body) == expected
    reader = zlib.decompressobj(16 + zlib.MAX_WBITS)
    assert reader.decompress(body) == expected
    assert reader.eof and reader.unused_data == b""


def _snapshot(array: str, generation: int, *, written: float = 1e12, disks: int = 3,
              pools_at: float = 1000.0) -> Snapshot:
    """An array with two collectors: `written` moves one disks family only, `pools_at` ages
    the pools collector. Rendered afresh on every call, as every poll does."""
    labels = {"array": array}
    disks_out, pools_out, own = FamilyBuilder(labels), FamilyBuilder(labels), FamilyBuilder(labels)
    for i in range(disks):
        disk = {"disk": f"e0d{i}", "enclosure": "0", "slot": str(i)}
        disks_out.add("qsan_disk_health", disk, i % 3)
        disks_out.add("qsan_disk_written_bytes_total", disk, written + i)
    pools_out.info("qsan_pool_info", {"pool": "p1", "pool_id": "1", "thin": "true", "sed": "false",
                                      "auto_tier": "false", "status": "", "health": "Good"})
    own.add("qsan_up", {}, 1)

    def state(name: str, out: FamilyBuilder, at: float) -> CollectorState:
        return CollectorState(name, True, 0.1, None, at, at, STALE_AFTER,
                              render_families(out.built()))

    return Snapshot(array=array, generation=generation, started_at=1000.0, duration=0.2,
                    up=True, error=None, last_success=1000.0, identity=None,
                    collectors={"disks": state("disks", disks_out, 1000.0),
                                "pools": state("pools", pools_out, pools_at)},
                    exporter_families=render_families(own.built()))


def test_serials_follow_the_bytes_not_the_objects() -> None:
    first = render_snapshot(_snapshot("a", 1))
    again = render_snapshot(_snapshot("a", 2), first)  # a new poll rendering the same bytes
    moved = render_snapshot(_snapshot("a", 3, written=2e12), again)
    disks = [r.collectors["disks"] for r in (first, again, moved)]
    assert disks[1].families[0] is not disks[0].families[0]
    assert disks[1].serials == disks[0].serials and again.exporter.serials == first.exporter.serials
    assert disks[2].serials[0] == disks[1].serials[0]  # disk health: the same
    assert disks[2].serials[1] != disks[1].serials[1]  # bytes written: moved
    fresh = render_snapshot(_snapshot("a", 1))  # nothing to compare with: new numbers
    assert not set(fresh.collectors["disks"].serials) & set(disks[0].serials)
    carried = dataclasses.replace(moved.snapshot, generation=4)  # a failed collector's data
    assert render_snapshot(carried, moved).collectors["disks"] is disks[2]


def _check(exposition: Exposition, now: float, *, openmetrics: bool = True,
           arrays: list[str] | None = None) -> int:
    """The gzipped body says what the plain one says (tail aside), in one member. Returns how
    many families in it the gzipped body's build compressed or reused (0: none built)."""
    extra = arrays is None
    plain = exposition.body(now, openmetrics=openmetrics, compress=False, arrays=arrays,
                            include_extra=False).data
    stats = exposition.stats
    before = stats.families_compressed + stats.families_reused
    zipped = exposition.body(now, openmetrics=openmetrics, compress=True, arrays=arrays,
                             include_extra=extra)
    data = b"".join(zipped.chunks)
    assert zipped.length == len(data) and zipped.compressed
    unzipped = gzip.decompress(data)
    if openmetrics:
        assert unzipped.endswith(b"# EOF\n") and unzipped.count(b"# EOF") == 1
        plain = plain.removesuffix(b"# EOF\n")
    assert unzipped.startswith(plain)
    assert (b"qsan_test_scrapes " in unzipped[len(plain):]) == extra
    _assert_one_member(data, unzipped)
    return stats.families_compressed + stats.families_reused - before


def test_a_rebuild_compresses_only_the_family_that_changed() -> None:
    exposition = Exposition(extra=[ScrapeCounter()])
    for name in ("a", "b", "c"):
        exposition.publish(_snapshot(name, 1))
    formats = (True, False)
    for openmetrics in formats:
        _check(exposition, 1001.0, openmetrics=openmetrics)
    first = exposition.stats.families_compressed
    assert first == 4 * len(formats) and exposition.stats.families_reused == 0
    exposition.publish(_snapshot("b", 2, written=2e12))  # one family of one array changed
    for openmetrics in formats:
        _check(exposition, 1001.0, openmetrics=openmetrics)
    assert exposition.stats.families_compressed - first == 1 * len(formats)
    assert exposition.stats.families_reused == 3 * len(formats)


def test_a_poll_that_renders_the_same_bytes_compresses_nothing() -> None:
    """Every poll renders new bytes objects: equal ones keep their serials all the same."""
    exposition = Exposition(extra=[ScrapeCounter()])
    exposition.publish(_snapshot("a", 1))
    _check(exposition, 1001.0)
    compressed = exposition.stats.families_compressed
    exposition.publish(_snapshot("a", 2))
    _check(exposition, 1001.0)
    assert exposition.stats.families_compressed == compressed
    assert exposition.stats.families_reused == 4


def test_arrays_added_removed_and_a_stale_collector_change_only_their_families() -> None:
    exposition = Exposition(extra=[ScrapeCounter()])
    for name in ("a", "b"):
        exposition.publish(_snapshot(name, 1))
    _check(exposition, 1001.0)
    stats = exposition.stats
    exposition.publish(_snapshot("b", 2, pools_at=900.0))  # stale from 1080 on
    _check(exposition, 1001.0)
    assert (stats.families_compressed, stats.families_reused) == (4, 4)  # nothing changed
    _check(exposition, 1100.0)  # b's pool info withdrawn: that family only
    assert (stats.families_compressed, stats.families_reused) == (5, 7)
    exposition.remove("a")  # every family held some of a's samples; b's pool info is stale
    _check(exposition, 1100.0)
    assert stats.families_compressed == 5 + 3
    exposition.publish(_snapshot("a", 3))
    _check(exposition, 1100.0)
    assert stats.families_compressed == 8 + 4


@settings(derandomize=True, database=None, deadline=None, max_examples=40)
@given(st.lists(st.tuples(st.sampled_from(["publish", "remove", "later"]),
                          st.sampled_from("abc"), st.integers(0, 2), st.integers(1, 4)),
                max_size=10))
def test_any_sequence_of_publishes_gives_the_plain_bytes(
        steps: list[tuple[str, str, int, int]]) -> None:
    """Changed and unchanged families, arrays going and coming back, collectors going stale:
    the gzipped body always says what the plain body says, whatever was kept."""
    exposition = Exposition(extra=[ScrapeCounter()])
    now = 1001.0
    for generation, (step, array, written, disks) in enumerate(steps, 1):
        if step == "publish":
            exposition.publish(_snapshot(array, generation, written=1e12 + written,
                                         disks=disks, pools_at=now - 1.0 - 50.0 * written))
        elif step == "remove":
            exposition.remove(array)
        else:
            now += 60.0
        for openmetrics in (True, False):
            families = exposition.body(now, openmetrics=openmetrics, compress=False,
                                       include_extra=False).data.count(b"# TYPE ")
            assert _check(exposition, now, openmetrics=openmetrics) in (0, families)
    _check(exposition, now, arrays=["a", "c"])


def test_probe_bodies_are_one_member_too() -> None:
    exposition = Exposition(extra=[ScrapeCounter()])
    for name in ("a", "b"):
        exposition.publish(_snapshot(name, 1))
    _check(exposition, 1001.0, arrays=["b"])
    assert exposition.stats.families_compressed == 0  # /probe compresses in one stream
