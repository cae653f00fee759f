"""The legacy path end to end over loopback HTTP: simulator profile `legacy`, LegacySource,
untouched collectors, `api: auto` detection, and the demo's legacy array."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import pytest
import requests

from qsan_exporter.api.legacy.client import LOGIN_TEMPLATE, LegacyClient
from qsan_exporter.api.legacy.source import LegacySource
from qsan_exporter.config import ArrayConfig
from qsan_exporter.exposition import families_of
from qsan_exporter.poll.fleet import build_member
from qsan_exporter.simulator import SimulatedArray, SimulatorConfig
from qsan_exporter.simulator.demo import start_demo_arrays
from qsan_exporter.snapshot import Snapshot

PASSWORD = "se/cr%e#t-ä"


class RecordingSession(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self.methods: list[tuple[str, str]] = []

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        self.methods.append((method, url))
        return super().request(method, url, *args, **kwargs)


@pytest.fixture
def legacy_sim(simulators):
    return simulators("legacy", password=PASSWORD)


def config_for(sim, api: str = "auto", name: str = "old") -> ArrayConfig:
    return ArrayConfig(name=name, url=sim.url, username="monitor",
                       password=sim.config.password, api=api, interval_seconds=30,
                       timeout_seconds=5)


def poll_once(config: ArrayConfig) -> tuple[Snapshot, Any]:
    member = build_member(config)
    try:
        return member.poll.poll(), member
    finally:
        member.client.close()


def samples(snapshot: Snapshot) -> dict[tuple[str, tuple], float]:
    out = {}
    for state in snapshot.collectors.values():
        for family in families_of(state.families):
            for s in family.samples:
                labels = tuple(sorted((k, v) for k, v in s.labels.items() if k != "array"))
                out[(s.name, labels)] = s.value
    for family in families_of(snapshot.exporter_families):
        for s in family.samples:
            labels = tuple(sorted((k, v) for k, v in s.labels.items() if k != "array"))
            out[(s.name, labels)] = s.value
    return out


def value(got: dict, name: str, **labels: str) -> float:
    wanted = set(labels.items())
    matches = [v for (n, lab), v in got.items() if n == name and wanted <= set(lab)]
    assert len(matches) == 1, (name, labels, matches)
    return matches[0]


def test_every_mapped_endpoint_feeds_its_collector(legacy_sim) -> None:
    snapshot, _ = poll_once(config_for(legacy_sim, api="legacy"))
    assert snapshot.up, snapshot.error
    assert all(c.success for c in snapshot.collectors.values()), {
        c.name: c.error for c in snapshot.collectors.values()}
    facts, got = legacy_sim.facts, samples(snapshot)
    # systeminfo + hwmonitor
    assert snapshot.identity is not None
    assert (snapshot.identity.api, snapshot.identity.product) == ("legacy", "san")
    assert snapshot.identity.model == "XS5216D"
    assert value(got, "qsan_controllers", enclosure="0") == 2
    assert value(got, "qsan_psu_health", psu=facts.failed_psu) == 2
    assert value(got, "qsan_fan_speed_rpm", fan=facts.stopped_fan) == 0
    assert value(got, "qsan_sensor_health", sensor_type="fan", sensor=facts.stopped_fan) == 2
    assert value(got, "qsan_voltage_volts", sensor="+12V") == pytest.approx(12.1)
    # diskinfo + disksmart
    assert value(got, "qsan_disk_health", disk=str(facts.failed_disk)) == 2
    assert value(got, "qsan_disk_temperature_celsius", disk="0") > 0
    assert any(n == "qsan_disk_ssd_life_remaining_ratio" for n, _ in got)
    # poolinfo
    assert value(got, "qsan_pool_health", pool=facts.degraded_pool) == 1
    assert value(got, "qsan_raidset_health", raidset=str(facts.degraded_raidset)) == 1
    assert value(got, "qsan_pool_size_bytes", pool=facts.degraded_pool) > 0
    # volumeinfo + lunmappinginfo
    assert value(got, "qsan_volume_qos_max_iops", volume=facts.qos_volume) == 5000
    assert value(got, "qsan_volume_lun_mappings", volume=facts.unmapped_volume,
                 protocol="iscsi") == 0
    assert value(got, "qsan_volume_lun_mappings", volume="Vol-2", protocol="fc") == 1
    assert value(got, "qsan_volume_info", volume="Vol-1", pool="Pool-1") == 1
    # availtarget
    for target in facts.targets_with_sessions:
        assert value(got, "qsan_iscsi_sessions", target=str(target)) > 0
    for target in facts.targets_without_sessions:
        assert value(got, "qsan_iscsi_sessions", target=str(target)) == 0
    # log/list: the history is the baseline, counted from zero
    assert value(got, "qsan_log_events_total", level="error") == 0
    assert value(got, "qsan_log_last_event_timestamp_seconds", level="error") > 0
    assert value(got, "qsan_array_info", api="legacy") == 1


def test_logs_are_counted_incrementally() -> None:
    clock = [1_700_000_000.0]
    sim = SimulatedArray(SimulatorConfig(profile="legacy", log_interval=10.0),
                         clock=lambda: clock[0]).start()
    client = LegacyClient(sim.url, "admin", "admin")
    try:
        source = LegacySource(client)
        baseline = source.fetch("logs")
        assert baseline.batch["baseline"] and len(baseline.batch["events"]) == 50
        assert sum(baseline.tally.counts.values()) == 0
        assert source.fetch("logs").batch == {"events": [], "baseline": False}
        clock[0] += 35  # three new events, newest first on page 1
        new = source.fetch("logs")
        assert not new.batch["baseline"] and len(new.batch["events"]) == 3
        assert sum(new.tally.counts.values()) == 3
        assert source.fetch("logs").batch["events"] == []
    finally:
        client.close()
        sim.stop()


def test_session_reused_then_renewed_after_the_array_forgets_it(legacy_sim) -> None:
    session = RecordingSession()
    client = LegacyClient(legacy_sim.url, "monitor", PASSWORD, session=session)
    source = LegacySource(client)
    for area in ("system", "disks", "pools", "volumes", "iscsi", "logs"):
        source.fetch(area)
    assert legacy_sim.stats.logins == 1
    legacy_sim.revoke_all_tokens()
    source.fetch("pools")
    assert legacy_sim.stats.logins == 2
    posts = [url for method, url in session.methods if method != "GET"]
    assert len(posts) == 2 and all("/rest/login/account/" in url for url in posts)
    assert legacy_sim.legacy.writes == 0
    client.close()


def test_wrong_password_is_one_rejected_login(simulators) -> None:
    sim = simulators("legacy")
    snapshot, _ = poll_once(ArrayConfig(name="x", url=sim.url, username="monitor",
                                        password="wrong", api="auto"))
    assert not snapshot.up and "rejected" in (snapshot.error or "")
    assert sim.stats.failed_logins == 1


@pytest.mark.parametrize("profile", ["san", "legacy"])
def test_auto_detects_the_flavour(simulators, profile) -> None:
    sim = simulators(profile)
    snapshot, _ = poll_once(config_for(sim, api="auto", name=profile))
    assert snapshot.up, snapshot.error
    expected = "legacy" if profile == "legacy" else "unified"
    assert snapshot.identity is not None and snapshot.identity.api == expected
    assert sim.stats.failed_logins == 0  # the probe spent no login


def test_password_never_in_logs_errors_or_metrics(legacy_sim, caplog) -> None:
    config = config_for(legacy_sim, api="auto")
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="urllib3"):
        snapshot, _ = poll_once(config)
        bad = ArrayConfig(name="bad", url=legacy_sim.url.replace(
            str(legacy_sim.port), "1"), username="monitor", password=PASSWORD, api="legacy")
        failed, _ = poll_once(bad)
    assert snapshot.up and not failed.up
    secrets = (PASSWORD, quote(PASSWORD, safe=""), "cr%e")
    text = caplog.text + "".join(str(s.error) for s in (snapshot, failed))
    rendered = repr(samples(snapshot)) + repr(samples(failed))
    for secret in secrets:
        assert secret not in text
        assert secret not in rendered
    # DEBUG was captured: the login's own request line, under its template
    assert any(LOGIN_TEMPLATE in r.getMessage() for r in caplog.records)
    assert LOGIN_TEMPLATE in rendered


LEGACY_AREAS = ("qsan_temperature_", "qsan_fan_", "qsan_voltage_", "qsan_psu_", "qsan_sensor_",
                "qsan_disk_", "qsan_pool_", "qsan_raidset_", "qsan_volume_", "qsan_enclosure_")


def test_demo_legacy_array_has_the_unified_metric_names() -> None:
    simulators, config = start_demo_arrays(interval=30.0)
    try:
        names: dict[str, set[str]] = {}
        for array in config.arrays:
            snapshot, _ = poll_once(array)
            assert snapshot.up, (array.name, snapshot.error)
            names[array.name] = {n for n, _ in samples(snapshot)
                                 if n.startswith(LEGACY_AREAS)}
            if array.name == "demo-legacy":
                assert snapshot.identity is not None and snapshot.identity.api == "legacy"
        san, legacy = names["demo-san"], names["demo-legacy"]
        # Performance (throughput, latency) is not in any legacy answer; all else matches.
        missing = san - legacy - {"qsan_disk_throughput_bytes_per_second",
                                  "qsan_disk_latency_seconds", "qsan_pool_cache_size_bytes"}
        assert not missing, missing
        assert legacy <= san
    finally:
        for sim in simulators:
            sim.stop()
