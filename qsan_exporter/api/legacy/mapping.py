"""Which SANOS 4.0 field feeds which exporter field: the one table to fix when a real array differs.

The legacy manual's response examples were screenshots and are lost, so every legacy field
name below is a CANDIDATE: the names the SANOS web UI and the Unified API use for the same fact,
in the spellings firmware of that era tends to use. For each target field (the Unified key the
collectors already read, see `qsan_exporter/collectors/*`), the candidates are tried in order
and the first one present wins; keys match ignoring case, spaces and underscores.

A candidate is a name, or `(name, unit)` where `unit` is the unit of a bare number under that
name (strings carrying their own unit, "8 GB", "41 C", "4950 RPM", are read by their unit).
`kind` says how the value is read:

    text         label text, as is
    number       the leading number of a value ("41 C" -> 41)
    mib          a size, to MiB (the device's MB); bare numbers are MB unless the candidate says
    bytes        a size, to bytes; bare numbers are bytes unless the candidate says
    percent      0-100 ("97 %" -> 97)
    flag         a boolean as the device sends it (the collectors read bools, 0/1, "yes", ...)
    thin         "Thin"/"Thick" provisioning, or a boolean
    controllers  a controller count, also from "Dual Controller, Active-Active" (2) / "Single" (1)

A field found on a real array under another name: add the name to the candidates here (first,
if it shadows a wrong match). Numeric fields that no candidate consumed are reported once in the
debug log ("legacy diskinfo: unmapped numeric field ..."), so such names are easy to find.
"""

from __future__ import annotations

from dataclasses import dataclass

Candidate = str | tuple[str, str]


@dataclass(frozen=True)
class Field:
    target: str  # the Unified key the collector reads
    kind: str
    candidates: tuple[Candidate, ...]


def _table(*fields: tuple[str, str, tuple[Candidate, ...]]) -> tuple[Field, ...]:
    return tuple(Field(target, kind, candidates) for target, kind, candidates in fields)


# --- where the item list sits in an answer (tried in order; then any single list of objects) --
LISTS: dict[str, tuple[str, ...]] = {
    "hwmonitor": ("enclosures", "enclosure", "enclosureList", "encs", "hwmonitor"),
    "diskinfo": ("disks", "diskinfo", "diskList", "disk", "pds", "physicalDisks"),
    "disksmart": ("disks", "disksmart", "smart", "smartList", "diskList"),
    "poolinfo": ("pools", "poolinfo", "poolList", "pool"),
    "volumeinfo": ("volumes", "volumeinfo", "volumeList", "volume", "vds", "virtualDisks"),
    "availtarget": ("targets", "availtarget", "targetList", "target", "iscsiTargets"),
    "lunmappinginfo": ("lunMappings", "lunmappinginfo", "mappings", "lunmappings", "luns",
                       "lunList"),
    "log": ("logs", "events", "eventLogs", "eventlog", "log", "list"),
}
WRAPPERS = ("data", "result", "response", "content")  # objects an answer may be wrapped in

# --- systeminfo -> the local enclosure's `info` (hardware/all/info) -----------------------------
SYSTEM_INFO = _table(
    ("modelName", "text", ("modelName", "model_name", "model", "productModel", "productName")),
    ("serialNumber", "text", ("serialNumber", "systemSerialNumber", "system_serial_number",
                              "serial_number", "serialNo", "serial", "sn")),
    ("sysHealth", "text", ("sysHealth", "systemHealth", "health", "healthStatus",
                           "systemStatus")),
    ("controllerNum", "controllers", ("controllerNum", "controllerNumber", "numberOfControllers",
                                      "controllers", "controllerStatus",
                                      "systemControllerStatus", "controllerMode")),
    ("cpuUsage", "percent", ("cpuUsage", "cpu_usage", "cpuUtilization", "cpuLoad")),
    ("memTotal", "mib", ("memTotal", "memoryTotal", "totalMemory", ("memoryGB", "GB"),
                         ("memTotalGB", "GB"), "memorySize", "memory")),
    ("memUsed", "mib", ("memUsed", "memoryUsed", "usedMemory", ("memUsedGB", "GB"))),
    ("systemUptime", "number", ("systemUptime", "uptime", "upTime", "uptimeSeconds")),
    ("backplaneID", "text", ("backplaneID", "backplaneId", "backplane_id", "backplane")),
    ("systemName", "text", ("systemName", "system_name", "hostName", "name")),
    ("firmwareVersion", "text", ("firmwareVersion", "firmware_version", "fwVersion", "firmware",
                                 "version")),
)
CONTROLLER_LISTS = ("controllers", "controllerList", "controller", "ctrls")

# --- hwmonitor -> each enclosure's `moreInfo` ----------------------------------------------------
ENCLOSURE_ID = ("encId", "encID", "enclosureId", "enclosure_id", "enclosureNo", "enclosure",
                "id", "no", "index")
# moreInfo key -> where the legacy enclosure lists those sensors
SENSOR_GROUPS: dict[str, tuple[str, ...]] = {
    "temperature": ("temperature", "temperatures", "temp", "thermal", "temperatureSensors"),
    "fanSpeed": ("fanSpeed", "fan", "fans", "fanModule", "fanModules", "fanStatus", "cooling"),
    "voltage": ("voltage", "voltages", "volt", "voltageSensors"),
    "psuStatus": ("psuStatus", "psu", "psus", "powerSupply", "powerSupplies", "power_supply",
                  "power", "psuModule"),
    "cacheToFlash": ("cacheToFlash", "c2f", "cacheToFlashModule", "c2fModule", "bbm", "scm",
                     "battery", "flashModule"),
}
SENSOR = _table(
    ("name", "text", ("name", "item", "sensor", "sensorName", "location", "description", "label",
                      "id")),
    ("value", "number", ("value", "reading", "current", "currentValue", "speed", "rpm",
                         "celsius", "temperature", "voltage", "volt")),
    ("status", "text", ("status", "state", "health", "result", "condition")),
)
STATE = _table(  # PSU and cache-to-flash entries: a state, no reading
    ("name", "text", ("name", "item", "module", "location", "description", "label", "id")),
    ("status", "text", ("status", "state", "health", "result", "condition", "value")),
)

# --- diskinfo / disksmart -> storage/disk/list ----------------------------------------------------
DISK_KEY = _table(
    ("id", "text", ("id", "diskId", "diskID", "pdId", "pd_id", "diskNo", "no", "number")),
    ("encID", "text", ("encID", "encId", "enclosureId", "enclosure_id", "enclosureNo",
                       "enclosure", "enc")),
    ("slot", "text", ("slot", "slotId", "slotNo", "slot_no", "bay", "location")),
)
DISK = DISK_KEY + _table(
    ("size", "mib", ("size", "sizeMB", "capacityMB", ("sizeGB", "GB"), ("capacityGB", "GB"),
                     "capacity", "totalSize")),
    ("poolName", "text", ("poolName", "pool", "pool_name", "poolname", "rgName")),
    ("health", "text", ("health", "healthStatus", "diskHealth", "status")),
    ("status", "text", ("status", "state", "diskStatus")),
    ("usage", "text", ("usage", "diskUsage", "role", "usedBy", "use")),
    ("vendor", "text", ("vendor", "manufacturer", "vendorId", "brand")),
    ("model", "text", ("model", "modelName", "productId", "product")),
    ("serial", "text", ("serial", "serialNumber", "serial_number", "sn")),
    ("firmware", "text", ("firmware", "firmwareVersion", "fwVersion", "revision", "fw")),
    ("busType", "text", ("busType", "bus", "interface", "interfaceType", "protocol")),
    ("type", "text", ("type", "mediaType", "media", "diskType", "driveType")),
    ("rate", "number", ("rate", "linkSpeed", "link_speed", "linkRate", "transferRate")),
    ("isSSD", "flag", ("isSSD", "ssd")),
    ("temperature", "number", ("temperature", "temp", "currentTemperature")),
    ("ssdLifeRemain", "percent", ("ssdLifeRemain", "lifeRemain", "remainingLife", "ssdLife",
                                  "lifeRemaining")),
    ("totalWrittenByte", "bytes", ("totalWrittenByte", "totalWrittenBytes",
                                   ("totalWrittenGB", "GB"))),
)
# S.M.A.R.T. readings merged into the disk of the same id (else enclosure + slot). Attribute
# lists ([{"id": 194, "name": "Temperature_Celsius", "raw": 35}, ...]) are read by name and id.
SMART_ATTRIBUTE_LISTS = ("attributes", "smart", "smartAttributes", "attrs", "attributeList")
SMART_ATTRIBUTE = _table(
    ("name", "text", ("name", "attribute", "attributeName", "item")),
    ("id", "text", ("id", "attributeId", "attrId")),
    ("value", "text", ("raw", "rawValue", "raw_value", "data", "value", "current")),
)
SMART = DISK_KEY + _table(
    ("temperature", "number", ("temperature", "temp", "currentTemperature",
                               "Temperature_Celsius", "194", "Airflow_Temperature_Cel", "190")),
    ("ssdLifeRemain", "percent", ("ssdLifeRemain", "lifeRemain", "remainingLife", "ssdLife",
                                  "Percent_Lifetime_Remain", "lifeRemaining")),
    ("totalWrittenByte", "bytes", ("totalWrittenByte", "totalWrittenBytes",
                                   ("totalWrittenGB", "GB"), ("Total_LBAs_Written", "LBA"),
                                   ("241", "LBA"))),
)

# --- poolinfo -> storage/pool/list ----------------------------------------------------------------
POOL = _table(
    ("name", "text", ("name", "poolName", "pool_name")),
    ("id", "text", ("id", "poolId", "poolID", "pool_id")),
    ("totalSize", "mib", ("totalSize", "totalCapacity", "capacity", ("totalSizeGB", "GB"),
                          ("capacityGB", "GB"), "total", "size")),
    ("usedSize", "mib", ("usedSize", "usedCapacity", ("usedSizeGB", "GB"), "used")),
    ("isThin", "thin", ("isThin", "thin", "thinProvisioning", "provisioning", "poolType")),
    ("isSED", "flag", ("isSED", "sed", "sedEnabled")),
    ("autoTier", "flag", ("autoTier", "autoTiering", "isAutoTier", "tiering")),
    ("health", "text", ("health", "healthStatus", "status")),
    ("status", "text", ("status", "state")),
    ("isCacheEnable", "flag", ("isCacheEnable", "ssdCache", "cacheEnabled", "isSSDCache")),
)
RAIDSET_LISTS = ("raidsets", "raidSets", "raidGroups", "raidgroups", "raid_groups", "rgs", "rg",
                 "raidGroup")
RAIDSET = _table(
    ("id", "text", ("id", "rgId", "raidGroupId", "raidsetId", "no", "name")),
    ("raidLevel", "text", ("raidLevel", "raid_level", "raid", "level", "raidType")),
    ("status", "text", ("status", "state")),
    ("health", "text", ("health", "healthStatus", "status")),
    ("totalSize", "mib", ("totalSize", "totalCapacity", "capacity", ("totalSizeGB", "GB"),
                          "total", "size")),
    ("usedSize", "mib", ("usedSize", "usedCapacity", ("usedSizeGB", "GB"), "used")),
    ("eeSpareNum", "number", ("eeSpareNum", "spareNum", "spareCount", "dedicatedSpares")),
)
RAIDSET_DISKS = ("disks", "diskList", "members", "memberDisks", "pds", "pdList", "diskIds")
RAIDSET_DISK_COUNT = ("diskNum", "diskCount", "numberOfDisks", "memberCount")

# --- volumeinfo (+ lunmappinginfo) -> storage/volume/list -----------------------------------------
VOLUME = _table(
    ("id", "text", ("id", "volumeId", "volumeID", "vdId", "vdid", "vd_id")),
    ("name", "text", ("name", "volumeName", "vdName", "volume_name")),
    ("status", "text", ("status", "state")),
    ("health", "text", ("health", "healthStatus", "status")),
    ("type", "text", ("type", "volumeType", "vdType")),
    ("poolID", "text", ("poolID", "poolId", "pool_id", "poolName", "pool", "pool_name")),
    ("cacheMode", "text", ("cacheMode", "cache_mode", "cachePolicy", "writePolicy", "cache")),
    ("totalSize", "mib", ("totalSize", "capacity", "size", ("sizeGB", "GB"),
                          ("capacityGB", "GB"))),
    ("maxIOPS", "number", ("maxIOPS", "qosMaxIops", "iopsLimit")),
    ("maxThroughput", "number", ("maxThroughput", "qosMaxThroughput", "throughputLimit")),
)
LUN_MAPPING = _table(
    ("volumeID", "text", ("volumeID", "volumeId", "vdId", "vdid", "vd_id")),
    ("volumeName", "text", ("volumeName", "volume", "vdName", "vd", "name")),
    ("targetID", "text", ("targetID", "targetId", "target", "tid")),
    ("lun", "text", ("lun", "lunId", "lun_id", "lunNo")),
    ("host", "text", ("host", "initiator", "hostName", "allowedHost", "hosts")),
    ("permission", "text", ("permission", "access", "mode", "accessMode")),
    ("protocol", "text", ("protocol", "hostType", "interface", "type")),
)

# --- availtarget -> iscsi/target/list (+ sessions where the target lists them) --------------------
TARGET = _table(
    ("id", "text", ("id", "targetID", "targetId", "tid", "no")),
    ("name", "text", ("name", "iqn", "targetName", "target_name")),
    ("alias", "text", ("alias", "targetAlias")),
    ("auth", "text", ("auth", "authentication", "authMethod", "chap")),
    ("ctrlID", "text", ("ctrlID", "ctrlId", "controller", "controllerId", "controllerID",
                        "ctrl")),
)
TARGET_PORTALS = ("portals", "portal", "portalList", "ips", "networkPortals")
TARGET_SESSIONS = ("sessions", "sessionList", "connections", "initiators")
TARGET_SESSION_COUNT = ("sessionNum", "sessionCount", "numberOfSessions", "activeSessions",
                        "sessions")
SESSION = _table(
    ("id", "text", ("id", "sessionId", "sessionID", "tsih", "TSIH")),
    ("initiatorName", "text", ("initiatorName", "initiator", "iqn", "host")),
    ("clientIP", "text", ("clientIP", "clientIp", "ip", "address", "ipAddress")),
)

# --- log/list/<page> -> log/list -----------------------------------------------------------------
LOG_EVENT = _table(
    ("type", "text", ("type", "level", "severity", "eventLevel", "eventType", "category")),
    ("timestamp", "text", ("timestamp", "time", "date", "dateTime", "datetime", "eventTime")),
    ("message", "text", ("message", "content", "description", "msg", "event", "text")),
)
LOG_LEVELS = {  # legacy word -> the Unified level the log collector counts
    "info": "info", "information": "info", "informational": "info", "notice": "info",
    "warning": "warning", "warn": "warning",
    "error": "error", "err": "error", "critical": "error", "fatal": "error", "alert": "error",
    "access": "access", "audit": "access", "login": "access",
}
LOG_TIME_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S",
                    "%m/%d/%Y %H:%M:%S", "%Y/%m/%d %H:%M", "%a %b %d %H:%M:%S %Y")

# --- availlun/targetid/<id> -> iscsi/target/list targets[].freeLuns ---------------------------
AVAILLUN_LISTS = ("luns", "availlun", "availLuns", "lunList", "lun", "list")
AVAILLUN_ID = ("lun_id", "lunId", "lun", "lunNo", "id", "no")

# --- snapshot/vdid/<vdid> -> backup/snapshot/list tasks[] (one per volume with a space) ----
SNAPSHOT = _table(
    ("totalSize", "mib", ("snapshotSpace", "snapshot_space", "snapspace", "spaceSize",
                          ("snapshotSpaceGB", "GB"), "totalSize", "space")),
    ("usedSize", "mib", ("snapshotSpaceUsed", "snapshot_space_used", "snapspaceUsed",
                         "usedSpace", "usedSize", "used")),
)
SNAPSHOT_LISTS = ("snapshots", "snapshotList", "snapshot", "list")
SNAPSHOT_SIZE = _table(("size", "mib", ("size", "snapshotSize", "usedSize", "used")),)
