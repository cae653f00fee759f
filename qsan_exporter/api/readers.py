"""Tolerant readers of the arrays' answers: pure functions, no Prometheus, no I/O.

The device manual is inconsistent (SPEC §5): keys are spelt several ways (`raidsets`/`raidSets`,
`encId`/`encID`, `" cacheToFlash "`), ids come as int or string, numbers as strings, and a list
may come as null, as one object or as an object keyed by id. These readers absorb all of that in
one place, so the collectors stay plain. Each reading of the manual they handle is named in
qsan_exporter/readings.py and cited here by that name.

(The SANOS 4.0 translation reads its answers with its own, looser rules: api/legacy/translate.py.)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

MIB = 1048576  # the device's "MB" is MiB (SPEC §4)
_SURROGATE = re.compile("[\ud800-\udfff]")
_ITEM_KEYS = ("id", "name", "ctrlID")  # keys that make a mapping one item, not a map of items


# Normalised keys seen so far: every poll asks the same few hundred keys. Bounded, so an array
# that invents keys cannot grow it; past the bound keys are normalised every time.
_NORM_CACHE: dict[str, str] = {}
_NORM_CACHE_SIZE = 8192


def norm_key(key: str) -> str:
    norm = _NORM_CACHE.get(key)
    if norm is None:
        norm = key.strip().replace("_", "").lower()
        if len(_NORM_CACHE) < _NORM_CACHE_SIZE:
            _NORM_CACHE[key] = norm
    return norm


def field(obj: object, *names: str, default: Any = None) -> Any:
    """Read the first of `names` present in `obj`, ignoring case, stray spaces and underscores.

    `field(d, "raidSets")` finds `raidsets`, `raidSets` and `" raidSets "` alike (readings
    `raidsets-spelling`, `enc-id-spelling`, `c2f-key-spacing`).
    """
    if type(obj) is not dict and not isinstance(obj, Mapping):  # a parsed answer is a dict
        return default
    for name in names:
        if name in obj:
            return obj[name]
    # A miss: every key normalised; of keys alike, the last wins, as in a dict built from them.
    # A key normalised before is looked up at C speed; the rest (non-strings: None) one by one.
    keys = list(obj)
    norms = list(map(_NORM_CACHE.get, keys))
    if None in norms:
        norms = [norm_key(k) if n is None and isinstance(k, str) else n
                 for k, n in zip(keys, norms, strict=True)]
    for w in [norm_key(n) for n in names]:
        if w in norms:
            last = len(norms) - 1 - norms[::-1].index(w)
            return obj[keys[last]]
    return default


def items(obj: Mapping[str, Any] | None, *names: str) -> list[Any]:
    """A list field that may be missing or null: always a list. A non-list is a format error."""
    value = field(obj, *names)
    if value is None:  # reading `null-lists`
        return []
    if not isinstance(value, list):
        raise ValueError(f"expected a list for {names[0]!r}, got {type(value).__name__}")
    return value


def number(raw: object) -> float | None:
    """A number the device sends as int, float or numeric string ("1225"); None if not one.
    Readings `sensor-value-type`, `disk-rate-type`."""
    if type(raw) is int:  # the common cases first (type(): a bool is not taken here)
        try:
            return float(raw)  # finite whenever it converts
        except OverflowError:  # a JSON integer beyond float range, e.g. 10**400
            return None
    if type(raw) is float:
        return raw if math.isfinite(raw) else None
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, int | float):
        try:
            value = float(raw)
        except OverflowError:  # a JSON integer beyond float range, e.g. 10**400
            return None
    elif isinstance(raw, str):
        text = raw.strip()
        if not text:
            return None
        try:
            value = float(text)
        except ValueError:
            return None
    else:
        return None
    return value if math.isfinite(value) else None


def reported(raw: object) -> float | None:
    """A number for which the device's 0 means "no data" (SPEC §4): None for 0 or missing."""
    value = number(raw)
    return None if value is None or value == 0 else value


def scaled(value: float, divisor: float) -> float:
    """value / divisor without binary noise: 26.9 % is 0.269, not 0.26899999999999996."""
    return round(value / divisor, 12)


def percent(value: float) -> float:
    return scaled(value, 100)


def mib(raw: object) -> float | None:
    value = number(raw)
    return None if value is None else value * MIB


def text(raw: object) -> str:
    """A label value from anything the device sends: ids may be int or string, null is empty.
    Readings `raidset-id-type`, `disk-pool-id-type`."""
    if type(raw) is str:  # the common case first: a parsed answer's string
        value = raw.strip()
        return value if value.isascii() else _SURROGATE.sub("\ufffd", value)
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    value = str(raw).strip()
    if value.isascii():
        return value
    # JSON may carry a lone UTF-16 surrogate ("\ud800"); it has no UTF-8 encoding, so one such
    # label value would make the whole exposition fail to render. It becomes U+FFFD instead.
    return _SURROGATE.sub("\ufffd", value)


def enabled(raw: object) -> bool:
    """A device boolean (bool, 0/1 or string) as a Python bool; see `flag()`."""
    return flag(raw) == "true"


def merged(parts: list[Any]) -> dict[str, Any]:
    """One object from a list of partial ones (reading `enclosure-info-array`): the first value
    of each key wins, except lists (the `moreInfo` sensor lists), which are concatenated and
    objects, which are merged the same way, so every element is read, not only the first."""
    result: dict[str, Any] = {}
    for part in parts:
        if not isinstance(part, Mapping):
            continue
        for key, value in part.items():
            norm = norm_key(key) if isinstance(key, str) else key
            known = next((k for k in result if norm_key(k) == norm), None)
            if known is None:
                result[key] = value
            elif isinstance(result[known], list) and isinstance(value, list):
                result[known] = [*result[known], *value]
            elif isinstance(result[known], Mapping) and isinstance(value, Mapping):
                result[known] = merged([result[known], value])
    return result


def entries(obj: Mapping[str, Any] | None, *names: str) -> list[Mapping[str, Any]]:
    """The object entries of a nested list field, for per-item tolerance.

    A missing, null or non-list field gives no entries and non-object entries are skipped: one
    odd sub-list must not fail a whole area whose other items are fine.
    """
    value = field(obj, *names)  # null or missing: no entries (reading `null-lists`)
    if isinstance(value, Mapping):  # a single object where the manual shows a list
        return [value]
    if not isinstance(value, list):
        return []
    return [v for v in value if type(v) is dict or isinstance(v, Mapping)]  # dicts first: no ABC


def flag(raw: object) -> str:
    """A boolean label value ("true"/"false"); the device may send bools, 0/1 or strings.
    Reading `auto-tier-type`: the example's "" is false."""
    if isinstance(raw, str):
        return "true" if raw.strip().lower() in {"true", "1", "yes", "enabled", "on"} else "false"
    return "true" if raw else "false"


# --- lists in every reading (readings `top-level-object`, `null-lists`, `volumes-iscsi-object`,
# `null-lists-services`) ---------------------------------------------------------------------------

def elements(value: object, *markers: str, single: bool = True) -> list[Any] | None:
    """Every element of a field the manual shows as a list but may type as "object".

    Readings `top-level-object` and `null-lists` (qsan_exporter/readings.py): a list is
    itself; null is empty; an object is one item when it has any of `markers` (keys only an
    item has, e.g. a pool's "name"), else an object keyed by id whose values are the items
    (every one read, not the first). Any other object is one item when `single`, else not a
    list. None when the value is none of these.
    """
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if not isinstance(value, Mapping):
        return None
    if not value:
        return []
    # A marker key present at all makes the object one item (null or not: were it null, the
    # object would not be a map of items either).
    wanted = {norm_key(m) for m in markers}
    if any(isinstance(k, str) and norm_key(k) in wanted for k in value):
        return [value]
    if all(isinstance(v, Mapping) for v in value.values()):
        return list(value.values())
    return [value] if single else None


def listing(raw: object, area: str, key: str, *markers: str) -> list[Any]:
    """The items of a `{"<key>": ...}` answer, in every shape `elements()` reads.

    A missing key is an error: an answer without its list is not "no items" but something
    this exporter does not understand (an error document, another endpoint), and must fail the
    collector rather than make every series of the area silently vanish. `markers` are keys
    that only an item has (see `elements()`).
    """
    value = _member(raw, area, key)
    found = elements(value, *markers)
    if found is None:
        raise ValueError(f"{area}: expected a list for {key!r}, got {type(value).__name__}")
    return found


def item_list(raw: object, area: str, key: str) -> list[Any]:
    """Every item of a `{"<key>": ...}` answer, whichever way the manual's reading shaped it.

    Readings `volumes-iscsi-object` and `null-lists-services`: the tables type the volume list and
    the iSCSI `iscsi` lists as "object" while the examples show lists, and an empty answer may
    be `null`. Read as `as_items`; a missing key stays a format error, as in `listing`.
    """
    return as_items(_member(raw, area, key), f"{area} {key}")


def as_items(value: object, what: str) -> list[Any]:
    """A list field in any reading: list, null, one item object (it has an `id`, `name` or
    `ctrlID`) or an id -> item map, all read; anything else is a format error."""
    found = elements(value, *_ITEM_KEYS, single=False)
    if found is None:
        raise ValueError(f"{what}: expected a list, got {type(value).__name__}")
    return found


def _member(raw: object, area: str, key: str) -> Any:
    """`raw[key]` of an answer that must be an object holding `key` (any spelling)."""
    if not isinstance(raw, Mapping):
        raise TypeError(f"{area}: expected a JSON object, got {type(raw).__name__}")
    missing = object()
    value = field(raw, key, default=missing)
    if value is missing:
        raise KeyError(f"{area}: answer has no {key!r} list (keys: {sorted(map(str, raw))})")
    return value


def schedules(raw: object) -> list[Mapping[str, Any]]:
    """Reading `schedule-array-or-object`: the tables type `schedule` "array", the example
    shows one object. Every schedule object is returned (a list of them is read whole)."""
    if isinstance(raw, Mapping):
        return [raw]
    if isinstance(raw, list):
        return [s for s in raw if isinstance(s, Mapping)]
    return []
