"""logs: folding fetched event batches into a tally, and rendering it."""

from __future__ import annotations

import dataclasses

import pytest

from qsan_exporter.api.log_cursor import LogTally, fold
from tests.collector_helpers import run, series


def ev(level: str, timestamp: float, message: str = "m") -> dict:
    return {"type": level, "timestamp": timestamp, "message": message}


def batch(*events: dict, baseline: bool = False) -> dict:
    return {"events": list(events), "baseline": baseline}


def counts(tally: LogTally) -> dict[str, float]:
    return {dict(labels)["level"]: v
            for labels, v in series(run("logs", tally), "qsan_log_events_total").items()}


def newest(tally: LogTally) -> dict[str, float]:
    return {dict(labels)["level"]: v for labels, v in
            series(run("logs", tally), "qsan_log_last_event_timestamp_seconds").items()}


def test_baseline_is_not_counted_but_sets_newest_timestamps() -> None:
    tally = fold(None, batch(ev("error", 100), ev("info", 90), ev("error", 80), baseline=True))
    assert counts(tally) == {"info": 0, "warning": 0, "error": 0, "access": 0}
    assert newest(tally) == {"error": 100, "info": 90}


def test_later_batches_count_per_level_and_track_newest() -> None:
    tally = fold(None, batch(ev("info", 100), baseline=True))
    tally = fold(tally, batch(ev("warning", 110), ev("error", 120), ev("warning", 130)))
    tally = fold(tally, batch(ev("access", 140), ev("Critical", 150)))
    assert counts(tally) == {"info": 0, "warning": 2, "error": 1, "access": 1, "critical": 1}
    assert newest(tally) == {"info": 100, "warning": 130, "error": 120, "access": 140,
                             "critical": 150}


def test_every_event_given_is_counted_even_sharing_timestamp_and_message() -> None:
    """Dropping repeats at the inclusive startTime is the source's job; fold counts all."""
    tally = fold(None, batch(ev("info", 100, "a"), baseline=True))
    tally = fold(tally, batch(ev("error", 100, "disk failed"), ev("error", 100, "disk failed"),
                              ev("info", 100, "a")))
    assert counts(tally)["error"] == 2
    assert counts(tally)["info"] == 1
    tally = fold(tally, batch(ev("error", 90, "late")))  # older than the newest: still counted
    assert counts(tally)["error"] == 3
    assert newest(tally)["error"] == 100


def test_malformed_events_are_skipped() -> None:
    tally = fold(None, batch(ev("info", 1), baseline=True))
    tally = fold(tally, batch({"type": "error"}, {"timestamp": 5}, "junk",  # type: ignore[arg-type]
                              ev("error", "7")))
    assert counts(tally)["error"] == 1
    assert newest(tally)["error"] == 7


def test_fold_rejects_garbage_batches() -> None:
    with pytest.raises(TypeError):
        fold(None, ["events"])  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        fold(None, {"events": "x", "baseline": False})


def test_tally_is_immutable_and_fold_does_not_mutate_it() -> None:
    first = fold(None, batch(ev("info", 1), baseline=True))
    second = fold(first, batch(ev("error", 2)))
    assert counts(first)["error"] == 0
    assert counts(second)["error"] == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.counts = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        first.counts["info"] = 3  # type: ignore[index]


def test_counter_family_is_a_counter() -> None:
    samples = run("logs", fold(None, batch(ev("info", 1))))
    assert ("qsan_log_events_total", (("level", "info"),)) in samples
    assert counts(fold(None, batch(ev("info", 1))))["info"] == 1  # no baseline flag: counted
