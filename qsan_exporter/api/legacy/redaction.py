"""Keeping the SANOS 4.0 password out of logs: its login puts it in the URL path.

urllib3 logs each request line at DEBUG (`urllib3.connectionpool`) and requests' exception texts
quote URLs, so the loggers of both get a filter rewriting any login path to its template.
"""

from __future__ import annotations

import logging
import re
import threading

LOGIN_TEMPLATE = "/rest/login/account/{user}/password/{password}"
_LOGIN_PATH = re.compile(r"/rest/login/account/[^/\s\"'?#]*/password/[^\s\"'?#]*")
_REDACTED_LOGGERS = ("urllib3.connectionpool", "urllib3.connection", "urllib3.util.retry",
                     "urllib3.poolmanager", "requests")


def redact(text: str) -> str:
    """`text` with every legacy login path replaced by its template (user and password gone)."""
    return _LOGIN_PATH.sub(LOGIN_TEMPLATE, text)


class _RedactLoginPath(logging.Filter):
    """Rewrites a record that quotes a login path, so urllib3's DEBUG lines carry no password."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is not ours to fix; let logging report it
            return True
        if "/rest/login/account/" in message:
            record.msg, record.args = redact(message), ()
        return True


_FILTER = _RedactLoginPath()
_install_lock = threading.Lock()


def install_log_redaction() -> None:
    """Attach the redacting filter to the loggers of requests and urllib3 (idempotent)."""
    with _install_lock:
        for name in _REDACTED_LOGGERS:
            logger = logging.getLogger(name)
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)
