"""system collector: enclosures, sensors, PSUs and cache-to-flash from the hardware answers."""

from __future__ import annotations

import pytest

from tests.collector_helpers import fixture, names, run, series, value

ENC0 = {"enclosure": "0"}


@pytest.fixture(scope="module")
def san():
    return run("system", fixture("system_san"))


def test_enclosure_identity_and_units(san) -> None:
    assert value(san, "qsan_enclosure_info", enclosure="0", model="XS5224D",
                 serial="001378D82734", backplane_id="QW316", health="Good",
                 cpu="Intel(R) Xeon(R) D-1527", memory="Samsung 8192MB", wwn="", vendor="") == 1
    assert value(san, "qsan_enclosure_health", **ENC0) == 0
    assert value(san, "qsan_controllers", **ENC0) == 2
    assert value(san, "qsan_cpu_usage_ratio", **ENC0) == pytest.approx(0.502)
    assert value(san, "qsan_memory_size_bytes", **ENC0) == 8192 * 1048576
    assert value(san, "qsan_memory_used_bytes", **ENC0) == 3156 * 1048576
    assert value(san, "qsan_uptime_seconds", **ENC0) == 680775


def test_expansion_enclosure_has_no_cpu_memory_or_health(san) -> None:
    """encID spelling, no cpu/mem fields, no sysHealth: only what is there."""
    assert value(san, "qsan_enclosure_info", enclosure="1", model="XD5324",
                 serial="0013780000E1", backplane_id="QW400", health="", cpu="", memory="",
                 wwn="20000013780000E1", vendor="QSAN") == 1
    for name in ("qsan_enclosure_health", "qsan_cpu_usage_ratio", "qsan_memory_size_bytes",
                 "qsan_memory_used_bytes", "qsan_uptime_seconds", "qsan_controllers"):
        assert {labels for labels in series(san, name)} == {(("enclosure", "0"),)}, name
    assert value(san, "qsan_fan_speed_rpm", enclosure="1", fan="FAN1") == 4950
    assert value(san, "qsan_temperature_celsius", enclosure="1", sensor="Backplane") == 33


def test_readings_numbers_as_strings_and_a_stopped_fan(san) -> None:
    assert value(san, "qsan_fan_speed_rpm", enclosure="0", fan="FAN1") == 1225  # "1225"
    assert value(san, "qsan_fan_speed_rpm", enclosure="0", fan="FAN2") == 0  # stopped = data
    assert value(san, "qsan_sensor_health", enclosure="0", sensor_type="fan", sensor="FAN2") == 2
    assert value(san, "qsan_temperature_celsius", enclosure="0", sensor="CPU (CTRL1)") == 61
    assert value(san, "qsan_voltage_volts", enclosure="0", sensor="+3.3V") == 3.31
    assert value(san, "qsan_sensor_health", enclosure="0", sensor_type="voltage",
                 sensor="+12V") == 1
    assert value(san, "qsan_component_info", enclosure="0", component="voltage", name="+12V",
                 status="Warning") == 1


def test_psu_names_are_stripped_and_absent_gives_no_health(san) -> None:
    assert value(san, "qsan_psu_health", enclosure="0", psu="Power Supply 1") == 0
    assert value(san, "qsan_psu_health", enclosure="0", psu="Power Supply 2") == 2
    assert value(san, "qsan_component_info", enclosure="0", component="psu",
                 name="Power Supply 2", status="Failed") == 1
    assert value(san, "qsan_component_info", enclosure="1", component="psu", name="2",
                 status="absent") == 1
    assert (("enclosure", "1"), ("psu", "2")) not in series(san, "qsan_psu_health")


def test_cache_to_flash_spaced_key_value_or_status_and_absent(san) -> None:
    assert series(san, "qsan_cache_to_flash_health") == {
        (("enclosure", "0"), ("module", "Flash Module Status")): 0}
    assert value(san, "qsan_component_info", enclosure="0", component="cache_to_flash",
                 name="Power Module Status", status="absent") == 1
    assert value(san, "qsan_component_info", enclosure="0", component="cache_to_flash",
                 name="Flash Module Status", status="Good") == 1


def test_nas_single_object_strings_no_statuses_and_no_cache_to_flash() -> None:
    nas = run("system", fixture("system_nas"), product="nas")
    enc = {"enclosure": "3"}  # no encId: taken from hardware/info enclosureNumbers
    assert value(nas, "qsan_enclosure_health", **enc) == 2  # "abnormal"
    assert value(nas, "qsan_cpu_usage_ratio", **enc) == pytest.approx(0.125)
    assert value(nas, "qsan_memory_used_bytes", **enc) == 4096 * 1048576
    assert value(nas, "qsan_uptime_seconds", **enc) == 3600
    assert value(nas, "qsan_voltage_volts", enclosure="3", sensor="+5V") == 5
    assert "qsan_sensor_health" not in names(nas)
    assert "qsan_cache_to_flash_health" not in names(nas)
    assert {c for (n, labels) in nas for k, c in labels
            if n == "qsan_component_info" and k == "component"} == {"psu"}


def test_enclosure_list_wrapped_in_an_object_and_missing_ids() -> None:
    body = {"enclosures": {"enclosures": [
        {"info": {"sysHealth": "Good", "moreInfo": {"fanSpeed": [{"value": 900}]}}},
        {"encId": 5, "info": [{"sysHealth": "Degraded"}]},
        {"encId": 6, "info": "garbage"},
    ]}}
    samples = run("system", body)
    assert series(samples, "qsan_enclosure_health") == {
        (("enclosure", "0"),): 0, (("enclosure", "5"),): 1}
    assert value(samples, "qsan_fan_speed_rpm", enclosure="0", fan="0") == 900
