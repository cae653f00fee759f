"""The poll's own renderer writes exactly the bytes prometheus_client 0.26 writes.

Families go through `FamilyBuilder` and `render_families`; the reference is built from the same
input straight into prometheus_client Metric objects (the builder's rules applied by hand: a
value that is not a finite number is skipped, label values pass through `text()`, the first of
two samples with the same labels wins) and rendered one family at a time by its
`generate_latest`, both formats, split into header and sample lines as a body needs them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from prometheus_client import exposition as text_format
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.openmetrics import exposition as om_format
from prometheus_client.utils import floatToGoString

from qsan_exporter.api.readers import number, text
from qsan_exporter.collectors.base import FamilyBuilder
from qsan_exporter.exposition import render_families, write
from qsan_exporter.metrics import MetricDef, MetricType
from qsan_exporter.snapshot import RenderedFamily

# Label names around the constant ones in sort order, and one ("site") that shadows one.
LABEL_NAMES = ["a", "disk", "site", "zone", "zz_last"]
# A gauge, a counter named with _total and one without (prometheus_client adds it).
KINDS: list[tuple[str, MetricType]] = [
    ("test_gauge", "gauge"), ("test_written_bytes_total", "counter"), ("test_events", "counter")]

awkward = st.sampled_from(["", '"', "\\", "\n", "\r", "\\n", '\\"', "{}", "{0}", "%", "%s", "%%",
                          "é中😀", " x "])
strings = st.lists(awkward | st.text(st.characters(exclude_categories=["Cs"]), max_size=8),
                   max_size=4).map("".join)
values = st.one_of(
    st.sampled_from([0, 0.0, -0.0, 1, -1, 1e-7, 0.1, 1e7, 12345678.9, 2.5e15, 1e16, 10**400,
                     math.inf, -math.inf, math.nan, None, True, False, "42", " 1.5 ", "x"]),
    st.integers(-(10**25), 10**25),
    st.floats(allow_nan=True, allow_infinity=True),
)
Adds = list[tuple[int, dict[str, str], Any]]  # (index into KINDS, labels, value)
Input = tuple[dict[str, MetricDef], dict[str, str], Adds]  # catalogue, constant labels, adds


@st.composite
def inputs(draw: st.DrawFn) -> Input:
    catalogue = {}
    for name, kind in KINDS:
        labels = draw(st.lists(st.sampled_from(LABEL_NAMES), unique=True, max_size=3))
        catalogue[name] = MetricDef(name, kind, draw(strings), tuple(labels), "test")
    const = {"array": draw(strings), "site": draw(strings)}
    if draw(st.booleans()):
        const = {}
    adds = []
    for _ in range(draw(st.integers(0, 12))):
        index = draw(st.integers(0, len(KINDS) - 1))
        definition = catalogue[KINDS[index][0]]
        labels = {k: draw(strings) for k in definition.labels}
        adds.append((index, labels, draw(values)))
    return catalogue, const, adds


def _split(rendered: bytes) -> tuple[bytes, bytes]:
    """Header and sample lines of one family as prometheus_client renders it (lines end at
    b"\\n" only: a bare "\\r" stays inside a label value)."""
    lines = [line + b"\n" for line in rendered.split(b"\n")[:-1] if line + b"\n" != b"# EOF\n"]
    return (b"".join(line for line in lines if line.startswith(b"# ")),
            b"".join(line for line in lines if not line.startswith(b"# ")))


class _One:
    def __init__(self, family: Metric) -> None:
        self.family = family

    def collect(self) -> list[Metric]:
        return [self.family]


def reference_bytes(families: Iterable[Metric]) -> list[tuple[bytes, bytes, bytes, bytes]]:
    out = []
    for family in families:
        text_header, text_samples = _split(text_format.generate_latest(_One(family)))
        om_header, om_samples = _split(om_format.generate_latest(_One(family)))
        out.append((text_header, text_samples, om_header, om_samples))
    return out


def reference_families(catalogue: Mapping[str, MetricDef], const: Mapping[str, str],
                       adds: Adds) -> list[Metric]:
    """The builder's rules applied by hand, into prometheus_client's own families."""
    families: dict[str, CounterMetricFamily | GaugeMetricFamily] = {}
    seen = set()
    for index, labels, value in adds:
        definition = catalogue[KINDS[index][0]]
        accepted = float(value) if isinstance(value, bool) else number(value)
        if accepted is None:
            continue
        label_values = [*const.values(), *(text(labels[k]) for k in definition.labels)]
        if (definition.name, tuple(label_values)) in seen:
            continue
        seen.add((definition.name, tuple(label_values)))
        if definition.name not in families:
            kind = CounterMetricFamily if definition.type == "counter" else GaugeMetricFamily
            families[definition.name] = kind(definition.name, definition.help,
                                             labels=[*const, *definition.labels])
        families[definition.name].add_metric(label_values, accepted)
    return list(families.values())


def _bytes(rendered: Iterable[RenderedFamily]) -> list[tuple[bytes, bytes, bytes, bytes]]:
    return [(f.text_header, f.text_samples, f.om_header, f.om_samples) for f in rendered]


def check(catalogue: dict[str, MetricDef], const: dict[str, str], adds: Adds) -> None:
    builder = FamilyBuilder(const, catalogue)
    for index, labels, value in adds:
        builder.add(KINDS[index][0], labels, value)
    rendered = render_families(builder.built())
    expected = reference_bytes(reference_families(catalogue, const, adds))
    assert _bytes(rendered) == expected
    # The Metric seam tests and tools read says the same.
    assert reference_bytes(builder.families()) == expected
    # Family names as a body merges them: the text format's (a counter's ends in _total).
    assert [f.name for f in rendered] == [
        h.split(b" ")[2].decode() for h, _, _, _ in expected]
    for family in rendered:  # equal bytes are kept once
        assert family.om_samples is family.text_samples
        assert (family.om_header is family.text_header) == (family.om_header == family.text_header)


@settings(derandomize=True, database=None, deadline=None, max_examples=300,
          suppress_health_check=[HealthCheck.too_slow])
@given(inputs())
@example(({"test_gauge": MetricDef("test_gauge", "gauge", 'say "hi" \\ \n', ("disk",), "t"),
           "test_written_bytes_total": MetricDef("test_written_bytes_total", "counter", "", (),
                                                 "t"),
           "test_events": MetricDef("test_events", "counter", "h", ("a", "site"), "t")},
          {"array": 'a"1', "site": "s\\"},
          [(0, {"disk": "d\r\n1"}, 1.0), (0, {"disk": "d\r\n1"}, 2.0), (0, {"disk": ""}, -0.0),
           (1, {}, 10**20), (2, {"a": "{x}", "site": "inner"}, 1e-7),
           (2, {"a": "", "site": ""}, math.nan)]))
def test_direct_bytes_equal_prometheus_client(drawn: Input) -> None:
    check(*drawn)


@given(st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**300), 10**300))
@example(1e7)
@example(12345670.0)
@example(-1e22)
def test_number_formatting_is_prometheus_clients(value: float) -> None:
    assert write.number(float(value)) == floatToGoString(value)


def test_the_check_can_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    """A renderer that forgot to escape label values is caught."""
    catalogue = {"test_gauge": MetricDef("test_gauge", "gauge", "h", ("disk",), "t")}
    adds: Adds = [(0, {"disk": 'a"b'}, 1)]
    check(catalogue, {"array": "a"}, adds)
    monkeypatch.setattr(write, "label_value", lambda value: value)
    with pytest.raises(AssertionError):
        check(catalogue, {"array": "a"}, adds)


def test_the_builder_skips_non_finite_values_and_counts_duplicates() -> None:
    catalogue = {"test_gauge": MetricDef("test_gauge", "gauge", "h", ("disk",), "t")}
    builder = FamilyBuilder({"array": "a"}, catalogue)
    for value in (math.inf, -math.inf, math.nan, None, "n/a", 10**400):
        builder.add("test_gauge", {"disk": "1"}, value)
    assert builder.built() == []
    builder.add("test_gauge", {"disk": "1"}, 1)
    builder.add("test_gauge", {"disk": " 1 "}, 2)  # text() strips: the same series
    assert builder.duplicates == 1
    [family] = render_families(builder.built())
    assert family.text_samples == b'test_gauge{array="a",disk="1"} 1.0\n'


def test_wrong_labels_are_refused() -> None:
    catalogue = {"test_gauge": MetricDef("test_gauge", "gauge", "h", ("disk",), "t")}
    builder = FamilyBuilder({"array": "a"}, catalogue)
    with pytest.raises(KeyError, match="labels"):
        builder.add("test_gauge", {"slot": "1"}, 1)
    with pytest.raises(KeyError, match="labels"):
        builder.add("test_gauge", {"disk": "1", "slot": "1"}, 1)
    with pytest.raises(KeyError):
        builder.add("test_other", {}, 1)
    assert builder.built() == []
