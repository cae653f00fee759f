"""What every collector shares: its input, a checked family builder, and health values.

A collector is a pure function `collect(data: PollData, out: FamilyBuilder) -> None`. It reads the
raw API answers of its area from `data.raw[area]` and adds samples to `out`. It raises on input it
cannot make sense of (the poller counts that collector as failed); it never does I/O.

The device manual is inconsistent (SPEC §5); the tolerant readers that absorb its spellings and
shapes (`field`, `number`, `text`, `listing`, ...) are in qsan_exporter/api/readers.py.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from math import isfinite
from operator import itemgetter
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from qsan_exporter.api.readers import number, text
from qsan_exporter.metrics import METRICS, MetricDef


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
# Status strings already read, and what they read as: bounded, so an array that invents
# wordings cannot grow them; past the bound strings are read every time.
_HEALTH_SEEN: dict[str, int | None] = {}
_ABSENT_SEEN: dict[str, bool] = {}
_SEEN_SIZE = 1024


def health(raw: object) -> int | None:
    """Map a device status string to 0 ok / 1 warning / 2 critical (SPEC §4 'Health values').

    None means "export no health series": the component is absent (an unfitted option must not
    alert) or the device gave no status at all. Anything unrecognised is a warning, so a new
    firmware's wording is noticed rather than hidden.
    """
    if type(raw) is str:  # a status string: every poll asks the same few
        known = _HEALTH_SEEN.get(raw, -1)  # -1: not seen yet
        if known == -1:
            known = _health(raw)
            if len(_HEALTH_SEEN) < _SEEN_SIZE:
                _HEALTH_SEEN[raw] = known
        return known
    return _health(raw)


def _health(raw: object) -> int | None:
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
    absent = _ABSENT_SEEN.get(raw)
    if absent is None:
        absent = " ".join(re.split(r"[\s_\-]+", raw.strip().lower())) in _ABSENT_WORDS
        if len(_ABSENT_SEEN) < _SEEN_SIZE:
            _ABSENT_SEEN[raw] = absent
    return absent


# --- the family builder ---------------------------------------------------------------------------

@dataclass(eq=False)
class Family:
    """One family as a poll builds it: only what rendering and the part health read."""

    definition: MetricDef
    const_labels: Mapping[str, str]  # the builder's, first on every sample
    label_set: frozenset[str]  # the catalogue's labels, to check each sample's at a glance
    samples: dict[tuple[str, ...], float]  # the catalogue labels' values, in its order -> value
    pick: Callable[[Mapping[str, str]], tuple[str, ...]]  # a sample's values, in that order

    @property
    def name(self) -> str:
        return self.definition.name

    def labelled(self, only: Callable[[float], bool] | None = None,
                 ) -> Iterator[tuple[dict[str, str], float]]:
        """Each sample's catalogue labels by name, and its value (`only` those it accepts)."""
        labels = self.definition.labels
        for values, value in self.samples.items():
            if only is None or only(value):
                yield dict(zip(labels, values, strict=True)), value

    def metric(self) -> Metric:
        """The family as a prometheus_client Metric (for tests and tools, not the poll)."""
        definition = self.definition
        names = [*self.const_labels, *definition.labels]
        family_type = CounterMetricFamily if definition.type == "counter" else GaugeMetricFamily
        family = family_type(definition.name, definition.help, labels=names)
        const = list(self.const_labels.values())
        for values, value in self.samples.items():
            family.add_metric([*const, *values], value)
        return family


# Label values known to be their own text(): checked at C speed for a whole sample. Bounded, so
# an array that invents values cannot grow it; past the bound values are cleaned every time.
_CLEAN: set[object] = set()
_CLEAN_SIZE = 16384


@functools.lru_cache(maxsize=1024)
def _picker(names: tuple[str, ...]) -> Callable[[Mapping[str, str]], tuple[str, ...]]:
    """A sample's label values in the catalogue's order, picked at C speed."""
    if len(names) > 1:
        return itemgetter(*names)
    return lambda labels: tuple([labels[name] for name in names])


def _cleaned(values: tuple[object, ...]) -> tuple[str, ...]:
    """`text()` of each label value, remembering the values that come out as they went in."""
    cleaned = tuple([text(v) for v in values])
    if len(_CLEAN) < _CLEAN_SIZE:
        _CLEAN.update([c for v, c in zip(values, cleaned, strict=True)
                       if type(v) is str and v == c])
    return cleaned


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
    _families: dict[str, Family] = dc_field(default_factory=dict)

    def add(self, name: str, labels: Mapping[str, str], value: object) -> None:
        """Add one sample; a value that is not a finite number is skipped (no data, no series)."""
        if type(value) is float:  # the common case first, without a call
            number_value: float | None = value if isfinite(value) else None
        else:
            number_value = number(value) if not isinstance(value, bool) else float(value)
        if number_value is None:
            return
        family = self._families.get(name)
        if family is None:
            definition = self.catalogue[name]
            family = Family(definition, self.const_labels, frozenset(definition.labels), {},
                            _picker(definition.labels))
        if labels.keys() != family.label_set:
            raise KeyError(f"{name}: labels {sorted(labels)} != catalogue "
                           f"{sorted(family.definition.labels)}")
        values = family.pick(labels)
        try:
            clean = _CLEAN.issuperset(values)  # the collectors mostly pass text() already
        except TypeError:  # an unhashable value: text() makes a string of it
            clean = False
        if not clean:
            values = _cleaned(values)
        if values in family.samples:
            self.duplicates += 1
            return
        family.samples[values] = number_value
        self._families.setdefault(name, family)

    def info(self, name: str, labels: Mapping[str, str]) -> None:
        self.add(name, labels, 1.0)

    def built(self) -> list[Family]:
        """The families with samples, in the order their first sample came."""
        return list(self._families.values())

    def families(self) -> list[Metric]:
        """The families as prometheus_client Metrics: a seam for tests and tools; the poll
        renders `built()` directly."""
        return [family.metric() for family in self._families.values()]


def collect_all(
    collect: Iterable[tuple[str, Any]], data: PollData, const_labels: Mapping[str, str]
) -> list[Metric]:
    """Run collectors into one builder (used by tests and tools that want every family)."""
    out = FamilyBuilder(const_labels)
    for _, fn in collect:
        fn(data, out)
    return out.families()


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
