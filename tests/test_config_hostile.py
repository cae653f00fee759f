"""Configs a careless operator or an attacker writes: each refused by `--config.check` with exit 1
and one line naming the key, never a traceback, never a password echoed."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
import yaml

from qsan_exporter.cli import main
from qsan_exporter.config import ConfigError, load_config

SECRET = "s3cr3t-in-url"


def write(tmp_path: Path, array: dict, name: str = "config.yml") -> Path:
    path = tmp_path / name
    fields = {"name": "a", "url": "https://10.0.0.1", "username": "u", "password": "p", **array}
    path.write_text(yaml.safe_dump({"arrays": [{k: v for k, v in fields.items()
                                                if v is not None}]}))
    os.chmod(path, 0o600)
    return path


def check(path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """--config.check's problems; asserts exit 1 and no traceback."""
    assert main(["--config.file", str(path), "--config.check"]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert out == ""
    lines = err.splitlines()
    assert lines[0].endswith("invalid configuration:"), err
    assert all(line.startswith("  - ") for line in lines[1:]), err
    return [line[4:] for line in lines[1:]]


@pytest.mark.parametrize(("key", "text"), [
    ("interval_seconds", ".inf"), ("interval_seconds", ".nan"), ("timeout_seconds", "-.inf"),
    ("interval_seconds", "12345678901234567890123456"), ("backoff_max_seconds", ".nan"),
    ("max_concurrent_requests", "100000000000000000000000000"), ("max_response_mib", "0"),
    ("max_response_mib", ".inf"), ("timeout_seconds", "0"),
])
def test_numbers_must_be_finite_and_sane(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         key: str, text: str) -> None:
    path = tmp_path / "config.yml"
    path.write_text("arrays:\n- {name: a, url: 'https://10.0.0.1', username: u, password: p, "
                    f"{key}: {text}}}\n")
    (problem,) = check(path, capsys)
    assert problem.startswith(f"array 'a': {key} must be "), problem
    assert len(problem) < 160


@pytest.mark.parametrize("url", ["https://[::1", "https://[::1]:99999", "https://a:0",
                                 "https://a:port", "https://", "ftp://a", "https://a/path",
                                 "http://[fe80::1%eth0", "https://a b"])
def test_urls_parsed_as_requests_will(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      url: str) -> None:
    (problem,) = check(write(tmp_path, {"url": url}), capsys)
    assert problem.startswith("array 'a': url "), problem


def test_ipv6_and_port_urls_accepted(tmp_path: Path) -> None:
    for url in ("https://[fd00::1]", "https://[fd00::1]:8443", "http://array.example:8080/"):
        assert load_config(write(tmp_path, {"url": url})).arrays[0].url == url.rstrip("/")


def test_credentials_in_the_url_refused_without_echoing_them(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, {"url": f"https://monitor:{SECRET}@10.0.0.1"})
    (problem,) = check(path, capsys)
    assert "username" in problem and "password_file" in problem
    assert SECRET not in problem
    # Also a URL that is broken and holds credentials: still not echoed.
    (problem,) = check(write(tmp_path, {"url": f"https://monitor:{SECRET}@[::1"}), capsys)
    assert SECRET not in problem


@pytest.mark.parametrize("content", [b"\x00" * 100, b"\xff\xfe\x00pw", b"pa\xe9ss\n"])
def test_password_file_must_be_small_utf8_text(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str],
                                               content: bytes) -> None:
    secret = tmp_path / "pw"
    secret.write_bytes(content)
    secret.chmod(0o600)
    (problem,) = check(write(tmp_path, {"password": None, "password_file": str(secret)}), capsys)
    assert problem.startswith("array 'a': password_file "), problem


def test_password_file_read_with_a_size_limit(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    for device in ("/dev/zero", "/dev/urandom"):
        config = write(tmp_path, {"password": None, "password_file": device})
        (problem,) = check(config, capsys)
        assert "larger than 4096 bytes" in problem or "not UTF-8" in problem, problem


def test_yaml_alias_bomb_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    path = tmp_path / "bomb.yml"
    path.write_text("\n".join(lines) + "\n")
    assert len(path.read_bytes()) < 500  # 9^9 = 387 420 489 strings once expanded
    (problem,) = check(path, capsys)
    assert "aliases expand to more than" in problem


def test_non_utf8_and_oversized_configs(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "latin1.yml"
    path.write_bytes(b"arrays:\n- name: caf\xe9\n")
    (problem,) = check(path, capsys)
    assert "is not UTF-8 text" in problem
    assert load_error(Path("/dev/zero")).startswith("config file '/dev/zero' is larger than")


@pytest.mark.slow
def test_absurd_yaml_nesting_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "deep.yml"
    path.write_text("arrays: " + "[" * 20000 + "]" * 20000 + "\n")
    (problem,) = check(path, capsys)
    assert "nested too deep" in problem


def load_error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    (problem,) = info.value.problems
    return problem


def test_world_readable_password_file_warns(tmp_path: Path,
                                            caplog: pytest.LogCaptureFixture) -> None:
    secret = tmp_path / "pw"
    secret.write_text("pw\n")
    config = write(tmp_path, {"password": None, "password_file": str(secret)})
    secret.chmod(0o600)
    with caplog.at_level(logging.WARNING, logger="qsan_exporter.config"):
        load_config(config)
    assert not caplog.records
    secret.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="qsan_exporter.config"):
        assert load_config(config).arrays[0].password == "pw"
    assert [r.getMessage() for r in caplog.records] == [
        f"password_file {secret} is readable by every user on this host; chmod o-r it"]
