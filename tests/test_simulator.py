"""The simulated array over real HTTP: token semantics, the manual's shapes, the fixed scenario."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from qsan_exporter.simulator import SimulatedArray, SimulatorConfig
from qsan_exporter.simulator.cli import parse_listen
from qsan_exporter.simulator.logs import LEVELS, LogBook

PROFILES = ("san", "fas", "nas")
UUID = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$")
TASK_TYPES = ("snapshot", "clone", "replication", "cloud")
RAIDSETS = {"san": "raidsets", "fas": "raidSets", "nas": "raidsets"}


class Client:
    """A logged-in `requests.Session` against one simulated array."""

    def __init__(self, sim: SimulatedArray) -> None:
        self.sim = sim
        self.session = requests.Session()
        self.tokens = self.login()

    def post(self, path: str, body: Any) -> requests.Response:
        return self.session.post(self.sim.url + path, json=body, timeout=5)

    def login(self, password: str | None = None, offline: bool = True) -> dict[str, Any]:
        cfg = self.sim.config
        response = self.post("/auth/get", {"user": cfg.username,
                                           "password": password or cfg.password,
                                           "offlineAccess": offline})
        assert response.status_code == 200, response.text
        return response.json()

    def get(self, path: str, token: str | None = None) -> requests.Response:
        token = self.tokens["accessToken"] if token is None else token
        return self.session.get(self.sim.url + path, headers={"Authorization": token}, timeout=5)

    def json(self, path: str) -> Any:
        response = self.get(path)
        assert response.status_code == 200, (path, response.status_code, response.text)
        assert response.headers["Content-Type"] == "application/json"
        return response.json()


@pytest.fixture
def start() -> Iterator[Any]:
    started: list[SimulatedArray] = []

    def _start(profile: str = "san", port: int = 0, **options: Any) -> SimulatedArray:
        sim = SimulatedArray(SimulatorConfig(profile=profile, **options), port=port)
        sim.start()
        started.append(sim)
        return sim

    yield _start
    for sim in started:
        sim.stop()


@pytest.fixture(params=PROFILES)
def client(request: pytest.FixtureRequest, start: Any) -> Client:
    return Client(start(request.param))


# -- auth ---------------------------------------------------------------------------------------
def test_login_issues_uuid_tokens_and_unix_expiry(start: Any) -> None:
    sim = start(token_lifetime=600)
    before = time.time()
    response = requests.post(sim.url + "/auth/get", timeout=5,
                             json={"user": "admin", "password": "admin", "offlineAccess": True})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert "Date" in response.headers
    body = response.json()
    assert UUID.match(body["accessToken"]) and UUID.match(body["refreshToken"])
    assert isinstance(body["expireTime"], int)
    assert before + 599 <= body["expireTime"] <= time.time() + 600
    online = requests.post(sim.url + "/auth/get", timeout=5,
                           json={"user": "admin", "password": "admin", "offlineAccess": False})
    assert "refreshToken" not in online.json()
    assert sim.stats.logins == 2 and sim.live_token_sets() == 1


def test_wrong_credentials_and_bad_bodies_are_refused(start: Any) -> None:
    sim = start(username="monitor", password="s3cret")
    url = sim.url + "/auth/get"
    for body in ({"user": "monitor", "password": "wrong"}, {"user": "admin", "password": "s3cret"},
                 {"user": "monitor"}, {"user": "monitor", "password": ["s3cret"]}):
        assert requests.post(url, json=body, timeout=5).status_code == 401, body
    assert sim.stats.failed_logins == 4 and sim.stats.logins == 0
    assert requests.post(url, data=b"not json", timeout=5).status_code == 400
    assert requests.post(url, json=["monitor"], timeout=5).status_code == 400
    assert requests.get(url, timeout=5).status_code == 405
    assert requests.post(url, json={"user": "monitor", "password": "s3cret"},
                         timeout=5).status_code == 200


def test_base64_password_only_when_configured(start: Any) -> None:
    plain, encoded = start(password="pw"), start(password="pw", password_encoding="base64")
    for sim, good, bad in ((plain, "pw", "cHc="), (encoded, "cHc=", "pw")):
        url = sim.url + "/auth/get"
        assert requests.post(url, json={"user": "admin", "password": good}, timeout=5).ok
        assert requests.post(url, json={"user": "admin", "password": bad},
                             timeout=5).status_code == 401


def test_rest_needs_a_valid_access_token(start: Any) -> None:
    c = Client(start())
    path = "/rest/v1/hardware/info"
    assert c.session.get(c.sim.url + path, timeout=5).status_code == 401
    assert c.get(path, token="0F5E9A7C-0000-0000-0000-000000000000").status_code == 401
    assert c.get(path, token=c.tokens["refreshToken"]).status_code == 401
    assert c.get(path).status_code == 200
    assert c.get(path, token="Bearer " + c.tokens["accessToken"]).status_code == 200
    unauthorized = c.session.get(c.sim.url + path, timeout=5)
    assert unauthorized.headers["Content-Type"] == "application/json" and unauthorized.json()


def test_refresh_gives_a_new_access_token_and_accepts_the_manuals_spaced_key(start: Any) -> None:
    c = Client(start())
    refresh = c.tokens["refreshToken"]
    first = c.post("/auth/refresh", {"refreshToken": refresh})
    second = c.post("/auth/refresh", {"refreshToken ": refresh})
    assert first.status_code == second.status_code == 200
    assert set(first.json()) == {"accessToken", "expireTime"}
    tokens = {c.tokens["accessToken"], first.json()["accessToken"], second.json()["accessToken"]}
    assert len(tokens) == 3
    for token in tokens:
        assert c.get("/rest/v1/hardware/info", token=token).status_code == 200
    assert c.post("/auth/refresh", {"refreshToken": "nope"}).status_code == 401
    assert c.post("/auth/refresh", {}).status_code == 400
    assert c.sim.stats.refreshes == 2 and c.sim.stats.logins == 1
    assert c.sim.live_token_sets() == 1


def test_revoke_kills_the_set_and_its_access_tokens_only(start: Any) -> None:
    c = Client(start())
    other = c.login()
    refreshed = c.post("/auth/refresh", {"refreshToken": c.tokens["refreshToken"]}).json()
    assert c.sim.live_token_sets() == 2
    response = c.post("/auth/revoke", {"refreshToken ": c.tokens["refreshToken"]})
    assert response.status_code == 200 and response.json() == {}
    for token in (c.tokens["accessToken"], refreshed["accessToken"]):
        assert c.get("/rest/v1/hardware/info", token=token).status_code == 401
    assert c.get("/rest/v1/hardware/info", token=other["accessToken"]).status_code == 200
    assert c.post("/auth/refresh", {"refreshToken": c.tokens["refreshToken"]}).status_code == 401
    assert c.post("/auth/revoke", {"refreshToken": c.tokens["refreshToken"]}).status_code == 401
    assert c.sim.stats.revokes == 1 and c.sim.live_token_sets() == 1
    assert c.sim.stats.max_live_token_sets == 2


@pytest.mark.slow
def test_access_tokens_expire_and_refresh_still_works(start: Any) -> None:
    c = Client(start(token_lifetime=1))
    assert c.get("/rest/v1/hardware/info").status_code == 200
    time.sleep(1.2)
    assert c.get("/rest/v1/hardware/info").status_code == 401
    fresh = c.post("/auth/refresh", {"refreshToken": c.tokens["refreshToken"]}).json()
    assert c.get("/rest/v1/hardware/info", token=fresh["accessToken"]).status_code == 200


def test_the_eleventh_login_rotates_out_the_oldest_set(start: Any) -> None:
    c = Client(start())
    sets = [c.tokens] + [c.login() for _ in range(9)]
    assert c.sim.live_token_sets() == 10
    assert c.get("/rest/v1/hardware/info", token=sets[0]["accessToken"]).status_code == 200
    sets.append(c.login())
    assert c.sim.live_token_sets() == 10 and c.sim.stats.max_live_token_sets == 10
    assert c.get("/rest/v1/hardware/info", token=sets[0]["accessToken"]).status_code == 401
    assert c.post("/auth/refresh", {"refreshToken": sets[0]["refreshToken"]}).status_code == 401
    for kept in sets[1:]:
        assert c.get("/rest/v1/hardware/info", token=kept["accessToken"]).status_code == 200
    assert c.sim.stats.logins == 11


# -- routing ------------------------------------------------------------------------------------
def test_methods_unknown_paths_and_request_stats(start: Any) -> None:
    c = Client(start())
    token = {"Authorization": c.tokens["accessToken"]}
    post = c.session.post(c.sim.url + "/rest/v1/storage/pool/list", headers=token, timeout=5)
    assert post.status_code == 405 and post.headers["Allow"] == "GET"
    for path in ("/rest/v1/storage/nothing/list", "/nothing", "/auth/other"):
        response = c.get(path)
        assert response.status_code == 404 and response.json(), path
    assert c.get("/rest/v1/hardware/7/info").status_code == 404
    assert c.get("/rest/v1/hardware/x/info").status_code == 404
    stats = c.sim.stats
    assert stats.requests == 7
    assert stats.requests_by_path["/auth/get"] == 1
    assert stats.requests_by_path["/rest/v1/storage/pool/list"] == 1


# -- the manual's shapes ------------------------------------------------------------------------
def test_hardware_shapes(client: Client) -> None:
    profile = client.sim.config.profile
    assert client.json("/rest/v1/hardware/info") == {"enclosureNumbers": [0]}
    (enclosure,) = client.json("/rest/v1/hardware/all/info?moreInfo=true")
    enc_key = "encID" if profile == "san" else "encId"
    assert str(enclosure[enc_key]) == "0"
    info = enclosure["info"]
    assert info["modelName"] == {"san": "XS5226D", "fas": "XF3126D", "nas": "XN8008R"}[profile]
    assert info["controllerNum"] == (1 if profile == "nas" else 2)
    assert 0 < float(info["cpuUsage"]) < 100 and 0 < info["memUsed"] < info["memTotal"]
    for key in ("sysHealth", "cpuInfo", "memoryInfo", "backplaneID", "systemUptime",
                "serialNumber"):
        assert key in info
    more = info["moreInfo"]
    assert {"voltage", "temperature", "fanSpeed", "psuStatus"} <= set(more)
    assert all(20 <= int(t["value"]) <= 70 for t in more["temperature"])
    assert all(0.5 < v["value"] < 13 for v in more["voltage"])
    (plain,) = client.json("/rest/v1/hardware/all/info")
    assert "moreInfo" not in plain["info"]
    (single,) = client.json("/rest/v1/hardware/0/info?moreInfo=true")
    assert single["info"]["serialNumber"] == info["serialNumber"]


def test_spelling_variants_per_profile(client: Client) -> None:
    profile = client.sim.config.profile
    pools = client.json("/rest/v1/storage/pool/list")["pools"]
    assert all(RAIDSETS[profile] in pool for pool in pools)
    disk = client.json("/rest/v1/storage/disk/list")["disks"][0]
    more = client.json("/rest/v1/hardware/all/info?moreInfo=true")[0]["info"]["moreInfo"]
    fan_values = {type(f["value"]) for f in more["fanSpeed"]}
    if profile == "san":
        assert disk["encID"] == 0 and isinstance(disk["id"], int)
        assert isinstance(pools[0]["id"], int)
        assert fan_values == {str} and all("status" in f for f in more["fanSpeed"])
        assert [e["value"] for e in more["cacheToFlash"]] == ["absent", "Good"]
    elif profile == "fas":
        assert disk["encId"] == "0" and disk["id"] == "e0d0" and pools[0]["id"].isdigit()
        assert fan_values == {int} and all("status" not in f for f in more["fanSpeed"])
        entries = more[" cacheToFlash "]
        assert [e["status"] for e in entries] == ["absent", "Good"]
        assert entries[0]["name"] == "Power Module Status "
    else:
        assert disk["encID"] == "0" and "cacheToFlash" not in more
        assert not any(key.strip() == "cacheToFlash" for key in more)


def test_disk_shapes(client: Client) -> None:
    nas = client.sim.config.profile == "nas"
    disks = client.json("/rest/v1/storage/disk/list")["disks"]
    assert len(disks) == 12
    for disk in disks:
        for key in ("id", "slot", "size", "poolID", "poolName", "health", "status", "usage",
                    "isSSD", "vendor", "serial", "model", "firmware", "busType", "type", "rate",
                    "ssdLifeRemain", "totalWrittenByte", "temperature"):
            assert key in disk, key
        assert ("performance" in disk) is not nas
        if nas:
            assert disk["ssdLifeRemain"] == 0 and disk["totalWrittenByte"] == 0
    ssds = [d for d in disks if d["isSSD"] and d["health"] == "Good"]
    assert ssds
    if not nas:
        assert all(0 < d["ssdLifeRemain"] <= 100 and d["totalWrittenByte"] > 0 for d in ssds)
        busy = [d for d in disks if d["usage"] == "RAID" and d["health"] == "Good"]
        assert all(d["performance"]["throughput"] > 0 for d in busy)


def test_ssd_writes_grow_and_performance_moves(start: Any) -> None:
    storage = start("fas").device.storage
    early, late = (json.loads(storage.disks_body(t))["disks"] for t in (0.0, 90.0))
    pairs = zip(early, late, strict=True)
    assert all(b["totalWrittenByte"] > a["totalWrittenByte"] for a, b in pairs
               if a["isSSD"] and a["health"] == "Good")
    assert [d["performance"] for d in early] != [d["performance"] for d in late]


def test_pool_and_volume_shapes(client: Client) -> None:
    profile = client.sim.config.profile
    pools = client.json("/rest/v1/storage/pool/list")["pools"]
    for pool in pools:
        for key in ("name", "id", "totalSize", "usedSize", "isThin", "isSED", "health", "status",
                    "autoTier", "isCacheEnable"):
            assert key in pool
        assert 0 < pool["usedSize"] < pool["totalSize"]
        for raidset in pool[RAIDSETS[profile]]:
            assert {"id", "totalSize", "usedSize", "raidLevel", "eeSpareNum", "status", "health",
                    "disks"} <= set(raidset)
            assert all(isinstance(d, str) for d in raidset["disks"])
            if profile == "nas":
                assert raidset["totalSize"] == raidset["usedSize"] == raidset["eeSpareNum"] == 0
                assert isinstance(raidset["spare"], list)
            else:
                assert raidset["totalSize"] > 0 and "spare" not in raidset
    volumes = client.json("/rest/v1/storage/volume/list")["volumes"]
    assert len(volumes) == 4
    for volume in volumes:
        assert ("qosInfo" in volume) is volume["isQosEnable"]
        assert ("lunInfo" in volume) is volume["isLunMap"]
        if profile == "nas":
            assert volume["type"] in ("Generic", "Media streaming", "Database")
            assert volume["cacheMode"] == volume["priority"] == volume["tierPolicy"] == "none"
            assert volume["stripeSize"] == 0 and volume["isQosEnable"] is False
        else:
            assert volume["type"] in ("RAID", "BACKUP", "READ_ONLY")
            assert volume["stripeSize"] == 64
            assert ("tierPolicy" in volume) is (profile == "san")  # FAS: hidden


def test_iscsi_shapes(client: Client) -> None:
    nas = client.sim.config.profile == "nas"
    controllers = client.json("/rest/v1/iscsi/target/list")["iscsi"]
    assert len(controllers) == (1 if nas else 2)
    for controller in controllers:
        assert controller["port"] == 3260 and len(controller["targets"]) >= 2
        for target in controller["targets"]:
            assert {"id", "name", "auth", "alias", "portals", "freeLuns"} <= set(target)
            assert target["name"].startswith("iqn.2004-08.com.qsan:")
    sessions = [s for c in client.json("/rest/v1/iscsi/session/list")["iscsi"]
                for s in c["sessions"]]
    assert sessions
    nas_keys = {"initiatorName", "targetName", "clientIP", "clientPort", "clientName", "loginTime"}
    san_keys = {"id", "TSIH", "initiatorName", "targetID", "targetName", "initialR2T",
                "immedData", "maxOutR2T", "maxDataBurstLen", "dataSeqInOrder", "dataPDUInOrder"}
    for session in sessions:
        assert set(session) == (nas_keys if nas else san_keys)


def test_task_shapes_and_unsupported_types(client: Client) -> None:
    profile = client.sim.config.profile
    unsupported = "clone" if profile == "nas" else "cloud"
    for kind in TASK_TYPES:
        response = client.get(f"/rest/v1/backup/{kind}/list")
        if kind == unsupported:
            assert response.status_code == 404
            continue
        tasks = response.json()["tasks"]
        assert tasks, kind
        for task in tasks:
            assert isinstance(task["id"], str)
            schedule = task["schedule"]
            for key in ("minute", "hour", "day", "month", "week"):
                assert all(isinstance(v, int) for v in schedule[key])
            assert ("weekOfMouth" in schedule) is (profile == "san")
            assert ("startTime" in schedule and "stopTime" in schedule) is (profile == "nas")
    snapshots = client.json("/rest/v1/backup/snapshot/list")["tasks"]
    assert all(0 < t["usedSize"] < t["totalSize"] for t in snapshots)
    replications = client.json("/rest/v1/backup/replication/list")["tasks"]
    for task in replications:
        assert {"source", "status", "createTime", "destination"} <= set(task)
        assert ("shaping" in task) is (profile != "nas")


# -- the fixed scenario -------------------------------------------------------------------------
def _ids(values: list[Any]) -> list[str]:
    return [str(v) for v in values]


def check_scenario(c: Client) -> None:
    """Every broken or notable part of the scenario, read back from the raw answers."""
    facts, profile = c.sim.facts, c.sim.config.profile
    disks = c.json("/rest/v1/storage/disk/list")["disks"]
    failed = [d for d in disks if d["health"] != "Good"]
    assert [(d["id"], d["health"]) for d in failed] == [(facts.failed_disk, "Failed")]
    pools = c.json("/rest/v1/storage/pool/list")["pools"]
    raidsets = [(p, r) for p in pools for r in p[RAIDSETS[profile]]]
    bad = [(p["name"], r) for p, r in raidsets if r["health"] != "Good"]
    assert len(bad) == 1 and bad[0][0] == facts.degraded_pool
    assert bad[0][1]["id"] == facts.degraded_raidset
    assert bad[0][1]["status"] in ("Degraded", "Rebuilding") and bad[0][1]["health"] == "Degraded"
    assert str(facts.failed_disk) in bad[0][1]["disks"]
    cached = [p["name"] for p in pools if p.get("cacheInfo", {}).get("readCache")]
    assert cached == [facts.read_cache_pool]
    more = c.json("/rest/v1/hardware/all/info?moreInfo=true")[0]["info"]["moreInfo"]
    assert [p["name"] for p in more["psuStatus"] if p["status"] != "Good"] == [facts.failed_psu]
    (fan,) = [f for f in more["fanSpeed"] if int(f["value"]) == 0]
    assert fan["name"] == facts.stopped_fan and fan.get("status", "Failed") == "Failed"
    assert all(int(f["value"]) > 1000 for f in more["fanSpeed"] if f is not fan)
    replications = c.json("/rest/v1/backup/replication/list")["tasks"]
    assert [t["id"] for t in replications if t["status"] != "Online"] == [
        facts.error_replication_task]
    assert [t["status"] for t in replications if t["id"] == facts.error_replication_task] == [
        "Error"]
    unsupported = "clone" if profile == "nas" else "cloud"
    assert c.get(f"/rest/v1/backup/{unsupported}/list").status_code == 404
    targets = [t["id"] for ctrl in c.json("/rest/v1/iscsi/target/list")["iscsi"]
               for t in ctrl["targets"]]
    assert sorted(_ids(targets)) == sorted(_ids([*facts.targets_with_sessions,
                                                 *facts.targets_without_sessions]))
    sessions = [s for ctrl in c.json("/rest/v1/iscsi/session/list")["iscsi"]
                for s in ctrl["sessions"]]
    names = {t["id"]: t["name"] for ctrl in c.json("/rest/v1/iscsi/target/list")["iscsi"]
             for t in ctrl["targets"]}
    busy = {s["targetName"] for s in sessions}
    assert busy == {names[t] for t in facts.targets_with_sessions}
    assert facts.targets_without_sessions and not busy & {
        names[t] for t in facts.targets_without_sessions}
    volumes = {v["name"]: v for v in c.json("/rest/v1/storage/volume/list")["volumes"]}
    assert [n for n, v in volumes.items() if not v["isLunMap"]] == [facts.unmapped_volume]
    maxed = [n for n, v in volumes.items() if v.get("qosInfo", {}).get("method") == "maximum"]
    if profile == "nas":
        assert facts.qos_volume is None and not maxed
    else:
        assert maxed == [facts.qos_volume]
        setting = volumes[facts.qos_volume]["qosInfo"]["setting"]
        assert setting == {"maxIOPS": 5000, "maxThroughput": 102400}
        c2f = more["cacheToFlash" if profile == "san" else " cacheToFlash "]
        assert {e["name"].strip() for e in c2f} >= {"Power Module Status"}


def test_scenario_at_default_size(client: Client) -> None:
    check_scenario(client)
    facts = client.sim.facts
    assert str(facts.failed_disk) in ("1", "e0d1") and facts.stopped_fan == "FAN2"
    assert facts.degraded_pool == "Pool-1" and facts.read_cache_pool == "Pool-2"


@pytest.mark.parametrize("size", [
    {"enclosures": 2, "disks": 48, "pools": 4, "volumes": 64},
    {"enclosures": 1, "disks": 5, "pools": 1, "volumes": 2},
])
@pytest.mark.parametrize("profile", PROFILES)
def test_scenario_holds_at_other_sizes(start: Any, profile: str, size: dict[str, int]) -> None:
    c = Client(start(profile, **size))
    check_scenario(c)
    assert len(c.json("/rest/v1/storage/disk/list")["disks"]) == size["disks"]
    assert c.json("/rest/v1/hardware/info")["enclosureNumbers"] == list(range(size["enclosures"]))
    enclosures = c.json("/rest/v1/hardware/all/info?moreInfo=true")
    assert len(enclosures) == size["enclosures"]
    for expansion in enclosures[1:]:
        assert "wwn" in expansion["info"]
        assert all(p["status"] == "Good" for p in expansion["info"]["moreInfo"]["psuStatus"])


def test_config_rejects_sizes_the_scenario_cannot_fit() -> None:
    for bad in ({"disks": 7, "pools": 2}, {"volumes": 1}, {"pools": 0}, {"enclosures": 0},
                {"profile": "sanos"}, {"token_lifetime": 0}):
        with pytest.raises(ValueError):
            SimulatorConfig(**bad)  # type: ignore[arg-type]
    SimulatorConfig(disks=8, pools=2)


def test_same_config_same_array(start: Any) -> None:
    one, two, other = (Client(start("fas", seed=seed)) for seed in (0, 0, 1))
    for path in ("/rest/v1/storage/pool/list", "/rest/v1/storage/volume/list",
                 "/rest/v1/backup/replication/list", "/rest/v1/iscsi/target/list"):
        assert one.get(path).content == two.get(path).content, path
    assert one.sim.facts == two.sim.facts
    serial = "/rest/v1/hardware/all/info"
    assert one.json(serial)[0]["info"]["serialNumber"] == two.json(serial)[0]["info"][
        "serialNumber"] != other.json(serial)[0]["info"]["serialNumber"]


# -- logs ---------------------------------------------------------------------------------------
def test_log_history_paging_start_time_and_type_filter(start: Any) -> None:
    c = Client(start(log_interval=0))
    everything = c.json("/rest/v1/log/list")
    logs = everything["logs"]
    assert everything["total"] == len(logs) == 50 and everything["haveNextPage"] is False
    stamps = [e["timestamp"] for e in logs]
    assert stamps == sorted(stamps) and len(set(stamps)) < len(stamps)  # shared timestamps
    assert time.time() - 3700 < stamps[0] and stamps[-1] <= time.time()
    assert {e["type"] for e in logs} == set(LEVELS)
    pages = [c.json(f"/rest/v1/log/list?pageSize=20&pageNumber={n}") for n in (1, 2, 3)]
    assert [p["haveNextPage"] for p in pages] == [True, True, False]
    assert [e for p in pages for e in p["logs"]] == logs
    assert all(p["total"] == 50 for p in pages)
    exact = c.json("/rest/v1/log/list?pageSize=25&pageNumber=2")
    assert exact["haveNextPage"] is False and exact["logs"] == logs[25:]
    assert c.json("/rest/v1/log/list?pageSize=25&pageNumber=3")["logs"] == []
    since = stamps[30]
    recent = c.json(f"/rest/v1/log/list?startTime={since}")["logs"]
    assert recent == [e for e in logs if e["timestamp"] >= since] and len(recent) < 50
    filtered = c.json("/rest/v1/log/list?type[]=error&type[]=access")
    assert filtered["total"] == len([e for e in logs if e["type"] in ("error", "access")])
    assert {e["type"] for e in filtered["logs"]} == {"error", "access"}
    assert c.json("/rest/v1/log/list?type[]=bogus")["total"] == 0
    assert c.get("/rest/v1/log/list?pageSize=zero").status_code == 400
    assert c.get("/rest/v1/log/list?pageNumber=0").status_code == 400


def test_new_log_events_appear_with_the_clock() -> None:
    book = LogBook(started=1_000_000, interval=10, names={
        k: "x" for k in ("volume", "pool", "raidset", "disk", "psu", "fan", "task", "user")})
    assert book.query(1_000_005, None, None, 1, 1000)["total"] == 50
    newer = book.query(1_000_035, 1_000_000, None, 1, 1000)["logs"]
    assert [e["timestamp"] for e in newer] == [1_000_010, 1_000_020, 1_000_030]
    assert len({e["type"] for e in book.query(1_000_080, 1_000_001, None, 1, 100)["logs"]}) == 4
    assert book.query(1_000_035, None, None, 1, 1000)["total"] == 58
    quiet = LogBook(started=1_000_000, interval=0, names=dict.fromkeys(
        ("volume", "pool", "raidset", "disk", "psu", "fan", "task", "user"), "x"))
    assert quiet.query(2_000_000, None, None, 1, 1000)["total"] == 50


def test_new_log_events_over_http(start: Any) -> None:
    c = Client(start(log_interval=0.1))
    time.sleep(0.35)
    body = c.json(f"/rest/v1/log/list?startTime={int(c.sim.device.started)}")
    assert body["total"] >= 3


# -- lifecycle ----------------------------------------------------------------------------------
def test_stop_frees_the_port_and_drops_keep_alive_connections(start: Any) -> None:
    sim = start()
    c = Client(sim)
    assert c.get("/rest/v1/hardware/info").status_code == 200  # a kept-alive connection
    port = sim.port
    sim.stop()
    sim.stop()  # idempotent
    with pytest.raises(requests.ConnectionError):
        c.get("/rest/v1/hardware/info")
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/rest/v1/hardware/info", timeout=2)
    # The listening socket is closed: a new array (SO_REUSEADDR, as every server) gets the port
    # even though the dropped keep-alive connection leaves a TIME_WAIT behind.
    again = start(port=port)
    assert again.port == port
    assert requests.post(again.url + "/auth/get", json={"user": "admin", "password": "admin"},
                         timeout=5).status_code == 200


def test_parse_listen() -> None:
    assert parse_listen("127.0.0.1:8443") == ("127.0.0.1", 8443)
    assert parse_listen(":9000") == ("0.0.0.0", 9000)
    assert parse_listen("[::1]:0") == ("::1", 0)
    for bad in ("8443", "host:", "host:99999"):
        with pytest.raises(ValueError):
            parse_listen(bad)


CLI = ("import argparse, sys\nfrom qsan_exporter.simulator import cli\n"
       "p = argparse.ArgumentParser()\ncli.add_arguments(p)\n"
       "sys.exit(cli.run(p.parse_args(sys.argv[1:])))")


@pytest.mark.parametrize("profile", ["nas", "legacy"])
def test_cli_serves_until_sigterm(profile: str) -> None:
    process = subprocess.Popen([sys.executable, "-c", CLI, "--listen=127.0.0.1:0",
                                f"--profile={profile}", "--password=pw"],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = re.search(r"http://\S+", process.stdout.readline()).group(0)  # type: ignore[union-attr]
        # The banner names the credentials the array accepts.
        assert process.stdout.readline().strip() == "log in as username 'admin', password 'pw'"
        if profile == "legacy":
            login = requests.post(url + "/rest/login/account/admin/password/pw", timeout=5)
        else:
            login = requests.post(url + "/auth/get", json={"user": "admin", "password": "pw"},
                                  timeout=5)
        assert login.status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_simulate_help_text_names_user_and_password(capsys: pytest.CaptureFixture[str]) -> None:
    from qsan_exporter.cli import main

    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "the one user the array accepts (default admin)" in text
    assert "that user's password (default admin)" in text
