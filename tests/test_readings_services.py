"""Both readings of the manual for volumes, iSCSI, tasks and logs (qsan_exporter/readings.py).

The simulator's `literal` mode answers with the reading the exporter does not try first. The
exporter must make the same series of both: first at the unit level (the simulator's bodies
straight into the collectors), then through HTTP (client, source, poll, exposition).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from qsan_exporter.api.errors import ApiHTTPError, Refused
from qsan_exporter.api.log_cursor import LogTally
from qsan_exporter.api.readers import as_items, item_list, schedules
from qsan_exporter.api.unified.client import UnifiedClient
from qsan_exporter.api.unified.source import UnifiedSource
from qsan_exporter.collectors import COLLECTORS
from qsan_exporter.collectors.base import FamilyBuilder, PollData
from qsan_exporter.collectors.tasks import next_run
from qsan_exporter.config import ArrayConfig
from qsan_exporter.exposition import families_of
from qsan_exporter.poll.array import ArrayPoll
from qsan_exporter.readings import DATA_READINGS
from qsan_exporter.simulator import SimulatedArray, SimulatorConfig
from qsan_exporter.simulator.device import Device

T0 = 1_893_456_000.0  # 2030-01-01T00:00:00Z, a Tuesday
COLLECT = dict(COLLECTORS)
MY_AREAS = ("volumes", "iscsi", "tasks")
MY_PREFIXES = ("qsan_volume_", "qsan_iscsi_", "qsan_task_", "qsan_snapshot_", "qsan_log_",
               "qsan_replication_", "qsan_lun_", "qsan_nas_")
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


class DeviceClient:
    """A client that answers from a simulated Device directly, on a settable clock."""

    base_url = "sim://device"
    guard = SimpleNamespace(name="a")  # sources name the array by its guard in log lines

    def __init__(self, device: Device, now: float) -> None:
        self.device, self.now = device, now

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        query = {k: [str(v).lower() if isinstance(v, bool) else str(v)]
                 for k, v in (params or {}).items()}
        _, status, body = self.device.get(path, query, self.now)
        if status != 200:
            raise ApiHTTPError(f"HTTP {status} from GET {path}", status=status, endpoint=path)
        return json.loads(body)


def collect(area: str, raw: Mapping[str, Any], product: str) -> Samples:
    out = FamilyBuilder({"array": "a"})
    COLLECT[area](PollData("a", product, T0, raw), out)
    assert out.duplicates == 0
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in out.families() for s in family.samples}


def raw_of(literal: bool, profile: str) -> dict[str, Any]:
    source = UnifiedSource(DeviceClient(Device(SimulatorConfig(profile=profile, literal=literal),
                                               started=T0 - 60), T0))  # type: ignore[arg-type]
    return {area: source.fetch(area) for area in ("pools", *MY_AREAS)}


# --- unit level: the simulator's bodies in both readings -----------------------------------------

@pytest.mark.parametrize("profile", ["san", "fas", "nas"])
def test_literal_bodies_give_the_same_series(profile: str) -> None:
    product = profile
    default, literal = raw_of(False, profile), raw_of(True, profile)
    assert default["volumes"] != literal["volumes"]  # the literal array really differs
    assert default["iscsi"] != literal["iscsi"]
    for area in MY_AREAS:
        expected = collect(area, default, product)
        assert expected, area
        assert collect(area, literal, product) == expected, area


@pytest.mark.parametrize("literal", [False, True])
def test_snapshot_tasks_are_named_by_their_volume(literal: bool) -> None:
    samples = collect("tasks", raw_of(literal, "san"), "san")
    sources = {dict(labels)["source"] for (name, labels) in samples
               if name == "qsan_task_info" and dict(labels)["task_type"] == "snapshot"}
    assert sources == {"Vol-1", "Vol-2", "Vol-3", "Vol-4"}
    clone = [dict(labels) for (name, labels) in samples
             if name == "qsan_task_info" and dict(labels)["task_type"] == "clone"]
    assert [(c["source"], c["destination"]) for c in clone] == [("Vol-1", "Vol-4")]


def test_every_log_event_is_counted_across_pages_in_both_readings() -> None:
    counts = []
    for literal in (False, True):
        device = Device(SimulatorConfig(profile="san", literal=literal, log_interval=10),
                        started=T0)
        client = DeviceClient(device, T0)
        source = UnifiedSource(client, log_page_size=7)  # type: ignore[arg-type]
        tally: LogTally | None = None  # the source's, after the last fetch
        for step in range(12):  # 0..110 s: 11 new events after the baseline
            client.now = T0 + 10 * step
            tally = source.fetch("logs").tally
            # an empty page in the literal reading is `"logs": null`, read as no events
            empty = device.get("/rest/v1/log/list", {"startTime": [str(int(T0 + 10**6))]},
                               client.now)[2]
            assert json.loads(empty)["logs"] == ([] if not literal else None)
        assert tally is not None
        counts.append(sum(tally.counts.values()))
    assert counts == [11, 11]


def test_a_null_or_empty_log_page_ends_the_fetch_whatever_havenextpage_says() -> None:
    pages = {1: {"logs": [{"type": "info", "timestamp": 5, "message": "m"}],
                 "total": "3", "haveNextPage": True},
             2: {"logs": None, "total": "3", "haveNextPage": True}}
    calls: list[int] = []

    class Pages:
        base_url = "sim://pages"

        def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
            page = int((params or {})["pageNumber"])
            calls.append(page)
            return pages.get(page, {"logs": [], "haveNextPage": True})

    source = UnifiedSource(Pages(), log_max_pages=50)  # type: ignore[arg-type]
    assert source.fetch("logs").batch == {"events": [pages[1]["logs"][0]], "baseline": True}
    assert calls == [1, 2]  # stopped at the null page, not after 50
    assert source.fetch("logs").batch["baseline"] is False  # the history was read to its end


# --- the tolerant readers ------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    ([{"id": 1}], [{"id": 1}]),
    (None, []),
    ({"id": 1, "name": "v"}, [{"id": 1, "name": "v"}]),  # one item object
    ({"ctrlID": 0, "targets": []}, [{"ctrlID": 0, "targets": []}]),
    ({"11": {"name": "a"}, "12": {"name": "b"}}, [{"name": "a"}, {"name": "b"}]),  # map by id
])
def test_as_items_reads_every_shape(value: object, expected: list) -> None:
    assert as_items(value, "x") == expected


def test_item_list_keeps_format_errors() -> None:
    with pytest.raises(KeyError):
        item_list({"error": "x"}, "volumes", "volumes")
    with pytest.raises(ValueError):
        item_list({"volumes": "Vol-1"}, "volumes", "volumes")
    with pytest.raises(ValueError):
        as_items({"a": 1}, "x")


def test_schedule_readings_give_the_same_next_run() -> None:
    zone = ZoneInfo("UTC")
    window = {"minute": [], "hour": [], "day": [], "month": [], "week": [3],
              "startTime": {"hour": 8, "minute": 0}}
    first = next_run({**window, "stopTime": {"hour": 9, "minute": 0}}, T0, zone)
    second = next_run([{**window, "EndTime": {"hour": 9, "minute": 0}}], T0, zone)
    assert first is not None and first == second
    nth = {"minute": [0], "hour": [6], "day": [], "month": [], "week": [1]}
    assert next_run({**nth, "weekOfMouth": [1]}, T0, zone) == next_run(
        {**nth, "weekOfMonth": [1]}, T0, zone) == T0 + 13 * 86400 + 6 * 3600  # 2nd Mon: 14th
    # a list of schedules: the earliest of them
    assert next_run([{**nth, "hour": [7]}, {**nth, "hour": [5]}], T0, zone) == T0 + 6 * 86400 \
        + 5 * 3600
    assert schedules("weekly") == []


# --- backup types a product must have ---------------------------------------------------------

def test_a_refused_snapshot_list_fails_the_area_after_the_other_types() -> None:
    replication = {"tasks": [{"id": "7", "source": "Vol-1", "status": "Online"}]}
    raw = {"tasks": {"snapshot": Refused("snapshot", 404, "snapshot tasks answered HTTP 404"),
                     "replication": replication}}
    out = FamilyBuilder({"array": "a"})
    with pytest.raises(LookupError, match="snapshot tasks answered HTTP 404"):
        COLLECT["tasks"](PollData("a", "san", T0, raw), out)
    assert [f.name for f in out.families()] == ["qsan_task_info", "qsan_task_health"]


def test_source_hands_a_refused_snapshot_list_over_every_poll() -> None:
    device = Device(SimulatorConfig(profile="san"), started=T0)
    client = DeviceClient(device, T0)
    device.refuse_task_list("snapshot")  # this array refuses it: HTTP 404
    source = UnifiedSource(client)  # type: ignore[arg-type]
    for _ in range(2):  # not remembered as "unsupported": asked (and reported) every poll
        answer = source.fetch("tasks")
        assert isinstance(answer["snapshot"], Refused) and answer["snapshot"].status == 404
        assert "cloud" not in answer  # genuinely optional on SAN: silently unsupported


@pytest.mark.parametrize(("profile", "refused", "required"), [
    ("san", "clone", True), ("fas", "clone", True), ("nas", "cloud", True),
    ("nas", "clone", False),  # clone on NAS: the table says no, the prose yes: optional
    ("san", "cloud", False),
])
def test_task_types_required_by_the_product_its_system_answer_names(
        profile: str, refused: str, required: bool) -> None:
    device = Device(SimulatorConfig(profile=profile), started=T0)
    device.refuse_task_list(refused)
    source = UnifiedSource(DeviceClient(device, T0))  # type: ignore[arg-type]
    source.fetch("system")  # tells the source the product (XS/XF/XN model)
    for _ in range(2):
        answer = source.fetch("tasks").get(refused)
        assert isinstance(answer, Refused) is required, answer
    unknown = UnifiedSource(DeviceClient(device, T0))  # type: ignore[arg-type]
    # without a system answer only snapshot and replication are required
    assert not isinstance(unknown.fetch("tasks").get(refused), Refused)


# --- through HTTP: client, source, poll, exposition --------------------------------------------

def poll_series(profile: str, literal: bool, *, refuse_snapshot: bool = False
                ) -> tuple[dict[str, bool], set[str]]:
    sim = SimulatedArray(SimulatorConfig(profile=profile, username="u", password="p",
                                         literal=literal), clock=lambda: T0).start()
    if refuse_snapshot:
        sim.device.refuse_task_list("snapshot")
    client = UnifiedClient(sim.url, "u", "p", timeout=5)
    try:
        config = ArrayConfig(name="a", url=sim.url, username="u", password="p",
                             timeout_seconds=5)
        poll = ArrayPoll(config, UnifiedSource(client, clock=lambda: T0), client.stats,
                         clock=lambda: T0)
        snapshot = poll.poll()
    finally:
        client.close()
        sim.stop()
    lines = {f"{s.name}{sorted(s.labels.items())} {s.value}"
             for state in snapshot.collectors.values()
             for family in families_of(state.families)
             for s in family.samples if s.name.startswith(MY_PREFIXES)}
    return {name: state.success for name, state in snapshot.collectors.items()}, lines


@pytest.mark.parametrize("profile", ["san", "nas"])
def test_literal_array_over_http_same_series_every_collector_green(profile: str) -> None:
    success_default, default = poll_series(profile, False)
    success_literal, literal = poll_series(profile, True)
    assert success_literal == success_default
    assert all(success_literal[area] for area in (*MY_AREAS, "logs")), success_literal
    assert literal == default and len(default) > 20


def test_refused_snapshot_list_over_http_is_a_collector_failure() -> None:
    success, series = poll_series("san", True, refuse_snapshot=True)
    assert success["tasks"] is False
    assert not any(line.startswith("qsan_task") for line in series)  # nothing carried yet


def test_every_data_reading_is_cited_where_it_is_handled() -> None:
    from pathlib import Path

    root = Path(__file__).parent.parent / "qsan_exporter"
    sources = "".join(p.read_text() for p in root.rglob("*.py"))
    mine = [r for r in DATA_READINGS if r.name in {
        "volumes-iscsi-object", "null-lists-services", "lun-info-object-array",
        "schedule-array-or-object", "schedule-end-time", "schedule-week-of-month",
        "replication-destination-shape", "backup-types-per-product", "log-start-time",
        "log-total-type"}]
    assert len(mine) == 10
    for reading in mine:
        # cited by name outside the table itself
        assert sources.count(reading.name) >= 2, reading.name
        assert "l." in reading.first + reading.second, reading.name


def test_the_legacy_profile_renders_from_the_default_reading_even_when_literal() -> None:
    device = Device(SimulatorConfig(profile="legacy", literal=True), started=T0)
    volumes = json.loads(device.storage.volumes_body)["volumes"]
    assert isinstance(volumes, list) and isinstance(volumes[0]["lunInfo"], dict)
    assert isinstance(json.loads(device.services.sessions_body)["iscsi"], list)
