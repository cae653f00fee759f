"""The token ledger and its state files: owner-only, atomic, never trusted blindly, never a crash.

Issue 11 item 3: a crash must not leave a token set behind. Each array's possibly-live sets are
recorded in a state directory; the next client of the array adopts them (reusing the one in use,
revoking the rest). A bad file (corrupt, unreadable, someone else's, readable by others) is a
warning, never a traceback.
"""

from __future__ import annotations

import json
import logging
import os
import stat

import pytest
import responses

from qsan_exporter.api import token_store
from qsan_exporter.api.token_ledger import (
    REFRESH_TOKEN_LIFETIME_SECONDS,
    Held,
    TokenLedger,
    TokenSet,
    default_state_directory,
)
from tests.client_helpers import BASE, POOLS, T0, USER, Clock, add_login, calls_to, make

ACCESS, REFRESH = "ACCESS-SECRET-1", "REFRESH-SECRET-1"


def tokens(n: int = 1) -> TokenSet:
    return TokenSet(f"ACCESS-SECRET-{n}", f"REFRESH-SECRET-{n}", T0 + 3600, 3600.0)


def state_files(directory) -> list:
    return sorted(p for p in directory.iterdir())


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_recorded_set_is_an_owner_only_file_written_atomically(tmp_path) -> None:
    directory = tmp_path / "state"
    ledger = TokenLedger(directory, clock=Clock())
    account = ledger.account("array-1", BASE, USER)
    account.record([Held(BASE, USER, T0, tokens(), current=True)])
    [path] = state_files(directory)
    assert mode(directory) == 0o700 and mode(path) == 0o600
    assert path.name.startswith("tokens-") and "array-1" not in path.name
    document = json.loads(path.read_text())
    assert document["array"] == "array-1"
    assert document["sets"][0]["refresh"] == "REFRESH-SECRET-1"
    account.record([])
    assert state_files(directory) == []  # nothing held, nothing kept


def test_the_next_run_adopts_what_the_last_one_held(tmp_path) -> None:
    clock = Clock()
    first = TokenLedger(tmp_path, clock=clock).account("a", BASE, USER)
    first.record([Held(BASE, USER, T0, tokens(1), current=True),
                  Held(BASE, USER, T0, tokens(2)), Held(BASE, USER, T0)])
    # No release: the process was killed. The next one reads the file.
    ledger = TokenLedger(tmp_path, clock=clock)
    account = ledger.account("a", BASE, USER)
    assert account.others() == 3  # orphans count before anyone adopts them
    adopted = account.adopt()
    assert [(h.current, h.tokens is None) for h in adopted] == [
        (True, False), (False, False), (False, True)]
    assert adopted[0].tokens.refresh == "REFRESH-SECRET-1"
    assert account.others() == 0 and ledger.count("a") == 3


def test_sets_of_another_url_or_user_are_forgotten_with_a_warning(tmp_path, caplog) -> None:
    TokenLedger(tmp_path, clock=Clock()).account("a", "https://old.test", USER).record(
        [Held("https://old.test", USER, T0, tokens(), current=True)])
    account = TokenLedger(tmp_path, clock=Clock()).account("a", BASE, USER)
    with caplog.at_level(logging.WARNING):
        assert account.adopt() == []
    assert "another URL or user" in caplog.text


def test_a_released_client_leaves_its_sets_to_the_next_one_but_not_for_reuse(tmp_path) -> None:
    ledger = TokenLedger(tmp_path, clock=Clock())
    old = ledger.account("a", BASE, USER)
    new = ledger.account("a", BASE, USER)  # a reload built the replacement first
    old.record([Held(BASE, USER, T0, tokens(), current=True)])
    assert new.others() == 1  # counted against the replacement's budget meanwhile
    old.release()
    [held] = new.adopt()
    assert held.current is False  # its client revokes it; only a crash's set is reused


def test_unknown_sets_expire_with_the_refresh_token_lifetime(tmp_path) -> None:
    clock = Clock()
    TokenLedger(tmp_path, clock=clock).account("a", BASE, USER).record(
        [Held(BASE, USER, T0)])
    clock.now = T0 + REFRESH_TOKEN_LIFETIME_SECONDS - 1
    assert TokenLedger(tmp_path, clock=clock).account("a", BASE, USER).others() == 1
    clock.now = T0 + REFRESH_TOKEN_LIFETIME_SECONDS + 1
    assert TokenLedger(tmp_path, clock=clock).account("a", BASE, USER).others() == 0


def test_a_directory_of_ours_is_tightened_to_0700(tmp_path) -> None:
    tmp_path.chmod(0o755)
    (tmp_path / ".tokens-abc.tmp").write_text("half a write")  # a crash mid-write
    assert TokenLedger(tmp_path).directory == tmp_path
    assert mode(tmp_path) == 0o700
    assert not (tmp_path / ".tokens-abc.tmp").exists()


def test_an_unusable_directory_is_a_warning_and_memory_only(tmp_path, caplog) -> None:
    (tmp_path / "file").write_text("")
    with caplog.at_level(logging.WARNING):
        ledger = TokenLedger(tmp_path / "file" / "state")
    assert ledger.directory is None
    assert "cannot be used" in caplog.text
    account = ledger.account("a", BASE, USER)
    account.record([Held(BASE, USER, T0, tokens(), current=True)])
    assert ledger.count("a") == 1  # still counted, in memory


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_a_directory_of_someone_else_is_not_used(tmp_path, caplog) -> None:
    directory = tmp_path / "theirs"
    directory.mkdir(mode=0o700)
    os.chown(directory, 12345, 12345)
    with caplog.at_level(logging.WARNING):
        assert TokenLedger(directory).directory is None
    assert "owned by uid 12345" in caplog.text


def _planted(tmp_path, text: str | None = None) -> tuple[TokenLedger, os.PathLike]:
    """A ledger whose file for array "a" is replaced by `text` before it is read."""
    writer = TokenLedger(tmp_path, clock=Clock())
    writer.account("a", BASE, USER).record([Held(BASE, USER, T0, tokens(), current=True)])
    [path] = state_files(tmp_path)
    if text is not None:
        path.write_text(text)
    return TokenLedger(tmp_path, clock=Clock()), path


@pytest.mark.parametrize("text", ["{not json", "[]", '{"version": 99}', "\xff\xfe",
                                  '{"version": 1, "array": "b", "sets": []}',
                                  '{"version": 1, "array": "a", "sets": [{"url": 1}]}'])
def test_a_corrupt_file_is_a_warning_and_is_replaced(tmp_path, caplog, text) -> None:
    ledger, path = _planted(tmp_path, text)
    account = ledger.account("a", BASE, USER)
    with caplog.at_level(logging.WARNING):
        assert account.adopt() == []
    assert "ignored" in caplog.text
    account.record([Held(BASE, USER, T0, tokens(2), current=True)])
    assert json.loads(path.read_text())["sets"][0]["refresh"] == "REFRESH-SECRET-2"


def test_an_unreadable_file_is_a_warning(tmp_path, caplog, monkeypatch) -> None:
    ledger, path = _planted(tmp_path)
    real_open = os.open

    def refuse(file, *args, **kwargs):
        if os.fspath(file) == os.fspath(path):
            raise PermissionError(13, "Permission denied")
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(token_store.os, "open", refuse)
    with caplog.at_level(logging.WARNING):
        assert ledger.account("a", BASE, USER).adopt() == []
    assert "Permission denied" in caplog.text


def test_a_directory_or_oversized_file_in_its_place_is_a_warning(tmp_path, caplog) -> None:
    ledger, path = _planted(tmp_path)
    path.unlink()
    path.mkdir()
    with caplog.at_level(logging.WARNING):
        assert ledger.account("a", BASE, USER).adopt() == []
    assert "ignored: Is a directory" in caplog.text
    path.rmdir()
    path.write_text(" " * (token_store.MAX_FILE_BYTES + 1))
    path.chmod(0o600)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert TokenLedger(tmp_path, clock=Clock()).account("a", BASE, USER).adopt() == []
    assert "larger than" in caplog.text


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_a_file_of_someone_else_is_ignored(tmp_path, caplog) -> None:
    ledger, path = _planted(tmp_path)
    os.chown(path, 12345, 12345)
    with caplog.at_level(logging.WARNING):
        assert ledger.account("a", BASE, USER).adopt() == []
    assert "owned by uid 12345" in caplog.text


def test_a_file_others_could_read_is_revoked_not_reused(tmp_path, caplog) -> None:
    ledger, path = _planted(tmp_path)
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        [held] = ledger.account("a", BASE, USER).adopt()
    assert held.current is False
    assert "readable by others" in caplog.text


def test_default_state_directory() -> None:
    assert default_state_directory({"STATE_DIRECTORY": "/var/lib/q:/var/lib/r"}) == "/var/lib/q"
    assert default_state_directory({"XDG_STATE_HOME": "/x", "HOME": "/h"}) == "/x/qsan-exporter"
    assert default_state_directory({"HOME": "/h"}) == "/h/.local/state/qsan-exporter"


# --- the client with a state directory ----------------------------------------------------------


def test_after_a_crash_the_next_client_reuses_the_set_instead_of_logging_in(
        rsps, tmp_path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    clock = Clock()
    add_login(rsps, access=ACCESS, refresh=REFRESH)
    rsps.add(responses.GET, BASE + POOLS, json={})
    rsps.add(responses.POST, BASE + "/auth/revoke", json={})
    make(clock, ledger=TokenLedger(tmp_path, clock=clock), name="a").get(POOLS)
    # Killed: no close. The next process starts with the same state directory.
    clock.now += 600
    client = make(clock, ledger=TokenLedger(tmp_path, clock=clock), name="a")
    client.get(POOLS)
    assert len(calls_to(rsps, "/auth/get")) == 1  # reused: no login, no second set
    assert {c.request.headers["Authorization"] for c in calls_to(rsps, POOLS)} == {ACCESS}
    client.close()
    assert len(calls_to(rsps, "/auth/revoke")) == 1
    assert state_files(tmp_path) == []
    assert ACCESS not in caplog.text and REFRESH not in caplog.text


def test_after_a_crash_an_unusable_set_is_replaced_and_a_spare_one_revoked(
        rsps, tmp_path) -> None:
    clock = Clock()
    TokenLedger(tmp_path, clock=clock).account("a", BASE, USER).record([
        Held(BASE, USER, T0, tokens(1), current=True), Held(BASE, USER, T0, tokens(2))])
    rsps.add(responses.POST, BASE + "/auth/revoke", json={})
    rsps.add(responses.POST, BASE + "/auth/refresh", status=401, json={})
    rsps.add(responses.GET, BASE + POOLS, status=401, json={})  # the array forgot set 1
    rsps.add(responses.GET, BASE + POOLS, json={})
    add_login(rsps, access="ACCESS-NEW", refresh="REFRESH-NEW")
    client = make(clock, ledger=TokenLedger(tmp_path, clock=clock), name="a")
    client.get(POOLS)
    paths = [c.request.path_url for c in rsps.calls]
    assert paths == ["/auth/revoke", POOLS, "/auth/refresh", "/auth/get", POOLS]
    assert json.loads(calls_to(rsps, "/auth/revoke")[0].request.body) == {
        "refreshToken": "REFRESH-SECRET-2"}
    [path] = state_files(tmp_path)
    assert [s["refresh"] for s in json.loads(path.read_text())["sets"]] == ["REFRESH-NEW"]
