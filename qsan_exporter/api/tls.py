"""One TLS context per distinct `verify` setting, shared by every array that has it.

Left alone, urllib3 builds a new `ssl.SSLContext` for each connection and loads the CA bundle
into it: ~840 KiB of resident memory per array kept alive by its keep-alive connection. The
arrays' connections (api/adapter.py) and, where requests' own path is taken, their pools
(api/watchdog.py) get the context this module keeps instead.

urllib3 sets `verify_mode` on the context it is given from the pool's `cert_reqs`, which
requests derives from the same `verify` setting: so a context must serve one setting only,
never a verifying and a non-verifying array both. A bundle's context is keyed by its path and
modification time: a replaced bundle is read again, as it was when each connection read it.
"""

from __future__ import annotations

import os
import ssl
import threading

from requests.utils import DEFAULT_CA_BUNDLE_PATH
from urllib3.util.ssl_ import create_urllib3_context

# Distinct settings are few (on, off, a CA file or two); the bound only stops a bundle that is
# rewritten again and again from keeping every old context.
MAX_CONTEXTS = 16

_contexts: dict[tuple[object, ...], ssl.SSLContext] = {}
_lock = threading.Lock()


def shared_context(verify: bool | str) -> ssl.SSLContext | None:
    """The context for requests' `verify` argument: False for none, True for requests' own CA
    bundle, or a CA bundle file or directory. None when the bundle cannot be found or read:
    requests then reports that as it always did."""
    location = None if verify is False else DEFAULT_CA_BUNDLE_PATH if verify is True else verify
    key: tuple[object, ...] = (None,)
    if location is not None:
        try:
            stat = os.stat(location)
        except OSError:
            return None
        key = (location, stat.st_mtime_ns, stat.st_size, stat.st_ino)
    with _lock:
        context = _contexts.get(key)
        if context is None:
            try:
                context = _new_context(location)
            except (ssl.SSLError, OSError):
                return None  # not a readable bundle: requests' own path reports it
            if len(_contexts) >= MAX_CONTEXTS:
                del _contexts[next(iter(_contexts))]  # the oldest: its pools keep it alive
            _contexts[key] = context
        return context


def cached() -> int:
    """How many contexts are held (never more than MAX_CONTEXTS)."""
    with _lock:
        return len(_contexts)


def _new_context(location: str | None) -> ssl.SSLContext:
    """A context built as urllib3 builds its own, with the bundle (if any) loaded once."""
    if location is None:
        return create_urllib3_context(cert_reqs=ssl.CERT_NONE)
    # CERT_REQUIRED also turns hostname checking on.
    context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
    if os.path.isdir(location):
        context.load_verify_locations(capath=location)
    else:
        context.load_verify_locations(cafile=location)
    return context
