"""Field paths of real answers, in the path syntax of the coverage rows (see `__init__`).

`observed(answer)` lists every key path of a JSON answer; `normalised(path)` and `variants(row
path)` bring both to one comparable form. Normalising forgets which reading shaped the answer:
`[]` is dropped (a list, a single object and an id-keyed map of items all read the same), keys
lose stray spaces, and an id-keyed map (every key a number or its item's id) is an item list,
not field names.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


def _is_id_map(value: Mapping[Any, Any]) -> bool:
    """Items keyed by their id ("11": {...}, "e0d1": {"id": "e0d1", ...}), not field names."""
    return bool(value) and all(
        isinstance(v, Mapping) and (str(k).strip().isdigit() or str(v.get("id")) == str(k))
        for k, v in value.items())


def observed(answer: Any, prefix: str = "") -> Iterator[str]:
    """Every key path in `answer` (normalised); list elements and id-map values are walked."""
    if isinstance(answer, list):
        for element in answer:
            yield from observed(element, prefix)
    elif isinstance(answer, Mapping):
        if _is_id_map(answer):
            for element in answer.values():
                yield from observed(element, prefix)
            return
        for key, value in answer.items():
            path = f"{prefix}.{str(key).strip()}" if prefix else str(key).strip()
            yield path
            yield from observed(value, path)


def normalised(path: str) -> str:
    parts = (part.strip() for part in path.replace("[]", "").split("."))
    return ".".join(part for part in parts if part)


def variants(row_path: str) -> set[str]:
    """A row's path with every `a|b` spelling expanded, normalised."""
    paths = [""]
    for part in row_path.replace("[]", "").split("."):
        paths = [f"{p}.{v}" if p else v for p in paths for v in part.split("|")]
    return {normalised(p) for p in paths}
