"""The tolerant readers' fast paths give what the general rules give, on the inputs that take
them and on the neighbours that must not (bool is an int, a str subclass, keys alike)."""

from __future__ import annotations

from types import MappingProxyType

from qsan_exporter.api import readers
from qsan_exporter.api.readers import field, number, text


class Label(str):
    pass


def test_field_exact_hit_then_normalised_miss_where_the_last_key_alike_wins() -> None:
    answer = {"raidSets": 1, " raid_sets ": 2, 7: "not a str key"}
    assert field(answer, "raidSets") == 1  # exact key first
    assert field(answer, "RaidSets") == 2  # both normalise alike: the last one, as a dict built
    assert field(answer, "nope", "raidsets") == 2  # the first name found in order
    assert field(answer, "missing", default="d") == "d"
    assert field(MappingProxyType({"encID": "0"}), "encId") == "0"  # any Mapping, not only dict
    assert field(["encId"], "encId", default=None) is None  # not a Mapping


def test_number_fast_paths_and_their_neighbours() -> None:
    assert number(3) == 3.0 and type(number(3)) is float
    assert number(2.5) == 2.5
    assert number(True) is None and number(False) is None  # a bool is not a number here
    assert number(10 ** 400) is None  # beyond float range
    assert number(float("nan")) is None and number(float("inf")) is None
    assert number(" 12 ") == 12.0 and number("") is None and number("x") is None
    assert number(None) is None and number([1]) is None


def test_text_fast_path_and_its_neighbours() -> None:
    assert text("  Vol-1 ") == "Vol-1"
    assert text(Label(" a ")) == "a"
    assert text("x\ud800y") == "x\ufffdy"  # a lone surrogate cannot be rendered
    assert text(" é ") == "é"
    assert text(3.0) == "3" and text(2.5) == "2.5" and text(7) == "7"
    assert text(True) == "true" and text(None) == ""


def test_the_normalised_key_cache_is_bounded_and_exact_past_its_bound(monkeypatch) -> None:
    monkeypatch.setattr(readers, "_NORM_CACHE", {})
    monkeypatch.setattr(readers, "_NORM_CACHE_SIZE", 3)
    keys = [f" Key_{n} " for n in range(10)]
    assert [readers.norm_key(k) for k in keys] == [f"key{n}" for n in range(10)]
    assert len(readers._NORM_CACHE) == 3
    assert field({" Key_9 ": "late"}, "key9") == "late"
