"""The `legacy` profile: a SANOS 4.0 array's REST API, rendered from the same device model.

ASSUMPTION, NOT KNOWLEDGE. The SANOS 4.0 manual gives only the paths; its response examples
were screenshots and are lost. The shapes below are plausible guesses in the style of the
SANOS 4.0 web UI (snake_case keys, sizes as "3726.02 GB" strings, readings with their unit,
dates as local "YYYY/MM/DD hh:mm:ss" strings, an answer wrapped in {"result", "data"}), chosen
to DIFFER from the Unified spellings so the exporter's translation tables
(`qsan_exporter/api/legacy/mapping.py`) are really exercised. They document nothing about real
firmware; docs/legacy-api.md says what is known and what is inferred.

Routes (everything else, including /auth/* and /rest/v1/*, answers 404):

    POST /rest/login/account/<user>/password/<password>   percent-decoded; sets cookie
                                                         SANOS_SESSION, body {"result": "success"}
    GET  /rest/                                          the API list (no session needed)
    GET  /rest/dashboard/{systeminfo,hwmonitor}
    GET  /rest/storage/{diskinfo,disksmart,poolinfo,volumeinfo,availtarget,lunmappinginfo}
    GET  /rest/log/list/<page>                           newest first, 20 per page
    GET  /rest/storage/availlun/targetid/<id>, /rest/storage/snapshot/vdid/<id>: `legacy_items`
    POST /rest/storage/{snapshot,snapspace,maplun,unmaplun}/...   403: the simulator is
                                                         read-only, and counts them
                                                         (`SimulatedArray.legacy.writes`)

A session lives `token_lifetime` seconds from login; a request without a live session answers
401 {"result": "fail", "message": "Please login first"}. Example answers (abridged)::

    systeminfo   {"result": "success", "data": {"system_name": "XS5216D-5A0C", "model_name":
                  "XS5216D", "system_serial_number": "...", "system_health": "Good",
                  "controller_status": "Dual Controller, Active-Active", "cpu_usage": "18.2 %",
                  "memory": "16 GB", "memory_used": "6881 MB", "uptime": 680775,
                  "backplane_id": "QW316", "firmware_version": "4.0.2",
                  "controllers": [{"controller_id": 1, "serial_number": "...", ...}]}}
    hwmonitor    {"result": "success", "data": [{"enclosure_id": 0,
                  "voltage": [{"item": "+3.3V", "reading": "3.31 V", "status": "Good"}],
                  "temperature": [{"item": "Backplane", "reading": "34 C", "status": "Good"}],
                  "fan": [{"item": "FAN2", "reading": "0 RPM", "status": "Failed"}],
                  "power_supply": [{"item": "PSU2", "status": "Failed"}],
                  "cache_to_flash": [{"item": "Power Module Status", "status": "absent"}]}]}
    diskinfo     {"data": [{"pd_id": 1, "enclosure_id": 0, "slot": 1, "size": "3726.02 GB",
                  "pool_name": "Pool-1", "health": "Failed", "status": "Failed", "usage": "RAID",
                  "vendor": "SEAGATE", "model": "...", "serial_number": "...",
                  "firmware_version": "TN05", "interface": "NL-SAS", "media_type": "HDD",
                  "rpm": 7200}]}
    disksmart    {"data": [{"pd_id": 0, "enclosure_id": 0, "slot": 0, "smart_status": "OK",
                  "attributes": [{"id": 194, "name": "Temperature_Celsius", "value": 100,
                                  "worst": 100, "threshold": 0, "raw": 30}, ...]}]}
    poolinfo     {"data": [{"pool_id": 2.., "pool_name": "Pool-1", "status": "Online",
                  "health": "Degraded", "total_capacity": "7452.04 GB", "used_capacity": "...",
                  "provisioning": "Thick", "auto_tiering": "Disabled", "ssd_cache": "Disabled",
                  "raid_groups": [{"rg_id": 0, "raid_level": "RAID 5", "status": "Degraded",
                                   "health": "Degraded", "total_capacity": "...",
                                   "used_capacity": "...", "spare_count": 0,
                                   "disks": ["0", "1", "2"]}]}]}
    volumeinfo   {"data": [{"vd_id": 3.., "vd_name": "Vol-1", "pool_name": "Pool-1",
                  "capacity": "500.00 GB", "status": "Online", "health": "Optimal",
                  "type": "RAID", "cache_mode": "Write-back", "qos_max_iops": 5000,
                  "qos_max_throughput": 102400}]}
    availtarget  {"data": [{"target_id": 0, "controller_id": 0, "iqn": "iqn.2004-08...",
                  "alias": "tgt0", "authentication": "None", "portals": ["1", "2"],
                  "sessions": [{"initiator": "iqn.1998-01.com.vmware:esx01-...",
                                "ip": "10.10.1.11"}]}]}
    lunmappinginfo {"data": [{"vd_id": 3.., "vd_name": "Vol-1", "protocol": "iSCSI",
                  "host": "*", "target_id": 0, "lun": 0, "permission": "Read-write"}]}
    log/list/1   {"page": 1, "total_pages": 3, "logs": [{"level": "Error",
                  "time": "2024/05/01 10:00:00", "content": "Disk 1 failed."}]}
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from qsan_exporter.simulator import legacy_items
from qsan_exporter.simulator.device import Device, error_body
from qsan_exporter.simulator.stats import Stats

Answer = tuple[str, int, bytes]
LOGIN_PREFIX = "/rest/login/account/"
LOGIN_ROUTE = "/rest/login/account/{user}/password/{password}"
LOG_ROUTE = "/rest/log/list/{page}"
LOG_PAGE_SIZE = 20
COOKIE = "SANOS_SESSION"
WRITE_APIS = ("snapshot", "snapspace", "maplun", "unmaplun")
GET_APIS = {
    "/rest/dashboard/systeminfo": "Show system information.",
    "/rest/dashboard/hwmonitor": "Show hardware monitoring information.",
    "/rest/log/list/<page_num>": "Show system event logs.",
    "/rest/storage/diskinfo": "Show disk information.",
    "/rest/storage/disksmart": "Show the S.M.A.R.T. information of the disk.",
    "/rest/storage/poolinfo": "Show pool information.",
    "/rest/storage/volumeinfo": "Show volume information.",
    "/rest/storage/snapshot/vdid/<vdid>": "Show snapshot information.",
    "/rest/storage/availtarget": "Show available target information.",
    "/rest/storage/availlun/targetid/<target_id>": "Show available LUN information.",
    "/rest/storage/lunmappinginfo": "Show LUN mapping information.",
}
_KNOWN_ROUTES = frozenset({LOG_ROUTE, *(p for p in GET_APIS if "<" not in p)})
_LEVEL_WORDS = {"info": "Information", "warning": "Warning", "error": "Error",
                "access": "Access"}


def route_of(path: str) -> str:
    """The path with login credentials replaced by the template (for stats, faults and logs)."""
    if path.startswith(LOGIN_PREFIX):
        return LOGIN_ROUTE
    return path


def _gb(mib: float) -> str:
    return f"{mib / 1024:.2f} GB"


def _ok(data: Any) -> bytes:
    return json.dumps({"result": "success", "data": data}, ensure_ascii=False).encode()


class LegacySessions:
    """Session cookies of the one configured user; all state behind the array's lock."""

    def __init__(self, username: str, password: str, lifetime: float, stats: Stats,
                 lock: threading.Lock, clock: Callable[[], float] = time.time) -> None:
        self._username, self._password, self._lifetime = username, password, lifetime
        self._stats, self._lock, self._clock = stats, lock, clock
        self._sessions: dict[str, float] = {}

    def login(self, user: str, password: str) -> str | None:
        with self._lock:
            if user != self._username or password != self._password:
                self._stats.failed_logins += 1
                return None
            self._stats.logins += 1
            now = self._clock()
            self._sessions = {s: e for s, e in self._sessions.items() if e > now}
            session = uuid.uuid4().hex
            self._sessions[session] = now + self._lifetime
            self._stats.max_live_token_sets = max(self._stats.max_live_token_sets,
                                                  len(self._sessions))
            return session

    def valid(self, session: str | None) -> bool:
        with self._lock:
            expiry = self._sessions.get(session or "")
            return expiry is not None and self._clock() < expiry

    def held(self) -> set[str]:
        """Every session id still held, expired or not."""
        with self._lock:
            return set(self._sessions)

    def revoke_all(self) -> int:
        with self._lock:
            killed = len(self._sessions)
            self._sessions.clear()
            self._stats.forced_revokes += 1
            return killed

    def live(self) -> int:
        with self._lock:
            now = self._clock()
            return sum(1 for e in self._sessions.values() if e > now)


class LegacyApi:
    """Answers of the legacy routes, rendered from the Unified `Device` of the same array."""

    def __init__(self, device: Device, sessions: LegacySessions,
                 clock: Callable[[], float], literal: bool = False) -> None:
        self.device = device
        self.sessions = sessions
        self.clock = clock
        self.literal = literal  # availlun where the manual's text puts it (see legacy_items)
        self.writes = 0  # POSTs other than login, refused

    def answer(self, method: str, path: str, cookie: str | None) -> tuple[Answer, str | None]:
        """(route, status, body) and a new session id to set as cookie (login only)."""
        if path.startswith(LOGIN_PREFIX):
            return self._login(method, path)
        if path in ("/rest", "/rest/"):
            if method != "GET":
                return ("/rest/", 405, error_body(405, "only GET is supported")), None
            apis = [{"method": "GET", "path": p, "description": d} for p, d in GET_APIS.items()]
            apis += [{"method": "POST", "path": f"/rest/storage/{name}/..."}
                     for name in WRITE_APIS]
            return ("/rest/", 200, _ok(apis)), None
        parts = path.strip("/").split("/")
        if len(parts) >= 3 and parts[:2] == ["rest", "storage"] and parts[2] in WRITE_APIS \
                and method == "POST":
            self.writes += 1
            return (f"/rest/storage/{parts[2]}", 403,
                    error_body(403, "the simulator is read-only")), None
        route = LOG_ROUTE if path.startswith("/rest/log/list/") else path
        route = legacy_items.route(path, self.literal) or route
        if route not in _KNOWN_ROUTES and route not in legacy_items.ROUTES:
            return ("unknown", 404, error_body(404, "no such API")), None
        if not self.sessions.valid(cookie):
            return (route, 401, json.dumps({"result": "fail",
                                            "message": "Please login first"}).encode()), None
        if method != "GET":
            return (route, 405, error_body(405, "only GET is supported")), None
        return self._get(path, route), None

    def _login(self, method: str, path: str) -> tuple[Answer, str | None]:
        rest = path[len(LOGIN_PREFIX):]
        user, sep, password = rest.partition("/password/")
        if method != "POST":
            return (LOGIN_ROUTE, 405, error_body(405, "only POST is supported")), None
        if not sep or "/" in user or "/" in password:
            return (LOGIN_ROUTE, 404, error_body(404, "no such API")), None
        session = self.sessions.login(unquote(user), unquote(password))
        if session is None:
            return (LOGIN_ROUTE, 401, json.dumps(
                {"result": "fail", "message": "Wrong account or password"}).encode()), None
        body = json.dumps({"result": "success", "message": "Login successfully"}).encode()
        return (LOGIN_ROUTE, 200, body), session

    def _get(self, path: str, route: str) -> Answer:
        now = self.clock()
        elapsed = max(0.0, now - self.device.started)
        render = {
            "/rest/dashboard/systeminfo": lambda: self.systeminfo(elapsed),
            "/rest/dashboard/hwmonitor": lambda: self.hwmonitor(elapsed),
            "/rest/storage/diskinfo": lambda: self.diskinfo(elapsed),
            "/rest/storage/disksmart": lambda: self.disksmart(elapsed),
            "/rest/storage/poolinfo": self.poolinfo,
            "/rest/storage/volumeinfo": self.volumeinfo,
            "/rest/storage/availtarget": self.availtarget,
            "/rest/storage/lunmappinginfo": self.lunmappinginfo,
        }.get(path)
        if render is not None:
            return route, 200, _ok(render())
        if route in legacy_items.ROUTES:
            data = legacy_items.render(self.device, path)
            if data is None:
                return route, 404, error_body(404, "no such target or volume")
            return route, 200, _ok(data)
        if route == LOG_ROUTE:
            page = path.rsplit("/", 1)[1]
            if not page.isdigit() or int(page) < 1:
                return route, 400, error_body(400, "page number must be a positive integer")
            return route, 200, json.dumps(self.log_page(int(page), now),
                                          ensure_ascii=False).encode()
        return "unknown", 404, error_body(404, "no such API")

    # -- rendering from the Unified documents ------------------------------------------------------
    def _unified(self, path: str, elapsed: float) -> Any:
        if path == "enclosures":
            return json.loads(self.device.hardware.enclosures(elapsed, True))
        _, _, body = self.device.get(path, {}, self.device.started + elapsed)
        return json.loads(body)

    def systeminfo(self, elapsed: float) -> dict[str, Any]:
        info = self._unified("enclosures", elapsed)[0]["info"]
        p = self.device.profile
        per_controller = f"{p.mem_total_mb // p.controllers // 1024} GB"
        controllers = [{"controller_id": c + 1,
                        "serial_number": f"5001378{c}{info['serialNumber']}",
                        "cpu": p.cpu_info, "memory": per_controller,
                        "firmware_version": "4.0.2"} for c in range(p.controllers)]
        return {
            "system_name": f"{p.model}-{info['serialNumber'][-4:]}", "model_name": p.model,
            "system_serial_number": info["serialNumber"], "system_health": info["sysHealth"],
            "controller_status": "Dual Controller, Active-Active" if p.controllers == 2
            else "Single Controller", "master_controller": "Controller 1",
            "cpu_usage": f"{float(info['cpuUsage']):.1f} %",
            "memory": f"{info['memTotal'] // 1024} GB", "memory_used": f"{info['memUsed']} MB",
            "uptime": info["systemUptime"], "backplane_id": info["backplaneID"],
            "firmware_version": "4.0.2", "controllers": controllers,
        }

    def hwmonitor(self, elapsed: float) -> list[dict[str, Any]]:
        out = []
        for enclosure in self._unified("enclosures", elapsed):
            more = enclosure["info"]["moreInfo"]
            enc_id = int(next(v for k, v in enclosure.items() if k.lower() == "encid"))

            def status_of(entry: dict[str, Any]) -> str:
                return str(entry.get("status") or entry.get("value") or "Good").strip()

            item: dict[str, Any] = {
                "enclosure_id": enc_id,
                "voltage": [{"item": e["name"], "reading": f"{e['value']} V",
                             "status": status_of(e)} for e in more["voltage"]],
                "temperature": [{"item": e["name"], "reading": f"{e['value']} C",
                                 "status": status_of(e)} for e in more["temperature"]],
                "fan": [{"item": e["name"], "reading": f"{e['value']} RPM",
                         "status": "Failed" if int(e["value"]) == 0 else "Good"}
                        for e in more["fanSpeed"]],
                "power_supply": [{"item": e["name"], "status": e["status"]}
                                 for e in more["psuStatus"]],
            }
            c2f = next((v for k, v in more.items() if k.strip() == "cacheToFlash"), None)
            if c2f:
                item["cache_to_flash"] = [{"item": e["name"].strip(), "status": status_of(e)}
                                          for e in c2f]
            out.append(item)
        return out

    def diskinfo(self, elapsed: float) -> list[dict[str, Any]]:
        out = []
        for disk in self._unified("/rest/v1/storage/disk/list", elapsed)["disks"]:
            out.append({
                "pd_id": disk["id"], "enclosure_id": disk["encID"], "slot": disk["slot"],
                "size": _gb(disk["size"]), "pool_name": disk["poolName"],
                "health": disk["health"], "status": disk["status"], "usage": disk["usage"],
                "vendor": disk["vendor"], "model": disk["model"],
                "serial_number": disk["serial"], "firmware_version": disk["firmware"],
                "interface": disk["busType"], "media_type": disk["type"],
                "rpm": disk["spinRate"], "link_speed": f"{disk['rate']} Gb/s",
            })
        return out

    def disksmart(self, elapsed: float) -> list[dict[str, Any]]:
        out = []
        for disk in self._unified("/rest/v1/storage/disk/list", elapsed)["disks"]:
            attributes = []
            if disk["health"] != "Failed":
                attributes = [
                    {"id": 9, "name": "Power_On_Hours", "value": 95, "worst": 95,
                     "threshold": 0, "raw": 12000 + int(elapsed) // 3600},
                    {"id": 194, "name": "Temperature_Celsius", "value": 100, "worst": 100,
                     "threshold": 0, "raw": disk["temperature"]},
                ]
                if disk["isSSD"]:
                    if disk.get("ssdLifeRemain"):
                        attributes.append({"id": 202, "name": "Percent_Lifetime_Remain",
                                           "value": disk["ssdLifeRemain"], "worst": 100,
                                           "threshold": 1, "raw": disk["ssdLifeRemain"]})
                    if disk.get("totalWrittenByte"):
                        attributes.append({"id": 241, "name": "Total_LBAs_Written",
                                           "value": 100, "worst": 100, "threshold": 0,
                                           "raw": disk["totalWrittenByte"] // 512})
            out.append({"pd_id": disk["id"], "enclosure_id": disk["encID"],
                        "slot": disk["slot"],
                        "smart_status": "Failed" if disk["health"] == "Failed" else "OK",
                        "attributes": attributes})
        return out

    def poolinfo(self) -> list[dict[str, Any]]:
        out = []
        for pool in self._unified("/rest/v1/storage/pool/list", 0.0)["pools"]:
            raidsets = [{
                "rg_id": rs["id"], "raid_level": rs["raidLevel"], "status": rs["status"],
                "health": rs["health"], "total_capacity": _gb(rs["totalSize"]),
                "used_capacity": _gb(rs["usedSize"]), "spare_count": rs["eeSpareNum"],
                "disks": rs["disks"],
            } for rs in pool["raidsets"]]
            out.append({
                "pool_id": pool["id"], "pool_name": pool["name"], "status": pool["status"],
                "health": pool["health"], "total_capacity": _gb(pool["totalSize"]),
                "used_capacity": _gb(pool["usedSize"]),
                "provisioning": "Thin" if pool["isThin"] else "Thick",
                "auto_tiering": "Enabled" if pool["autoTier"] else "Disabled",
                "ssd_cache": "Enabled" if pool["isCacheEnable"] else "Disabled",
                "raid_groups": raidsets,
            })
        return out

    def _volumes(self) -> list[dict[str, Any]]:
        return self._unified("/rest/v1/storage/volume/list", 0.0)["volumes"]

    def volumeinfo(self) -> list[dict[str, Any]]:
        names = {p["id"]: p["name"]
                 for p in self._unified("/rest/v1/storage/pool/list", 0.0)["pools"]}
        out: list[dict[str, Any]] = []
        for volume in self._volumes():
            item: dict[str, Any] = {
                "vd_id": volume["id"], "vd_name": volume["name"],
                "pool_name": names.get(volume["poolID"], ""),
                "capacity": _gb(512000 * (1 + len(out) % 3)), "status": volume["status"],
                "health": volume["health"], "type": volume["type"],
                "cache_mode": volume["cacheMode"],
            }
            qos = volume.get("qosInfo") if volume.get("isQosEnable") else None
            if qos and qos.get("method") == "maximum":
                item["qos_max_iops"] = qos["setting"]["maxIOPS"]
                item["qos_max_throughput"] = qos["setting"]["maxThroughput"]
            out.append(item)
        return out

    def lunmappinginfo(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for volume in self._volumes():
            for protocol, word in (("iscsi", "iSCSI"), ("fc", "FC")):
                for mapping in (volume.get("lunInfo") or {}).get(protocol, []):
                    out.append({"vd_id": volume["id"], "vd_name": volume["name"],
                                "protocol": word, "host": mapping["host"],
                                "target_id": int(mapping["targetID"]),
                                "lun": int(mapping["lun"]),
                                "permission": mapping["permission"]})
        return out

    def availtarget(self) -> list[dict[str, Any]]:
        targets = self._unified("/rest/v1/iscsi/target/list", 0.0)["iscsi"]
        sessions = self._unified("/rest/v1/iscsi/session/list", 0.0)["iscsi"]
        by_target: dict[str, list[dict[str, Any]]] = {}
        for group in sessions:
            for session in group["sessions"]:
                host = session["initiatorName"].split(":esx")[-1][:2]
                by_target.setdefault(str(session["targetID"]), []).append(
                    {"initiator": session["initiatorName"],
                     "ip": f"10.10.1.{10 + int(host) if host.isdigit() else 10}"})
        out = []
        for group in targets:
            for target in group["targets"]:
                out.append({"target_id": target["id"], "controller_id": group["ctrlID"],
                            "iqn": target["name"], "alias": target["alias"],
                            "authentication": target["auth"], "portals": target["portals"],
                            "sessions": by_target.get(str(target["id"]), [])})
        return out

    def log_page(self, page: int, now: float) -> dict[str, Any]:
        events = self.device.logs.query(now, None, None, 1, 10**9)["logs"][::-1]
        pages = max(1, -(-len(events) // LOG_PAGE_SIZE))
        chosen = events[(page - 1) * LOG_PAGE_SIZE:page * LOG_PAGE_SIZE]
        return {"page": page, "total_pages": pages, "logs": [
            {"level": _LEVEL_WORDS.get(e["type"], e["type"]),
             "time": datetime.fromtimestamp(e["timestamp"], UTC).strftime("%Y/%m/%d %H:%M:%S"),
             "content": e["message"]} for e in chosen]}
