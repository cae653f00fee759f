"""Config loading: one YAML file per error case (tests/conffiles), every problem named."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from qsan_exporter.config import ArrayConfig, ConfigError, load_config, parse_config
from qsan_exporter.metrics import COLLECTOR_NAMES

CONFFILES = Path(__file__).parent / "conffiles"


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QSAN_TEST_PASSWORD", "s3cret-from-env")


def problems_of(name: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(CONFFILES / name)
    return info.value.problems


def test_good_config_merges_defaults_and_resolves_secrets() -> None:
    config = load_config(CONFFILES / "good.yml")
    san, nas = config.arrays
    assert san.name == "san-a" and san.url == "https://10.1.2.3"
    assert san.username == "monitor"
    assert san.password == "s3cret-from-file"  # trailing newline stripped
    assert san.interval_seconds == 30 and san.timeout_seconds == 5
    assert san.interval_for("tasks") == 300 and san.interval_for("disks") == 30
    assert san.collectors == COLLECTOR_NAMES
    assert san.labels == {"site": "dc1"}
    assert san.verify is True
    # Per-array credentials replace the defaults' password_file rather than clashing with it.
    assert nas.username == "other" and nas.password == "s3cret-from-env"
    assert nas.url == "http://nas-b.example.net:8080"
    assert nas.collectors == ("system", "pools")
    assert nas.verify is False


def test_password_is_not_in_repr() -> None:
    config = load_config(CONFFILES / "good.yml")
    assert "s3cret" not in repr(config)


def test_unknown_key_is_named_with_its_array() -> None:
    assert problems_of("unknown_key.yml") == [
        "array 'a': unknown key 'pasword' (did you mean 'password'?)"]


def test_duplicate_names() -> None:
    assert problems_of("duplicate_name.yml") == ["array 'a': duplicate name (names must be unique)"]


def test_bad_urls_each_reported() -> None:
    problems = problems_of("bad_url.yml")
    assert len(problems) == 3
    assert problems[0].startswith("array 'a': url 'ftp://a'")
    assert problems[1] == "array 'b': url must be scheme + host[:port] only, without a path"
    assert problems[2].startswith("array 'c': url '10.1.2.3'")


def test_missing_credentials() -> None:
    assert problems_of("missing_credentials.yml") == [
        "array 'a': password or password_file is required",
        "array 'b': username is required",
    ]


def test_every_problem_reported_at_once() -> None:
    problems = problems_of("many_problems.yml")
    text = "\n".join(problems)
    expected = [
        "defaults.colectors: unknown key",
        "array 'a': interval_seconds must be > 0 and <= 86400, got 0",
        "array 'b': collectors: unknown collector 'fans'",
        "array 'b': api must be one of unified, legacy, auto",
        "array 'c': timeout_seconds (60) must be below interval_seconds (30)",
        "array 'd': labels: 'array' is reserved by the exporter",
        "array 'd': labels: 'bad-name' is not a valid Prometheus label name",
        "array 'd': timezone 'Mars/Olympus' is not a known IANA time zone",
        "array 'e': verify_tls must be true or false, got str",
        "array 'e': password_file '/nonexistent/pw' cannot be read",
    ]  # array 'f' (api: legacy) is valid since the SANOS 4.0 API is supported
    for fragment in expected:
        assert fragment in text, f"missing problem: {fragment}\n--- got:\n{text}"
    assert len(problems) == len(expected)


def test_undefined_environment_variable_named() -> None:
    assert problems_of("undefined_env.yml") == [
        "array 'a': password refers to ${QSAN_SURELY_UNDEFINED_VAR}, which is not set"
    ]


def test_not_yaml_names_the_line() -> None:
    (problem,) = problems_of("not_yaml.yml")
    assert "not valid YAML at line" in problem


def test_no_arrays() -> None:
    assert problems_of("no_arrays.yml") == ["arrays: must be a non-empty list of arrays"]


def test_missing_file() -> None:
    (problem,) = problems_of("does_not_exist.yml")
    assert problem.startswith("config file ") and "cannot be read" in problem


def test_config_check_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    from qsan_exporter.cli import main

    assert main(["--config.file", str(CONFFILES / "good.yml"), "--config.check"]) == 0
    assert "OK, 2 array(s): san-a, nas-b" in capsys.readouterr().out
    assert main(["--config.file", str(CONFFILES / "many_problems.yml"), "--config.check"]) == 1
    err = capsys.readouterr().err
    assert "array 'c': timeout_seconds" in err and "defaults.colectors" in err


def test_world_readable_inline_password_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "c.yml"
    path.write_text("arrays: [{name: a, url: 'https://a', username: u, password: hunter2}]\n")
    os.chmod(path, 0o644)
    with caplog.at_level(logging.WARNING):
        load_config(path)
    assert "world-readable" in caplog.text and "hunter2" not in caplog.text
    caplog.clear()
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    with caplog.at_level(logging.WARNING):
        load_config(path)
    assert "world-readable" not in caplog.text


@pytest.mark.parametrize("api", ["unified", "legacy", "auto"])
def test_every_api_flavour_is_accepted(api: str) -> None:
    config = parse_config({"arrays": [{"name": "a", "url": "https://a", "username": "u",
                                       "password": "p", "api": api}]})
    assert config.arrays[0].api == api


def test_api_defaults_to_auto() -> None:
    config = parse_config({"arrays": [{"name": "a", "url": "https://a", "username": "u",
                                       "password": "p"}]})
    assert config.arrays[0].api == "auto"


def test_a_tab_is_called_a_tab() -> None:
    (problem,) = problems_of("tab_indent.yml")
    assert "at line 3, column 1: a tab character; YAML indents with spaces only" in problem


def test_key_typos_get_did_you_mean() -> None:
    assert problems_of("key_typo.yml") == [
        "defaults.pasword: unknown key (did you mean 'password'?)",
        "array 'a': unknown key 'usernme' (did you mean 'username'?)",
    ]


def test_shell_style_password_warns_with_the_supported_form(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        config = load_config(CONFFILES / "shell_style_password.yml")
    # (the file's own world-readable warning, which depends on the checkout's umask, aside)
    warnings = {r.getMessage().split(":")[0]: r.getMessage() for r in caplog.records
                if r.getMessage().startswith("array ")}
    assert config.array("a").password == "${NAS_PW:-admin}"  # taken literally, hence the warning
    assert set(warnings) == {"array 'a'", "array 'b'", "array 'c'"}
    for name in ("a", "b"):
        assert "only the ${VAR} form is expanded" in warnings[f"array {name!r}"]
        assert warnings[f"array {name!r}"].endswith("write ${NAS_PW}")
    # A real password that merely holds a "$" is never quoted.
    assert "pa$word" not in caplog.text and warnings["array 'c'"].endswith("write ${VAR}")


def test_an_array_config_cannot_be_built_invalid() -> None:
    """Built in code (tests, tools, the demo), an ArrayConfig runs the checks a file gets."""
    with pytest.raises(ConfigError) as info:
        ArrayConfig(name="a", url="ftp://x", username="u", password="p", timeout_seconds=90.0,
                    api="rest", labels={"job": "x"})
    assert info.value.problems == [
        "array 'a': api must be one of unified, legacy, auto",
        "array 'a': url 'ftp://x' must be http(s)://host[:port]",
        "array 'a': timeout_seconds (90.0) must be below interval_seconds (60.0) so a poll can "
        "finish before the next one is due",
        "array 'a': labels: 'job' is reserved by the exporter",
    ]


def test_backoff_max_defaults_alike_from_a_file_and_in_code(tmp_path: Path) -> None:
    """One default (config_settings.py): 600 s, or the interval when it is longer."""
    for interval, expected in ((60.0, 600.0), (3600.0, 3600.0)):
        built = ArrayConfig(name="a", url="http://x", username="u", password="p",
                            interval_seconds=interval)
        parsed = parse_config({"arrays": [{"name": "a", "url": "http://x", "username": "u",
                                           "password": "p", "interval_seconds": interval}]})
        assert built.backoff_max_seconds == parsed.arrays[0].backoff_max_seconds == expected
        assert built == parsed.arrays[0]
