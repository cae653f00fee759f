"""LegacyClient against `responses`: login URL, session reuse, re-login, discovery, secrecy."""

from __future__ import annotations

import logging
import traceback

import pytest
import requests
import responses

from qsan_exporter.api.auto import AutoSource, flavour_from_probe
from qsan_exporter.api.errors import ApiAuthError, ApiError, ApiUnreachable
from qsan_exporter.api.legacy.client import LegacyClient
from qsan_exporter.api.legacy.redaction import LOGIN_TEMPLATE, install_log_redaction, redact

BASE = "https://legacy.example"
PASSWORD = "pä/ss%w#rd?x"
ENCODED = "p%C3%A4%2Fss%25w%23rd%3Fx"
LOGIN_URL = f"{BASE}/rest/login/account/monitor/password/{ENCODED}"
DISK = f"{BASE}/rest/storage/diskinfo"


def make(**kwargs: object) -> LegacyClient:
    return LegacyClient(BASE, "monitor", PASSWORD, **kwargs)  # type: ignore[arg-type]


def add_login(rsps: responses.RequestsMock, cookie: str = "S1", **kwargs: object) -> None:
    rsps.add(responses.POST, LOGIN_URL, json={"result": "success"},
             headers={"Set-Cookie": f"SANOS_SESSION={cookie}; Path=/"}, **kwargs)


def calls(rsps: responses.RequestsMock, method: str, prefix: str) -> list[responses.Call]:
    return [c for c in rsps.calls
            if c.request.method == method and c.request.url.startswith(BASE + prefix)]


def test_login_url_percent_encodes_every_special_character(rsps) -> None:
    add_login(rsps)
    rsps.add(responses.GET, DISK, json={"disks": []})
    assert make().get("/rest/storage/diskinfo") == {"disks": []}
    (login,) = calls(rsps, "POST", "/rest/login/")
    assert login.request.url == LOGIN_URL
    assert login.request.body is None  # the credentials are in the path, nothing in a body


def test_user_name_is_encoded_too(rsps) -> None:
    rsps.add(responses.POST, f"{BASE}/rest/login/account/a%2Fb%20c/password/pw",
             json={"result": "success"})
    rsps.add(responses.GET, DISK, json={})
    LegacyClient(BASE, "a/b c", "pw").get("/rest/storage/diskinfo")


def test_one_login_serves_many_gets_with_the_session_cookie(rsps) -> None:
    add_login(rsps)
    rsps.add(responses.GET, DISK, json={"disks": []})
    client = make()
    for _ in range(3):
        client.get("/rest/storage/diskinfo")
    assert len(calls(rsps, "POST", "/rest/login/")) == 1
    gets = calls(rsps, "GET", "/rest/storage/")
    assert len(gets) == 3
    assert all(c.request.headers["Cookie"] == "SANOS_SESSION=S1" for c in gets)
    assert client.stats.snapshot().logins == 1


def test_a_token_in_the_login_answer_is_sent_back(rsps) -> None:
    rsps.add(responses.POST, LOGIN_URL, json={"result": "success", "data": {"token": "T-9"}})
    rsps.add(responses.GET, DISK, json={})
    make().get("/rest/storage/diskinfo")
    assert calls(rsps, "GET", "/rest/storage/")[0].request.headers["Authorization"] == "T-9"


@pytest.mark.parametrize("expired", [
    {"status": 401, "json": {"result": "fail"}},
    {"status": 403, "json": {}},
    {"status": 302, "headers": {"Location": "/login.html"}, "body": ""},
    {"status": 200, "body": "<html><form action='login'>", "content_type": "text/html"},
])
def test_an_expired_session_logs_in_again_once_and_retries(rsps, expired) -> None:
    add_login(rsps, "S1")
    add_login(rsps, "S2")
    rsps.add(responses.GET, DISK, **expired)
    rsps.add(responses.GET, DISK, json={"disks": [1]})
    assert make().get("/rest/storage/diskinfo") == {"disks": [1]}
    assert len(calls(rsps, "POST", "/rest/login/")) == 2
    assert calls(rsps, "GET", "/rest/storage/")[-1].request.headers["Cookie"] == \
        "SANOS_SESSION=S2"


def test_still_refused_after_relogin_is_an_auth_error_not_a_loop(rsps) -> None:
    add_login(rsps)
    rsps.add(responses.GET, DISK, status=401, json={})
    with pytest.raises(ApiAuthError, match="still refused"):
        make().get("/rest/storage/diskinfo")
    assert len(calls(rsps, "POST", "/rest/login/")) == 2
    assert len(calls(rsps, "GET", "/rest/storage/")) == 2


@pytest.mark.parametrize("answer", [{"status": 401, "json": {}},
                                    {"status": 200, "json": {"result": "fail"}},
                                    {"status": 200, "json": {"success": False}}])
def test_rejected_login_blocks_further_logins(rsps, answer) -> None:
    rsps.add(responses.POST, LOGIN_URL, **answer)
    client = make()
    with pytest.raises(ApiAuthError, match="rejected"):
        client.get("/rest/storage/diskinfo")
    with pytest.raises(ApiAuthError, match="suspended"):
        client.get("/rest/storage/diskinfo")
    assert len(calls(rsps, "POST", "/rest/login/")) == 1


def test_a_missing_login_endpoint_is_an_auth_error_naming_the_template(rsps) -> None:
    rsps.add(responses.POST, LOGIN_URL, status=404, json={})
    with pytest.raises(ApiAuthError, match=r"HTTP 404 .*is this a QSAN array"):
        make().get("/rest/storage/diskinfo")


def test_discovery_reads_the_help_once_and_again_after_forget(rsps) -> None:
    add_login(rsps)
    rsps.add(responses.GET, f"{BASE}/rest/", json={"data": [
        {"method": "GET", "path": "/rest/storage/diskinfo"},
        {"method": "GET", "path": "/rest/dashboard/systeminfo"}]})
    client = make()
    words = client.offered()
    assert words is not None and {"diskinfo", "systeminfo"} <= words
    assert "poolinfo" not in words
    assert client.offered() == words
    assert len(calls(rsps, "GET", "/rest/")) == 1
    client.forget_discovery()
    client.offered()
    assert len(calls(rsps, "GET", "/rest/")) == 2


@pytest.mark.parametrize("help_answer", [{"status": 404, "json": {}},
                                         {"status": 200, "body": "not json"},
                                         {"status": 200, "json": {}}])
def test_unreadable_help_means_try_every_endpoint(rsps, help_answer) -> None:
    add_login(rsps)
    rsps.add(responses.GET, f"{BASE}/rest/", **help_answer)
    assert make().offered() is None


def test_no_post_other_than_login(rsps) -> None:
    """Every public call, a renewed session included, is a GET; the only POST is the login."""
    add_login(rsps)
    rsps.add(responses.GET, DISK, status=401)  # the array forgot the session: log in, retry
    rsps.add(responses.GET, DISK, json={"disks": []})
    rsps.add(responses.GET, f"{BASE}/rest/", json={"api": ["/rest/storage/diskinfo"]})
    rsps.add(responses.GET, f"{BASE}/rest/v1/hardware/info", status=404)
    client = make()
    client.get("/rest/storage/diskinfo")
    client.offered()
    client.help_words()
    client.probe("/rest/v1/hardware/info")
    client.close()
    sent = [(c.request.method, c.request.url) for c in rsps.calls]
    assert [url for method, url in sent if method != "GET"] == [LOGIN_URL, LOGIN_URL]
    # Two logins, the GET twice, GET /rest/ twice (offered, help_words), the probe.
    assert len(sent) == 7


def test_unreachable_array_message_has_no_url_or_password(rsps) -> None:
    rsps.add(responses.POST, LOGIN_URL, body=requests.ConnectionError(f"boom {LOGIN_URL}"))
    with pytest.raises(ApiUnreachable) as info:
        make().get("/rest/storage/diskinfo")
    text = "".join(traceback.format_exception(info.value))
    for secret in (PASSWORD, ENCODED, "pä"):
        assert secret not in text
    assert LOGIN_TEMPLATE in str(info.value)


def test_requests_are_counted_under_the_login_template(rsps) -> None:
    add_login(rsps)
    rsps.add(responses.GET, DISK, json={})
    client = make()
    client.get("/rest/storage/diskinfo")
    requests_seen = client.stats.snapshot().requests
    assert requests_seen == {(LOGIN_TEMPLATE, "200"): 1, ("/rest/storage/diskinfo", "200"): 1}


def test_password_never_logged_even_by_urllib3_at_debug(caplog) -> None:
    """urllib3 logs every request line at DEBUG; the filter rewrites the login path."""
    install_log_redaction()
    logger = logging.getLogger("urllib3.connectionpool")
    # logging_setup raises urllib3 to INFO; this test lowers it as a careless setup would.
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="urllib3"):
        logger.debug('%s://%s:%s "%s %s %s" %s %s', "https", "legacy.example", 443, "POST",
                     f"/rest/login/account/monitor/password/{ENCODED}", "HTTP/1.1", 200, 10)
    text = caplog.text
    assert ENCODED not in text and LOGIN_TEMPLATE in text
    assert redact(f"x /rest/login/account/u/password/{ENCODED} y") == f"x {LOGIN_TEMPLATE} y"


def test_password_not_in_any_log_record_of_a_real_login(rsps, caplog) -> None:
    add_login(rsps)
    rsps.add(responses.GET, DISK, status=401, json={})
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="urllib3"), \
            pytest.raises(ApiError):
        make().get("/rest/storage/diskinfo")
    for record in caplog.records:
        assert ENCODED not in record.getMessage() and PASSWORD not in record.getMessage()


@pytest.mark.parametrize(("status", "is_json", "flavour"), [
    (401, True, "unified"), (403, True, "unified"), (200, True, "unified"),
    (404, True, "legacy"), (404, False, "legacy"), (302, False, "legacy"),
    (200, False, "legacy"), (500, True, None), (429, False, None),
])
def test_flavour_from_probe(status, is_json, flavour) -> None:
    assert flavour_from_probe(status, is_json) == flavour


class _Fake:
    def __init__(self, name: str) -> None:
        self.name, self.fetched, self.fail_with = name, [], None

    def fetch(self, area: str) -> str:
        if self.fail_with is not None:
            raise self.fail_with
        self.fetched.append(area)
        return self.name

    def close(self) -> None:
        pass


def test_auto_source_probes_once_then_again_after_repeated_failures(rsps) -> None:
    rsps.add(responses.GET, f"{BASE}/rest/v1/hardware/info", status=404, json={})
    client = make()
    unified, legacy = _Fake("unified"), _Fake("legacy")
    auto = AutoSource(unified, _Fake("uc"), legacy, client)  # type: ignore[arg-type]
    assert auto.api is None
    assert auto.fetch("system") == "legacy" and auto.fetch("disks") == "legacy"
    assert auto.api == "legacy" and unified.fetched == []
    assert len(calls(rsps, "GET", "/rest/v1/")) == 1
    legacy.fail_with = ApiUnreachable("down")
    for _ in range(3):
        with pytest.raises(ApiUnreachable):
            auto.fetch("system")
    assert auto.api is None  # forgotten: the next fetch probes again
    legacy.fail_with = None
    auto.fetch("system")
    assert len(calls(rsps, "GET", "/rest/v1/")) == 2


def test_auto_source_checks_the_legacy_help_when_the_probe_says_401(rsps) -> None:
    rsps.add(responses.GET, f"{BASE}/rest/v1/hardware/info", status=401, json={})
    rsps.add(responses.GET, f"{BASE}/rest/", json={"apis": ["/rest/dashboard/systeminfo"]})
    auto = AutoSource(_Fake("unified"), _Fake("uc"), _Fake("legacy"),  # type: ignore[arg-type]
                      make())
    assert auto.fetch("system") == "legacy"
    assert not calls(rsps, "POST", "/")  # detection spends no login


def test_auto_source_undecided_probe_fails_the_poll_as_unreachable(rsps) -> None:
    rsps.add(responses.GET, f"{BASE}/rest/v1/hardware/info", status=502, json={})
    auto = AutoSource(_Fake("unified"), _Fake("uc"), _Fake("legacy"),  # type: ignore[arg-type]
                      make())
    with pytest.raises(ApiUnreachable, match="neither API flavour"):
        auto.fetch("system")
    assert auto.api is None
