"""`--web.config.file`: TLS, basic auth and response headers, in the exporter-toolkit format.

The same file an operator already writes for node_exporter works here (SPEC §1):
`tls_server_config`, `http_server_config.headers` and `basic_auth_users` with bcrypt hashes.
`load_web_config(path)` returns a frozen `WebConfig` or raises `WebConfigError` listing every
problem with its key, and it builds the TLS context once so a key that does not match its
certificate is a start-up error, not a failed handshake later. Relative paths resolve against
the web-config file's directory, as in exporter-toolkit.

Differences from exporter-toolkit, each forced by Python's `ssl` or chosen to fail safe:
- The file is read at start only (exporter-toolkit re-reads it per connection); restart to apply.
- Python's `ssl` verifies every client certificate it asks for, so `RequireAnyClientCert` and
  `VerifyClientCertIfGiven` need `client_ca_file`, and `RequestClientCert` asks for a certificate
  only when a CA is given (the exporter never looks at an unverified one anyway).
- `cipher_suites` takes Go's names and applies them to TLS <= 1.2 with `set_ciphers`; a name
  Python cannot map is skipped with a warning (an empty result is an error, never the defaults).
- `curve_preferences` and `http_server_config.http2` are accepted and not applied (OpenSSL's
  default groups; the server speaks HTTP/1.1). Inline `cert`/`key`/`client_ca` and `rate_limit`
  are not supported and are reported as such.
"""

from __future__ import annotations

import logging
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from qsan_exporter.config_input import ConfigError as WebConfigError
from qsan_exporter.config_input import warn_if_others_can_read
from qsan_exporter.web import auth as web_auth
from qsan_exporter.web.auth import BasicAuth, WSGIApp
from qsan_exporter.web.tls import (
    CLIENT_AUTH_TYPES,
    CURVES,
    GO_CIPHERS,
    TLS13_CIPHERS,
    TLS_VERSIONS,
    TLSServerConfig,
    tls_context,
)

log = logging.getLogger(__name__)

__all__ = ["BasicAuth", "TLSServerConfig", "WSGIApp", "WebConfig", "WebConfigError",
           "load_web_config", "tls_context"]

# exporter-toolkit's fixed list (handler.go): header -> allowed values (None = any).
HEADERS: dict[str, tuple[str, ...] | None] = {
    "Strict-Transport-Security": None,
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": None,
    "Content-Security-Policy": None,
}
BCRYPT_RE = re.compile(r"^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$")

_TLS_KEYS = {
    "cert_file", "key_file", "client_auth_type", "client_ca_file", "client_allowed_sans",
    "min_version", "max_version", "cipher_suites", "prefer_server_cipher_suites",
    "curve_preferences",
}
_UNSUPPORTED = {
    "tls_server_config.cert": "inline certificates are not supported; use cert_file",
    "tls_server_config.key": "inline keys are not supported; use key_file",
    "tls_server_config.client_ca": "inline CAs are not supported; use client_ca_file",
    "rate_limit": "not supported by qsan-exporter",
}


@dataclass(frozen=True)
class WebConfig:
    tls: TLSServerConfig | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    # user -> bcrypt hash; repr=False keeps hashes out of logs and tracebacks.
    basic_auth_users: Mapping[str, str] = field(default_factory=dict, repr=False)
    http2: bool = True


def load_web_config(path: str | Path) -> WebConfig:
    """Parse and check the whole file; raise WebConfigError with every problem found."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise WebConfigError([f"cannot read {path}: {exc.strerror or exc}"]) from None
    except yaml.YAMLError as exc:
        raise WebConfigError([f"not valid YAML: {exc}"]) from None
    if document is None:
        return WebConfig()
    if not isinstance(document, dict):
        raise WebConfigError(["the file must be a mapping of tls_server_config, "
                              "http_server_config and basic_auth_users"])
    problems: list[str] = []
    _unknown(document, {"tls_server_config", "http_server_config", "basic_auth_users"}, "",
             problems)
    tls = _tls(document.get("tls_server_config"), path.parent, problems)
    headers, http2 = _http(document.get("http_server_config"), problems)
    users = _users(document.get("basic_auth_users"), problems)
    if problems:
        raise WebConfigError(problems)
    config = WebConfig(tls=tls, headers=headers, basic_auth_users=users, http2=http2)
    if tls is not None:
        try:
            ssl_context(config)
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise WebConfigError([f"tls_server_config: cannot load cert_file/key_file/"
                                  f"client_ca_file or apply cipher_suites: {exc}"]) from None
    return config


def _unknown(section: dict[Any, Any], known: set[str], prefix: str, problems: list[str]) -> None:
    for key in section:
        where = f"{prefix}{key}"
        if where in _UNSUPPORTED:
            problems.append(f"{where}: {_UNSUPPORTED[where]}")
        elif key not in known:
            problems.append(f"{where}: unknown key (expected one of {', '.join(sorted(known))})")


def _mapping(value: Any, key: str, problems: list[str]) -> dict[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(f"{key}: must be a mapping")
        return {}
    return value


def _strings(value: Any, key: str, problems: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"{key}: must be a list of strings")
        return ()
    return tuple(value)


def _file(value: Any, key: str, base: Path, problems: list[str]) -> Path | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        problems.append(f"{key}: must be a file path")
        return None
    path = base / value
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        problems.append(f"{key}: cannot read {path}: {exc.strerror or exc}")
    return path


def _tls(value: Any, base: Path, problems: list[str]) -> TLSServerConfig | None:
    section = _mapping(value, "tls_server_config", problems)
    if not section:
        return None  # absent or empty: plain HTTP, as in exporter-toolkit
    p = "tls_server_config."
    _unknown(section, _TLS_KEYS, p, problems)
    for name in ("cert_file", "key_file"):
        if section.get(name) in (None, ""):
            problems.append(f"{p}{name}: required when tls_server_config is set")
    cert = _file(section.get("cert_file"), p + "cert_file", base, problems)
    key = _file(section.get("key_file"), p + "key_file", base, problems)
    if key is not None:
        warn_if_others_can_read(key, p + "key_file")
    ca = _file(section.get("client_ca_file"), p + "client_ca_file", base, problems)
    auth = _choice(section, "client_auth_type", "NoClientCert", CLIENT_AUTH_TYPES, p, problems)
    if auth is not None and CLIENT_AUTH_TYPES[auth][1] and section.get("client_ca_file") in (
            None, ""):
        problems.append(f"{p}client_ca_file: required by client_auth_type {auth}")
    if auth == "NoClientCert" and ca is not None:
        problems.append(f"{p}client_ca_file: set, but client_auth_type is NoClientCert "
                        "(set client_auth_type, e.g. RequireAndVerifyClientCert)")
    sans = _strings(section.get("client_allowed_sans"), p + "client_allowed_sans", problems)
    if sans and auth is not None and CLIENT_AUTH_TYPES[auth][0] != ssl.CERT_REQUIRED:
        problems.append(f"{p}client_allowed_sans: needs client_auth_type "
                        "RequireAndVerifyClientCert or RequireAnyClientCert")
    low = _choice(section, "min_version", "TLS12", TLS_VERSIONS, p, problems)
    high = _choice(section, "max_version", "TLS13", TLS_VERSIONS, p, problems)
    if low is not None and high is not None and TLS_VERSIONS[low] > TLS_VERSIONS[high]:
        problems.append(f"{p}min_version: {low} is above max_version {high}")
    ciphers = _strings(section.get("cipher_suites"), p + "cipher_suites", problems)
    _check_ciphers(ciphers, problems)
    curves = _strings(section.get("curve_preferences"), p + "curve_preferences", problems)
    for curve in curves:
        if curve not in CURVES:
            problems.append(f"{p}curve_preferences: unknown curve {curve!r} "
                            f"(expected one of {', '.join(sorted(CURVES))})")
    if curves:
        log.info("tls_server_config.curve_preferences is accepted but not applied: "
                 "Python's ssl uses OpenSSL's default key-exchange groups")
    prefer = section.get("prefer_server_cipher_suites", True)
    if not isinstance(prefer, bool):
        problems.append(f"{p}prefer_server_cipher_suites: must be true or false")
    if cert is None or key is None or auth is None or low is None or high is None:
        return None
    return TLSServerConfig(
        cert_file=cert, key_file=key, client_auth_type=auth, client_ca_file=ca,
        client_allowed_sans=sans, min_version=low, max_version=high, cipher_suites=ciphers,
        prefer_server_cipher_suites=prefer is not False, curve_preferences=curves,
    )


def _choice(
    section: dict[Any, Any], name: str, default: str, allowed: Mapping[str, Any], prefix: str,
    problems: list[str],
) -> str | None:
    value = section.get(name) or default
    if isinstance(value, str) and value in allowed:
        return value
    problems.append(f"{prefix}{name}: {value!r} is not one of {', '.join(allowed)}")
    return None


def _check_ciphers(names: tuple[str, ...], problems: list[str]) -> None:
    """Warn about names Python cannot apply; refuse a list that would leave nothing applied."""
    unknown = [n for n in names if n not in GO_CIPHERS and n not in TLS13_CIPHERS]
    for name in unknown:
        log.warning("tls_server_config.cipher_suites: unknown cipher suite %r skipped "
                    "(expected Go crypto/tls names such as "
                    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)", name)
    if unknown and not any(n in GO_CIPHERS for n in names):
        problems.append("tls_server_config.cipher_suites: none of the listed suites is known; "
                        "refusing to fall back to the default suites")


def _http(value: Any, problems: list[str]) -> tuple[dict[str, str], bool]:
    section = _mapping(value, "http_server_config", problems)
    _unknown(section, {"headers", "http2"}, "http_server_config.", problems)
    http2 = section.get("http2", True)
    if not isinstance(http2, bool):
        problems.append("http_server_config.http2: must be true or false")
    headers: dict[str, str] = {}
    for name, header_value in _mapping(section.get("headers"), "http_server_config.headers",
                                       problems).items():
        key = f"http_server_config.headers.{name}"
        if name not in HEADERS:
            problems.append(f"{key}: this header cannot be configured (allowed: "
                            + ", ".join(HEADERS) + ")")
        elif not isinstance(header_value, str) or "\n" in header_value or "\r" in header_value:
            problems.append(f"{key}: must be a one-line string")
        elif (allowed := HEADERS[name]) is not None and header_value not in allowed:
            problems.append(f"{key}: {header_value!r} is not one of {', '.join(allowed)}")
        elif header_value:  # blank = unset, as in exporter-toolkit
            headers[name] = header_value
    return headers, http2 is not False


def _users(value: Any, problems: list[str]) -> dict[str, str]:
    users: dict[str, str] = {}
    for user, hashed in _mapping(value, "basic_auth_users", problems).items():
        key = f"basic_auth_users.{user}"
        if not isinstance(user, str) or not user or ":" in user:
            problems.append(f"{key}: a user name must be a non-empty string without ':'")
        elif not isinstance(hashed, str) or not BCRYPT_RE.match(hashed):
            # Never echo the value: it may be a plain-text password put there by mistake.
            problems.append(f"{key}: must be a bcrypt hash ($2a$, $2b$ or $2y$, e.g. from "
                            "'htpasswd -nBC 10 USER'), not a plain password")
        else:
            users[user] = hashed
    return users


def ssl_context(config: WebConfig) -> ssl.SSLContext | None:
    """The server context for `config.tls`, or None for plain HTTP."""
    return tls_context(config.tls) if config.tls is not None else None


def wrap_app(app: WSGIApp, config: WebConfig) -> WSGIApp:
    """`app` behind the config's basic auth and response headers (see auth.py)."""
    return web_auth.wrap_app(app, config.headers, config.basic_auth_users,
                             tls=config.tls is not None)
