"""SANOS 4.0 answers -> the Unified-shaped raw answers the collectors already read: the engine.

The collectors (`qsan_exporter/collectors/*`) stay untouched: each legacy answer becomes the
document the matching Unified endpoint would have given, so the metric names are the same by
construction. Which legacy field feeds which Unified field is data, in `mapping`; this module
is the engine that applies those tables and finds things in answers of unknown shape; the
structure around them per area (which list holds the items, merging S.M.A.R.T. into disks and
LUN mappings into volumes) is in `hardware`, `storage` and `services`.

The helpers here are not the collectors' tolerant readers (api/readers.py): legacy keys also
ignore inner spaces, a null value counts as absent, and numbers are read from their leading
digits with a unit ("41 C"), where the Unified readers take only a whole numeric string.

Every numeric field no table consumed is logged once per (endpoint, field) at DEBUG, so a
firmware that spells a fact differently shows up in `--log.level=debug` instead of vanishing.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from typing import Any

from qsan_exporter.api import readers
from qsan_exporter.api.errors import ApiFormatError
from qsan_exporter.api.legacy import mapping as m

log = logging.getLogger(__name__)

_LEADING_NUMBER = re.compile(r"\s*([-+]?\d+(?:\.\d+)?)\s*([A-Za-z%]*)")
_SIZE_UNITS = {"": None, "b": 1, "byte": 1, "bytes": 1, "k": 1024, "kb": 1024, "kib": 1024,
               "m": 1024**2, "mb": 1024**2, "mib": 1024**2, "g": 1024**3, "gb": 1024**3,
               "gib": 1024**3, "t": 1024**4, "tb": 1024**4, "tib": 1024**4, "p": 1024**5,
               "pb": 1024**5, "lba": 512, "sector": 512, "sectors": 512}
_MISSING = ("", "n/a", "-", "--")


def norm(key: object) -> str:
    """A key as compared: case, spaces and underscores ignored."""
    return str(key).strip().replace("_", "").replace(" ", "").lower()


def leading_number(value: object) -> float | None:
    """A number, or the number a string starts with ("41 C" -> 41.0); None otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value)
        return number if number == number and abs(number) != float("inf") else None
    if isinstance(value, str):
        match = _LEADING_NUMBER.match(value)
        return float(match.group(1)) if match else None
    return None


def size_in_bytes(value: object, default_unit: str) -> float | None:
    """A size with its unit ("8 GB") or a bare number in `default_unit`, as bytes."""
    if isinstance(value, bool) or value is None:
        return None
    unit = default_unit.lower()
    if isinstance(value, str):
        match = _LEADING_NUMBER.match(value)
        if not match:
            return None
        number, written = float(match.group(1)), match.group(2).lower()
        if written in _SIZE_UNITS and written:
            unit = written
    else:
        number_or_none = leading_number(value)
        if number_or_none is None:
            return None
        number = number_or_none
    factor = _SIZE_UNITS.get(unit)
    return None if factor is None else number * factor


def _controllers(value: object) -> float | None:
    if isinstance(value, list):
        return float(len(value))
    if isinstance(value, str):
        word = value.strip().lower()
        if word.startswith("dual"):
            return 2.0
        if word.startswith("single"):
            return 1.0
    return leading_number(value)


def _thin(value: object) -> object:
    if isinstance(value, str):
        word = value.strip().lower()
        if "thin" in word:
            return True
        if "thick" in word:
            return False
    return value


def convert(value: object, kind: str, unit: str | None) -> object:
    """One legacy value read as `kind` (see `mapping`); None when it cannot be."""
    if value is None or (isinstance(value, Mapping | list) and kind != "controllers"):
        return None
    if isinstance(value, str) and value.strip().lower() in _MISSING:
        return None
    if kind in ("text", "flag"):
        return value
    if kind == "thin":
        return _thin(value)
    if kind in ("number", "percent"):
        return leading_number(value)
    if kind == "controllers":
        return _controllers(value)
    if kind == "mib":
        size = size_in_bytes(value, unit or "MB")
        return None if size is None else size / 1048576
    if kind == "bytes":
        return size_in_bytes(value, unit or "B")
    raise ValueError(f"unknown mapping kind {kind!r}")


class Reader:
    """Applies mapping tables to legacy items; remembers which unmatched fields it reported."""

    def __init__(self) -> None:
        self._reported: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def read(self, item: Mapping[str, Any], table: tuple[m.Field, ...],
             consumed: set[str]) -> dict[str, Any]:
        """The target fields found in `item`; the legacy keys used are added to `consumed`."""
        keys = {norm(k): k for k in item if isinstance(k, str | int)}
        out: dict[str, Any] = {}
        for spec in table:
            for candidate in spec.candidates:
                name, unit = (candidate, None) if isinstance(candidate, str) else candidate
                key = keys.get(norm(name))
                if key is None:
                    continue
                consumed.add(key)
                value = convert(item[key], spec.kind, unit)
                if value is not None:
                    out[spec.target] = value
                    break
        return out

    def report(self, where: str, item: Mapping[str, Any], consumed: set[str]) -> None:
        """Log, once per (endpoint, field), each numeric field no table consumed."""
        for key, value in item.items():
            if key in consumed or isinstance(value, Mapping | list | bool):
                continue
            if leading_number(value) is None:
                continue
            with self._lock:
                if (where, str(key)) in self._reported:
                    continue
                self._reported.add((where, str(key)))
            log.debug("legacy %s: unmapped numeric field %r = %r (add it to "
                      "qsan_exporter/api/legacy/mapping.py if it is a fact we export)",
                      where, key, value)

    def read_all(self, where: str, item: Mapping[str, Any],
                 table: tuple[m.Field, ...], also: tuple[str, ...] = ()) -> dict[str, Any]:
        """`read` + `report`, the keys in `also` (handled by the caller) counted as consumed."""
        consumed = {k for k in item if norm(k) in {norm(a) for a in also}}
        out = self.read(item, table, consumed)
        self.report(where, item, consumed)
        return out


# --- finding things in answers of unknown shape ---------------------------------------------------

def get(obj: Mapping[str, Any], *names: str) -> tuple[str | None, Any]:
    keys = {norm(k): k for k in obj if isinstance(k, str)}
    for name in names:
        key = keys.get(norm(name))
        if key is not None and obj[key] is not None:
            return key, obj[key]
    return None, None


def unwrap(body: Any) -> Any:
    """The payload of an answer wrapped as {"data": ...} (or result/response/content)."""
    while isinstance(body, Mapping):
        _, inner = get(body, *m.WRAPPERS)
        if not isinstance(inner, Mapping | list):
            break
        body = inner
    return body


def find_items(body: Any, endpoint: str, names: tuple[str, ...]) -> list[Mapping[str, Any]]:
    """The item objects of a list answer, wherever the list sits; a format error if none."""
    if isinstance(body, list):
        return [item for item in body if isinstance(item, Mapping)]
    if not isinstance(body, Mapping):
        raise ApiFormatError(f"legacy {endpoint}: expected a JSON object or list, "
                             f"got {type(body).__name__}")
    _, listed = get(body, *names)
    if isinstance(listed, list):
        return [item for item in listed if isinstance(item, Mapping)]
    _, inner = get(body, *m.WRAPPERS)
    if isinstance(inner, Mapping | list):
        return find_items(inner, endpoint, names)
    lists = [v for v in body.values()
             if isinstance(v, list) and all(isinstance(i, Mapping) for i in v)]
    if len(lists) == 1:
        return list(lists[0])
    raise ApiFormatError(f"legacy {endpoint}: no item list found "
                         f"(keys: {sorted(map(str, body))[:20]})")


def text(value: object) -> str:
    """A value as text, as the collectors read it (api/readers.py), but a bool as Python spells
    it: a legacy id or name that came as a bool keeps matching what it matched before."""
    return str(value) if isinstance(value, bool) else readers.text(value)


def entries(value: Any) -> list[Mapping[str, Any]]:
    """Sensor entries from a list of objects, or from {"CPU": 55} / {"CPU": {...}} maps."""
    if isinstance(value, list):
        return [e for e in value if isinstance(e, Mapping)]
    if isinstance(value, Mapping):
        out: list[Mapping[str, Any]] = []
        for name, reading in value.items():
            if isinstance(reading, Mapping):
                out.append({"name": name, **reading})
            elif not isinstance(reading, list):
                out.append({"name": name, "value": reading})
        return out
    return []
