"""`qsan-exporter dump` against simulated arrays: files, redaction, progress, exit codes."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest

from qsan_exporter import dump
from qsan_exporter.api.readers import elements
from qsan_exporter.simulator import Fault
from qsan_exporter.simulator import auth as simulator_auth
from tests.conftest import REFUSED_STATUS, write_config

PASSWORD = "secret-pw"  # the conftest simulators' and write_config's password


def run_dump(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    dump.add_arguments(parser)
    return dump.run(parser.parse_args(list(argv)))


@pytest.fixture
def issued_tokens(monkeypatch) -> list[str]:
    """Every token the in-process simulators hand out."""
    issued: list[str] = []
    original = simulator_auth.new_token

    def recording() -> str:
        token = original()
        issued.append(token)
        return token

    monkeypatch.setattr(simulator_auth, "new_token", recording)
    return issued


def serials_of(sim) -> set[str]:
    """The simulator's enclosure and disk serial numbers, from its own documents."""
    disks = json.loads(sim.device.storage.disks_body(0.0))
    # a list, or (the manual's other reading, QSAN_SIM_LITERAL=1) an object of disks
    disk_list = elements(disks.get("disks", disks) if isinstance(disks, dict) else disks,
                         "id", "slot") or []
    found = {d["serial"] for d in disk_list if "serial" in d}
    assert found, "the simulator's disk list carries serial numbers"
    return found | set(sim.device.hardware.serials)


def all_text(directory: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(directory.iterdir()))


@pytest.mark.parametrize("profile", ["san", "nas"])
def test_dump_writes_every_endpoint_with_secrets_redacted(simulators, tmp_path, capsys,
                                                          issued_tokens, profile) -> None:
    sim = simulators(profile, enclosures=2, disks=8, pools=1, volumes=2)
    config = write_config(tmp_path / "c.yml", {"arr": sim})
    out = tmp_path / "out"
    assert run_dump(f"--config.file={config}", "--array=arr", f"--out={out}") == 0
    stdout, stderr = capsys.readouterr()

    index = json.loads((out / "index.json").read_text())
    assert index["array"] == "arr"
    endpoints = {e["endpoint"]: e for e in index["endpoints"]}
    expected = {
        "/rest/v1/hardware/info", "/rest/v1/hardware/all/info?moreInfo=true",
        "/rest/v1/storage/pool/list", "/rest/v1/storage/disk/list",
        "/rest/v1/storage/volume/list", "/rest/v1/iscsi/target/list",
        "/rest/v1/iscsi/session/list", "/rest/v1/backup/snapshot/list",
        "/rest/v1/backup/clone/list", "/rest/v1/backup/replication/list",
        "/rest/v1/backup/cloud/list", "/rest/v1/log/list?pageNumber=1&pageSize=1000",
    }
    assert set(endpoints) == expected
    # Every file named in the index exists, parses, and has the size the index says.
    files = {p.name for p in out.iterdir()}
    assert files == {e["file"] for e in endpoints.values()} | {"index.json"}
    for entry in endpoints.values():
        data = (out / entry["file"]).read_bytes()
        assert entry["bytes"] == len(data)
        json.loads(data)
    # The product lacks one task type (cloud on SAN, clone on NAS): recorded, not fatal.
    missing = "cloud" if profile == "san" else "clone"
    failed = {e for e, v in endpoints.items() if v["status"] != 200}
    assert failed == {f"/rest/v1/backup/{missing}/list"}
    assert "404" in endpoints[f"/rest/v1/backup/{missing}/list"]["error"]
    assert json.loads((out / "storage_disk_list.json").read_text()), "real content was kept"

    # One progress line per endpoint, numbered.
    lines = [line for line in stdout.splitlines() if line.startswith("[")]
    assert len(lines) == len(expected)
    assert re.fullmatch(r"\[1/12\] GET /rest/v1/hardware/info \.\.\. 200, \d+\.\d KiB", lines[0])
    assert any(re.fullmatch(rf"\[\d+/12\] GET /rest/v1/backup/{missing}/list \.\.\. 404: .+", ln)
               for ln in lines)

    # Redaction: no serial, password or token anywhere in the output or on the terminal.
    text = all_text(out)
    serials = serials_of(sim)
    for secret in (*serials, PASSWORD, *issued_tokens):
        assert secret.lower() not in text.lower(), f"{secret} leaked into the dump"
        assert secret not in stdout + stderr
    assert issued_tokens, "the dump logged in"
    assert '"serialNumber": "REDACTED"' in text and '"serial": "REDACTED"' in text
    # An IQN keeps its shape with the serial part cut out.
    assert re.search(r"iqn\.2004-08\.com\.qsan:\w+-REDACTED:dev0", text)
    # The token set was revoked at the end.
    assert sim.live_token_sets() == 0


def test_redaction_is_case_insensitive_at_any_depth() -> None:
    body = {"a": [{"SerialNumber": "AB12", "nested": {"WWN": "5000AB12", "x": "iqn-ab12-y"}}],
            "accessToken": "T0KEN-1", "Password": "pw1", "name": "disk 1", "id": 1234}
    redactor = dump.redactor_for([body])
    out = redactor.redact(body)
    assert out["a"][0]["SerialNumber"] == "REDACTED"
    assert out["a"][0]["nested"] == {"WWN": "REDACTED", "x": "iqn-REDACTED-y"}
    assert out["accessToken"] == "REDACTED" and out["Password"] == "REDACTED"
    assert out["name"] == "disk 1" and out["id"] == 1234


def test_unknown_array_is_a_usage_error(simulators, tmp_path, capsys) -> None:
    config = write_config(tmp_path / "c.yml", {"arr": simulators("san")})
    assert run_dump(f"--config.file={config}", "--array=nope", f"--out={tmp_path / 'o'}") == 1
    err = capsys.readouterr().err
    assert "no array named 'nope'" in err and "arr" in err
    assert not (tmp_path / "o").exists()


def test_missing_arguments_are_a_usage_error(tmp_path, capsys) -> None:
    assert run_dump("--array=a") == 1
    err = capsys.readouterr().err
    assert "--config.file, --out required" in err


def test_bad_config_is_a_usage_error(tmp_path, capsys) -> None:
    config = tmp_path / "c.yml"
    config.write_text("arrays: []\n")
    assert run_dump(f"--config.file={config}", "--array=a", f"--out={tmp_path / 'o'}") == 1
    assert "invalid configuration" in capsys.readouterr().err


def test_rejected_login_is_an_error_and_never_prints_the_password(simulators, tmp_path,
                                                                  capsys) -> None:
    sim = simulators("fas")
    config = write_config(tmp_path / "c.yml", {"arr": sim}, password="wrong-password-42")
    assert run_dump(f"--config.file={config}", "--array=arr", f"--out={tmp_path / 'o'}") == 1
    stdout, stderr = capsys.readouterr()
    assert "could not log in" in stderr and f"HTTP {REFUSED_STATUS}" in stderr
    assert "wrong-password-42" not in stdout + stderr


def test_unreachable_array_is_an_error(simulators, tmp_path, capsys) -> None:
    sim = simulators("san")
    config = write_config(tmp_path / "c.yml", {"arr": sim}, timeout_seconds=2)
    sim.stop()
    assert run_dump(f"--config.file={config}", "--array=arr", f"--out={tmp_path / 'o'}") == 1
    # api: auto (the default) probes first; the probe names what went wrong.
    assert "cannot tell its API flavour" in capsys.readouterr().err
    config = write_config(tmp_path / "u.yml", {"arr": sim}, timeout_seconds=2, api="unified")
    assert run_dump(f"--config.file={config}", "--array=arr", f"--out={tmp_path / 'o'}") == 1
    assert "could not log in: " in capsys.readouterr().err


def test_the_cli_subcommand_runs_the_dump(simulators, tmp_path, capsys) -> None:
    """`qsan-exporter dump ...` as typed by an admin (SPEC §1) reaches the same code."""
    from qsan_exporter.cli import main

    sim = simulators("fas", enclosures=1, disks=8, pools=1, volumes=2)
    config = write_config(tmp_path / "c.yml", {"arr": sim})
    out = tmp_path / "out"
    assert main(["dump", f"--config.file={config}", "--array=arr", f"--out={out}"]) == 0
    stdout = capsys.readouterr().out
    assert json.loads((out / "index.json").read_text())["array"] == "arr"
    assert re.search(r"^\[1/\d+\] GET /rest/v1/hardware/info \.\.\. 200", stdout, re.M)
    assert main(["dump", f"--config.file={config}", "--array=nope", f"--out={out}"]) == 1


@pytest.mark.parametrize("api", ["legacy", "auto"])
def test_dump_of_a_sanos4_legacy_array(simulators, tmp_path, capsys, api) -> None:
    """The legacy endpoints the translation reads, redacted the same way; auto detects it."""
    from qsan_exporter.api.legacy.source import ENDPOINTS

    sim = simulators("legacy", enclosures=1, disks=8, pools=1, volumes=2)
    config = write_config(tmp_path / "c.yml", {"arr": sim}, api=api)
    out = tmp_path / "out"
    assert run_dump(f"--config.file={config}", "--array=arr", f"--out={out}") == 0
    stdout, stderr = capsys.readouterr()
    assert "array arr: legacy API" in stdout
    index = json.loads((out / "index.json").read_text())
    endpoints = {e["endpoint"]: e for e in index["endpoints"]}
    assert set(endpoints) == {"/rest/", *ENDPOINTS.values(), "/rest/log/list/1"}
    assert all(e["status"] == 200 for e in endpoints.values()), endpoints
    assert {e["file"] for e in endpoints.values()} >= {"rest-help.json",
                                                       "storage_diskinfo.json"}
    text = all_text(out)
    for secret in (*serials_of(sim), PASSWORD):
        assert secret.lower() not in text.lower(), f"{secret} leaked into the dump"
        assert secret not in stdout + stderr
    assert "REDACTED" in text
    lines = [line for line in stdout.splitlines() if line.startswith("[")]
    assert len(lines) == len(endpoints)
    assert sim.stats.requests_by_path.get("/rest/v1/hardware/info", 0) == (api == "auto")


def test_dump_needs_only_its_own_arrays_secret_and_speaks_as_a_one_shot(
    simulators, tmp_path, capsys, monkeypatch
) -> None:
    monkeypatch.delenv("QSAN_DUMP_OTHER_PW", raising=False)
    good, wrong = simulators("san"), simulators("nas")
    config = tmp_path / "c.yml"
    config.write_text(
        "defaults: {username: monitor}\narrays:\n"
        f"  - {{name: mine, url: '{good.url}', password: {PASSWORD}}}\n"
        f"  - {{name: wrong, url: '{wrong.url}', password: not-the-password}}\n"
        f"  - {{name: other, url: '{good.url}', password: '${{QSAN_DUMP_OTHER_PW}}'}}\n")
    config.chmod(0o600)
    assert run_dump(f"--config.file={config}", "--array=mine", f"--out={tmp_path / 'o'}") == 0
    assert "wrote" in capsys.readouterr().out
    assert run_dump(f"--config.file={config}", "--array=wrong", f"--out={tmp_path / 'w'}") == 1
    err = capsys.readouterr().err
    assert f"rejected (HTTP {REFUSED_STATUS}): check username and password" in err
    assert "next attempt" not in err  # a one-shot tool has no next attempt
    # The array whose secret is unset is still named as a config problem when asked for.
    assert run_dump(f"--config.file={config}", "--array=other", f"--out={tmp_path / 'x'}") == 1
    assert "QSAN_DUMP_OTHER_PW" in capsys.readouterr().err


def test_every_request_failing_exits_non_zero(simulators, tmp_path, capsys) -> None:
    sim = simulators("san")
    sim.faults.add(Fault("status", "/rest/v1/*", status=500))
    config = write_config(tmp_path / "c.yml", {"arr": sim}, api="unified")
    assert run_dump(f"--config.file={config}", "--array=arr", f"--out={tmp_path / 'o'}") == 1
    assert "every request failed" in capsys.readouterr().err
    assert sim.live_token_sets() == 0
