"""Hostile clients against the real exporter: threads, fds, RSS and scrape latency per attack.

`python -m bench.hostile` starts `qsan-exporter --demo` in a subprocess under a file limit of
1,024, then runs each attack for a few seconds beside 4 Prometheus-like scrapers (and, for
`50 scrapers`, 50) and prints a markdown table: answered and failed scrapes, p50/p99 scrape
latency, and the exporter's peak threads, fds and RSS (from /proc), and its RSS after the attack.
The bcrypt flood runs against a second exporter with basic auth on. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import base64
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import bcrypt
import requests

PASSWORD = "bench-pass"


class Exporter:
    def __init__(self, extra: list[str], nofile: int = 1024) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        import resource

        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "qsan_exporter.cli", "--demo", "--log.level=error",
             f"--web.listen-address=127.0.0.1:{self.port}", *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=limit)
        for _ in range(300):
            with suppress(requests.RequestException):
                if requests.get(self.url + "/-/healthy", timeout=2,
                                auth=("prometheus", PASSWORD)).status_code == 200:
                    return
            time.sleep(0.1)
        raise SystemExit("the exporter did not start")

    def sample(self) -> tuple[int, int, int]:
        """threads, fds, RSS in MiB."""
        pid = self.proc.pid
        fields = dict(line.split(":", 1) for line in
                      Path(f"/proc/{pid}/status").read_text().splitlines())
        fds = len(list(Path(f"/proc/{pid}/fd").iterdir()))
        return int(fields["Threads"]), fds, int(fields["VmRSS"].split()[0]) // 1024

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def scrapers(url: str, count: int, stop: threading.Event, auth: tuple[str, str] | None
             ) -> tuple[list[float], list[int]]:
    times: list[float] = []
    failed: list[int] = []

    def run() -> None:
        session = requests.Session()
        while not stop.is_set():
            start = time.monotonic()
            try:
                ok = session.get(url + "/metrics", timeout=10, auth=auth).status_code == 200
            except requests.RequestException:
                ok = False
            (times.append(time.monotonic() - start) if ok else failed.append(1))

    threads = [threading.Thread(target=run, daemon=True) for _ in range(count)]
    for t in threads:
        t.start()
    return times, failed


def slowloris(port: int, stop: threading.Event) -> None:
    socks = []
    for _ in range(200):
        with suppress(OSError):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"GET /metrics HTTP/1.1\r\nHo")
            socks.append(s)
    stop.wait()
    for s in socks:
        s.close()


def idle(port: int, stop: threading.Event) -> None:
    socks = []
    for _ in range(1100):
        with suppress(OSError):
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=5))
    stop.wait()
    for s in socks:
        s.close()


def header_flood(port: int, stop: threading.Event) -> None:
    line = b"X-Flood: " + b"f" * 65000 + b"\r\n"
    socks = []
    for _ in range(100):
        with suppress(OSError):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"GET /metrics HTTP/1.1\r\n")
            socks.append(s)
    for s in socks:
        with suppress(OSError):
            for _ in range(99):
                s.sendall(line)
    stop.wait()
    for s in socks:
        s.close()


def bcrypt_flood(port: int, stop: threading.Event) -> None:
    def guess(n: int) -> None:
        session, i = requests.Session(), 0
        while not stop.is_set():
            i += 1
            token = base64.b64encode(f"prometheus:wrong-{n}-{i}".encode()).decode()
            with suppress(requests.RequestException):
                session.get(f"http://127.0.0.1:{port}/metrics", timeout=10,
                            headers={"Authorization": f"Basic {token}"})

    threads = [threading.Thread(target=guess, args=(n,), daemon=True) for n in range(64)]
    for t in threads:
        t.start()
    stop.wait()


def run_attack(exporter: Exporter, name: str, attack: Callable[[int, threading.Event], None]
               | None, seconds: float, scraper_count: int, auth: tuple[str, str] | None
               ) -> str:
    stop, scrape_stop = threading.Event(), threading.Event()
    attacker = None
    if attack is not None:
        attacker = threading.Thread(target=attack, args=(exporter.port, stop), daemon=True)
        attacker.start()
        time.sleep(1.0)
    times, failed = scrapers(exporter.url, scraper_count, scrape_stop, auth)
    peak = (0, 0, 0)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        peak = tuple(max(a, b) for a, b in zip(peak, exporter.sample(), strict=True))
        time.sleep(0.2)
    scrape_stop.set()
    stop.set()
    if attacker is not None:
        attacker.join(30)
    time.sleep(2.0)
    after = exporter.sample()
    ordered = sorted(times) or [0.0]
    p = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return (f"| {name} | {len(times)} | {len(failed)} | {p(0.5):.0f} | {p(0.99):.0f} | "
            f"{peak[0]} | {peak[1]} | {peak[2]} | {after[0]} / {after[1]} / {after[2]} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    rows = ["| attack | scrapes answered | failed | p50 ms | p99 ms | peak threads | peak fds "
            "| peak RSS MiB | after: threads / fds / RSS |",
            "|---|---|---|---|---|---|---|---|---|"]
    plain = Exporter(["--web.read-timeout=10"])
    try:
        base = plain.sample()
        rows.append(f"| (idle exporter) | | | | | {base[0]} | {base[1]} | {base[2]} | |")
        for name, attack, count in [
            ("none, 4 scrapers", None, 4), ("none, 50 scrapers", None, 50),
            ("200 slowloris", slowloris, 4), ("1,100 idle connections", idle, 4),
            ("100 unfinished 6 MB header floods", header_flood, 4),
        ]:
            rows.append(run_attack(plain, name, attack, args.seconds, count, None))
    finally:
        plain.stop()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "web.yml"
        hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(10)).decode()
        config.write_text(f"basic_auth_users:\n  prometheus: '{hashed}'\n")
        auth = Exporter([f"--web.config.file={config}"])
        try:
            rows.append(run_attack(auth, "64 threads of wrong passwords (bcrypt cost 10)",
                                   bcrypt_flood, args.seconds, 4, ("prometheus", PASSWORD)))
        finally:
            auth.stop()
    print("\n".join(rows))


if __name__ == "__main__":
    main()
