"""The Dockerfile and .dockerignore, checked as far as a machine without a Docker engine allows.

The Dockerfile is parsed (stages, base images, USER, HEALTHCHECK, COPY sources); the health check
command itself is run against a real exporter and a dead port; `.dockerignore` is evaluated with
Docker's matching rules. `docker build --check` runs only when an engine answers.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field

import pytest
import yaml

from tests.conftest import ROOT, write_config

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
CONFIG_PATH = "/etc/qsan-exporter/qsan_exporter.yml"
# What the build may copy from the context: the package and what its build reads.
ALLOWED_COPY_SOURCES = {"pyproject.toml", "README.md", "qsan_exporter"}
SECRET_LIKE = re.compile(r"password|secret|token|\.pem$|\.key$|\.ya?ml$|^config/?|\.env$", re.I)


@dataclass
class Instruction:
    keyword: str
    args: str
    flags: dict[str, str] = field(default_factory=dict)

    def exec_form(self) -> list[str] | None:
        text = self.args.strip()
        if text.startswith("["):
            return json.loads(text)
        return None


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages, with continuations joined and comments dropped."""
    logical: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if current and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    assert not current, "the Dockerfile ends inside a line continuation"

    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        flags: dict[str, str] = {}
        while rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            name, _, value = flag[2:].partition("=")
            flags[name] = value
            rest = rest.lstrip()
        if keyword == "FROM":
            parts = rest.split()
            image = re.sub(r"\$\{?(\w+)\}?", lambda m: global_args[m.group(1)], parts[0])
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(image, name))
        elif not stages:
            assert keyword == "ARG", f"only ARG may precede the first FROM, not {keyword}"
            arg_name, _, default = rest.partition("=")
            global_args[arg_name] = default
        else:
            stages[-1].instructions.append(Instruction(keyword, rest, flags))
    return global_args, stages


@pytest.fixture(scope="module")
def dockerfile() -> tuple[dict[str, str], list[Stage]]:
    return parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


def test_multi_stage_build_with_pinned_python_slim_bases(dockerfile) -> None:
    _, stages = dockerfile
    assert len(stages) >= 2, "builder + runtime stages"
    assert stages[0].name == "builder"
    names = {s.name for s in stages if s.name}
    for stage in stages:
        if stage.image in names:
            continue
        _, sep, tag = stage.image.partition(":")
        assert (sep and tag and tag != "latest") or "@sha256:" in stage.image, (
            f"base image {stage.image!r} is not pinned by tag or digest")
    runtime = stages[-1]
    assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?", runtime.image), runtime.image
    # The venv is built in one stage and run in the other: same interpreter, same path.
    assert stages[0].image == runtime.image
    copies = [c for c in runtime.all("COPY") if c.flags.get("from") == "builder"]
    assert copies and copies[0].args.split() == ["/opt/qsan-exporter", "/opt/qsan-exporter"]
    assert "pip install" in " ".join(i.args for i in stages[0].all("RUN"))
    assert not any("pip install" in i.args for i in runtime.all("RUN")), (
        "the runtime stage installs nothing: no compilers or caches in the final image")


def test_runtime_runs_as_a_fixed_non_root_user(dockerfile) -> None:
    runtime = dockerfile[1][-1]
    user = runtime.last("USER")
    assert user is not None, "the runtime stage must switch to a non-root USER"
    uid, _, gid = user.args.strip().partition(":")
    assert uid not in ("root", "0") and gid not in ("root", "0")
    assert uid.isdigit(), "numeric uid, so Kubernetes runAsNonRoot can verify it"
    # The Kubernetes manifests run as that uid.
    for manifest in (ROOT / "deploy/kubernetes").rglob("*.yaml"):
        for doc in yaml.safe_load_all(manifest.read_text()):
            pod = (doc or {}).get("spec", {}).get("template", {}).get("spec")
            if pod:
                assert str(pod["securityContext"]["runAsUser"]) == uid, manifest


def test_entrypoint_cmd_and_port(dockerfile) -> None:
    runtime = dockerfile[1][-1]
    entrypoint, cmd = runtime.last("ENTRYPOINT"), runtime.last("CMD")
    assert entrypoint and entrypoint.exec_form() == ["qsan-exporter"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "qsan-exporter" in scripts, "the entrypoint is the installed console script"
    assert cmd and cmd.exec_form() == [f"--config.file={CONFIG_PATH}"]
    assert [e.args.strip() for e in runtime.all("EXPOSE")] == ["9747"]


def test_nothing_secret_or_site_specific_is_baked_in(dockerfile) -> None:
    _, stages = dockerfile
    readme = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["readme"]
    copied: set[str] = set()
    for stage in stages:
        for copy in stage.all("COPY") + stage.all("ADD"):
            if "from" in copy.flags:
                continue
            sources = copy.exec_form() or copy.args.split()
            for source in sources[:-1]:
                source = source.rstrip("/").removeprefix("./")
                copied.add(source)
                assert source in ALLOWED_COPY_SOURCES, f"COPY of {source!r}"
                assert not SECRET_LIKE.search(source), f"COPY of {source!r}"
                assert (ROOT / source).exists(), f"COPY of missing {source!r}"
                assert not dockerignored(source), f"{source!r} is excluded by .dockerignore"
        for instruction in stage.all("ENV") + stage.all("ARG"):
            assert not re.search(r"PASSW|SECRET|TOKEN", instruction.args, re.I), instruction
    assert {"pyproject.toml", "qsan_exporter", readme} <= copied


def test_healthcheck_uses_python_urllib_on_healthy(dockerfile) -> None:
    runtime = dockerfile[1][-1]
    check = runtime.last("HEALTHCHECK")
    assert check is not None
    assert check.args.startswith("CMD ")
    command = json.loads(check.args.removeprefix("CMD "))
    assert command[:2] == ["python", "-c"]
    assert "/-/healthy" in command[2] and "urllib" in command[2]
    assert not re.search(r"\b(curl|wget)\b", check.args), "slim images have neither"
    for flag in ("interval", "timeout", "retries"):
        assert flag in check.flags


def healthcheck_script() -> str:
    _, stages = parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))
    check = stages[-1].last("HEALTHCHECK")
    assert check is not None
    return json.loads(check.args.removeprefix("CMD "))[2]


@pytest.mark.slow
def test_healthcheck_command_passes_on_a_live_exporter_and_fails_on_a_dead_one(
        simulators, exporter, tmp_path, closed_port) -> None:
    config = write_config(tmp_path / "c.yml", {"hc": simulators("san")})
    live = exporter(f"--config.file={config}")
    script = healthcheck_script()

    def run(url: str) -> int:
        env = {"QSAN_HEALTHCHECK_URL": url, "PATH": "/usr/bin:/bin"}
        return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                              timeout=20).returncode

    assert run(f"{live.url}/-/healthy") == 0
    assert run(f"http://127.0.0.1:{closed_port}/-/healthy") != 0
    assert run(f"{live.url}/no-such-path") != 0  # a 404 is not healthy
    # The default URL is the image's own port.
    assert "http://127.0.0.1:9747/-/healthy" in script


# --- .dockerignore ----------------------------------------------------------------------------

def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out)


def dockerignored(path: str) -> bool:
    """Docker's rule: a path is excluded if it or a parent matches; later `!` lines re-include."""
    rules = []
    for line in DOCKERIGNORE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        rules.append((negate, _pattern_regex(line.lstrip("!").strip("/").removeprefix("./"))))
    parts = path.strip("/").split("/")
    candidates = ["/".join(parts[:k]) for k in range(1, len(parts) + 1)]
    excluded = False
    for negate, regex in rules:
        if any(regex.fullmatch(c) for c in candidates):
            excluded = not negate
    return excluded


def test_dockerignore_keeps_the_context_small_and_secret_free() -> None:
    for path in (".venv/bin/python", ".git/HEAD", "tests/conftest.py", "bench/run.py",
                 ".pytest_cache/x", "qsan_exporter/__pycache__/cli.cpython-311.pyc",
                 "deploy/compose/secrets/qsan_password", "config/qsan_exporter.example.yml",
                 "site/qsan_exporter.yml", "certs/server.key", ".env"):
        assert dockerignored(path), f"{path} would be sent to the Docker daemon"
    for path in ("pyproject.toml", "README.md", "qsan_exporter/cli.py",
                 "qsan_exporter/simulator/server.py", "qsan_exporter/api/unified/client.py"):
        assert not dockerignored(path), f"{path} is needed by the build"
    # Every module of the package reaches the build.
    for module in (ROOT / "qsan_exporter").rglob("*.py"):
        assert not dockerignored(str(module.relative_to(ROOT))), module


def test_dockerignore_matcher_is_not_vacuous(tmp_path, monkeypatch) -> None:
    ignore = tmp_path / ".dockerignore"
    ignore.write_text("tests\n**/*.pyc\n!keep.pyc\n")
    monkeypatch.setattr(sys.modules[__name__], "DOCKERIGNORE", ignore)
    assert dockerignored("tests/a.py") and dockerignored("a/b/c.pyc")
    assert not dockerignored("keep.pyc") and not dockerignored("qsan_exporter/cli.py")


# --- with an engine only ----------------------------------------------------------------------

def _docker_engine() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.skipif(not _docker_engine(), reason="no Docker engine answers on this machine")
def test_docker_build_check() -> None:
    result = subprocess.run(shlex.split(f"docker build --check -f {DOCKERFILE} {ROOT}"),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
