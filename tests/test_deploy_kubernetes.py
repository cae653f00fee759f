"""deploy/kubernetes: both variants (single/: Deployment, shards/: StatefulSet) as kustomize
builds them.

Core kinds are validated with kubernetes-validate (strict: unknown fields fail) for the oldest
version the manifests support (1.28, for the pod-index label) and the newest it ships; the
Prometheus Operator kinds against a JSON schema of their CRDs' essentials written here. Then
what a schema cannot see: the password only in the Secret, the wiring between objects, the shard
arguments as Kubernetes expands them, and the PrometheusRule regenerated from the rules file.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from qsan_exporter.cli import build_parser
from qsan_exporter.sharding import shard_of
from tests.conftest import ROOT

K8S = ROOT / "deploy" / "kubernetes"
VARIANTS = ("single", "shards")
VERSIONS = ("1.28.0", kubernetes_validate.latest_version())
CONFIG_FILE = "qsan_exporter.yml"

_DURATION = {"type": "string",
             "pattern": r"^(0|(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?)$"}
_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_METADATA = {
    "type": "object", "required": ["name"],
    "properties": {"name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"},
                   "labels": _STRING_MAP, "annotations": _STRING_MAP},
}
_LABEL_SELECTOR = {
    "type": "object", "additionalProperties": False,
    "properties": {"matchLabels": _STRING_MAP, "matchExpressions": {"type": "array"}},
}
SERVICE_MONITOR_SCHEMA = {
    "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": _METADATA,
        "spec": {
            "type": "object", "required": ["selector", "endpoints"], "additionalProperties": False,
            "properties": {
                "jobLabel": {"type": "string"},
                "selector": _LABEL_SELECTOR,
                "namespaceSelector": {"type": "object"},
                "endpoints": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "additionalProperties": False,
                    "properties": {
                        "port": {"type": "string"},
                        "targetPort": {"type": ["string", "integer"]},
                        "path": {"type": "string", "pattern": "^/"},
                        "scheme": {"enum": ["http", "https"]},
                        "interval": _DURATION, "scrapeTimeout": _DURATION,
                        "honorLabels": {"type": "boolean"},
                        "params": {"type": "object"},
                        "relabelings": {"type": "array"}, "metricRelabelings": {"type": "array"},
                    },
                    "anyOf": [{"required": ["port"]}, {"required": ["targetPort"]}],
                }},
            },
        },
    },
}
PROMETHEUS_RULE_SCHEMA = {
    "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "PrometheusRule"},
        "metadata": _METADATA,
        "spec": {
            "type": "object", "additionalProperties": False,
            "properties": {"groups": {"type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["name", "rules"], "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "interval": _DURATION,
                    "rules": {"type": "array", "items": {
                        "type": "object", "required": ["expr"], "additionalProperties": False,
                        "properties": {
                            "alert": {"type": "string", "minLength": 1},
                            "record": {"type": "string", "minLength": 1},
                            "expr": {"type": ["string", "integer"]},
                            "for": _DURATION, "keep_firing_for": _DURATION,
                            "labels": _STRING_MAP, "annotations": _STRING_MAP,
                        },
                        "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
                    }},
                },
            }}},
        },
    },
}
CRD_SCHEMAS = {"ServiceMonitor": SERVICE_MONITOR_SCHEMA, "PrometheusRule": PROMETHEUS_RULE_SCHEMA}


def load_kustomization(directory: Path) -> list[dict[str, Any]]:
    """The objects a kustomization lists (resources only: these manifests use nothing else)."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    assert set(kustomization) <= {"apiVersion", "kind", "resources"}, (
        "this resolver handles resources only; extend it with the kustomization")
    objects: list[dict[str, Any]] = []
    for resource in kustomization["resources"]:
        path = (directory / resource).resolve()
        if path.is_dir():
            objects += load_kustomization(path)
        else:
            objects += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return objects


@pytest.fixture(scope="module", params=VARIANTS)
def variant(request) -> tuple[str, list[dict[str, Any]]]:
    return request.param, load_kustomization(K8S / request.param)


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def secret() -> dict[str, Any]:
    return yaml.safe_load((K8S / "secret.yaml").read_text())


def workload(objects: list[dict[str, Any]]) -> dict[str, Any]:
    [found] = [o for o in objects if o["kind"] in ("Deployment", "StatefulSet")]
    return found


def container(obj: dict[str, Any]) -> dict[str, Any]:
    [found] = obj["spec"]["template"]["spec"]["containers"]
    return found


def test_core_objects_validate_strictly(variant) -> None:
    _, objects = variant
    core = [o for o in objects if o["kind"] not in CRD_SCHEMAS] + [secret()]
    assert {o["kind"] for o in core} >= {"ConfigMap", "Secret", "Service"}
    for version in VERSIONS:
        for obj in core:
            kubernetes_validate.validate(obj, version, strict=True)


def test_strict_validation_is_not_vacuous(variant) -> None:
    _, objects = variant
    broken = yaml.safe_load(yaml.safe_dump(workload(objects)))
    container(broken)["readinesProbe"] = container(broken).pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[0], strict=True)


def test_operator_objects_match_their_crd_essentials(variant) -> None:
    _, objects = variant
    for kind, schema in CRD_SCHEMAS.items():
        [obj] = by_kind(objects, kind)
        jsonschema.validate(obj, schema)
    broken = yaml.safe_load(yaml.safe_dump(by_kind(objects, "ServiceMonitor")[0]))
    broken["spec"]["endpoints"][0]["interval"] = "1 minute"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SERVICE_MONITOR_SCHEMA)


def test_kubectl_kustomize_builds_the_same_objects(variant) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    name, objects = variant
    result = subprocess.run([kubectl, "kustomize", str(K8S / name)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr

    def key(o: dict[str, Any]) -> tuple[str, str]:
        return o["kind"], o["metadata"]["name"]

    built = sorted((d for d in yaml.safe_load_all(result.stdout) if d), key=key)
    assert built == sorted(objects, key=key)


def test_manifests_are_namespace_agnostic() -> None:
    for path in K8S.rglob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and "metadata" in doc:
                assert "namespace" not in doc["metadata"], path
        assert "namespaceSelector" not in path.read_text(), path


def test_password_only_in_the_secret(variant, tmp_path) -> None:
    _, objects = variant
    [configmap] = by_kind(objects, "ConfigMap")
    assert list(configmap["data"]) == [CONFIG_FILE]
    config = yaml.safe_load(configmap["data"][CONFIG_FILE])

    def keys(node: Any) -> set[str]:
        if isinstance(node, dict):
            return set(node) | {k for v in node.values() for k in keys(v)}
        if isinstance(node, list):
            return {k for v in node for k in keys(v)}
        return set()

    assert "password" not in keys(config)
    placeholder = secret()["stringData"]["password"]
    assert list(secret()["stringData"]) == ["password"]
    for obj in objects:
        assert obj["kind"] != "Secret", "the Secret is applied by hand, never by kustomize"
        assert placeholder not in yaml.safe_dump(obj)

    # The config names the file where the pod mounts the Secret's key.
    pod = workload(objects)["spec"]["template"]["spec"]
    [volume] = [v for v in pod["volumes"] if "secret" in v]
    assert volume["secret"]["secretName"] == secret()["metadata"]["name"]
    [mount] = [m for m in container(workload(objects))["volumeMounts"]
               if m["name"] == volume["name"]]
    assert config["defaults"]["password_file"] == f"{mount['mountPath']}/password"

    # And the exporter accepts that config with the Secret's file in place.
    (tmp_path / "password").write_text(placeholder)
    text = configmap["data"][CONFIG_FILE].replace(mount["mountPath"], str(tmp_path))
    (tmp_path / CONFIG_FILE).write_text(text)
    result = subprocess.run([sys.executable, "-m", "qsan_exporter.cli",
                             f"--config.file={tmp_path / CONFIG_FILE}", "--config.check"],
                            capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert result.returncode == 0, result.stderr


def test_pod_probes_security_and_resources(variant) -> None:
    _, objects = variant
    obj = workload(objects)
    pod = obj["spec"]["template"]["spec"]
    c = container(obj)
    assert c["livenessProbe"]["httpGet"] == {"path": "/-/healthy", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/-/ready", "port": "http"}
    assert {"name": "http", "containerPort": 9747, "protocol": "TCP"} in c["ports"]
    assert "--web.listen-address=:9747" in c["args"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    # Only the shards talk to the API server (their own replica count); see test_shard_rbac.
    assert pod["automountServiceAccountToken"] is (obj["kind"] == "StatefulSet")
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert {"cpu", "memory"} <= set(c["resources"]["requests"])
    assert "memory" in c["resources"]["limits"]
    image = c["image"]
    assert re.search(r":[\w.-]+$", image) and not image.endswith(":latest"), image
    # --config.file is the ConfigMap's key where the ConfigMap is mounted.
    [configmap] = by_kind(objects, "ConfigMap")
    [volume] = [v for v in pod["volumes"] if "configMap" in v]
    assert volume["configMap"]["name"] == configmap["metadata"]["name"]
    [mount] = [m for m in c["volumeMounts"] if m["name"] == volume["name"]]
    assert f"--config.file={mount['mountPath']}/{CONFIG_FILE}" in c["args"]
    writable = {"/tmp", "/var/lib/qsan-exporter"}  # scratch, and the state directory
    assert all(m.get("readOnly") for m in c["volumeMounts"] if m["mountPath"] not in writable)


def test_token_sets_are_recorded_in_an_emptydir_that_outlives_container_restarts(
        variant) -> None:
    """Issue 11: an OOM kill must not leave a token set on every array. The state directory is
    an emptyDir (kept across container restarts, on disk, not in the memory limit), and the
    exporter's own subdirectory in it, which it creates owner-only (the emptyDir is root's)."""
    _, objects = variant
    pod = workload(objects)["spec"]["template"]["spec"]
    c = container(workload(objects))
    [arg] = [a for a in c["args"] if a.startswith("--state.directory=")]
    directory = arg.partition("=")[2]
    [mount] = [m for m in c["volumeMounts"] if directory.startswith(m["mountPath"] + "/")]
    assert not mount.get("readOnly")
    [volume] = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert "emptyDir" in volume and volume["emptyDir"].get("medium") != "Memory"


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_service_and_servicemonitor_select_the_exporter_pods(variant) -> None:
    _, objects = variant
    pod_labels = workload(objects)["spec"]["template"]["metadata"]["labels"]
    assert _matches(workload(objects)["spec"]["selector"]["matchLabels"], pod_labels)
    services = by_kind(objects, "Service")
    [monitor] = by_kind(objects, "ServiceMonitor")
    scraped = [s for s in services
               if _matches(monitor["spec"]["selector"]["matchLabels"], s["metadata"]["labels"])]
    assert len(scraped) == 1, "exactly one Service is scraped, or every shard is scraped twice"
    [service] = scraped
    assert _matches(service["spec"]["selector"], pod_labels)
    assert "qsan" in service["metadata"]["name"], "the job label must contain 'qsan' (alerts)"
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"

    def seconds(d: str) -> int:
        return sum(int(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in re.findall(r"(\d+)([hms])",
                                                                                   d))

    assert seconds(endpoint["scrapeTimeout"]) < seconds(endpoint["interval"])


def test_the_two_workloads_never_select_each_others_pods() -> None:
    single = workload(load_kustomization(K8S / "single"))
    shards = workload(load_kustomization(K8S / "shards"))
    assert not _matches(single["spec"]["selector"]["matchLabels"],
                        shards["spec"]["template"]["metadata"]["labels"])
    assert not _matches(shards["spec"]["selector"]["matchLabels"],
                        single["spec"]["template"]["metadata"]["labels"])
    assert single["spec"]["replicas"] == 1


def _expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion of container args."""
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m.group(1), m.group(0)),
                  text)


def test_statefulset_pods_get_one_shard_each_and_cover_every_array() -> None:
    objects = load_kustomization(K8S / "shards")
    sts = workload(objects)
    assert sts["kind"] == "StatefulSet"
    c = container(sts)
    env = {e["name"]: e for e in c["env"]}
    assert env["SHARD_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"] == (
        "metadata.labels['apps.kubernetes.io/pod-index']")
    [headless] = [s for s in by_kind(objects, "Service")
                  if s["metadata"]["name"] == sts["spec"]["serviceName"]]
    assert headless["spec"]["clusterIP"] == "None"

    [configmap] = by_kind(objects, "ConfigMap")
    names = [a["name"] for a in yaml.safe_load(configmap["data"][CONFIG_FILE])["arrays"]]
    # N is the replica count the pods read from the API (test_kube_shard.py), so every count
    # kubectl scale may set must split the arrays with each owned exactly once.
    for replicas in (sts["spec"]["replicas"], 1, 5):
        owners: dict[str, list[int]] = {name: [] for name in names}
        for ordinal in range(replicas):
            args = [_expand(a, {"SHARD_INDEX": str(ordinal)}) for a in c["args"]]
            parsed = build_parser().parse_args(args)
            assert parsed.shard == str(ordinal)
            assert parsed.shard_statefulset == sts["metadata"]["name"]
            for name in names:
                if shard_of(name, replicas) == ordinal:
                    owners[name].append(ordinal)
        assert all(len(o) == 1 for o in owners.values()), owners


def test_shard_rbac_grants_only_reading_the_statefulsets_scale() -> None:
    objects = load_kustomization(K8S / "shards")
    sts = workload(objects)
    pod = sts["spec"]["template"]["spec"]
    [account] = by_kind(objects, "ServiceAccount")
    [role] = by_kind(objects, "Role")
    [binding] = by_kind(objects, "RoleBinding")
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    assert account["automountServiceAccountToken"] is False  # only where a pod asks for it
    assert role["rules"] == [{"apiGroups": ["apps"], "resources": ["statefulsets/scale"],
                              "resourceNames": [sts["metadata"]["name"]], "verbs": ["get"]}]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount",
                                    "name": account["metadata"]["name"]}]
    assert not by_kind(load_kustomization(K8S / "single"), "Role"), "single needs no API access"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_prometheusrule",
                                                  K8S / "generate_prometheusrule.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_prometheusrule_is_generated_from_the_rules_file(tmp_path) -> None:
    generator = _generator()
    committed = (K8S / "base" / "prometheusrule.yaml").read_text(encoding="utf-8")
    assert generator.render() == committed, (
        "base/prometheusrule.yaml is stale: run deploy/kubernetes/generate_prometheusrule.py")
    rules = yaml.safe_load((ROOT / "deploy/prometheus/qsan_alerts.yml").read_text())
    assert yaml.safe_load(committed)["spec"] == {"groups": rules["groups"]}
    # A changed rules file changes the output: the comparison above can fail.
    changed = tmp_path / "rules.yml"
    rules["groups"][0]["rules"][0]["for"] = "7m"
    changed.write_text(yaml.safe_dump(rules))
    assert generator.render(changed) != committed
    assert generator.main(["--check"]) == 0
