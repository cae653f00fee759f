"""`--log.level` and `--log.format=logfmt|json`, the formats Prometheus' own tools use."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
          "warning": logging.WARNING, "error": logging.ERROR}


def _timestamp(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + (
        f".{int(record.msecs):03d}Z"
    )


def _level(record: logging.LogRecord) -> str:
    return {"WARNING": "warn"}.get(record.levelname, record.levelname.lower())


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        quoted = message.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return (f'ts={_timestamp(record)} level={_level(record)} logger={record.name} '
                f'msg="{quoted}"')


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": _timestamp(record), "level": _level(record), "logger": record.name,
                 "msg": record.getMessage()}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time of the record, not at set-up.

    `main()` may run more than once in a process (the tests do), each time under a different
    stderr; a handler bound to an old, closed one would fail every later record.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> Any:  # the base class sets it; here it always follows sys.stderr
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def setup_logging(level: str = "info", fmt: str = "logfmt") -> None:
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
