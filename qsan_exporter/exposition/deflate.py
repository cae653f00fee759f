"""Gzip bodies made of deflate pieces compressed apart, and CRC-32 carried across them.

A piece compressed on its own (raw deflate, ended with a sync flush: byte-aligned, no final
block) can follow any other such piece: they make one deflate stream, which a final empty block
ends. So a body's unchanged families keep their compressed bytes from one build to the next,
and the process-wide tail goes into the same gzip member (`curl --compressed` reads only the
first member of a stream). The member's CRC-32 is combined from each piece's CRC and length,
so unchanged bytes are never read again: zlib has crc32_combine, but Python's zlib module does
not expose it.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

_POLY = 0xEDB88320  # CRC-32's polynomial, bit-reflected: bit 31 is x^0
_ONE = 1 << 31  # the polynomial 1
_FINAL_BLOCK = b"\x03\x00"  # an empty fixed-Huffman block marked last
_CRC_SLICE = 4096  # zlib.crc32 keeps the GIL below 5 KiB


def _multiply(a: int, b: int) -> int:
    """a(x) * b(x) modulo the CRC polynomial, in its reflected form (zlib's multmodp)."""
    product = 0
    bit = _ONE
    while a:
        if a & bit:
            product ^= b
            a ^= bit
        bit >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1
    return product


def _powers() -> list[int]:
    """x^(2^k) modulo the polynomial, k = 0..63 (zlib's x2n_table), each the square of the
    one before."""
    table = [1 << 30]  # x^1
    for _ in range(63):
        table.append(_multiply(table[-1], table[-1]))
    return table


_X2N = _powers()


def shift_of(length: int) -> int:
    """x^(8 * length) modulo the polynomial: what `length` more bytes do to the CRC before them.
    Kept per piece, it makes each combination one multiplication."""
    shift, k = _ONE, 3  # 2^3 bits per byte
    while length:
        if length & 1:
            shift = _multiply(_X2N[k], shift)
        length >>= 1
        k += 1
    return shift


def crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """CRC-32 of A + B from crc32(A), crc32(B) and len(B) (zlib's crc32_combine)."""
    return _multiply(shift_of(length2), crc1) ^ crc2


@dataclass(frozen=True, slots=True)
class Deflated:
    """Raw deflate data ending on a byte boundary, with its uncompressed bytes' CRC-32, length,
    and `shift_of(size)`."""

    data: bytes | memoryview
    crc: int
    size: int
    shift: int

    def after(self, crc: int) -> int:
        """The CRC-32 of some bytes whose CRC is `crc`, followed by this piece's."""
        return _multiply(self.shift, crc) ^ self.crc


NOTHING = Deflated(b"", 0, 0, _ONE)  # no bytes: the piece that ends a member as it is


def deflate(data: bytes, level: int) -> Deflated:
    """`data` as a piece that any other piece may follow or precede."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    compressed = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return Deflated(compressed, crc32(data), len(data), shift_of(len(data)))


def crc32(data: bytes, crc: int = 0) -> int:
    """zlib.crc32 of `data`, a few KiB per call. Over more than 5 KiB, CPython's zlib.crc32
    lets the GIL go, and a build among busy threads (polls, scrapes) waits ~10 ms to win it
    back: once more per family compressed, on top of the compressor's own calls. Slices cost
    no more CPU; a 100-array rebuild among 3 busy threads took 240 ms of wall time, not 320."""
    with memoryview(data) as view:
        for start in range(0, len(view), _CRC_SLICE):
            crc = zlib.crc32(view[start:start + _CRC_SLICE], crc)
    return crc


def gzip_header(level: int) -> bytes:
    """A gzip member's header as gzip.GzipFile writes it with mtime 0 (no name, OS unknown)."""
    flags = 4 if level == 1 else 2 if level == 9 else 0  # XFL: fastest, best or neither
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00" + bytes((flags, 255))


@dataclass(frozen=True, slots=True)
class Gzipped:
    """A gzip member not yet ended: its header and deflate pieces, and the CRC-32 and length of
    what they hold. Whatever follows (the tail) goes into the same member."""

    data: bytes
    crc: int
    size: int

    def ended(self, last: Deflated = NOTHING) -> tuple[bytes, bytes]:
        """The whole member with `last` as its last piece: these bytes, then the end."""
        trailer = struct.pack("<II", last.after(self.crc), (self.size + last.size) & 0xFFFFFFFF)
        return self.data, b"".join((last.data, _FINAL_BLOCK, trailer))
