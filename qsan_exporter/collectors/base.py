"""What every collector shares: its input, a checked family builder, and tolerant field readers.

A collector is a pure function `collect(data: PollData, out: FamilyBuilder) -> None`. It reads the
raw API answers of its area from `data.raw[area]` and adds samples to `out`. It raises on input it
cannot make sense of (the poller counts that collector as failed); it never does I/O.

The device manual is inconsistent (SPEC §5): keys are spelt several ways (`raidsets`/`raidSets`,
`encId`/`encID`, `" cacheToFlash "`), ids come as int or string, numbers as strings. `field()`
and the number readers below absorb all of that in one place, so collectors stay plain.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from qsan_exporter.metrics import METRICS, MetricDef

MIB = 1048576  # the device's "MB" is MiB (SPEC §4)
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class PollData:
    """The input of every collector: one array's raw answers from one poll."""

    array: str
    product: str  # san | fas | nas
    polled_at: float  # unix time the poll started; "now" for schedule computations
    raw: Mapping[str, Any]  # area name -> that area's raw answers (see api/unified/source.py)
    timezone: str = "UTC"  # the array's local IANA zone: task schedules are in its wall clock


# --- health ----------------------------------------------------------------------------------

OK, WARNING, CRITICAL = 0, 1, 2
_OK_WORDS = frozenset({"good", "online", "optimal", "normal", "ok", "healthy"})
_CRITICAL_WORDS = frozenset(
    {"failed", "fail", "failure", "offline", "critical", "error", "abnormal", "faulted"}
)
# A part that is not fitted: in any casing, with "_", "-" or runs of spaces between the words.
_ABSENT_WORDS = frozenset({"absent", "not installed", "not present", "none installed",
                           "not fitted", "not inserted", "uninstalled", "not exist"})


def health(raw: object) -> int | None:
    """Map a device status string to 0 ok / 1 warning / 2 critical (SPEC §4 'Health values').

    None means "export no health series": the component is absent (an unfitted option must not
    alert) or the device gave no status at all. Anything unrecognised is a warning, so a new
    firmware's wording is noticed rather than hidden.
    """
    if raw is None or is_absent(raw):
        return None
    word = str(raw).strip().lower()
    if not word:
        return None
    if word in _OK_WORDS:
        return OK
    if word in _CRITICAL_WORDS:
        return CRITICAL
    return WARNING


def is_absent(raw: object) -> bool:
    """The one test for "this part is not fitted" ("Absent", " not installed ", "NOT_INSTALLED",
    "Not-Present"...). Every hardware family asks it: an absent part gets its `_info` series and
    nothing that can alert (no reading, no health)."""
    if not isinstance(raw, str):
        return False
    return " ".join(re.split(r"[\s_\-]+", raw.strip().lower())) in _ABSENT_WORDS


# --- tolerant readers ---------------------------------------------------------------------------

def _norm_key(key: str) -> str:
    return key.strip().replace("_", "").lower()


def field(obj: Mapping[str, Any] | None, *names: str, default: Any = None) -> Any:
    """Read the first of `names` present in `obj`, ignoring case, stray spaces and underscores.

    `field(d, "raidSets")` finds `raidsets`, `raidSets` and `" raidSets "` alike (readings
    `raidsets-spelling`, `enc-id-spelling`, `c2f-key-spacing`).
    """
    if not isinstance(obj, Mapping):
        return default
    for name in names:
        if name in obj:
            return obj[name]
    wanted = [_norm_key(n) for n in names]
    normalised = {_norm_key(k): v for k, v in obj.items() if isinstance(k, str)}
    for w in wanted:
        if w in normalised:
            return normalised[w]
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


def listing(raw: object, area: str, key: str, *markers: str) -> list[Any]:
    """The items of a `{"<key>": ...}` answer, in every shape `elements()` reads.

    A missing key is an error: an answer without its list is not "no items" but something
    this exporter does not understand (an error document, another endpoint), and must fail the
    collector rather than make every series of the area silently vanish. `markers` are keys
    that only an item has (see `elements()`).
    """
    if not isinstance(raw, Mapping):
        raise TypeError(f"{area}: expected a JSON object, got {type(raw).__name__}")
    missing = object()
    value = field(raw, key, default=missing)
    if value is missing:
        raise KeyError(f"{area}: answer has no {key!r} list (keys: {sorted(map(str, raw))})")
    found = elements(value, *markers)
    if found is None:
        raise ValueError(f"{area}: expected a list for {key!r}, got {type(value).__name__}")
    return found


def elements(value: object, *markers: str) -> list[Any] | None:
    """Every element of a field the manual shows as a list but types as "object".

    Readings `top-level-object` and `null-lists` (qsan_exporter/readings.py): a list is
    itself; null is empty; an object is one item when it has any of `markers` (keys only an
    item has, e.g. a pool's "name") or scalar values, else an object keyed by id whose values
    are the items (every one read, not the first). None when the value is none of these.
    """
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if not isinstance(value, Mapping):
        return None
    if not value:
        return []
    if any(field(value, m) is not None for m in markers):
        return [value]
    if all(isinstance(v, Mapping) for v in value.values()):
        return list(value.values())
    return [value]


def merged(parts: list[Any]) -> dict[str, Any]:
    """One object from a list of partial ones (reading `enclosure-info-array`): the first value
    of each key wins, except lists (the `moreInfo` sensor lists), which are concatenated and
    objects, which are merged the same way, so every element is read, not only the first."""
    result: dict[str, Any] = {}
    for part in parts:
        if not isinstance(part, Mapping):
            continue
        for key, value in part.items():
            norm = _norm_key(key) if isinstance(key, str) else key
            known = next((k for k in result if _norm_key(k) == norm), None)
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
    return [v for v in value if isinstance(v, Mapping)]


def flag(raw: object) -> str:
    """A boolean label value ("true"/"false"); the device may send bools, 0/1 or strings.
    Reading `auto-tier-type`: the example's "" is false."""
    if isinstance(raw, str):
        return "true" if raw.strip().lower() in {"true", "1", "yes", "enabled", "on"} else "false"
    return "true" if raw else "false"


# --- the family builder ---------------------------------------------------------------------------

@dataclass
class FamilyBuilder:
    """Collects samples into fresh metric families, checked against the catalogue.

    `const_labels` (array and the config's extra labels) go first on every sample. A second
    sample with the same label set is dropped and counted in `duplicates`: a device listing the
    same sensor twice must not produce an exposition Prometheus rejects.
    """

    const_labels: Mapping[str, str]
    catalogue: Mapping[str, MetricDef] = dc_field(default_factory=lambda: METRICS)
    duplicates: int = 0
    _families: dict[str, Metric] = dc_field(default_factory=dict)
    _seen: set[tuple[str, tuple[str, ...]]] = dc_field(default_factory=set)

    def add(self, name: str, labels: Mapping[str, str], value: object) -> None:
        """Add one sample; a value that is not a finite number is skipped (no data, no series)."""
        number_value = number(value) if not isinstance(value, bool) else float(value)
        if number_value is None:
            return
        definition = self.catalogue[name]
        if set(labels) != set(definition.labels):
            raise KeyError(
                f"{name}: labels {sorted(labels)} != catalogue {sorted(definition.labels)}"
            )
        values = (*self.const_labels.values(), *(text(labels[k]) for k in definition.labels))
        key = (name, values)
        if key in self._seen:
            self.duplicates += 1
            return
        self._seen.add(key)
        family = self._families.get(name)
        if family is None:
            label_names = [*self.const_labels, *definition.labels]
            family_type = (
                CounterMetricFamily if definition.type == "counter" else GaugeMetricFamily
            )
            family = family_type(name, definition.help, labels=label_names)
            self._families[name] = family
        family.add_metric(list(values), number_value)

    def info(self, name: str, labels: Mapping[str, str]) -> None:
        self.add(name, labels, 1)

    def families(self) -> list[Metric]:
        return list(self._families.values())


def collect_all(
    collect: Iterable[tuple[str, Any]], data: PollData, const_labels: Mapping[str, str]
) -> list[Metric]:
    """Run collectors into one builder (used by tests and tools that want every family)."""
    out = FamilyBuilder(const_labels)
    for _, fn in collect:
        fn(data, out)
    return out.families()


# --- both readings: volumes, iSCSI, tasks, logs (see qsan_exporter/readings.py) ------------------

_ITEM_KEYS = frozenset({"id", "name", "ctrlid"})  # keys that make a mapping one item, not a map


def item_list(raw: object, area: str, key: str) -> list[Any]:
    """Every item of a `{"<key>": ...}` answer, whichever way the manual's reading shaped it.

    Readings `volumes-iscsi-object` and `null-lists-services`: the tables type the volume list and
    the iSCSI `iscsi` lists as "object" while the examples show lists, and an empty answer may
    be `null`. A list is read as is; `null` is no items; a single item object (it has an `id`,
    `name` or `ctrlID`) is one item; any other object is a map of items (id -> item), all read.
    A missing key stays a format error, as in `listing`.
    """
    if not isinstance(raw, Mapping):
        raise TypeError(f"{area}: expected a JSON object, got {type(raw).__name__}")
    missing = object()
    value = field(raw, key, default=missing)
    if value is missing:
        raise KeyError(f"{area}: answer has no {key!r} list (keys: {sorted(map(str, raw))})")
    return as_items(value, f"{area} {key}")


def as_items(value: object, what: str) -> list[Any]:
    """A list field in any reading: list, null, one item object or an id -> item map."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, Mapping):
        if any(isinstance(k, str) and _norm_key(k) in _ITEM_KEYS for k in value):
            return [value]
        if all(isinstance(v, Mapping) for v in value.values()):
            return list(value.values())
    raise ValueError(f"{what}: expected a list, got {type(value).__name__}")


def schedules(raw: object) -> list[Mapping[str, Any]]:
    """Reading `schedule-array-or-object`: the tables type `schedule` "array", the example
    shows one object. Every schedule object is returned (a list of them is read whole)."""
    if isinstance(raw, Mapping):
        return [raw]
    if isinstance(raw, list):
        return [s for s in raw if isinstance(s, Mapping)]
    return []


_LINK_OK_WORDS = frozenset({"up", "connected", "link up", "online", "active", "logged in",
                            "normal", "good", "ok", "synced", "synchronized", "synchronizing"})
_LINK_DOWN_WORDS = frozenset({"down", "disconnected", "link down", "offline", "failed", "fail",
                              "error", "unreachable", "broken", "logged out"})


def link_health(raw: object) -> int | None:
    """A connection or path status (iSCSI connection, replication line): 0 up, 2 down, 1 other.

    Link words are not component words: "Disconnected" is a down path, not an unknown state.
    None when there is no status (NAS replication lines carry none).
    """
    word = " ".join(text(raw).lower().split())
    if not word:
        return None
    if word in _LINK_OK_WORDS:
        return OK
    return CRITICAL if word in _LINK_DOWN_WORDS else WARNING
