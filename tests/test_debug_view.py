"""`/probe?target=NAME&debug=true` (SPEC §3): the array's last poll in plain text, then its
metrics; every request of the poll is listed and no password or token appears."""

from __future__ import annotations

import re

import pytest

from tests.conftest import wait_for, write_config

PASSWORD = "secret-pw"  # conftest's simulators and write_config use it


def live_tokens(sim) -> set[str]:
    """Every token the simulated array has handed out and still holds."""
    return sim.held_tokens()


@pytest.mark.slow
def test_debug_view_lists_the_requests_of_the_last_poll_without_secrets(
    simulators, exporter, tmp_path
) -> None:
    sims = {"dbg-san": simulators("san"), "dbg-legacy": simulators("legacy")}
    config = write_config(tmp_path / "c.yml", sims, api="auto")
    e = exporter(f"--config.file={config}")
    e.wait_ready()
    for name, sim in sims.items():
        answer = e.get(f"/probe?target={name}&debug=true")
        assert answer.status_code == 200
        assert answer.headers["Content-Type"].startswith("text/plain")
        text = answer.text
        report, _, metrics = text.partition("Metrics of this array")
        requests = re.findall(r"^  \+\s*[0-9.]+ s  (GET|POST) +(\S+)  (\S+)  (\d+) bytes  "
                              r"[0-9.]+ ms$", report, re.M)
        listed = int(re.search(r"Requests of the last poll \((\d+)\)", report).group(1))
        assert len(requests) == listed >= 8, report
        paths = {(method, path, status) for method, path, status, _ in requests}
        if name == "dbg-san":
            assert ("POST", "/auth/get", "200") in paths
            assert ("GET", "/rest/v1/storage/disk/list", "200") in paths
            assert re.search(r"^Token: .*next refresh in \d+ min; expires in", report, re.M)
        else:  # the legacy login path holds the password: only its template is shown
            assert ("POST", "/rest/login/account/{user}/password/{password}", "200") in paths
            assert ("GET", "/rest/", "200") in paths
        assert sum(1 for _ in re.finditer(r"^  \w+ +ok +[0-9.]+ ms$", report, re.M)) == 7
        assert re.search(r"^Up: +yes$", report, re.M)
        assert re.search(r"^Backoff: +none", report, re.M)
        assert f'qsan_up{{array="{name}"}} 1.0' in metrics
        tokens = wait_for(lambda sim=sim: live_tokens(sim), 5, "the array's tokens")
        for secret in (PASSWORD, *tokens):
            assert secret not in text
    unknown = e.get("/probe?target=nope&debug=true")
    assert unknown.status_code == 400
