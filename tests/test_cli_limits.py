"""`--api.max-concurrent-requests` on the command line; the cap itself is shown against real
simulators in test_faults_e2e.py::test_global_request_cap_across_arrays."""

from __future__ import annotations

from qsan_exporter.cli import main


def test_negative_cap_is_a_usage_error(capsys) -> None:
    assert main(["--demo", "--api.max-concurrent-requests=-1"]) == 1
    assert "--api.max-concurrent-requests must be >= 0" in capsys.readouterr().err
