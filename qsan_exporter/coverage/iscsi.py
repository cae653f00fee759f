"""Coverage rows of the iSCSI target and session lists (manual: 000 l.862-976, 002 l.906-1056)."""

from __future__ import annotations

from qsan_exporter.coverage import Field

TARGETS = "/rest/v1/iscsi/target/list"
SESSIONS = "/rest/v1/iscsi/session/list"
_NEGOTIATED = ("a negotiated iSCSI parameter (SAN/FAS), fixed by the initiator and target "
               "settings: nothing to watch")

ROWS: tuple[Field, ...] = (
    Field(TARGETS, "iscsi", "qsan_iscsi_target_info",
          evidence="a list in the example (000 l.878), \"object\" in the table (002 l.944): "
                   "both read"),
    Field(TARGETS, "iscsi[].ctrlID", "qsan_iscsi_target_info{controller}"),
    Field(TARGETS, "iscsi[].port", "qsan_iscsi_target_info{port}"),
    Field(TARGETS, "iscsi[].targets", "qsan_iscsi_sessions",
          evidence="every listed target gets a session count, 0 included"),
    Field(TARGETS, "iscsi[].targets[].id", "qsan_iscsi_target_info{target}"),
    Field(TARGETS, "iscsi[].targets[].name", "qsan_iscsi_target_info{name}"),
    Field(TARGETS, "iscsi[].targets[].auth", "qsan_iscsi_target_info{auth}"),
    Field(TARGETS, "iscsi[].targets[].alias", "qsan_iscsi_target_info{alias}"),
    Field(TARGETS, "iscsi[].targets[].portals", "qsan_iscsi_target_portals",
          evidence="a count of the enabled portal ids (002 l.959)"),
    Field(TARGETS, "iscsi[].targets[].freeLuns", "qsan_iscsi_target_free_luns",
          evidence="a count of the free LUN ids (002 l.960)"),
    Field(SESSIONS, "iscsi", "qsan_iscsi_session_info",
          evidence="a list in the example (000 l.938), \"object\" in the table (002 l.984): "
                   "both read"),
    Field(SESSIONS, "iscsi[].ctrlID", "qsan_iscsi_session_info{controller}"),
    Field(SESSIONS, "iscsi[].status", "qsan_iscsi_connection_health",
          evidence="\"Iscsi connection status\", an \"Object array\" (002 l.988) whose entries "
                   "the manual does not describe: each entry's name and status are read"),
    Field(SESSIONS, "iscsi[].status[].name", "qsan_iscsi_connection_health{connection}",
          evidence="undocumented; also read from `port`, `portal` or `id`, else the position"),
    Field(SESSIONS, "iscsi[].status[].status", "qsan_iscsi_connection_info{status}",
          evidence="undocumented wording: up/connected are ok, down/disconnected critical"),
    Field(SESSIONS, "iscsi[].sessions", "qsan_iscsi_sessions",
          evidence="`null` read as no sessions"),
    Field(SESSIONS, "iscsi[].sessions[].id", "qsan_iscsi_session_info{session}"),
    Field(SESSIONS, "iscsi[].sessions[].TSIH", "qsan_iscsi_session_info{session}",
          evidence="the session name when `id` is missing"),
    Field(SESSIONS, "iscsi[].sessions[].initiatorName", "qsan_iscsi_session_info{initiator}"),
    Field(SESSIONS, "iscsi[].sessions[].targetID", "qsan_iscsi_session_info{target}"),
    Field(SESSIONS, "iscsi[].sessions[].targetName", "qsan_iscsi_sessions",
          evidence="NAS sessions name their target only by name (002 l.1010)"),
    Field(SESSIONS, "iscsi[].sessions[].initialR2T", dropped=_NEGOTIATED),
    Field(SESSIONS, "iscsi[].sessions[].immedData", dropped=_NEGOTIATED),
    Field(SESSIONS, "iscsi[].sessions[].maxOutR2T", dropped=_NEGOTIATED),
    Field(SESSIONS, "iscsi[].sessions[].maxDataBurstLen", dropped=_NEGOTIATED),
    Field(SESSIONS, "iscsi[].sessions[].dataSeqInOrder", dropped=_NEGOTIATED),
    Field(SESSIONS, "iscsi[].sessions[].dataPDUInOrder", dropped=_NEGOTIATED),
    Field(SESSIONS, "iscsi[].sessions[].clientIP", "qsan_iscsi_session_info{client_ip}"),
    Field(SESSIONS, "iscsi[].sessions[].clientPort", "qsan_iscsi_session_info{session}",
          evidence="NAS: the session is named clientIP:clientPort"),
    Field(SESSIONS, "iscsi[].sessions[].clientName", "qsan_iscsi_session_info{client_name}"),
    Field(SESSIONS, "iscsi[].sessions[].loginTime",
          "qsan_iscsi_session_login_timestamp_seconds",
          evidence="\"Session create timestamp\" (002 l.1055), read as Unix seconds like the "
                   "log timestamps (000 l.666)"),
)
