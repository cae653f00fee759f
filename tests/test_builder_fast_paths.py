"""The family builder's and the health readers' shortcuts give what the general rules give:
label values already clean skip text(), others do not; status strings read once; all bounded."""

from __future__ import annotations

import pytest

from qsan_exporter.collectors import base
from qsan_exporter.collectors.base import FamilyBuilder, health, is_absent
from qsan_exporter.metrics import MetricDef

CATALOGUE = {
    "t_one": MetricDef("t_one", "gauge", "h", ("disk",), "t"),
    "t_two": MetricDef("t_two", "gauge", "h", ("zone", "disk"), "t"),  # not in name order
}


def test_label_values_pass_through_text_unless_known_clean(monkeypatch) -> None:
    monkeypatch.setattr(base, "_CLEAN", set())
    out = FamilyBuilder({"array": "a"}, catalogue=CATALOGUE)
    out.add("t_two", {"disk": " d1 ", "zone": 7}, 1)
    out.add("t_two", {"disk": "d1", "zone": "7"}, 2)  # the same series, now clean: a duplicate
    out.add("t_two", {"disk": ["x"], "zone": "z"}, 3.0)  # unhashable: text() of it
    out.add("t_one", {"disk": "d1"}, float("inf"))  # not finite: no sample
    (two,) = out.built()
    assert two.samples == {("7", "d1"): 1.0, ("z", "['x']"): 3.0}
    assert out.duplicates == 1
    assert " d1 " not in base._CLEAN and {"d1", "7", "z"} <= base._CLEAN


def test_the_clean_set_is_bounded_and_exact_past_its_bound(monkeypatch) -> None:
    monkeypatch.setattr(base, "_CLEAN", set())
    monkeypatch.setattr(base, "_CLEAN_SIZE", 2)
    out = FamilyBuilder({}, catalogue=CATALOGUE)
    for n in range(5):
        out.add("t_one", {"disk": f" d{n} "}, n)
        out.add("t_one", {"disk": f"e{n}"}, n)
    assert len(base._CLEAN) <= 3  # filled only while under the bound
    assert list(out.built()[0].samples) == [(f"{p}{n}",) for n in range(5) for p in "de"]


@pytest.mark.parametrize("raw, expected", [
    ("Good", 0), (" FAILED ", 2), ("Degraded", 1), ("Not_Installed", None), ("", None),
    (None, None), (3, 1)])
def test_health_reads_the_same_first_and_second_time(raw: object, expected: int | None) -> None:
    assert health(raw) == expected
    assert health(raw) == expected


def test_status_caches_are_bounded(monkeypatch) -> None:
    monkeypatch.setattr(base, "_HEALTH_SEEN", {})
    monkeypatch.setattr(base, "_ABSENT_SEEN", {})
    monkeypatch.setattr(base, "_SEEN_SIZE", 2)
    words = ["Good", "Absent", "odd-1", "odd-2", "not present"]
    assert [health(w) for w in words] == [0, None, 1, 1, None]
    assert [is_absent(w) for w in words] == [False, True, False, False, True]
    assert len(base._HEALTH_SEEN) == 2 and len(base._ABSENT_SEEN) <= 2
