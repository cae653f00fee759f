"""Coverage rows of `/rest/v1/backup/{type}/list`, one table per type (manual: 000 l.520-630,
002 l.522-678). The manual documents one path with a table per task type."""

from __future__ import annotations

from qsan_exporter.coverage import Field

SNAPSHOT = "/rest/v1/backup/snapshot/list"
CLONE = "/rest/v1/backup/clone/list"
REPLICATION = "/rest/v1/backup/replication/list"
CLOUD = "/rest/v1/backup/cloud/list"
_NEXT = "qsan_task_next_run_timestamp_seconds"
_SETTING = "a setting the exporter cannot act on"


def _schedule(ep: str) -> tuple[Field, ...]:
    def time_rows(name: str, why: str) -> tuple[Field, ...]:
        return (Field(ep, f"tasks[].schedule.{name}", _NEXT, evidence=why),
                Field(ep, f"tasks[].schedule.{name}.hour", _NEXT),
                Field(ep, f"tasks[].schedule.{name}.minute", _NEXT))

    return (
        Field(ep, "tasks[].schedule", _NEXT,
              evidence="one object in the example (000 l.542), \"array\" in the table "
                       "(002 l.582): a list of schedules gives the earliest run of all; in the "
                       "array's time zone"),
        Field(ep, "tasks[].schedule.minute", _NEXT, evidence="crontab minute, 0-59 (002 l.644)"),
        Field(ep, "tasks[].schedule.hour", _NEXT, evidence="crontab hour, 0-23 (002 l.649)"),
        Field(ep, "tasks[].schedule.day", _NEXT, evidence="crontab day, 1-31 (002 l.654)"),
        Field(ep, "tasks[].schedule.month", _NEXT, evidence="crontab month, 1-12 (002 l.659)"),
        Field(ep, "tasks[].schedule.week", _NEXT,
              evidence="crontab weekday, 0-6 with 0 = Sunday (002 l.664)"),
        Field(ep, "tasks[].schedule.weekOfMouth|weekOfMonth", _NEXT,
              evidence="\"Number of weeks in the month (0~ 4)\" (002 l.669): 0-3 the 1st-4th, "
                       "4 the last; spelt weekOfMouth in the manual"),
        *time_rows("startTime", "NAS window start (002 l.672)"),
        *time_rows("stopTime|EndTime", "NAS window end: stopTime in the example (000 l.552), "
                                       "EndTime in the table (000 l.630)"),
    )


def _task(ep: str, task_type: str) -> tuple[Field, ...]:
    return (
        Field(ep, "tasks", "qsan_task_info", evidence="`null` or an id map read as well"),
        Field(ep, "tasks[].id", f'qsan_task_info{{task_type="{task_type}",task}}'),
    )


ROWS: tuple[Field, ...] = (
    *_task(SNAPSHOT, "snapshot"),
    Field(SNAPSHOT, "tasks[].usedSize", "qsan_snapshot_space_used_bytes",
          evidence="\"unit : MB\" (002 l.580), read as MiB (x1048576) like every MB size"),
    Field(SNAPSHOT, "tasks[].totalSize", "qsan_snapshot_space_size_bytes",
          evidence="\"unit : MB\" (002 l.581), read as MiB (x1048576)"),
    *_schedule(SNAPSHOT),
    *_task(CLONE, "clone"),
    Field(CLONE, "tasks[].destination", "qsan_task_info{destination}",
          evidence="\"Clone object ID\" (002 l.589): the volume's name when the id matches"),
    *_schedule(CLONE),
    *_task(REPLICATION, "replication"),
    Field(REPLICATION, "tasks[].source", "qsan_task_info{source}"),
    Field(REPLICATION, "tasks[].status", "qsan_task_health",
          evidence="task words (Running, Synchronizing...) are ok, failure words critical"),
    Field(REPLICATION, "tasks[].shaping", dropped=f"traffic shaping group name: {_SETTING}"),
    Field(REPLICATION, "tasks[].rate", dropped=f"configured replication rate, no unit given "
                                               f"(002 l.602): {_SETTING}"),
    Field(REPLICATION, "tasks[].createTime",
          dropped="a creation date as text without a time zone: inventory only"),
    Field(REPLICATION, "tasks[].destination", "qsan_task_info{destination}",
          evidence="a list of lines (002 l.613-615) or one object (002 l.606): every line"),
    Field(REPLICATION, "tasks[].destination[].no", "qsan_replication_path_health{line}"),
    Field(REPLICATION, "tasks[].destination[].sourcePort",
          "qsan_replication_path_info{source_port}"),
    Field(REPLICATION, "tasks[].destination[].IP", "qsan_replication_path_health{ip}"),
    Field(REPLICATION, "tasks[].destination[].targetName",
          "qsan_replication_path_health{target_name}"),
    Field(REPLICATION, "tasks[].destination[].name", "qsan_replication_path_health{target_name}",
          evidence="NAS lines name the destination volume instead (002 l.626)"),
    Field(REPLICATION, "tasks[].destination[].Lun", "qsan_replication_path_info{lun}"),
    Field(REPLICATION, "tasks[].destination[].status", "qsan_replication_path_health",
          evidence="SAN/FAS only (002 l.620); also the task's status when it has none"),
    *_schedule(REPLICATION),
    *_task(CLOUD, "cloud"),
    Field(CLOUD, "tasks[].provider", dropped="the cloud provider's name: inventory only"),
    Field(CLOUD, "tasks[].action", dropped=f"backup or sync: {_SETTING}"),
    Field(CLOUD, "tasks[].source", "qsan_task_info{source}"),
    Field(CLOUD, "tasks[].destination", "qsan_task_info{destination}",
          evidence="typed integer (002 l.635) but a path: read as text"),
    Field(CLOUD, "tasks[].status", "qsan_task_health",
          evidence="not documented for cloud tasks; read like a replication status when sent"),
    *_schedule(CLOUD),
)
