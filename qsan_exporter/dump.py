"""`qsan-exporter dump`: save every GET answer the exporter reads from one array, for bug reports.

A bug report about a firmware's odd spelling needs the array's real answers, and an admin must
be able to attach them without leaking anything. So the dump:
- logs in with the array's configured credentials (the same clients the poller uses; `api: auto`
  probes the flavour first), GETs every endpoint the exporter reads - Unified, or for a SANOS
  4.0 array the legacy help page, dashboard/storage endpoints and first log page - and revokes
  its token (Unified) or drops its session (legacy) at the end;
- writes one JSON file per endpoint plus `index.json` (endpoint, file, status, bytes, error);
- redacts, at any depth, every value under a key naming a serial number, WWN, token, password
  or secret, and then every other occurrence of those values (an IQN embeds the enclosure serial,
  a WWN the serial too), case-insensitively, together with the configured password and the
  array's host name or address;
- goes on past failures: a task type the product lacks answers 404, which is worth recording.

Exit codes: 0 once the login worked (whatever the endpoints answered), 1 on a usage, config or
login error. Messages come from the API client, which never quotes a password or a token.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from qsan_exporter import __version__
from qsan_exporter.api.auto import detect
from qsan_exporter.api.errors import ApiError, ApiHTTPError
from qsan_exporter.api.legacy.client import HELP_PATH, LegacyClient
from qsan_exporter.api.legacy.source import LOG_TEMPLATE as LEGACY_LOG_TEMPLATE
from qsan_exporter.api.unified.client import UnifiedClient
from qsan_exporter.api.unified.source import LOG_PATH
from qsan_exporter.areas import AREAS
from qsan_exporter.config import ArrayConfig, ConfigError, load_config

EXIT_OK, EXIT_USAGE = 0, 1
REDACTED = "REDACTED"
# Keys whose values identify the hardware or grant access. Substring match, case-insensitive:
# serialNumber, diskSerial, wwn, wwpn, accessToken, refreshToken, password, chapSecret, ...
SENSITIVE_KEY = re.compile(r"serial|wwn|wwpn|token|passw|secret", re.IGNORECASE)
MIN_SCRUB_LENGTH = 4  # shorter values ("0", "1") would redact unrelated numbers
LOG_PAGE_SIZE = 1000
INDEX_FILE = "index.json"


@dataclass(frozen=True)
class Endpoint:
    path: str
    params: dict[str, str]

    @property
    def display(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.path}?{query}" if query else self.path

    @property
    def file_name(self) -> str:
        stem = self.path.removeprefix("/rest/v1/").removeprefix("/rest/").strip("/")
        stem = stem.replace("/", "_") or "rest-help"  # the legacy API's `GET /rest/`
        return re.sub(r"[^A-Za-z0-9_.-]", "-", stem) + ".json"


@dataclass
class Result:
    endpoint: Endpoint
    status: int | str  # HTTP status, or "error" when there was no usable answer
    body: Any = None
    error: str | None = None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # Checked in run(), not with required=True: argparse would exit 2, the CLI's usage code is 1.
    parser.add_argument("--config.file", dest="config_file", metavar="FILE",
                        help="the exporter's YAML config (required)")
    parser.add_argument("--array", metavar="NAME",
                        help="the `name:` of the array to dump (required)")
    parser.add_argument("--out", metavar="DIR",
                        help="directory to write the JSON files to, created if missing (required)")


def run(args: argparse.Namespace) -> int:
    array = _array_of(args)
    if array is None:
        return EXIT_USAGE
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"qsan-exporter dump: cannot create {out}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    results = _answers(array)
    if results is None:
        return EXIT_USAGE
    _write(array, results, out)
    failed = sum(1 for r in results if r.error is not None)
    print(f"wrote {len(results)} answers to {out}/ ({failed} failed), index in "
          f"{out / INDEX_FILE}")
    if results and failed == len(results):  # nothing to show for it: a script must notice
        print(f"qsan-exporter dump: array {array.name!r}: every request failed",
              file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _array_of(args: argparse.Namespace) -> ArrayConfig | None:
    """The array to dump, or None once the usage or config problem is printed."""
    missing = [flag for flag, value in (("--config.file", args.config_file),
                                        ("--array", args.array), ("--out", args.out)) if not value]
    if missing:
        print(f"qsan-exporter dump: {', '.join(missing)} required "
              "(qsan-exporter dump --config.file=FILE --array=NAME --out=DIR)", file=sys.stderr)
        return None
    try:
        # Only this array's settings are resolved: another array's unset secret is no concern.
        config = load_config(args.config_file, only=args.array)
    except ConfigError as exc:
        print(exc.report("qsan-exporter dump", args.config_file), file=sys.stderr)
        return None
    array = config.array(args.array)
    if array is None:
        known = ", ".join(_array_names(args.config_file))
        print(f"qsan-exporter dump: no array named {args.array!r} in {args.config_file} "
              f"(known: {known})", file=sys.stderr)
    return array


def _answers(array: ArrayConfig) -> list[Result] | None:
    """Every answer of the array's flavour; None once a login or probe failure is printed."""
    options: dict[str, Any] = {"verify": array.verify, "timeout": array.timeout_seconds,
                               "password_encoding": array.password_encoding}
    legacy = LegacyClient(array.url, array.username, array.password, **options)
    unified = UnifiedClient(array.url, array.username, array.password, **options)
    try:
        api = array.api
        if api == "auto":
            try:
                api = detect(legacy, array.name)
            except ApiError as exc:
                print(f"qsan-exporter dump: array {array.name!r}: cannot tell its API flavour: "
                      f"{exc}", file=sys.stderr)
                return None
        print(f"array {array.name}: {api} API", flush=True)
        return _dump_legacy(legacy) if api == "legacy" else _dump_unified(unified)
    finally:
        unified.close()  # revoke the token: the array keeps only ten per user
        legacy.close()


def _write(array: ArrayConfig, results: list[Result], out: Path) -> None:
    """One redacted JSON file per answer, and the index."""
    # The password, and the array's address (error texts name it; it maps the network).
    redactor = redactor_for((r.body for r in results),
                            (array.password, urlsplit(array.url).hostname))
    index = []
    for result in results:
        document: Any = (redactor.redact(result.body) if result.error is None
                         else {"endpoint": result.endpoint.display, "status": result.status,
                               "error": redactor.redact(result.error)})
        data = (json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
        (out / result.endpoint.file_name).write_text(data, encoding="utf-8")
        index.append({"endpoint": result.endpoint.display, "file": result.endpoint.file_name,
                      "status": result.status, "bytes": len(data.encode("utf-8")),
                      "error": redactor.redact(result.error)})
    summary = {
        "qsan_exporter_version": __version__,
        "array": array.name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "redacted": "values of keys matching " + SENSITIVE_KEY.pattern
                    + " and every other occurrence of them; the password",
        "endpoints": index,
    }
    (out / INDEX_FILE).write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n",
                                  encoding="utf-8")


def _dump_unified(client: UnifiedClient) -> list[Result] | None:
    plan = _unified_plan()
    first = _fetch(client, plan[0])
    if not client.has_token:
        print(f"qsan-exporter dump: could not log in: {first.error}", file=sys.stderr)
        return None
    return _fetch_all(client, plan, first)


def _dump_legacy(client: LegacyClient) -> list[Result] | None:
    """The help page, every endpoint the legacy translation reads, and the first log page."""
    first = _fetch(client, Endpoint(HELP_PATH, {}))
    if not client.has_session:
        print(f"qsan-exporter dump: could not log in: {first.error}", file=sys.stderr)
        return None
    # Per-item paths ({target_id}, {vdid}) need ids from other answers: the list answers that
    # name them are in the dump already.
    paths = [path for area in AREAS for path in area.legacy if "{" not in path]
    plan = [Endpoint(HELP_PATH, {}), *(Endpoint(path, {}) for path in paths),
            Endpoint(LEGACY_LOG_TEMPLATE.format(page=1), {})]
    return _fetch_all(client, plan, first)


def _fetch_all(client: UnifiedClient | LegacyClient, plan: list[Endpoint],
               first: Result) -> list[Result]:
    results = [first]
    _progress(1, len(plan), first)
    for number, endpoint in enumerate(plan[1:], start=2):
        result = _fetch(client, endpoint)
        results.append(result)
        _progress(number, len(plan), result)
    return results


def _unified_plan() -> list[Endpoint]:
    """Exactly the endpoints a poll reads (the areas table), with the parameters it sends."""
    params = {"/rest/v1/hardware/all/info": {"moreInfo": "true"},
              LOG_PATH: {"pageNumber": "1", "pageSize": str(LOG_PAGE_SIZE)}}
    return [Endpoint(path, params.get(path, {})) for area in AREAS for path in area.unified]


def _fetch(client: UnifiedClient | LegacyClient, endpoint: Endpoint) -> Result:
    try:
        if isinstance(client, LegacyClient):
            body = client.get(endpoint.path)
        else:
            body = client.get(endpoint.path, params=endpoint.params or None)
    except ApiHTTPError as exc:
        return Result(endpoint, exc.status, error=str(exc))
    except ApiError as exc:  # unreachable, refused login, not JSON: recorded, not fatal
        return Result(endpoint, "error", error=str(exc))
    return Result(endpoint, 200, body=body)


def _progress(number: int, total: int, result: Result) -> None:
    if result.error is None:
        size = len(json.dumps(result.body, ensure_ascii=False).encode("utf-8"))
        outcome = f"{result.status}, {size / 1024:.1f} KiB"
    else:
        outcome = f"{result.status}: {result.error}"
    print(f"[{number}/{total}] GET {result.endpoint.display} ... {outcome}", flush=True)


def _scrub_values(bodies: Iterable[Any]) -> set[str]:
    """Every value under a sensitive key, to redact wherever else it appears."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(key, str) and SENSITIVE_KEY.search(key):
                    found.update(_leaves(value))
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for body in bodies:
        walk(body)
    # A serial or token has digits; "None" or "Unknown" under such a key is a placeholder whose
    # every other occurrence must stay readable.
    return {v for v in found if len(v) >= MIN_SCRUB_LENGTH and any(c.isdigit() for c in v)}


def _leaves(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [leaf for value in node.values() for leaf in _leaves(value)]
    if isinstance(node, list):
        return [leaf for item in node for leaf in _leaves(item)]
    if node is None or isinstance(node, bool):
        return []
    return [str(node).strip()]


def redactor_for(bodies: Iterable[Any], also: Iterable[str | None] = ()) -> Redactor:
    """What redacts a dump: every value under a sensitive key of `bodies`, wherever it
    appears, and the values in `also`."""
    scrub = _scrub_values(bodies)
    scrub.update(v for v in also if v)
    return Redactor(scrub)


class Redactor:
    def __init__(self, values: set[str]) -> None:
        # Longest first, so a WWN "2000<serial>" goes whole rather than leaving "2000".
        ordered = sorted(values, key=len, reverse=True)
        self._pattern = (re.compile("|".join(re.escape(v) for v in ordered), re.IGNORECASE)
                         if ordered else None)

    def redact(self, node: Any) -> Any:
        if isinstance(node, dict):
            return {key: REDACTED if isinstance(key, str) and SENSITIVE_KEY.search(key)
                    else self.redact(value) for key, value in node.items()}
        if isinstance(node, list):
            return [self.redact(item) for item in node]
        if isinstance(node, str) and self._pattern is not None:
            return self._pattern.sub(REDACTED, node)
        return node


def _array_names(path: str) -> list[str]:
    """The names in the config file, for "no array named X (known: ...)"."""
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return []
    arrays = document.get("arrays") if isinstance(document, dict) else None
    return [str(a["name"]) for a in arrays or [] if isinstance(a, dict) and "name" in a]


def main(argv: list[str] | None = None) -> int:
    """`python -m qsan_exporter.dump ...`, the same as `qsan-exporter dump ...`."""
    parser = argparse.ArgumentParser(
        prog="qsan-exporter dump",
        description="Save every GET answer of one array as JSON, secrets redacted.")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
