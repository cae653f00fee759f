"""tasks collector: identity, health vocabulary, snapshot space and the next scheduled run.

Expected next runs are worked out by hand from POLLED_AT = Wednesday 2024-01-03 12:00:00 UTC
(1704283200); 2024-01-01 00:00 UTC, a Monday, is 1704067200.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from qsan_exporter.collectors.tasks import next_run, task_health
from tests.collector_helpers import POLLED_AT, fixture, names, run, series, value

JAN1 = 1704067200
DAY, HOUR, MINUTE = 86400, 3600, 60
UTC = ZoneInfo("UTC")


@pytest.fixture(scope="module")
def san():
    return run("tasks", fixture("tasks_san"))


@pytest.fixture(scope="module")
def nas():
    return run("tasks", fixture("tasks_nas"), product="nas")


def next_runs(samples) -> dict[str, float]:
    return {dict(labels)["task"]: v
            for labels, v in series(samples, "qsan_task_next_run_timestamp_seconds").items()}


def test_next_runs_san(san) -> None:
    assert next_runs(san) == {
        "2977911538": JAN1 + 7 * DAY + 10 * MINUTE,  # weekly Monday 00:10 -> Mon Jan 8
        "7": JAN1 + 4 * DAY + 6 * HOUR,  # day 15 OR Friday, 06:00 -> Fri Jan 5 (crontab OR)
        "3": JAN1 + 19 * DAY + 2 * HOUR + 30 * MINUTE,  # weekOfMouth 2 = 3rd Sat -> Jan 20
        "8": JAN1 + 27 * DAY,  # weekOfMouth 4 = last Sunday -> Jan 28, "0" as strings
        "4": JAN1 + 31 * DAY + 15 * MINUTE,  # day 1, any hour, :15 -> Feb 1 00:15
    }  # "2" (all fields empty), "5" (minute 75) and "6" (schedule "garbage"): no series


def test_next_runs_nas_start_time_and_window(nas) -> None:
    assert next_runs(nas) == {
        "1": JAN1 + 7 * DAY + 10 * MINUTE,  # manual example: week [1], startTime 00:10
        "2": POLLED_AT + HOUR,  # minute 0 in the 08-18 window; 12:00 itself is not "after"
        "3": JAN1 + 5 * DAY + 22 * HOUR,  # Sat/Sun 22:00 -> Sat Jan 6 22:00
    }  # "4" has no schedule


def test_next_run_in_the_array_time_zone() -> None:
    samples = run("tasks", fixture("tasks_san"), timezone="Europe/Berlin")
    # Monday 00:10 in Berlin (UTC+1 in January) is Sunday 23:10 UTC.
    assert next_runs(samples)["2977911538"] == JAN1 + 7 * DAY + 10 * MINUTE - HOUR


def test_unknown_time_zone_drops_only_next_runs() -> None:
    samples = run("tasks", fixture("tasks_san"), timezone="Mars/Olympus")
    assert "qsan_task_next_run_timestamp_seconds" not in names(samples)
    assert len(series(samples, "qsan_task_info")) == 8


@pytest.mark.parametrize("schedule", [
    None, "x", {}, {"minute": [], "hour": []}, {"minute": "5"}, {"hour": [24]},
    {"week": [1], "weekOfMouth": [5]}, {"day": [1.5]}, {"minute": [None]},
])
def test_unusable_schedules_give_no_next_run(schedule) -> None:
    assert next_run(schedule, POLLED_AT, UTC) is None


def test_week_7_is_sunday_and_month_restricts() -> None:
    schedule = {"minute": [0], "hour": [0], "week": [7], "month": [3]}
    assert next_run(schedule, POLLED_AT, UTC) == JAN1 + (31 + 29 + 2) * DAY  # Sun 2024-03-03


def test_task_info_destinations_and_statuses(san) -> None:
    info = {dict(labels)["task"]: dict(labels) for labels in series(san, "qsan_task_info")}
    assert info["4"] == {"task_type": "replication", "task": "4", "source": "Vol-1",
                         "destination": "iqn.2004-08.com.qsan:dr-site:dev0,"
                                        "iqn.2004-08.com.qsan:dr-site:dev1",
                         "status": "Online"}
    assert info["5"]["destination"] == "192.168.10.52,192.168.11.52"  # no targetName: IP
    assert info["5"]["status"] == "Disconnected"  # worst line status, no task status
    assert info["6"]["destination"] == "192.168.10.53"  # a single object, not a list
    assert info["3"] == {"task_type": "clone", "task": "3", "source": "",
                         "destination": "2982171380", "status": ""}
    assert info["8"]["destination"] == "2982171381"
    assert len(info) == 8  # the list-shaped task is skipped


def test_task_health_only_where_a_status_exists(san, nas) -> None:
    assert series(san, "qsan_task_health") == {
        (("task", "4"), ("task_type", "replication")): 0,
        (("task", "5"), ("task_type", "replication")): 1,
        (("task", "6"), ("task_type", "replication")): 2,
    }
    assert series(nas, "qsan_task_health") == {
        (("task", "2"), ("task_type", "replication")): 0,  # Synchronizing
        (("task", "4"), ("task_type", "cloud")): 0,  # Idle
    }
    assert value(nas, "qsan_task_info", task_type="replication", task="2", source="Vol-1",
                 destination="DR-Vol-1", status="Synchronizing") == 1


@pytest.mark.parametrize(("status", "expected"), [
    ("Running", 0), ("idle", 0), ("Completed", 0), ("synced", 0), ("Scheduled", 0),
    ("Online", 0), ("Good", 0), ("Failed", 2), ("ERROR", 2), ("Offline", 2),
    ("Paused", 1), ("Disconnected", 1), ("", None), (None, None),
])
def test_task_health_vocabulary(status, expected) -> None:
    assert task_health(status) == expected


def test_snapshot_space(san, nas) -> None:
    assert value(san, "qsan_snapshot_space_size_bytes", task="2977911538") == 10240 * 1048576
    assert value(san, "qsan_snapshot_space_used_bytes", task="2977911538") == 1024 * 1048576
    assert value(san, "qsan_snapshot_space_size_bytes", task="2") == 2048 * 1048576  # "2048"
    assert value(nas, "qsan_snapshot_space_used_bytes", task="1") == 10 * 1048576
    assert set(series(san, "qsan_snapshot_space_size_bytes")) == {
        (("task", "2977911538"),), (("task", "2"),), (("task", "7"),)}


def test_replication_paths_each_line_beside_the_task(san, nas) -> None:
    assert series(san, "qsan_replication_path_health") == {
        (("ip", "192.168.10.51"), ("line", "1"), ("target_name",
                                                   "iqn.2004-08.com.qsan:dr-site:dev0"),
         ("task", "4")): 0,
        (("ip", "192.168.11.51"), ("line", "2"), ("target_name",
                                                   "iqn.2004-08.com.qsan:dr-site:dev1"),
         ("task", "4")): 0,
        (("ip", "192.168.10.52"), ("line", "1"), ("target_name", ""), ("task", "5")): 0,
        (("ip", "192.168.11.52"), ("line", "2"), ("target_name", ""), ("task", "5")): 2,
        (("ip", "192.168.10.53"), ("line", "1"), ("target_name", ""), ("task", "6")): 0,
    }  # task 6's destination is one object: one line; task 5 is down on line 2 only
    assert value(san, "qsan_replication_path_info", task="5", line="2", ip="192.168.11.52",
                 target_name="", source_port="LAN2", lun="0", status="Disconnected") == 1
    # NAS lines name the destination volume and carry no status: info only
    assert series(nas, "qsan_replication_path_health") == {}
    assert value(nas, "qsan_replication_path_info", task="2", line="0", ip="192.168.10.51",
                 target_name="DR-Vol-1", source_port="", lun="", status="") == 1


def test_each_distinct_schedule_is_worked_out_once_per_poll(monkeypatch) -> None:
    from qsan_exporter.collectors import tasks

    daily = {"minute": [0], "hour": [1], "day": [], "month": [], "week": [], "weekOfMouth": []}
    weekly = {**daily, "week": [1]}
    answer = {"snapshot": {"tasks": [{"id": str(n), "schedule": dict(daily if n % 3 else weekly)}
                                     for n in range(9)]}}
    asked: list[object] = []

    def counting(schedule: object, polled_at: float, zone: ZoneInfo) -> float | None:
        asked.append(schedule)
        return next_run(schedule, polled_at, zone)

    monkeypatch.setattr(tasks, "next_run", counting)
    got = next_runs(run("tasks", answer))
    assert len(asked) == 2
    assert got == {str(n): next_run(daily if n % 3 else weekly, POLLED_AT, UTC) for n in range(9)}
    assert got["1"] == JAN1 + 3 * DAY + HOUR and got["0"] == JAN1 + 7 * DAY + HOUR


def test_a_next_run_is_worked_out_again_only_once_it_has_passed(monkeypatch) -> None:
    from qsan_exporter.collectors import tasks
    monkeypatch.setattr(tasks, "_KNOWN", {})
    worked_out: list[float] = []

    def counted(schedule, polled_at, zone):
        worked_out.append(polled_at)
        return next_run(schedule, polled_at, zone)

    monkeypatch.setattr(tasks, "next_run", counted)
    first = next_runs(run("tasks", fixture("tasks_san")))
    calls = len(worked_out)
    assert calls > 0
    # A poll a minute later, before any of those runs: the same next runs, none worked out.
    assert next_runs(run("tasks", fixture("tasks_san"), polled_at=POLLED_AT + 60)) == first
    assert len(worked_out) == calls
    # Once the earliest has passed, that schedule is worked out again, and only it moves on.
    soonest = min(first.values())
    later = next_runs(run("tasks", fixture("tasks_san"), polled_at=soonest))
    assert calls < len(worked_out) < 2 * calls + 1
    assert all(later[t] == first[t] for t in first if first[t] > soonest)
    assert all(later[t] > soonest for t in first if first[t] == soonest)
    # Back in time (a clock set back): worked out again, never a run from the future's cache.
    assert next_runs(run("tasks", fixture("tasks_san"), polled_at=POLLED_AT)) == first
