"""UnifiedClient against a mocked array (responses): token lifecycle, errors, stats, secrets."""

from __future__ import annotations

import base64
import json
import logging
import traceback

import pytest
import requests
import responses

from qsan_exporter.api.errors import (
    ApiAuthError,
    ApiError,
    ApiFormatError,
    ApiHTTPError,
    ApiUnreachable,
)
from qsan_exporter.api.stats import ApiStats
from qsan_exporter.api.unified.client import UnifiedClient
from tests.client_helpers import (
    BASE,
    PASSWORD,
    POOLS,
    T0,
    USER,
    Clock,
    add_login,
    add_refresh,
    auth_header,
    body_of,
    calls_to,
    make,
)


@pytest.fixture
def clock() -> Clock:
    return Clock()


# --- token lifecycle ---------------------------------------------------------------------------


def test_one_login_serves_many_gets(rsps, clock) -> None:
    add_login(rsps)
    rsps.add(responses.GET, BASE + POOLS, json={"pools": []})
    client = make(clock)
    assert not client.has_token
    for _ in range(5):
        clock.now += 60
        assert client.get(POOLS) == {"pools": []}
    assert client.has_token
    assert len(calls_to(rsps, "/auth/get")) == 1
    assert body_of(calls_to(rsps, "/auth/get")[0]) == {
        "user": USER, "password": PASSWORD, "offlineAccess": True}
    assert {auth_header(c) for c in calls_to(rsps, POOLS)} == {"ACCESS-1"}  # no "Bearer"
    assert client.stats.snapshot().logins == 1


def test_verify_and_timeout_reach_every_request(rsps, clock) -> None:
    add_login(rsps)
    rsps.add(responses.GET, BASE + POOLS, json={})
    make(clock, verify="/etc/qsan/ca.pem", timeout=3.5).get(POOLS)
    for call in rsps.calls:
        assert call.request.req_kwargs["verify"] == "/etc/qsan/ca.pem"
        assert call.request.req_kwargs["timeout"] == 3.5


def test_base64_password_encoding(rsps, clock) -> None:
    add_login(rsps)
    rsps.add(responses.GET, BASE + POOLS, json={})
    make(clock, password_encoding="base64").get(POOLS)
    sent = body_of(calls_to(rsps, "/auth/get")[0])["password"]
    assert sent == base64.b64encode(PASSWORD.encode()).decode()


def test_unknown_password_encoding_is_refused(clock) -> None:
    with pytest.raises(ValueError, match="password_encoding"):
        make(clock, password_encoding="md5")


@pytest.mark.parametrize(("lifetime", "quiet_at", "refresh_at"), [
    (3600, 3600 - 301, 3600 - 299),  # margin capped at 300 s
    (100, 49, 51),                   # margin = half the observed lifetime
])
def test_refresh_before_expiry(rsps, clock, lifetime, quiet_at, refresh_at) -> None:
    add_login(rsps, expire=T0 + lifetime)
    add_refresh(rsps, access="ACCESS-2", expire=T0 + refresh_at + lifetime)
    rsps.add(responses.GET, BASE + POOLS, json={})
    client = make(clock)
    client.get(POOLS)
    clock.now = T0 + quiet_at
    client.get(POOLS)
    assert calls_to(rsps, "/auth/refresh") == []
    clock.now = T0 + refresh_at
    client.get(POOLS)
    refreshes = calls_to(rsps, "/auth/refresh")
    assert len(refreshes) == 1
    assert body_of(refreshes[0]) == {"refreshToken": "R-1"}
    assert auth_header(calls_to(rsps, POOLS)[-1]) == "ACCESS-2"
    assert len(calls_to(rsps, "/auth/get")) == 1
    snap = client.stats.snapshot()
    assert (snap.logins, snap.refreshes) == (1, 1)


@pytest.mark.parametrize("skew", [7200.0, -1000.0])
def test_expiry_is_read_on_the_array_clock(rsps, clock, skew) -> None:
    """Array clock `skew` s off ours: the token lives 3600 s by ITS clock, as Date tells."""
    add_login(rsps, date=T0 + skew, expire=T0 + skew + 3600)
    add_refresh(rsps, expire=T0 + skew + 7200)
    rsps.add(responses.GET, BASE + POOLS, json={})
    client = make(clock)
    client.get(POOLS)
    clock.now = T0 + 2450  # 1150 s left in truth
    client.get(POOLS)
    assert calls_to(rsps, "/auth/refresh") == []
    clock.now = T0 + 3400  # 200 s left in truth
    client.get(POOLS)
    assert len(calls_to(rsps, "/auth/refresh")) == 1


def test_failed_early_refresh_keeps_the_still_valid_token(rsps, clock) -> None:
    add_login(rsps, expire=T0 + 3600)
    add_refresh(rsps, status=500)
    rsps.add(responses.GET, BASE + POOLS, json={})
    rsps.add(responses.POST, BASE + "/auth/revoke", json={})
    client = make(clock)
    client.get(POOLS)
    clock.now = T0 + 3500
    client.get(POOLS)  # refresh failed, token still good for 100 s
    assert auth_header(calls_to(rsps, POOLS)[-1]) == "ACCESS-1"
    assert len(calls_to(rsps, "/auth/get")) == 1
    # Expired and the refresh still fails: the set is replaced, the old one revoked first.
    clock.now = T0 + 3601
    add_login(rsps, access="ACCESS-3", refresh="R-3", expire=T0 + 7200)
    client.get(POOLS)
    paths = [c.request.path_url for c in rsps.calls][-4:]
    assert paths == ["/auth/refresh", "/auth/revoke", "/auth/get", POOLS]
    assert body_of(calls_to(rsps, "/auth/revoke")[0]) == {"refreshToken": "R-1"}
    assert auth_header(calls_to(rsps, POOLS)[-1]) == "ACCESS-3"


def test_proactive_refresh_rejected_logs_in_without_revoking(rsps, clock) -> None:
    add_login(rsps, expire=T0 + 3600)
    add_refresh(rsps, status=401)
    rsps.add(responses.GET, BASE + POOLS, json={})
    client = make(clock)
    client.get(POOLS)
    clock.now = T0 + 3500
    add_login(rsps, access="ACCESS-3", refresh="R-3", expire=T0 + 7200)
    client.get(POOLS)
    assert len(calls_to(rsps, "/auth/get")) == 2
    assert calls_to(rsps, "/auth/revoke") == []  # the rejected set is already dead
    assert auth_header(calls_to(rsps, POOLS)[-1]) == "ACCESS-3"


def test_login_without_refresh_token_logs_in_again_near_expiry(rsps, clock) -> None:
    add_login(rsps, refresh=None, expire=T0 + 3600)
    rsps.add(responses.GET, BASE + POOLS, json={})
    client = make(clock)
    client.get(POOLS)
    clock.now = T0 + 3500
    client.get(POOLS)
    assert len(calls_to(rsps, "/auth/get")) == 2
    assert calls_to(rsps, "/auth/refresh") == calls_to(rsps, "/auth/revoke") == []


def test_401_refreshes_once_and_retries(rsps, clock) -> None:
    add_login(rsps)
    add_refresh(rsps, access="ACCESS-2")
    rsps.add(responses.GET, BASE + POOLS, status=401, json={})
    rsps.add(responses.GET, BASE + POOLS, json={"pools": [1]})
    client = make(clock)
    assert client.get(POOLS) == {"pools": [1]}
    gets = calls_to(rsps, POOLS)
    assert [auth_header(c) for c in gets] == ["ACCESS-1", "ACCESS-2"]
    snap = client.stats.snapshot()
    assert (snap.logins, snap.refreshes) == (1, 1)
    assert snap.requests[(POOLS, "401")] == 1 and snap.requests[(POOLS, "200")] == 1


def test_401_with_refresh_rejected_logs_in_once(rsps, clock) -> None:
    add_login(rsps)
    add_login(rsps, access="ACCESS-3", refresh="R-3")
    add_refresh(rsps, status=401)
    rsps.add(responses.GET, BASE + POOLS, json={})
    rsps.add(responses.GET, BASE + POOLS, status=401, json={})
    rsps.add(responses.GET, BASE + POOLS, json={"ok": True})
    client = make(clock)
    client.get(POOLS)
    assert client.get(POOLS) == {"ok": True}
    paths = [c.request.path_url for c in rsps.calls]
    assert paths == ["/auth/get", POOLS, POOLS, "/auth/refresh", "/auth/get", POOLS]
    assert auth_header(calls_to(rsps, POOLS)[-1]) == "ACCESS-3"
    assert client.stats.snapshot().logins == 2


def test_refresh_not_understood_revokes_the_old_set_before_logging_in(rsps, clock) -> None:
    add_login(rsps)
    add_refresh(rsps, status=400)
    rsps.add(responses.POST, BASE + "/auth/revoke", json={})
    rsps.add(responses.GET, BASE + POOLS, status=401, json={})
    rsps.add(responses.GET, BASE + POOLS, json={})
    client = make(clock)
    add_login(rsps, access="ACCESS-3", refresh="R-3")
    client.get(POOLS)
    paths = [c.request.path_url for c in rsps.calls]
    # 400 to both spellings of the body key (readings.py `refresh-body-key`), then revoked.
    assert paths == ["/auth/get", POOLS, "/auth/refresh", "/auth/refresh", "/auth/revoke",
                     "/auth/get", POOLS]
    assert [body_of(c) for c in calls_to(rsps, "/auth/refresh")] == [
        {"refreshToken": "R-1"}, {"refreshToken ": "R-1"}]
    assert body_of(calls_to(rsps, "/auth/revoke")[0]) == {"refreshToken": "R-1"}


def test_still_401_after_refresh_is_an_auth_error(rsps, clock) -> None:
    add_login(rsps)
    add_refresh(rsps)
    rsps.add(responses.GET, BASE + POOLS, status=401, json={})
    with pytest.raises(ApiAuthError, match=USER):
        make(clock).get(POOLS)
    assert len(calls_to(rsps, POOLS)) == 2


def test_still_401_after_relogin_is_an_auth_error(rsps, clock) -> None:
    add_login(rsps)
    add_refresh(rsps, status=401)
    rsps.add(responses.GET, BASE + POOLS, status=401, json={})
    with pytest.raises(ApiAuthError):
        make(clock).get(POOLS)
    assert len(calls_to(rsps, "/auth/get")) == 2
    assert len(calls_to(rsps, POOLS)) == 2


@pytest.mark.parametrize("status", [401, 403])
def test_login_rejected_names_the_user(rsps, clock, status) -> None:
    add_login(rsps, status=status)
    client = make(clock)
    with pytest.raises(ApiAuthError, match=f"'{USER}'.*HTTP {status}"):
        client.get(POOLS)
    assert not client.has_token
    assert client.stats.snapshot().logins == 0
    assert calls_to(rsps, POOLS) == []


# --- the manual's two readings of the auth calls (readings.py AUTH_READINGS) --------------------


def wants_key(key: str, answer: dict[str, object] | None = None):
    """A responses callback for an array that reads the refresh token under `key` only."""
    def callback(request):
        body = json.loads(request.body)
        if key not in body:
            return 400, {}, json.dumps({"error": "refreshToken is required"})
        return 200, {}, json.dumps(answer if answer is not None else {})
    return callback


@pytest.mark.parametrize("literal", [False, True])
def test_refresh_body_key_both_spellings_and_remembered(rsps, clock, literal) -> None:
    """`refresh-body-key`: the table's spelling first; a 400 is retried once with the
    example's, which is then kept for every refresh and revoke of this array."""
    key = "refreshToken " if literal else "refreshToken"
    add_login(rsps, expire=T0 + 100)
    rsps.add_callback(responses.POST, BASE + "/auth/refresh", callback=wants_key(
        key, {"accessToken": "ACCESS-2", "expireTime": int(T0 + 10_000)}))
    rsps.add_callback(responses.POST, BASE + "/auth/revoke", callback=wants_key(key))
    rsps.add(responses.GET, BASE + POOLS, json={})
    client = make(clock)
    client.get(POOLS)
    clock.now = T0 + 60
    client.get(POOLS)
    clock.now = T0 + 9_900
    client.get(POOLS)
    client.close()
    sent = [(c.request.path_url, next(iter(body_of(c)))) for c in rsps.calls
            if c.request.path_url != POOLS and c.request.path_url != "/auth/get"]
    if literal:
        assert sent == [("/auth/refresh", "refreshToken"), ("/auth/refresh", "refreshToken "),
                        ("/auth/refresh", "refreshToken "), ("/auth/revoke", "refreshToken ")]
    else:
        assert sent == [("/auth/refresh", "refreshToken"), ("/auth/refresh", "refreshToken"),
                        ("/auth/revoke", "refreshToken")]
    assert client.refresh_key == key
    assert client.stats.snapshot().refreshes == 2
    assert len(calls_to(rsps, "/auth/get")) == 1  # the spelling cost a request, not a login


def test_revoke_body_key_retried_with_the_other_spelling(rsps, clock) -> None:
    add_login(rsps)
    rsps.add_callback(responses.POST, BASE + "/auth/revoke", callback=wants_key("refreshToken "))
    rsps.add(responses.GET, BASE + POOLS, json={})
    client = make(clock)
    client.get(POOLS)
    client.close()
    assert [body_of(c) for c in calls_to(rsps, "/auth/revoke")] == [
        {"refreshToken": "R-1"}, {"refreshToken ": "R-1"}]
    assert client.refresh_key == "refreshToken "


def test_a_remembered_spelling_is_given_up_when_the_array_changes_its_mind(rsps, clock) -> None:
    """A firmware update may change the reading: a 400 to the kept spelling tries the other."""
    add_login(rsps, expire=T0 + 100)
    rsps.add_callback(responses.POST, BASE + "/auth/refresh", callback=wants_key(
        "refreshToken ", {"accessToken": "ACCESS-2", "expireTime": int(T0 + 200)}))
    rsps.add(responses.GET, BASE + POOLS, json={})
    client = make(clock)
    client.get(POOLS)
    clock.now = T0 + 60
    client.get(POOLS)
    assert client.refresh_key == "refreshToken "
    rsps.replace(responses.POST, BASE + "/auth/refresh", json={
        "accessToken": "ACCESS-3", "expireTime": int(T0 + 400)})  # reads both now
    clock.now = T0 + 160
    client.get(POOLS)
    assert client.refresh_key == "refreshToken "  # no 400: nothing to relearn
    assert auth_header(calls_to(rsps, POOLS)[-1]) == "ACCESS-3"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_any_4xx_refusing_a_login_spends_the_login_budget(rsps, clock, status) -> None:
    """`login-refused-status`: a wrong password answered 400 costs what a 401 costs."""
    add_login(rsps, status=status)
    client = make(clock)
    with pytest.raises(ApiAuthError, match=f"'{USER}'.*rejected.*HTTP {status}"):
        client.get(POOLS)
    clock.now += 60
    with pytest.raises(ApiAuthError, match="suspended"):
        client.get(POOLS)
    assert len(calls_to(rsps, "/auth/get")) == 1
    assert client.guard.login_failures_total == 1


def test_a_rate_limited_login_does_not_spend_the_budget(rsps, clock) -> None:
    rsps.add(responses.POST, BASE + "/auth/get", status=429, json={},
             headers={"Retry-After": "30"})
    client = make(clock)
    with pytest.raises(ApiAuthError, match="HTTP 429"):
        client.get(POOLS)
    assert client.guard.login_failures_total == 0
    assert client.guard.not_before == pytest.approx(T0 + 30)


# --- token sets bounded whatever fails -----------------------------------------------------------


def offline_flags(rsps: responses.RequestsMock) -> list[object]:
    return [body_of(c)["offlineAccess"] for c in calls_to(rsps, "/auth/get")]


def test_sets_that_cannot_be_revoked_stop_the_client_asking_for_more(rsps, clock) -> None:
    """Refresh not understood and revoke refused: the replaced sets may still be live, so
    after two of them the client logs in without offline access (no new set) until they go."""
    for n in (1, 2, 3):
        add_login(rsps, access=f"ACCESS-{n}", refresh=f"R-{n}")
    rsps.add(responses.POST, BASE + "/auth/refresh", status=400, json={})
    rsps.add(responses.POST, BASE + "/auth/revoke", status=500, json={})
    rsps.add(responses.GET, BASE + POOLS, status=401, json={})
    rsps.add(responses.GET, BASE + POOLS, json={})
    client = make(clock)
    client.get(POOLS)  # login 1, then 401: R-1 retired (revoke fails), login 2
    rsps.add(responses.GET, BASE + POOLS, status=401, json={})
    rsps.add(responses.GET, BASE + POOLS, json={})
    client.get(POOLS)  # 401: R-2 retired too; two may be live: login 3 asks for no set
    assert offline_flags(rsps) == [True, True, False]
    revoked = {body_of(c).get("refreshToken") for c in calls_to(rsps, "/auth/revoke")}
    assert revoked == {"R-1", "R-2"}
    # The array takes revokes again: the next login sweeps both and asks for a set again.
    rsps.replace(responses.POST, BASE + "/auth/revoke", json={})
    add_login(rsps, access="ACCESS-4", refresh="R-4")
    rsps.add(responses.GET, BASE + POOLS, status=401, json={})
    rsps.add(responses.GET, BASE + POOLS, json={})
    client.get(POOLS)
    assert offline_flags(rsps)[-1] is True


def test_a_rotated_refresh_token_is_revoked_too(rsps, clock) -> None:
    """The manual's refresh answer has no refreshToken; an array that sends a new one should
    have killed the old, and a revoke makes sure (401: it had)."""
    add_login(rsps, expire=T0 + 100)
    rsps.add(responses.POST, BASE + "/auth/refresh", json={
        "accessToken": "ACCESS-2", "refreshToken": "R-2", "expireTime": int(T0 + 3600)})
    rsps.add(responses.POST, BASE + "/auth/revoke", status=401, json={})
    rsps.add(responses.GET, BASE + POOLS, json={})
    client = make(clock)
    client.get(POOLS)
    clock.now = T0 + 60
    client.get(POOLS)
    assert [body_of(c) for c in calls_to(rsps, "/auth/revoke")] == [{"refreshToken": "R-1"}]
    rsps.replace(responses.POST, BASE + "/auth/revoke", json={})
    client.close()
    assert body_of(calls_to(rsps, "/auth/revoke")[-1]) == {"refreshToken": "R-2"}


@pytest.mark.parametrize(("failure", "counted"), [
    (requests.ReadTimeout("no answer"), True),  # the array may have made a set
    ("garbled", True),
    (requests.ConnectTimeout("never connected"), False),
])
def test_a_login_whose_answer_was_lost_counts_as_a_set(rsps, clock, failure, counted) -> None:
    if failure == "garbled":
        rsps.add(responses.POST, BASE + "/auth/get", body="<html>", status=200)
    else:
        rsps.add(responses.POST, BASE + "/auth/get", body=failure)
    client = make(clock)
    for _ in range(2):
        with pytest.raises(ApiError):
            client.get(POOLS)
    rsps.replace(responses.POST, BASE + "/auth/get", json={
        "accessToken": "A", "refreshToken": "R", "expireTime": int(T0 + 3600)})
    rsps.add(responses.GET, BASE + POOLS, json={})
    client.get(POOLS)
    assert offline_flags(rsps)[-1] is (not counted)


# --- close ---------------------------------------------------------------------------------------


def test_close_revokes_once_and_stops_the_client(rsps, clock) -> None:
    add_login(rsps)
    rsps.add(responses.GET, BASE + POOLS, json={})
    rsps.add(responses.POST, BASE + "/auth/revoke", json={})
    client = make(clock)
    client.get(POOLS)
    client.close()
    client.close()
    revokes = calls_to(rsps, "/auth/revoke")
    assert len(revokes) == 1
    assert body_of(revokes[0]) == {"refreshToken": "R-1"}
    assert not client.has_token
    before = len(rsps.calls)
    with pytest.raises(ApiUnreachable, match="closed"):
        client.get(POOLS)
    assert len(rsps.calls) == before  # no login after close: no token set left behind


def test_close_without_token_sends_nothing(rsps, clock) -> None:
    client = make(clock)
    client.close()
    assert len(rsps.calls) == 0


def test_close_survives_an_unreachable_array(rsps, clock) -> None:
    add_login(rsps)
    rsps.add(responses.GET, BASE + POOLS, json={})
    rsps.add(responses.POST, BASE + "/auth/revoke", body=requests.ConnectTimeout("x"))
    client = make(clock)
    client.get(POOLS)
    client.close()  # best effort: no exception
    assert client.stats.snapshot().requests[("/auth/revoke", "error")] == 1


# --- errors and stats ----------------------------------------------------------------------------


@pytest.mark.parametrize("failure", [
    requests.ReadTimeout("read timed out"),
    requests.ConnectTimeout("connect timed out"),
    requests.ConnectionError("connection refused"),
    requests.exceptions.SSLError("certificate verify failed"),
])
def test_transport_failures_are_unreachable(rsps, clock, failure) -> None:
    add_login(rsps)
    rsps.add(responses.GET, BASE + POOLS, body=failure)
    client = make(clock)
    with pytest.raises(ApiUnreachable, match=f"GET {POOLS} at {BASE}"):
        client.get(POOLS)
    assert client.stats.snapshot().requests[(POOLS, "error")] == 1


def test_a_body_cut_short_fails_that_endpoint_only(rsps, clock) -> None:
    # The array answered, then the body broke off: a bad answer, not a dead array.
    add_login(rsps)
    rsps.add(responses.GET, BASE + POOLS,
             body=requests.exceptions.ChunkedEncodingError("connection reset"))
    client = make(clock)
    with pytest.raises(ApiFormatError, match="cut short"):
        client.get(POOLS)
    assert client.stats.snapshot().requests[(POOLS, "error")] == 1


def test_unreachable_at_login(rsps, clock) -> None:
    rsps.add(responses.POST, BASE + "/auth/get", body=requests.ConnectionError("refused"))
    client = make(clock)
    with pytest.raises(ApiUnreachable, match="/auth/get"):
        client.get(POOLS)
    assert client.stats.snapshot().requests == {("/auth/get", "error"): 1}


@pytest.mark.parametrize(("body", "content_type"), [
    ("<html>maintenance</html>", "text/html"),
    ("42", "application/json"),
    ("", "application/json"),
])
def test_not_json_or_not_an_object_is_a_format_error(rsps, clock, body, content_type) -> None:
    add_login(rsps)
    rsps.add(responses.GET, BASE + POOLS, body=body, content_type=content_type)
    with pytest.raises(ApiFormatError, match=POOLS):
        make(clock).get(POOLS)


def test_list_answers_are_accepted(rsps, clock) -> None:
    add_login(rsps)
    rsps.add(responses.GET, BASE + "/rest/v1/hardware/all/info", json=[{"info": {}}])
    assert make(clock).get("/rest/v1/hardware/all/info") == [{"info": {}}]


def test_login_answer_without_access_token_fails_authentication(rsps, clock) -> None:
    # Any failure to log in fails the poll as a whole (qsan_up 0), not one collector.
    rsps.add(responses.POST, BASE + "/auth/get", json={"expireTime": T0 + 3600})
    with pytest.raises(ApiAuthError, match=r"could not log in: .*accessToken"):
        make(clock).get(POOLS)


@pytest.mark.parametrize("status", [403, 404, 500, 503, 302])
def test_other_statuses_are_http_errors(rsps, clock, status) -> None:
    add_login(rsps)
    rsps.add(responses.GET, BASE + POOLS, status=status, json={})
    with pytest.raises(ApiHTTPError) as raised:
        make(clock).get(POOLS)
    assert (raised.value.status, raised.value.endpoint) == (status, POOLS)
    assert calls_to(rsps, "/auth/refresh") == []


def test_stats_count_every_request_by_endpoint_and_code(rsps, clock) -> None:
    add_login(rsps)
    add_refresh(rsps)
    rsps.add(responses.GET, BASE + "/rest/v1/hardware/all/info", json=[])
    rsps.add(responses.GET, BASE + POOLS, status=401, json={})
    rsps.add(responses.GET, BASE + POOLS, json={})
    rsps.add(responses.GET, BASE + "/rest/v1/backup/cloud/list", status=404, json={})
    rsps.add(responses.GET, BASE + "/rest/v1/log/list", body=requests.ReadTimeout("t"))
    stats = ApiStats()
    client = make(clock, stats=stats)
    client.get("/rest/v1/hardware/all/info", params={"moreInfo": "true"})
    client.get("/rest/v1/hardware/all/info", params={"moreInfo": "true"})
    client.get(POOLS)
    with pytest.raises(ApiHTTPError):
        client.get("/rest/v1/backup/cloud/list")
    with pytest.raises(ApiUnreachable):
        client.get("/rest/v1/log/list", params={"startTime": 5})
    assert "moreInfo=true" in calls_to(rsps, "/rest/v1/hardware/all/info")[0].request.url
    snap = stats.snapshot()
    assert dict(snap.requests) == {
        ("/auth/get", "200"): 1,
        ("/rest/v1/hardware/all/info", "200"): 2,
        (POOLS, "401"): 1,
        ("/auth/refresh", "200"): 1,
        (POOLS, "200"): 1,
        ("/rest/v1/backup/cloud/list", "404"): 1,
        ("/rest/v1/log/list", "error"): 1,
    }
    assert (snap.logins, snap.refreshes) == (1, 1)


# --- secrets -------------------------------------------------------------------------------------


def test_password_and_tokens_never_reach_logs_or_errors(rsps, clock, caplog) -> None:
    """Plant the password everywhere a careless client could echo it, then look for it."""
    caplog.set_level(logging.DEBUG)
    secrets = [PASSWORD, base64.b64encode(PASSWORD.encode()).decode(), "ACCESS-1", "R-1",
               "ACCESS-2"]
    raised: list[BaseException] = []

    def attempt(client: UnifiedClient, path: str = POOLS) -> None:
        try:
            client.get(path)
        except ApiError as exc:
            raised.append(exc)

    leaky = f"POST /auth/get body={{'password': '{PASSWORD}'}} token ACCESS-1"
    # Login rejected with the password echoed in the body; then refused with a leaky exception.
    rsps.add(responses.POST, BASE + "/auth/get", status=401, body=leaky)
    for encoding in ("plain", "base64"):
        attempt(make(clock, password_encoding=encoding))
    rsps.replace(responses.POST, BASE + "/auth/get", body=requests.ConnectionError(leaky))
    attempt(make(clock))
    rsps.replace(responses.POST, BASE + "/auth/get", body=leaky, status=200)  # not JSON
    attempt(make(clock))
    rsps.replace(responses.POST, BASE + "/auth/get", status=500, body=leaky)
    attempt(make(clock))
    # A working client through refresh, errors with leaky bodies, and close.
    rsps.remove(responses.POST, BASE + "/auth/get")
    add_login(rsps)
    add_refresh(rsps)
    rsps.add(responses.POST, BASE + "/auth/revoke", status=500, body=leaky)
    rsps.add(responses.GET, BASE + POOLS, status=401, body=leaky)
    rsps.add(responses.GET, BASE + POOLS, body=leaky)  # not JSON
    rsps.add(responses.GET, BASE + "/rest/v1/x", status=500, body=leaky)
    rsps.add(responses.GET, BASE + "/rest/v1/y", body=requests.exceptions.SSLError(leaky))
    client = make(clock)
    attempt(client)
    attempt(client, "/rest/v1/x")
    attempt(client, "/rest/v1/y")
    shown = repr(client)
    client.close()
    attempt(client)

    assert len(raised) == 9
    texts = [shown, caplog.text]
    for exc in raised:
        texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    for text in texts:
        for secret in secrets:
            assert secret not in text
    assert USER in shown and "monitor" in str(raised[0])
