"""The metric catalogue: every family the exporter can emit, with its type, help and labels.

This table is the public contract of SPEC §4 in code. Collectors may only emit names listed here
(the builder checks), the README metric table is generated from it, and the dashboards/alerts
checks read it. `array` and the array's extra `labels:` are added to every device series and are
not listed per metric.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from qsan_exporter.areas import NAMES

MetricType = Literal["gauge", "counter"]


@dataclass(frozen=True)
class MetricDef:
    name: str
    type: MetricType
    help: str
    labels: tuple[str, ...]
    area: str  # collector name, or "exporter"


def _m(area: str, name: str, type_: MetricType, labels: str, help_: str) -> MetricDef:
    return MetricDef(name, type_, help_, tuple(labels.split()), area)


_DEFS: tuple[MetricDef, ...] = (
    # --- the exporter's own view of each array -------------------------------------------------
    _m("exporter", "qsan_up", "gauge", "",
       "1 if the last poll reached the array's API and authenticated."),
    _m("exporter", "qsan_collector_success", "gauge", "collector",
       "1 if the collector's last run succeeded."),
    _m("exporter", "qsan_collector_duration_seconds", "gauge", "collector",
       "Duration of the collector's last run."),
    _m("exporter", "qsan_poll_duration_seconds", "gauge", "",
       "Duration of the last full poll of the array."),
    _m("exporter", "qsan_last_poll_success_timestamp_seconds", "gauge", "",
       "Unix time of the last fully successful poll."),
    _m("exporter", "qsan_api_requests_total", "counter", "endpoint code",
       "API requests sent, by path template and HTTP status (or 'error')."),
    _m("exporter", "qsan_auth_logins_total", "counter", "",
       "Successful logins only (a token from /auth/get, or a legacy session); rejected ones "
       "count in qsan_auth_login_failures_total."),
    _m("exporter", "qsan_auth_refreshes_total", "counter", "",
       "Token refreshes (/auth/refresh) performed."),
    _m("exporter", "qsan_poll_consecutive_failures", "gauge", "",
       "Polls in a row that failed (unreachable, login failed, or every collector failed)."),
    _m("exporter", "qsan_poll_backoff", "gauge", "",
       "1 while polls of the array are delayed by backoff, Retry-After or the login budget."),
    _m("exporter", "qsan_poll_next_attempt_timestamp_seconds", "gauge", "",
       "Unix time of the next poll attempt."),
    _m("exporter", "qsan_auth_login_failures_total", "counter", "",
       "Logins the array rejected; each one suspends further logins (5 min, doubling to 1 h)."),
    _m("exporter", "qsan_array_info", "gauge", "api product model serial",
       "Identity of the array (value 1)."),
    # --- system: /rest/v1/hardware/info, /rest/v1/hardware/all/info -----------------------------
    _m("system", "qsan_enclosure_info", "gauge",
       "enclosure model serial backplane_id health cpu memory wwn vendor",
       "Enclosure identity and raw health string (value 1); memory lists the fitted modules."),
    _m("system", "qsan_enclosure_health", "gauge", "enclosure",
       "Enclosure system health: 0 ok, 1 warning, 2 critical."),
    _m("system", "qsan_controllers", "gauge", "enclosure",
       "Number of controllers in the enclosure."),
    _m("system", "qsan_cpu_usage_ratio", "gauge", "enclosure",
       "CPU usage of the enclosure's controller (0-1)."),
    _m("system", "qsan_memory_size_bytes", "gauge", "enclosure",
       "Controller memory size."),
    _m("system", "qsan_memory_used_bytes", "gauge", "enclosure",
       "Controller memory in use."),
    _m("system", "qsan_uptime_seconds", "gauge", "enclosure",
       "Time since the system booted."),
    _m("system", "qsan_temperature_celsius", "gauge", "enclosure sensor",
       "Temperature sensor reading."),
    _m("system", "qsan_fan_speed_rpm", "gauge", "enclosure fan",
       "Fan speed."),
    _m("system", "qsan_voltage_volts", "gauge", "enclosure sensor",
       "Voltage sensor reading."),
    _m("system", "qsan_sensor_health", "gauge", "enclosure sensor_type sensor",
       "Sensor status where the device reports one: 0 ok, 1 warning, 2 critical."),
    _m("system", "qsan_psu_health", "gauge", "enclosure psu",
       "Power supply status: 0 ok, 1 warning, 2 critical."),
    _m("system", "qsan_cache_to_flash_health", "gauge", "enclosure module",
       "Cache-to-flash module status: 0 ok, 1 warning, 2 critical."),
    _m("system", "qsan_component_info", "gauge", "enclosure component name status",
       "Raw status string of a hardware component (value 1)."),
    # --- pools: /rest/v1/storage/pool/list --------------------------------------------------------
    _m("pools", "qsan_pool_info", "gauge", "pool pool_id thin sed auto_tier status health",
       "Pool identity, features and raw status strings (value 1)."),
    _m("pools", "qsan_pool_size_bytes", "gauge", "pool", "Pool capacity."),
    _m("pools", "qsan_pool_used_bytes", "gauge", "pool", "Pool capacity in use."),
    _m("pools", "qsan_pool_health", "gauge", "pool",
       "Pool health: 0 ok, 1 warning, 2 critical."),
    _m("pools", "qsan_pool_cache_size_bytes", "gauge", "pool cache",
       "SSD cache capacity of the pool, per enabled cache kind (read, write, read_write)."),
    _m("pools", "qsan_raidset_info", "gauge", "pool raidset raid_level status health",
       "RAID set identity and raw status strings (value 1)."),
    _m("pools", "qsan_raidset_size_bytes", "gauge", "pool raidset", "RAID set capacity."),
    _m("pools", "qsan_raidset_used_bytes", "gauge", "pool raidset", "RAID set capacity in use."),
    _m("pools", "qsan_raidset_health", "gauge", "pool raidset",
       "RAID set health: 0 ok, 1 warning (degraded, rebuilding), 2 critical."),
    _m("pools", "qsan_raidset_disks", "gauge", "pool raidset", "Member disks of the RAID set."),
    _m("pools", "qsan_raidset_spare_disks", "gauge", "pool raidset",
       "Dedicated spare disks of the RAID set (NAS `spare` list; an empty or null list is 0)."),
    _m("pools", "qsan_raidset_ee_spares", "gauge", "pool raidset",
       "RAID EE spare capacity of the RAID set, in disks (eeSpareNum; SAN, FAS)."),
    _m("pools", "qsan_raidset_member_info", "gauge", "pool raidset disk role",
       "A disk of a RAID set (value 1): role is data (raidsets[].disks) or spare (NAS spare)."),
    # --- disks: /rest/v1/storage/disk/list -----------------------------------------------------
    _m("disks", "qsan_disk_info", "gauge",
       "disk enclosure slot pool vendor model serial firmware bus media usage status health "
       "sed ise write_cache standby readahead cmd_queue",
       "Disk identity, raw status strings and settings (value 1)."),
    _m("disks", "qsan_disk_size_bytes", "gauge", "disk enclosure slot", "Disk capacity."),
    _m("disks", "qsan_disk_health", "gauge", "disk enclosure slot",
       "Disk health: 0 ok, 1 warning, 2 critical."),
    _m("disks", "qsan_disk_temperature_celsius", "gauge", "disk enclosure slot",
       "Disk temperature."),
    _m("disks", "qsan_disk_ssd_life_remaining_ratio", "gauge", "disk enclosure slot",
       "SSD endurance remaining (0-1): ssdLifeRemain read as remaining, as its name says "
       "(the manual also calls it 'Percentage Used Endurance Indicator')."),
    _m("disks", "qsan_disk_link_rate_bytes_per_second", "gauge", "disk enclosure slot",
       "Negotiated link rate of the disk (the manual's rate in Gbps, divided by 8)."),
    _m("disks", "qsan_disk_written_bytes_total", "counter", "disk enclosure slot",
       "Bytes written to the disk over its life, as reported by the disk."),
    _m("disks", "qsan_disk_throughput_bytes_per_second", "gauge", "disk enclosure slot",
       "Current disk throughput (SAN, FAS)."),
    _m("disks", "qsan_disk_latency_seconds", "gauge", "disk enclosure slot",
       "Current disk response time (SAN, FAS)."),
    # --- volumes: /rest/v1/storage/volume/list --------------------------------------------------
    _m("volumes", "qsan_volume_info", "gauge",
       "volume volume_id pool volume_type cache_mode status health qos_method",
       "Volume identity and raw status strings (value 1)."),
    _m("volumes", "qsan_volume_health", "gauge", "volume",
       "Volume health: 0 ok, 1 warning, 2 critical."),
    _m("volumes", "qsan_volume_qos_max_iops", "gauge", "volume",
       "QoS IOPS limit of the volume; absent when unlimited (the device's 0)."),
    _m("volumes", "qsan_volume_qos_max_throughput_bytes_per_second", "gauge", "volume",
       "QoS throughput limit of the volume; the device's \"KBps\" read as KiB/s (x1024); "
       "absent when unlimited (the device's 0)."),
    _m("volumes", "qsan_volume_lun_mappings", "gauge", "volume protocol",
       "LUN mappings of the volume, per protocol (iscsi, fc)."),
    _m("volumes", "qsan_volume_lun_mapping_info", "gauge",
       "volume protocol host target lun permission",
       "One LUN mapping of the volume (value 1); at most 32 per volume and protocol, the "
       "rest only counted in qsan_volume_lun_mappings."),
    # --- iscsi: /rest/v1/iscsi/target/list, /rest/v1/iscsi/session/list ------------------------
    _m("iscsi", "qsan_iscsi_target_info", "gauge", "controller target name alias auth port",
       "iSCSI target identity (value 1)."),
    _m("iscsi", "qsan_iscsi_target_free_luns", "gauge", "controller target",
       "LUN ids still free on the target."),
    _m("iscsi", "qsan_iscsi_target_portals", "gauge", "controller target",
       "Portals enabled on the target."),
    _m("iscsi", "qsan_iscsi_sessions", "gauge", "controller target",
       "Active iSCSI sessions on the target (every listed target, 0 included)."),
    _m("iscsi", "qsan_iscsi_session_info", "gauge",
       "controller session initiator target client_ip client_name",
       "One active iSCSI session (value 1); client_ip and client_name on NAS only."),
    _m("iscsi", "qsan_iscsi_session_login_timestamp_seconds", "gauge", "controller session",
       "Unix time the iSCSI session logged in (NAS only)."),
    _m("iscsi", "qsan_iscsi_connection_info", "gauge", "controller connection status",
       "An iSCSI connection status entry of the session list, raw status (value 1)."),
    _m("iscsi", "qsan_iscsi_connection_health", "gauge", "controller connection",
       "iSCSI connection status of the session list: 0 up, 1 unrecognised, 2 down."),
    # --- tasks: /rest/v1/backup/{snapshot,clone,replication,cloud}/list -------------------------
    _m("tasks", "qsan_task_info", "gauge", "task_type task source destination status",
       "Backup task identity and raw status (value 1)."),
    _m("tasks", "qsan_task_health", "gauge", "task_type task",
       "Task status where the device reports one: 0 ok, 1 warning, 2 critical."),
    _m("tasks", "qsan_snapshot_space_size_bytes", "gauge", "task",
       "Space reserved for the snapshot task."),
    _m("tasks", "qsan_snapshot_space_used_bytes", "gauge", "task",
       "Snapshot space in use."),
    _m("tasks", "qsan_task_next_run_timestamp_seconds", "gauge", "task_type task",
       "Unix time of the task's next scheduled run, computed from its crontab schedule."),
    _m("tasks", "qsan_replication_path_info", "gauge",
       "task line ip target_name source_port lun status",
       "One destination line (path) of a replication task, raw status (value 1)."),
    _m("tasks", "qsan_replication_path_health", "gauge", "task line ip target_name",
       "State of one replication destination line (SAN, FAS): 0 ok, 1 warning, 2 down."),
    # --- logs: /rest/v1/log/list -----------------------------------------------------------------
    _m("logs", "qsan_log_events_total", "counter", "level",
       "Array log events seen since the exporter started, by level."),
    _m("logs", "qsan_log_last_event_timestamp_seconds", "gauge", "level",
       "Unix time of the newest array log event seen, by level."),
)

METRICS: dict[str, MetricDef] = {d.name: d for d in _DEFS}

# Process-wide families: no `array` label.
GLOBAL_METRICS: dict[str, MetricDef] = {
    d.name: d
    for d in (
        _m("exporter", "qsan_exporter_build_info", "gauge", "version python_version",
           "Build of this exporter (value 1)."),
        _m("exporter", "qsan_config_last_reload_successful", "gauge", "",
           "1 if the last configuration load or reload succeeded."),
    )
}

COLLECTOR_NAMES: tuple[str, ...] = NAMES  # the areas table's order; config.py imports it here
