"""`--log.level` and `--log.format=logfmt|json`, the formats Prometheus' own tools use.

A record may carry extra keys (`extra={"qsan_fields": {...}}`, the array event lines): they
follow `msg` in the order given, each value quoted in logfmt when it needs to be.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import unicodedata
from collections.abc import Mapping

from qsan_exporter.array_events import LOGGER as ARRAY_EVENTS_LOGGER

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
          "warning": logging.WARNING, "error": logging.ERROR}


def _timestamp(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + (
        f".{int(record.msecs):03d}Z"
    )


def _level(record: logging.LogRecord) -> str:
    return {"WARNING": "warn"}.get(record.levelname, record.levelname.lower())


def _fields(record: logging.LogRecord) -> Mapping[str, str]:
    fields = getattr(record, "qsan_fields", None)
    return fields if isinstance(fields, Mapping) else {}


def _quote(value: str) -> str:
    """A logfmt value in double quotes; no character of it can end the line."""
    out = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    if any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in out):
        out = "".join(f"\\u{ord(ch):04x}" if unicodedata.category(ch) in ("Cc", "Zl", "Zp")
                      else ch for ch in out)
    return f'"{out}"'


def _logfmt_value(value: str) -> str:
    bare = value and all(ch.isprintable() and ch not in ' ="\\' for ch in value)
    return value if bare else _quote(value)


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        extra = "".join(f" {key}={_logfmt_value(str(value))}"
                        for key, value in _fields(record).items())
        return (f'ts={_timestamp(record)} level={_level(record)} logger={record.name} '
                f'msg={_quote(message)}{extra}')


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": _timestamp(record), "level": _level(record), "logger": record.name,
                 "msg": record.getMessage()}
        entry.update((k, str(v)) for k, v in _fields(record).items() if k not in entry)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class _CurrentStderr:
    """A stream that is whatever sys.stderr is at the time of each write, not at set-up.

    `main()` may run more than once in a process (the tests do), each time under a different
    stderr; a handler bound to an old, closed one would fail every later record.
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


class _StderrHandler(logging.StreamHandler[_CurrentStderr]):
    def __init__(self) -> None:
        super().__init__(_CurrentStderr())


def setup_logging(level: str = "info", fmt: str = "logfmt", array_events: bool = True) -> None:
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else LogfmtFormatter())
    root = logging.getLogger()
    # Replace only a handler of ours from an earlier call; keep anyone else's (pytest's caplog).
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, _StderrHandler)]
    root.addHandler(handler)
    root.setLevel(LEVELS[level])
    # apscheduler logs every job run at INFO; that is noise at our default level.
    logging.getLogger("apscheduler").setLevel(max(LEVELS[level], logging.WARNING))
    logging.getLogger("urllib3").setLevel(max(LEVELS[level], logging.INFO))
    # Array events are data, not the exporter's chatter: --log.level does not hide them.
    logging.getLogger(ARRAY_EVENTS_LOGGER).setLevel(
        logging.INFO if array_events else logging.CRITICAL + 1)
