"""Reading and parsing one answer with bounded memory, whatever the array sends.

The size cap bounds the bytes; the shape check bounds what parsing them costs. Parsed JSON costs
far more than its text (a 40 MB list of small objects is gigabytes of Python objects), and a
nesting deeper than the parser's recursion limit raises RecursionError instead of a clean error.
So before `json.loads`, a cheap scan of the bytes refuses an answer with more values than any
area needs, or nested deeper than any QSAN answer is (the manual's deepest is about 6 levels).
"""

from __future__ import annotations

import json
import re
from typing import Any

from qsan_exporter.api.errors import ApiFormatError

# The simulator's largest answer at a big size (8 enclosures, 286 disks, 32 pools, 512 volumes)
# is the volume list: 214 KB holding 12 294 JSON values; a 1000-event log page is 88 KB
# (docs/deployment.md has the figures). 8 MiB of bytes (DEFAULT_MAX_RESPONSE_MIB, the config's
# `max_response_mib` default) and 200 000 values leave ~40x and ~16x room, and bound the worst
# answer that is still parsed to ~40 MiB of Python objects.
MAX_DEPTH = 64
MAX_VALUES = 200_000
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')  # a JSON string, escapes included
_NOT_BRACKET = bytes(sorted(set(range(256)) - set(b"[]{}")))
_NOT_SYNTAX = bytes(sorted(set(range(256)) - set(b'[]{}"')))
_PARENS = bytes.maketrans(b"[{]}", b"(())")  # one kind of pair: the depth is all we need
_OPEN = ord("(")


def check_shape(body: bytes | bytearray, where: str) -> None:
    """Refuse (ApiFormatError) an answer with too many values or nested too deep."""
    containers = body.count(b"[") + body.count(b"{")
    # An upper bound (a comma in a string counts too): cheap, and refuses only the absurd.
    values = body.count(b",") + containers
    if values > MAX_VALUES:
        raise ApiFormatError(f"{where}: answer holds more than {MAX_VALUES} JSON values, "
                             "not parsed")
    if containers <= MAX_DEPTH:
        return
    brackets = _brackets(body)
    # Each pass drops every innermost pair, one level of nesting: a balanced answer no deeper
    # than MAX_DEPTH is gone within MAX_DEPTH passes (each a scan in C, over ever fewer bytes).
    left = brackets
    for _ in range(MAX_DEPTH):
        if not left:
            return
        left = left.replace(b"()", b"")
    if not left:
        return
    depth = 0  # deeper, or unbalanced (not JSON then): count, as the parser would nest
    for byte in brackets:
        if byte == _OPEN:
            depth += 1
            if depth > MAX_DEPTH:
                raise ApiFormatError(f"{where}: answer nested deeper than {MAX_DEPTH} "
                                     "levels, not parsed")
        else:
            depth -= 1


def _brackets(body: bytes | bytearray) -> bytes | bytearray:
    """The answer's brackets outside its strings, each as `(` or `)`."""
    if b"\\" not in body:  # no escapes: every quote opens or closes a string, as the pattern
        kept = body.translate(_PARENS, _NOT_SYNTAX)  # pairs them (an odd one: the pattern)
        if kept.count(b'"') % 2 == 0:
            return b"".join(kept.split(b'"')[::2])
    return _STRING.sub(b"", body).translate(_PARENS, _NOT_BRACKET)


def parse(body: bytes | bytearray, where: str, status: int) -> Any:
    """The answer's JSON, parsed from the bytes as read (no decoded text copy kept)."""
    check_shape(body, where)
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # the decoder's text would quote the body
        raise ApiFormatError(f"{where}: HTTP {status} answer is not JSON") from None
