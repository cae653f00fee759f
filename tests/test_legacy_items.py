"""SANOS 4.0: the per-item endpoints, available LUNs per target and snapshots per volume, read
into the Unified metric names, with both spellings of the availlun path the manual implies."""

from __future__ import annotations

import pytest

from qsan_exporter.api.legacy import items
from qsan_exporter.api.legacy.translate import Reader
from qsan_exporter.config import ArrayConfig
from qsan_exporter.exposition import families_of
from qsan_exporter.poll.fleet import build_member


def poll_once(sim) -> dict[str, list[tuple[dict[str, str], float]]]:
    config = ArrayConfig(name="old", url=sim.url, username="monitor",
                         password=sim.config.password, api="legacy", interval_seconds=30,
                         timeout_seconds=5)
    member = build_member(config)
    try:
        snapshot = member.poll.poll()
    finally:
        member.client.close()
    assert all(c.success for c in snapshot.collectors.values()), snapshot.collectors
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for state in snapshot.collectors.values():
        for family in families_of(state.families):
            for s in family.samples:
                found.setdefault(s.name, []).append((s.labels, s.value))
    return found


@pytest.mark.parametrize("literal", [False, True], ids=["under-rest", "as-printed"])
def test_free_luns_and_snapshot_spaces_of_a_legacy_array(simulators, literal: bool) -> None:
    sim = simulators("legacy", literal=literal)
    found = poll_once(sim)
    free = found["qsan_iscsi_target_free_luns"]
    assert len(free) >= 2 and all(value > 0 for _, value in free)
    volumes = [labels["volume_id"] for labels, _ in found["qsan_volume_info"]]
    size = {labels["task"]: value for labels, value in found["qsan_snapshot_space_size_bytes"]}
    used = {labels["task"]: value for labels, value in found["qsan_snapshot_space_used_bytes"]}
    assert set(size) == set(volumes[::2])  # the simulator gives every other volume a space
    assert set(size.values()) == {20 * 1024**3}
    assert used[volumes[0]] == 2.5 * 1024**3
    kinds = {labels["task_type"] for labels, _ in found["qsan_task_info"]}
    assert kinds == {"snapshot"}
    by_path = sim.stats_snapshot()["requests_by_path"]
    under_rest = sum(n for p, n in by_path.items() if p.startswith("/rest/storage/availlun/"))
    as_printed = sum(n for p, n in by_path.items() if p.startswith("/storage/availlun/"))
    targets = len(free)
    if literal:  # one 404 under /rest, then the spelling that answered is asked first
        assert (under_rest, as_printed) == (1, targets)
    else:
        assert (under_rest, as_printed) == (targets, 0)


def test_free_luns_in_any_shape() -> None:
    assert items.free_luns({"data": [{"lun_id": 1}, {"lun": "2"}]}) == [1, 2]
    assert items.free_luns({"result": "success", "data": {"luns": [0, 3, "x", -1, 1.5]}}) == [0, 3]
    assert items.free_luns({"data": None}) == []


def test_snapshot_space_used_from_the_answer_or_the_snapshots() -> None:
    reader = Reader()
    assert items.snapshot_task(reader, "7", {"data": {
        "snapshot_space": "20.00 GB", "snapshot_space_used": "2.50 GB", "snapshots": []}}) == {
        "id": "7", "totalSize": 20480.0, "usedSize": 2560.0}
    assert items.snapshot_task(reader, "7", {"data": {"snapshots": [
        {"size": "1 GB"}, {"size": "2 GB"}]}}) == {"id": "7", "usedSize": 3072.0}
    assert items.snapshot_task(reader, "7", {"data": {"snapshot_space": "0 GB",
                                                      "snapshots": []}}) is None
    assert items.snapshot_task(reader, "7", ["not", "an", "object"]) is None
