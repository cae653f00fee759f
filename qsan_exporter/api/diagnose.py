"""Why an array cannot be reached, and what to do about it: the cause and the fix in one line.

transport.py hands every failed request here. The requests exception is only classified, never
quoted: its text holds the URL, which for a legacy login holds the password. What the message
names (host, port, the certificate's subject and issuer) is rebuilt from the configured URL
without credentials and, for an untrusted certificate, from a second handshake that reads the
certificate without trusting it (only after a failure, so a healthy poll never pays for it).
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import tempfile
from urllib.parse import urlsplit

import requests

FIX_TLS = "set ca_file to the array's CA certificate, or verify_tls: false"
FIX_LOGIN = ("check username and password (a password_file or ${VAR} value is used exactly as "
             "read, trailing spaces included)")
FIX_NOT_QSAN = ("is this a QSAN array, and which API does it speak? api: unified (XCubeSAN, "
                "XCubeFAS, XCubeNAS), api: legacy (SANOS 4.0) or api: auto")
LOGIN_ENDPOINTS = frozenset({"/auth/get", "/rest/login/account/{user}/password/{password}"})
_PLAIN_HTTP = ("wrong_version_number", "wrong version number", "record layer failure",
               "http_request", "packet length too long", "unknown protocol")
_DNS = ("name or service not known", "nodename nor servname", "temporary failure in name",
        "no address associated", "nameresolutionerror", "getaddrinfo failed")


def _chain_text(exc: BaseException) -> str:
    """Every message in the exception's chain, lowercased: for classifying only, never shown."""
    parts: list[str] = []
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo and len(parts) < 20:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        parts.append(f"{type(current).__name__} {current}")
        todo += [current.__cause__, current.__context__,
                 *(a for a in current.args if isinstance(a, BaseException)),
                 getattr(current, "reason", None) if isinstance(
                     getattr(current, "reason", None), BaseException) else None]
    return " ".join(parts).lower()


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    default = 443 if parts.scheme == "https" else 80
    try:
        port = parts.port or default
    except ValueError:
        port = default
    return parts.hostname or "", port


def unreachable_reason(exc: requests.RequestException, url: str, timeout: float,
                       verify: bool | str) -> str:
    """The cause of a failed request and its fix, for the log and the status page."""
    host, port = _host_port(url)
    text = _chain_text(exc)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return (f"no connection to {host}:{port} within {timeout:g} s (timeout): check the "
                "address, the port and any firewall in between")
    if isinstance(exc, requests.Timeout):
        return (f"no answer within {timeout:g} s (timeout): the array is busy or hanging; "
                "raise timeout_seconds if it is only slow")
    if isinstance(exc, requests.exceptions.SSLError):
        return tls_reason(text, host, port, timeout, verify)
    if any(word in text for word in _DNS):
        return f"DNS lookup of {host!r} failed: check the host name in url"
    if "refused" in text:
        return (f"connection refused by {host}:{port}: nothing listens there; check the port "
                "in url and that the array's web service is on")
    if "reset" in text or "aborted" in text or "remotedisconnected" in text:
        return (f"the connection to {host}:{port} was closed without an answer: "
                "is this port the array's API (http:// or https://)?")
    return f"connection to {host}:{port} failed ({type(exc).__name__})"


def tls_reason(text: str, host: str, port: int, timeout: float, verify: bool | str) -> str:
    if any(word in text for word in _PLAIN_HTTP):
        return f"no TLS at {host}:{port}: the array answers plain HTTP: use http:// in url"
    if "certificate verify failed" not in text and "certificate_verify_failed" not in text:
        return (f"TLS handshake with {host}:{port} failed: check that this port serves "
                "HTTPS (or use http://)")
    fix = FIX_TLS if verify is True else (
        "check that ca_file holds the CA that signed the array's certificate, or "
        "verify_tls: false")
    if "mismatch" in text or "doesn't match" in text or "not valid for" in text:
        cause = f"certificate not valid for the name {host!r}"
        fix = "use a host name the certificate names in url, or verify_tls: false"
    elif "self-signed" in text or "self signed" in text:
        cause = "self-signed certificate, not trusted"
    elif "expired" in text:
        cause = "certificate expired"
    elif "not yet valid" in text:
        cause = "certificate not yet valid (check the clocks)"
    elif "local issuer" in text or "issuer certificate" in text:
        cause = "certificate signed by an unknown CA"
    else:
        cause = "certificate not trusted"
    names = certificate_names(host, port, min(timeout, 5.0))
    return f"TLS: {cause}{f' ({names})' if names else ''}: {fix}"


def certificate_names(host: str, port: int, timeout: float) -> str:
    """'subject CN=…, issuer CN=…, valid until …' of the certificate served, read without
    trusting it; '' when it cannot be read (the cause alone still says what to do)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw, \
                context.wrap_socket(raw, server_hostname=host or None) as tls:
            der = tls.getpeercert(binary_form=True)
    except (OSError, ValueError):
        return ""
    return _describe(der) if der else ""


def _describe(der: bytes) -> str:
    decode = getattr(getattr(ssl, "_ssl", None), "_test_decode_cert", None)
    if decode is None:  # CPython's decoder; without it the cause alone must do
        return ""
    fd, path = tempfile.mkstemp(suffix=".pem")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(ssl.DER_cert_to_PEM_cert(der))
        cert = decode(path)
    except (OSError, ValueError, ssl.SSLError):
        return ""
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
    subject, issuer = _name(cert.get("subject", ())), _name(cert.get("issuer", ()))
    until = cert.get("notAfter", "")
    return f"subject {subject or '-'}, issuer {issuer or '-'}" + (
        f", valid until {until}" if until else "")


_SHORT = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU",
          "countryName": "C", "localityName": "L", "stateOrProvinceName": "ST"}


def _name(rdns: tuple) -> str:
    return ", ".join(f"{_SHORT.get(key, key)}={value}" for rdn in rdns for key, value in rdn)


def status_hint(status: int, endpoint: str) -> str:
    """What to do about an HTTP error status, '' when the status says it all."""
    if status == 404 and (endpoint in LOGIN_ENDPOINTS or endpoint in ("", "/")):
        return f" (not found: {FIX_NOT_QSAN})"
    if status in (401, 403) and endpoint in LOGIN_ENDPOINTS:
        return f": {FIX_LOGIN}"
    if status == 403:
        return " (forbidden: the user may not read this; use an account with API access)"
    if 300 <= status < 400:
        return " (redirect not followed: use the final URL)"
    return ""
