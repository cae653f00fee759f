"""Coverage rows of `/rest/v1/storage/volume/list` (manual: 000 l.415-518, 002 l.380-521)."""

from __future__ import annotations

from qsan_exporter.coverage import Field

EP = "/rest/v1/storage/volume/list"
_SETTING = "a setting the exporter cannot act on"


def _mapping_rows(protocol: str) -> tuple[Field, ...]:
    base = f"volumes[].lunInfo.{protocol}"
    return (
        Field(EP, base, f'qsan_volume_lun_mappings{{protocol="{protocol}"}}'),
        Field(EP, f"{base}[].host", "qsan_volume_lun_mapping_info{host}"),
        Field(EP, f"{base}[].targetID", "qsan_volume_lun_mapping_info{target}"),
        Field(EP, f"{base}[].lun", "qsan_volume_lun_mapping_info{lun}"),
        Field(EP, f"{base}[].permission", "qsan_volume_lun_mapping_info{permission}"),
    )


ROWS: tuple[Field, ...] = (
    Field(EP, "volumes", "qsan_volume_info",
          evidence="a list in the example (000 l.431), \"object\" in the table (002 l.434): "
                   "both read"),
    Field(EP, "volumes[].id", "qsan_volume_info{volume_id}"),
    Field(EP, "volumes[].name", "qsan_volume_info{volume}"),
    Field(EP, "volumes[].status", "qsan_volume_info{status}"),
    Field(EP, "volumes[].health", "qsan_volume_health"),
    Field(EP, "volumes[].type", "qsan_volume_info{volume_type}"),
    Field(EP, "volumes[].poolID", "qsan_volume_info{pool}",
          evidence="the pool's name from the pool list of the same poll; the id if unknown"),
    Field(EP, "volumes[].cacheMode", "qsan_volume_info{cache_mode}"),
    Field(EP, "volumes[].priority", dropped=f"I/O priority: {_SETTING}"),
    Field(EP, "volumes[].bgPriority", dropped=f"background I/O priority: {_SETTING}"),
    Field(EP, "volumes[].videoEditingMode", dropped=f"video editing switch: {_SETTING}"),
    Field(EP, "volumes[].tierPolicy", dropped=f"auto-tiering policy: {_SETTING}"),
    Field(EP, "volumes[].stripeSize", dropped="fixed at creation (unit KB, 002 l.471): "
                                              "inventory only"),
    Field(EP, "volumes[].isQosEnable", "qsan_volume_info{qos_method}",
          evidence="qos_method is empty while QoS is off; NAS: always false (002 l.476)"),
    Field(EP, "volumes[].qosInfo", "qsan_volume_qos_max_iops"),
    Field(EP, "volumes[].qosInfo.method", "qsan_volume_info{qos_method}"),
    Field(EP, "volumes[].qosInfo.setting", "qsan_volume_qos_max_iops"),
    Field(EP, "volumes[].qosInfo.setting.priority",
          dropped=f"priority-method QoS level (High/Medium/Low): {_SETTING}"),
    Field(EP, "volumes[].qosInfo.setting.targetResponseTime",
          dropped="priority-method target; its unit is printed as \"MB\" (002 l.500), which "
                  "cannot be a time: not exported rather than guessed"),
    Field(EP, "volumes[].qosInfo.setting.maxIOPS", "qsan_volume_qos_max_iops",
          evidence="0 = unlimited (002 l.502-503): no series for 0"),
    Field(EP, "volumes[].qosInfo.setting.maxThroughput",
          "qsan_volume_qos_max_throughput_bytes_per_second",
          evidence="\"unit: KBps\" (002 l.507) read as KiB/s, x1024 to bytes/s, like the "
                   "device's other binary units; 0 = unlimited (002 l.506): no series for 0"),
    Field(EP, "volumes[].isLunMap", "qsan_volume_lun_mappings",
          evidence="false: 0 mappings for both protocols"),
    Field(EP, "volumes[].lunInfo", "qsan_volume_lun_mappings",
          evidence="an object in the example (000 l.453), \"Object array\" in the table "
                   "(002 l.482): every element counted"),
    *_mapping_rows("iscsi"),
    *_mapping_rows("fc"),
)
