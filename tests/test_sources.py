"""UnifiedSource: the raw contract per area, unsupported task types, incremental logs."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from qsan_exporter.api.errors import ApiFormatError, ApiHTTPError, ApiUnreachable
from qsan_exporter.api.guard import RequestGuard
from qsan_exporter.api.log_cursor import LogAnswer, LogCounter
from qsan_exporter.api.unified.source import UNSUPPORTED_RECHECK_SECONDS, UnifiedSource

T0 = 1_700_000_000.0
LOGS = "/rest/v1/log/list"
Answer = Any | Exception | Callable[[Mapping[str, Any]], Any]


class FakeClient:
    """Routes path -> answer (a value, an exception to raise, or a function of the params)."""

    base_url = "https://array.test"
    guard = RequestGuard("test-array")  # log lines name the array by its guard's name

    def __init__(self, routes: dict[str, Answer]) -> None:
        self.routes = routes
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        self.calls.append((path, dict(params or {})))
        answer = self.routes[path]
        if isinstance(answer, Exception):
            raise answer
        return answer(params or {}) if callable(answer) else answer

    def paths(self) -> list[str]:
        return [path for path, _ in self.calls]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def source_for(routes: dict[str, Answer], **kwargs: Any) -> tuple[UnifiedSource, FakeClient]:
    client = FakeClient(routes)
    return UnifiedSource(client, **kwargs), client  # type: ignore[arg-type]


def not_found(path: str, status: int = 404) -> ApiHTTPError:
    return ApiHTTPError(f"HTTP {status} from GET {path}", status=status, endpoint=path)


# --- contract per area ---------------------------------------------------------------------------


def test_system_contract() -> None:
    info, enclosures = {"modelName": "XS5216"}, [{"info": {"modelName": "XS5216"}}]
    source, client = source_for({"/rest/v1/hardware/info": info,
                                 "/rest/v1/hardware/all/info": enclosures})
    assert source.fetch("system") == {"info": info, "enclosures": enclosures}
    assert client.calls == [("/rest/v1/hardware/info", {}),
                            ("/rest/v1/hardware/all/info", {"moreInfo": "true"})]


@pytest.mark.parametrize(("area", "path"), [
    ("pools", "/rest/v1/storage/pool/list"),
    ("disks", "/rest/v1/storage/disk/list"),
    ("volumes", "/rest/v1/storage/volume/list"),
])
def test_list_areas_return_the_body(area: str, path: str) -> None:
    body = {area: [{"id": "1"}]}
    source, client = source_for({path: body})
    assert source.fetch(area) is body
    assert client.paths() == [path]


def test_iscsi_contract() -> None:
    targets, sessions = {"iscsi": [{"ctrlID": 0, "targets": []}]}, {"iscsi": []}
    source, _ = source_for({"/rest/v1/iscsi/target/list": targets,
                            "/rest/v1/iscsi/session/list": sessions})
    assert source.fetch("iscsi") == {"targets": targets, "sessions": sessions}


def test_unknown_area_is_a_value_error() -> None:
    source, client = source_for({})
    with pytest.raises(ValueError, match="fans"):
        source.fetch("fans")
    assert client.calls == []


def test_errors_propagate() -> None:
    source, _ = source_for({"/rest/v1/storage/pool/list": ApiUnreachable("down")})
    with pytest.raises(ApiUnreachable):
        source.fetch("pools")


# --- tasks ---------------------------------------------------------------------------------------


def task_routes(**overrides: Answer) -> dict[str, Answer]:
    routes: dict[str, Answer] = {
        f"/rest/v1/backup/{kind}/list": {"tasks": [{"id": kind}]}
        for kind in ("snapshot", "clone", "replication", "cloud")
    }
    routes.update({f"/rest/v1/backup/{k}/list": v for k, v in overrides.items()})
    return routes


def test_tasks_contract_with_every_type_supported() -> None:
    source, _ = source_for(task_routes())
    assert source.fetch("tasks") == {kind: {"tasks": [{"id": kind}]}
                                     for kind in ("snapshot", "clone", "replication", "cloud")}


def test_unsupported_task_type_is_remembered_for_six_hours(caplog) -> None:
    caplog.set_level(logging.INFO)
    cloud = "/rest/v1/backup/cloud/list"
    clock = Clock()
    source, client = source_for(task_routes(cloud=not_found(cloud)), clock=clock)
    assert set(source.fetch("tasks")) == {"snapshot", "clone", "replication"}
    clock.now += UNSUPPORTED_RECHECK_SECONDS - 1
    assert set(source.fetch("tasks")) == {"snapshot", "clone", "replication"}
    assert client.paths().count(cloud) == 1
    assert [r.levelno for r in caplog.records if "cloud" in r.getMessage()] == [logging.INFO]

    clock.now += 1  # six hours after: asked again, still unsupported, not logged again
    source.fetch("tasks")
    assert client.paths().count(cloud) == 2
    assert len([r for r in caplog.records if "cloud" in r.getMessage()]) == 1

    client.routes[cloud] = {"tasks": []}  # firmware upgraded
    clock.now += UNSUPPORTED_RECHECK_SECONDS
    assert source.fetch("tasks")["cloud"] == {"tasks": []}
    source.fetch("tasks")
    assert client.paths().count(cloud) == 4


def test_400_also_means_unsupported() -> None:
    clone = "/rest/v1/backup/clone/list"
    source, client = source_for(task_routes(clone=not_found(clone, 400)))
    assert "clone" not in source.fetch("tasks")
    source.fetch("tasks")
    assert client.paths().count(clone) == 1


@pytest.mark.parametrize("failure", [
    ApiHTTPError("HTTP 500", status=500, endpoint="/rest/v1/backup/replication/list"),
    ApiUnreachable("timeout"),
])
def test_other_task_errors_propagate_and_nothing_is_remembered(failure: Exception) -> None:
    clone, replication = "/rest/v1/backup/clone/list", "/rest/v1/backup/replication/list"
    source, client = source_for(task_routes(clone=not_found(clone), replication=failure))
    with pytest.raises(type(failure)):
        source.fetch("tasks")
    client.routes[replication] = {"tasks": []}
    assert set(source.fetch("tasks")) == {"snapshot", "replication", "cloud"}
    assert client.paths().count(clone) == 2  # the failed fetch did not commit its finding


# --- logs ----------------------------------------------------------------------------------------


def event(timestamp: Any, message: str, level: str = "info") -> dict[str, Any]:
    return {"type": level, "timestamp": timestamp, "message": message}


class LogDevice:
    """The array's log list: oldest first, `startTime` inclusive (or exclusive), paged."""

    def __init__(self, events: list[dict[str, Any]], inclusive: bool = True,
                 ignores_start: bool = False) -> None:
        self.events = events
        self.inclusive = inclusive
        self.ignores_start = ignores_start
        self.fail_on_page: int | None = None

    def __call__(self, params: Mapping[str, Any]) -> dict[str, Any]:
        page, size = int(params.get("pageNumber", 1)), int(params.get("pageSize", 1000))
        if page == self.fail_on_page:
            raise ApiUnreachable("connection reset")
        start = None if self.ignores_start else params.get("startTime")
        selected = [e for e in self.events if start is None
                    or (float(e["timestamp"]) >= start if self.inclusive
                        else float(e["timestamp"]) > start)]
        begin = (page - 1) * size
        return {"logs": selected[begin:begin + size], "total": str(len(selected)),
                "haveNextPage": begin + size < len(selected)}


def log_source(device: LogDevice, **kwargs: Any) -> tuple[UnifiedSource, FakeClient]:
    return source_for({LOGS: device}, **kwargs)


def logs(source: UnifiedSource) -> Mapping[str, Any]:
    """The batch of new events the logs fetch counted (its answer also holds the tally)."""
    answer = source.fetch("logs")
    assert isinstance(answer, LogAnswer)
    return answer.batch


def tally(source: UnifiedSource) -> tuple[dict[str, int], dict[str, float]]:
    """Counts and newest timestamps per level after one more logs fetch."""
    answer = source.fetch("logs")
    return dict(answer.tally.counts), dict(answer.tally.newest)


def test_first_fetch_is_the_baseline_then_only_new_events() -> None:
    history = [event(90, "old"), event(100, "newest")]
    device = LogDevice(list(history))
    source, client = log_source(device)
    assert logs(source) == {"events": history, "baseline": True}
    assert "startTime" not in client.calls[0][1]

    device.events.append(event(120, "new"))
    assert logs(source) == {"events": [event(120, "new")], "baseline": False}
    # Asked from a second before the cursor (reading `log-start-time`: also right for an
    # array whose startTime is exclusive).
    assert client.calls[-1][1]["startTime"] == 99
    assert logs(source) == {"events": [], "baseline": False}
    assert client.calls[-1][1]["startTime"] == 119


def test_empty_history_then_events_are_not_baseline() -> None:
    device = LogDevice([])
    source, _ = log_source(device)
    assert logs(source) == {"events": [], "baseline": True}
    device.events.append(event(5, "first"))
    assert logs(source) == {"events": [event(5, "first")], "baseline": False}


def test_paging_follows_have_next_page() -> None:
    device = LogDevice([event(t, f"e{t}") for t in range(1, 8)])
    source, client = log_source(device, log_page_size=3)
    assert len(logs(source)["events"]) == 7
    assert [(p["pageNumber"], p["pageSize"]) for _, p in client.calls] == [(1, 3), (2, 3), (3, 3)]


def test_paging_is_bounded_and_resumes_next_poll(caplog) -> None:
    caplog.set_level(logging.WARNING)
    device = LogDevice([event(t, f"e{t}") for t in range(1, 11)])
    source, client = log_source(device, log_page_size=2, log_max_pages=2)
    first = logs(source)
    assert [e["message"] for e in first["events"]] == ["e1", "e2", "e3", "e4"]
    assert len(client.calls) == 2
    assert "cut short" in caplog.text
    # Still history: the baseline lasts until caught up. Asked from a second before the
    # cursor, the inclusive array repeats two events, which take slots but are not returned.
    second = logs(source)
    assert [e["message"] for e in second["events"]] == ["e5", "e6"]
    assert second["baseline"] is True
    assert client.calls[-1][1]["startTime"] == 3
    third = logs(source)
    assert [e["message"] for e in third["events"]] == ["e7", "e8"]
    fourth = logs(source)
    assert [e["message"] for e in fourth["events"]] == ["e9", "e10"]
    assert third["baseline"] is fourth["baseline"] is True
    device.events.append(event(11, "e11"))
    assert logs(source) == {"events": [event(11, "e11")], "baseline": False}


@pytest.mark.parametrize("inclusive", [True, False])
def test_events_at_the_cursor_are_returned_exactly_once(inclusive: bool) -> None:
    a, b = event(100, "User 'admin' is login."), event(100, "Pool degraded", "warning")
    device = LogDevice([event(90, "x"), a, b], inclusive=inclusive)
    source, _ = log_source(device)
    logs(source)
    if inclusive:  # later, at the same second: a second identical login and a new error
        a2, c = dict(a), event(100, "Disk failed", "error")
        device.events += [a2, c]
        assert logs(source)["events"] == [a2, c]
    else:
        assert logs(source)["events"] == []
    device.events.append(event(110, "later"))
    assert logs(source)["events"] == [event(110, "later")]
    assert logs(source)["events"] == []


def test_events_before_the_cursor_are_not_returned_again() -> None:
    device = LogDevice([event(90, "a"), event(100, "b")], ignores_start=True)
    source, _ = log_source(device)
    logs(source)
    device.events.append(event(110, "c"))
    assert logs(source)["events"] == [event(110, "c")]


def test_identical_events_sharing_a_timestamp_each_count_once() -> None:
    same = [event(100, "User 'admin' is login.") for _ in range(3)]
    device = LogDevice(same[:2])
    source, _ = log_source(device)
    assert len(logs(source)["events"]) == 2
    device.events.append(same[2])
    assert logs(source)["events"] == [same[2]]
    assert logs(source)["events"] == []


def test_string_timestamps() -> None:
    device = LogDevice([event("100", "a"), event("100", "b")])
    source, client = log_source(device)
    assert len(logs(source)["events"]) == 2
    device.events = [event(100, "a"), event("100.0", "b"), event("101", "c")]
    assert logs(source)["events"] == [event("101", "c")]
    assert client.calls[1][1]["startTime"] == 99
    assert isinstance(client.calls[1][1]["startTime"], int)


def test_events_without_a_timestamp_are_skipped() -> None:
    source, _ = log_source(LogDevice([{"type": "info", "message": "?"}, event("soon", "bad"),
                                      event(5, "ok")]))
    assert logs(source)["events"] == [event(5, "ok")]


def test_failure_midway_leaves_the_cursor() -> None:
    device = LogDevice([event(100, "a")])
    source, client = log_source(device, log_page_size=2)
    logs(source)
    device.events += [event(110, "b"), event(120, "c"), event(130, "d")]
    device.fail_on_page = 2
    with pytest.raises(ApiUnreachable):
        logs(source)
    device.fail_on_page = None
    again = logs(source)
    assert client.calls[-1][1]["startTime"] == 99
    assert [e["message"] for e in again["events"]] == ["b", "c", "d"]
    assert again["baseline"] is False


def test_failed_baseline_is_retried_as_baseline() -> None:
    device = LogDevice([event(t, f"e{t}") for t in range(1, 5)])
    device.fail_on_page = 2
    source, _ = log_source(device, log_page_size=2)
    with pytest.raises(ApiUnreachable):
        logs(source)
    device.fail_on_page = None
    assert logs(source) == {"events": device.events, "baseline": True}


@pytest.mark.parametrize("body", [[], {"logs": "none"}, "text"])
def test_malformed_log_answer_is_a_format_error(body: Any) -> None:
    source, client = source_for({LOGS: body})
    with pytest.raises(ApiFormatError):
        logs(source)
    client.routes[LOGS] = {"logs": [event(1, "ok")]}
    assert logs(source)["baseline"] is True


def test_the_source_hands_over_the_running_tally() -> None:
    device = LogDevice([event(90, "old", "error"), event(100, "newest")])
    source, _ = log_source(device)
    assert tally(source) == ({}, {"error": 90, "info": 100})  # the history is not counted
    device.events += [event(110, "a", "error"), event(120, "b", "Error")]
    assert tally(source) == ({"error": 2}, {"error": 120, "info": 100})
    assert tally(source) == ({"error": 2}, {"error": 120, "info": 100})  # nothing new


def test_a_failed_fetch_leaves_the_tally() -> None:
    device = LogDevice([event(100, "a")])
    source, _ = log_source(device, log_page_size=1)
    source.fetch("logs")
    device.events += [event(110, "b", "error"), event(120, "c", "error")]
    device.fail_on_page = 2
    with pytest.raises(ApiUnreachable):
        source.fetch("logs")
    device.fail_on_page = None
    assert tally(source)[0] == {"error": 2}  # counted once, after the retry


def test_sources_sharing_a_counter_keep_counting_across_a_flavour_switch() -> None:
    """`api: auto` hands both flavours one counter: the new one's baseline resets nothing."""
    counter = LogCounter()
    before = LogDevice([event(100, "a")])
    first, _ = log_source(before, log_counter=counter)
    first.fetch("logs")
    before.events.append(event(110, "b", "error"))
    assert tally(first)[0] == {"error": 1}
    after = LogDevice([event(100, "a"), event(110, "b", "error"), event(115, "c", "error")])
    second, _ = log_source(after, log_counter=counter)
    assert tally(second)[0] == {"error": 1}  # its own cursor: its history is a baseline
    after.events.append(event(130, "d", "error"))
    assert tally(second)[0] == {"error": 2}
    alone, _ = log_source(LogDevice(list(after.events)))
    assert tally(alone)[0] == {}  # without the shared counter it would have started again
