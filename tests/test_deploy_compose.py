"""deploy/compose: the file's shape, and each file a service reads, checked by the tool reading it.

Without a Docker engine (or the compose plugin) the compose file is checked against a subset of
the Compose Specification written here; `docker compose config` runs as well when it can. Each
service's mounts are staged into a temporary directory at their container paths, so Prometheus,
Alertmanager and the exporter are checked on exactly what they would see in the container.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from qsan_exporter.simulator import cli as simulator_cli
from tests.conftest import ROOT

COMPOSE_DIR = ROOT / "deploy" / "compose"
COMPOSE_FILE = COMPOSE_DIR / "compose.yml"

_STRINGS = {"type": "array", "items": {"type": "string"}}
_SERVICE = {
    "type": "object",
    "additionalProperties": False,
    "patternProperties": {"^x-": {}},
    "properties": {
        "image": {"type": "string", "pattern": r"^[\w./-]+(:[\w.-]+)?(@sha256:[0-9a-f]{64})?$"},
        "build": {
            "type": "object", "additionalProperties": False, "required": ["context"],
            "properties": {"context": {"type": "string"}, "dockerfile": {"type": "string"}},
        },
        "command": {"oneOf": [{"type": "string"}, _STRINGS]},
        "entrypoint": {"oneOf": [{"type": "string"}, _STRINGS]},
        "environment": {"oneOf": [
            {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}},
            _STRINGS]},
        "volumes": {"type": "array", "items": {
            "type": "string", "pattern": r"^[^:]+:/[^:]*(:(ro|rw))?$"}},
        "secrets": {"type": "array", "items": {"oneOf": [
            {"type": "string"},
            {"type": "object", "additionalProperties": False, "required": ["source"],
             "properties": {"source": {"type": "string"}, "target": {"type": "string"}}},
        ]}},
        "ports": {"type": "array", "items": {"type": "string",
                                             "pattern": r"^(\d+\.\d+\.\d+\.\d+:)?\d+:\d+$"}},
        "depends_on": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "restart": {"enum": ["no", "always", "on-failure", "unless-stopped"]},
        "read_only": {"type": "boolean"},
        "cap_drop": _STRINGS,
        "security_opt": _STRINGS,
        "user": {"type": "string"},
        "ulimits": {"type": "object", "additionalProperties": False, "properties": {
            "nofile": {"oneOf": [
                {"type": "integer", "minimum": 1},
                {"type": "object", "additionalProperties": False, "required": ["soft", "hard"],
                 "properties": {"soft": {"type": "integer"}, "hard": {"type": "integer"}}},
            ]}}},
        "healthcheck": {
            "type": "object", "additionalProperties": False,
            "properties": {"disable": {"type": "boolean"}, "test": _STRINGS,
                           "interval": {"type": "string"}, "timeout": {"type": "string"},
                           "retries": {"type": "integer"}},
        },
    },
    "anyOf": [{"required": ["image"]}, {"required": ["build"]}],
}
COMPOSE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["services"],
    "patternProperties": {"^x-": {}},
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]*$"},
        "services": {"type": "object", "minProperties": 1,
                     "patternProperties": {"^[a-zA-Z0-9._-]+$": _SERVICE},
                     "additionalProperties": False},
        "volumes": {"type": "object", "additionalProperties": {"type": ["object", "null"]}},
        "secrets": {"type": "object", "additionalProperties": {
            "type": "object", "additionalProperties": False, "required": ["file"],
            "properties": {"file": {"type": "string"}}}},
    },
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def bind_mounts(service: dict[str, Any]) -> list[tuple[Path, str]]:
    """(host path, container path) of the service's bind mounts (named volumes skipped)."""
    mounts = []
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            mounts.append(((COMPOSE_DIR / source).resolve(), target))
    return mounts


def stage(compose: dict[str, Any], name: str, root: Path) -> dict[str, Path]:
    """Copy a service's bind mounts and secrets to `root` + container path; container -> staged."""
    service = services(compose)[name]
    mounts = bind_mounts(service)
    for secret in service.get("secrets", []):
        source = secret if isinstance(secret, str) else secret["source"]
        target = source if isinstance(secret, str) else secret.get("target", source)
        host = (COMPOSE_DIR / compose["secrets"][source]["file"]).resolve()
        mounts.append((host, target if target.startswith("/") else f"/run/secrets/{target}"))
    staged = {}
    for host, target in mounts:
        destination = root / target.lstrip("/")
        destination.parent.mkdir(parents=True, exist_ok=True)
        if host.is_dir():
            shutil.copytree(host, destination)
        else:
            shutil.copyfile(host, destination)
        staged[target] = destination
    return staged


def simulator_args(service: dict[str, Any]) -> argparse.Namespace:
    command = service["command"]
    assert command[0] == "simulate"
    parser = argparse.ArgumentParser()
    simulator_cli.add_arguments(parser)
    return parser.parse_args(command[1:])


def test_compose_file_matches_the_spec_subset(compose) -> None:
    jsonschema.validate(compose, COMPOSE_SCHEMA)


def test_schema_is_not_vacuous(compose) -> None:
    broken = json.loads(json.dumps(compose))
    broken["services"]["exporter"]["volumes"] = ["./qsan_exporter.yml"]  # no container path
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, COMPOSE_SCHEMA)
    broken = json.loads(json.dumps(compose))
    broken["services"]["exporter"]["restart_policy"] = "always"  # not a compose key
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, COMPOSE_SCHEMA)


def test_the_stack_has_every_part(compose) -> None:
    svc = services(compose)
    assert {"exporter", "prometheus", "alertmanager", "grafana"} <= set(svc)
    profiles = {simulator_args(s).profile for s in svc.values()
                if s.get("command", [None])[0] == "simulate"}
    assert profiles == {"san", "fas", "nas"}
    for name, service in svc.items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin {image!r}"
        for dependency in service.get("depends_on", []):
            assert dependency in svc, f"{name} depends on unknown {dependency}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in (compose.get("volumes") or {}), f"{name}: undeclared {source}"


def test_every_mounted_file_exists_in_the_repository(compose) -> None:
    for name, service in services(compose).items():
        for host, target in bind_mounts(service):
            assert host.exists(), f"{name} mounts missing {host} at {target}"
            assert host.is_relative_to(ROOT), f"{name} mounts {host} from outside the repo"
        build = service.get("build")
        if build:
            context = (COMPOSE_DIR / build["context"]).resolve()
            assert (context / build.get("dockerfile", "Dockerfile")).is_file()
    for name, secret in compose.get("secrets", {}).items():
        assert (COMPOSE_DIR / secret["file"]).is_file(), f"secret {name}"


@pytest.mark.slow
def test_exporter_config_checks_with_the_secret_present(compose, tmp_path) -> None:
    staged = stage(compose, "exporter", tmp_path)
    exporter = services(compose)["exporter"]
    [config_arg] = [a for a in exporter["command"] if a.startswith("--config.file=")]
    container_config = config_arg.partition("=")[2]
    assert container_config in staged, "the exporter's --config.file is not mounted"
    text = staged[container_config].read_text()
    assert "password:" not in text, "the password comes from the secret, not the config"
    # Container paths in the config point at the staged copies.
    for container_path, host_path in staged.items():
        text = text.replace(container_path, str(host_path))
    staged[container_config].write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "qsan_exporter.cli", f"--config.file={staged[container_config]}",
         "--config.check"], capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK, 3 array(s)" in result.stdout
    # Without the secret the same config is refused: the check above did read it.
    staged["/run/secrets/qsan_password"].unlink()
    result = subprocess.run(
        [sys.executable, "-m", "qsan_exporter.cli", f"--config.file={staged[container_config]}",
         "--config.check"], capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert result.returncode == 1 and "password_file" in result.stderr


def test_exporter_config_reaches_the_simulators_with_their_credentials(compose) -> None:
    svc = services(compose)
    [config_host] = [h for h, t in bind_mounts(svc["exporter"])
                     if t == "/etc/qsan-exporter/qsan_exporter.yml"]
    config = yaml.safe_load(config_host.read_text())
    password = (COMPOSE_DIR / compose["secrets"]["qsan_password"]["file"]).read_text().strip()
    assert config["defaults"]["password_file"] == "/run/secrets/qsan_password"
    for array in config["arrays"]:
        url = urlsplit(array["url"])
        assert url.hostname in svc, f"{array['name']}: no service {url.hostname}"
        args = simulator_args(svc[url.hostname])
        assert args.listen.rpartition(":")[2] == str(url.port)
        assert args.listen.startswith("0.0.0.0:"), "a container must listen beyond loopback"
        assert args.username == config["defaults"]["username"]
        assert args.password == password


def test_prometheus_config_and_rules_check(compose, tmp_path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool (Debian package prometheus) is installed by scripts/test"
    staged = stage(compose, "prometheus", tmp_path)
    config_path = staged["/etc/prometheus/prometheus.yml"]
    config = yaml.safe_load(config_path.read_text())
    for rule_file in config["rule_files"]:
        container_path = str(PurePosixPath("/etc/prometheus") / rule_file)
        assert container_path in staged, f"rule file {rule_file} is not mounted"
    assert staged["/etc/prometheus/qsan_alerts.yml"].read_bytes() == (
        ROOT / "deploy/prometheus/qsan_alerts.yml").read_bytes()
    # check config also checks every rule file it names, at its path next to the config.
    result = subprocess.run([promtool, "check", "config", str(config_path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr
    assert re.search(r"\d+ rules found", result.stdout + result.stderr)

    svc = services(compose)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert any("qsan" in name for name in jobs), "QsanExporterDown needs 'qsan' in a job name"
    exporter_targets = [t for job in jobs.values() if "qsan" in job["job_name"]
                        for sc in job["static_configs"] for t in sc["targets"]]
    assert exporter_targets == ["exporter:9747"]
    assert "9747:9747" in svc["exporter"]["ports"]
    for am in config["alerting"]["alertmanagers"]:
        for target in am["static_configs"][0]["targets"]:
            assert target.partition(":")[0] in svc


def test_alertmanager_config_checks(compose, tmp_path) -> None:
    amtool = shutil.which("amtool")
    assert amtool, "amtool (Debian package prometheus-alertmanager) must be installed"
    staged = stage(compose, "alertmanager", tmp_path)
    path = staged["/etc/alertmanager/alertmanager.yml"]  # the image's default --config.file
    result = subprocess.run([amtool, "check-config", str(path)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_provisioning_points_at_mounted_dashboards_and_prometheus(compose,
                                                                         tmp_path) -> None:
    svc = services(compose)
    staged = stage(compose, "grafana", tmp_path)
    provisioning = staged["/etc/grafana/provisioning"]
    [datasources_file] = (provisioning / "datasources").glob("*.yml")
    datasources = yaml.safe_load(datasources_file.read_text())["datasources"]
    [prometheus] = [d for d in datasources if d["type"] == "prometheus"]
    assert prometheus["uid"] == "prometheus"
    url = urlsplit(prometheus["url"])
    assert url.hostname in svc and url.port == 9090
    assert "9090:9090" in svc["prometheus"]["ports"]
    [providers_file] = (provisioning / "dashboards").glob("*.yml")
    providers = yaml.safe_load(providers_file.read_text())["providers"]
    for provider in providers:
        dashboards = staged.get(provider["options"]["path"])
        assert dashboards is not None, f"provider path {provider['options']['path']} not mounted"
        files = sorted(dashboards.glob("*.json"))
        assert files, "no dashboards in the mounted directory"
        uids = [json.loads(f.read_text())["uid"] for f in files]
        assert len(set(uids)) == len(uids)


def _compose_plugin() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "compose", "version"], capture_output=True,
                              timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.skipif(not _compose_plugin(), reason="the docker CLI has no compose plugin here")
def test_docker_compose_config() -> None:
    result = subprocess.run(["docker", "compose", "-f", str(COMPOSE_FILE), "config", "--quiet"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
