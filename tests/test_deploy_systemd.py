"""deploy/systemd: the unit's hardening and credentials, and the config that goes with it.

The unit is parsed as systemd reads it (repeatable keys, continuation lines). When
`systemd-analyze` is present, `verify` checks it (with ExecStart pointed at this checkout's
console script, which must exist) and `security --offline` scores its sandbox.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from tests.conftest import ROOT

UNIT = ROOT / "deploy" / "systemd" / "qsan-exporter.service"
CONFIG = ROOT / "deploy" / "systemd" / "qsan_exporter.yml"
# Overall exposure (systemd-analyze security, 0-100 internally; 12 = "1.2 OK").
MAX_EXPOSURE = 20

Unit = dict[str, dict[str, list[str]]]


def parse_unit(text: str) -> Unit:
    """section -> key -> every value in order (systemd keys may repeat)."""
    unit: Unit = defaultdict(lambda: defaultdict(list))
    section = None
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith(("#", ";"))):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        line, pending = pending + line, ""
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        assert section is not None, f"key outside a section: {line!r}"
        key, sep, value = line.partition("=")
        assert sep, f"not a key=value line: {line!r}"
        unit[section][key.strip()].append(value.strip())
    return unit


@pytest.fixture(scope="module")
def unit() -> Unit:
    return parse_unit(UNIT.read_text(encoding="utf-8"))


def one(unit: Unit, key: str, section: str = "Service") -> str:
    values = unit[section].get(key)
    assert values, f"[{section}] {key}= is missing"
    return values[-1]


def test_unit_starts_the_exporter_with_reload_and_restart(unit) -> None:
    exec_start = one(unit, "ExecStart").split()
    assert exec_start[0].endswith("/bin/qsan-exporter") and exec_start[0].startswith("/")
    assert "--config.file=/etc/qsan-exporter/qsan_exporter.yml" in exec_start
    assert one(unit, "ExecReload") == "/bin/kill -HUP $MAINPID"
    assert one(unit, "Restart") == "on-failure"
    assert "network-online.target" in one(unit, "After", "Unit")
    assert "network-online.target" in one(unit, "Wants", "Unit")
    assert one(unit, "WantedBy", "Install") == "multi-user.target"


@pytest.mark.parametrize(("key", "expected"), [
    ("DynamicUser", "yes"),
    ("NoNewPrivileges", "yes"),
    ("ProtectSystem", "strict"),
    ("ProtectHome", "yes"),
    ("PrivateTmp", "yes"),
    ("PrivateDevices", "yes"),
    ("ProtectKernelTunables", "yes"),
    ("ProtectKernelModules", "yes"),
    ("ProtectControlGroups", "yes"),
    ("RestrictNamespaces", "yes"),
    ("RestrictSUIDSGID", "yes"),
    ("LockPersonality", "yes"),
    ("MemoryDenyWriteExecute", "yes"),
    ("SystemCallArchitectures", "native"),
    ("CapabilityBoundingSet", ""),
    ("AmbientCapabilities", ""),
])
def test_hardening_key(unit, key, expected) -> None:
    assert one(unit, key) == expected


def test_token_sets_are_recorded_in_an_owner_only_state_directory(unit) -> None:
    """Issue 11: a crash must not leave a token set behind. systemd makes the directory for the
    dynamic user and passes it as $STATE_DIRECTORY, the exporter's default --state.directory."""
    assert one(unit, "StateDirectory") == "qsan-exporter"
    assert one(unit, "StateDirectoryMode") == "0700"
    assert "--state.directory" not in one(unit, "ExecStart")


def test_network_and_syscalls_are_restricted(unit) -> None:
    families = set(one(unit, "RestrictAddressFamilies").split())
    assert families == {"AF_INET", "AF_INET6", "AF_UNIX"}
    filters = unit["Service"]["SystemCallFilter"]
    assert filters[0] == "@system-service"
    assert any(f.startswith("~") and "@privileged" in f for f in filters)


def test_password_arrives_as_a_credential_the_config_names(unit) -> None:
    name, _, path = one(unit, "LoadCredential").partition(":")
    assert path == "/etc/qsan-exporter/password"
    text = CONFIG.read_text()
    assert f"password_file: ${{CREDENTIALS_DIRECTORY}}/{name}" in text
    assert not re.search(r"^\s*password:", text, re.M), "no inline password"
    assert "Environment" not in unit["Service"] or not any(
        "PASSWORD" in v.upper() for v in unit["Service"]["Environment"])


def _config_check(credentials: Path | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CREDENTIALS_DIRECTORY"}
    if credentials is not None:
        env["CREDENTIALS_DIRECTORY"] = str(credentials)
    return subprocess.run([sys.executable, "-m", "qsan_exporter.cli",
                           f"--config.file={CONFIG}", "--config.check"],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=30)


@pytest.mark.slow
def test_config_reads_the_password_from_the_credentials_directory(unit, tmp_path) -> None:
    name = one(unit, "LoadCredential").partition(":")[0]
    (tmp_path / name).write_text("pw-from-systemd\n")
    result = _config_check(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "OK, 2 array(s)" in result.stdout
    # Outside systemd (no $CREDENTIALS_DIRECTORY) it is refused with a clear reason.
    result = _config_check(None)
    assert result.returncode == 1
    assert "CREDENTIALS_DIRECTORY" in result.stderr
    assert "pw-from-systemd" not in result.stdout + result.stderr


ANALYZE = shutil.which("systemd-analyze")


def _unit_for_this_checkout(tmp_path: Path) -> Path:
    """The unit with ExecStart on this venv's console script: verify checks that it exists."""
    script = Path(sys.executable).parent / "qsan-exporter"
    if not script.exists():
        pytest.skip(f"{script} not installed (pip install -e .)")
    text = UNIT.read_text().replace("/opt/qsan-exporter/bin/qsan-exporter", str(script))
    path = tmp_path / UNIT.name
    path.write_text(text)
    return path


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify(tmp_path) -> None:
    result = subprocess.run([ANALYZE, "verify", str(_unit_for_this_checkout(tmp_path))],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    # Unknown or misspelt keys are only warnings: none allowed.
    assert result.stderr.strip() == "", result.stderr


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_security_exposure_is_low(tmp_path) -> None:
    path = _unit_for_this_checkout(tmp_path)
    result = subprocess.run([ANALYZE, "security", "--offline=yes",
                             f"--threshold={MAX_EXPOSURE}", str(path)],
                            capture_output=True, text=True, timeout=60)
    if "--offline" in result.stderr and "unrecognized" in result.stderr:
        pytest.skip("this systemd-analyze has no --offline (systemd < 252)")
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, f"{summary}\n{result.stderr}"
    assert "OK" in summary, summary
