"""Bad bodies for the body-shaping faults: pure functions of (body, parameter), so a test can
compute exactly what the exporter was sent.

`wrong_types` and `missing_fields` draw from a fresh `random.Random(seed)` while walking the
document in order: the same document shape and seed always break the same places, whatever the
moving numbers (temperatures, counters) are at the time.
"""

from __future__ import annotations

import functools
import json
import random
from typing import Any

MALFORMED_TAIL = b"<!-- simulated fault: this is not JSON -->"
WRONG_TYPE_RATE = 0.3  # of scalars
WRONG_CONTAINER_RATE = 0.05  # of lists and objects: each takes its whole subtree with it
MISSING_FIELD_RATE = 0.2  # of keys holding a scalar
MISSING_CONTAINER_RATE = 0.05  # of keys holding a list or an object (all of it goes)
PADDING_KEY = "simulatorPadding"
_PAD_ITEM = b'"' + b"x" * 1022 + b'"'  # 1 KiB with its quotes; plus a comma per item


def malformed_json(body: bytes) -> bytes:
    """Half the real body, then text no JSON parser accepts (outside a string `<` is illegal,
    inside one the string never ends)."""
    return body[: len(body) // 2] + MALFORMED_TAIL


def truncated_length(body: bytes) -> int:
    """How much of `body` a `truncated` fault sends: half, never all of it."""
    return min(len(body) // 2, max(len(body) - 1, 0))


def wrong_types(body: bytes, seed: int) -> bytes:
    """The same document with values of the wrong type at random places (never the top level,
    so a client still walks into it); at least one value changes when there is one."""
    document = _load(body)
    rng = random.Random(seed)
    changed = [False]
    result = _retype_children(document, rng, changed)
    if not changed[0]:
        result = _retype_children(document, rng, changed, force=True)
    return json.dumps(result).encode()


def missing_fields(body: bytes, seed: int) -> bytes:
    """The same document with object keys removed at every depth; at least one when any."""
    document = _load(body)
    rng = random.Random(seed)
    removed = [False]
    result = _drop_keys(document, rng, removed)
    if not removed[0]:
        result = _drop_first_key(document)
    return json.dumps(result).encode()


def huge(body: bytes, megabytes: float) -> bytes:
    """The real document plus a list of 1 KiB strings under `simulatorPadding` (a top-level
    list becomes ``{"data": [...], "simulatorPadding": [...]}``): valid JSON of at least
    `megabytes` MiB, which a careful client refuses to read whole."""
    document = _load(body)
    if not isinstance(document, dict):
        document = {"data": document}
    head = json.dumps(document).encode()[:-1]
    head += b', "' if document else b'"'
    head += PADDING_KEY.encode() + b'": ['
    return head + _padding(megabytes) + b"]}"


def deep(depth: int) -> bytes:
    """Lists nested `depth` deep: valid JSON that a recursive parser or walker chokes on."""
    return b"[" * depth + b"]" * depth


def many_keys(keys: int) -> bytes:
    """One object with `keys` keys: valid JSON whose parsed form costs far more than its bytes."""
    return b"{" + b",".join(b'"k%d":0' % i for i in range(keys)) + b"}"


@functools.lru_cache(maxsize=4)
def _padding(megabytes: float) -> bytes:
    """Shared between requests and arrays: hundreds of arrays answering `huge` hold one copy."""
    items = max(1, -(-int(megabytes * (1 << 20)) // (len(_PAD_ITEM) + 1)))
    return b",".join([_PAD_ITEM] * items)


def _load(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return {"body": body.decode("utf-8", "replace")}


def _retype_children(node: Any, rng: random.Random, changed: list[bool],
                     force: bool = False) -> Any:
    if isinstance(node, dict):
        return {k: _retype(v, rng, changed, force) for k, v in node.items()}
    if isinstance(node, list):
        return [_retype(v, rng, changed, force) for v in node]
    return node


def _retype(value: Any, rng: random.Random, changed: list[bool], force: bool) -> Any:
    rate = WRONG_CONTAINER_RATE if isinstance(value, dict | list) else WRONG_TYPE_RATE
    if (force and not changed[0]) or rng.random() < rate:
        changed[0] = True
        return _wrong(value, rng)
    return _retype_children(value, rng, changed, force)


def _wrong(value: Any, rng: random.Random) -> Any:
    """A value of another type the manual never shows there (numbers as strings are tolerated
    by the spec, so they are not "wrong": numbers become objects or lists instead)."""
    if isinstance(value, bool):
        return rng.choice(["yes", [value]])
    if isinstance(value, int | float):
        return rng.choice([{"value": value}, [value]])
    if isinstance(value, str):
        return rng.choice([[value], {"value": value}])
    if isinstance(value, list):
        return rng.choice([json.dumps(value)[:64], len(value)])
    if isinstance(value, dict):
        return rng.choice([list(value.values()), json.dumps(value)[:64]])
    return rng.choice([{}, []])  # null


def _drop_keys(node: Any, rng: random.Random, removed: list[bool]) -> Any:
    if isinstance(node, dict):
        kept = {}
        for key, value in node.items():
            rate = MISSING_CONTAINER_RATE if isinstance(value, dict | list) else (
                MISSING_FIELD_RATE)
            if rng.random() < rate:
                removed[0] = True
                continue
            kept[key] = _drop_keys(value, rng, removed)
        return kept
    if isinstance(node, list):
        return [_drop_keys(v, rng, removed) for v in node]
    return node


def _drop_first_key(node: Any) -> Any:
    """For the rare draw that removed nothing: the first scalar key found depth first (or,
    in a document of empty containers, the first key at all)."""
    result, done = _without_first_scalar_key(node)
    if not done and isinstance(node, dict) and node:
        first = next(iter(node))
        result = {k: v for k, v in node.items() if k != first}
    return result


def _without_first_scalar_key(node: Any) -> tuple[Any, bool]:
    if isinstance(node, dict):
        for key, value in node.items():
            if not isinstance(value, dict | list):
                return {k: v for k, v in node.items() if k != key}, True
        items = list(node.items())
    elif isinstance(node, list):
        items = list(enumerate(node))
    else:
        return node, False
    for key, value in items:
        new, done = _without_first_scalar_key(value)
        if done:
            if isinstance(node, dict):
                return {**node, key: new}, True
            return [*node[:key], new, *node[key + 1:]], True
    return node, False
