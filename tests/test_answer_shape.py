"""The shape check's quick paths refuse exactly what one bracket-by-bracket count refuses."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from qsan_exporter.api.answer import MAX_DEPTH, check_shape
from qsan_exporter.api.errors import ApiFormatError

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')


def too_deep(body: bytes) -> bool:
    """The reference: strings dropped, then every bracket counted, as the parser nests."""
    depth = 0
    for byte in _STRING.sub(b"", body):
        if byte in b"[{":
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif byte in b"]}":
            depth -= 1
    return False


def refused(body: bytes) -> bool:
    try:
        check_shape(body, "test")
    except ApiFormatError as exc:
        assert "nested deeper" in str(exc)
        return True
    return False


pieces = st.sampled_from([b"[", b"]", b"{", b"}", b'"', b"\\", b"\\\"", b"[" * 40, b"]" * 40,
                          b'"]]]]"', b'"[[[["', b",", b"1", b"x"])


@settings(derandomize=True, database=None, deadline=None, max_examples=400)
@given(st.lists(pieces, max_size=40).map(b"".join))
@example(b"[" * 65 + b"]" * 65)
@example(b"[" * 64 + b"]" * 64)
@example(b"]" * 70 + b"[" * 64)
@example(b'[' * 60 + b'"]]]]]]]]]]",' + b"[" * 10 + b"]" * 80 + b'"[[[[[[[[[["')
@example(b'[' * 60 + b'"\\"]]]]]]]]]]",' + b"[" * 10 + b"]" * 70)
def test_the_quick_paths_refuse_what_counting_refuses(body: bytes) -> None:
    assert refused(body) == too_deep(body)
    assert refused(bytearray(body)) == too_deep(body)


@pytest.mark.parametrize("depth, deep", [(MAX_DEPTH, False), (MAX_DEPTH + 1, True)])
def test_the_bound_is_the_same(depth: int, deep: bool) -> None:
    body = b'{"a": ' * depth + b"1" + b"}" * depth
    assert refused(body) is deep
