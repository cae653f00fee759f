"""`make_source`: the one place that turns an array's `api:` setting into its source.

The source owns its clients: closing it ends their sessions (the Unified client revokes its
token, the array keeps only ten per user). Every client of an array shares the array's stats
and guard, so `qsan_api_requests_total` and the array-protection limits are the same whichever
flavour answers.
"""

from __future__ import annotations

from typing import Any

import requests

from qsan_exporter.api.auto import AutoSource
from qsan_exporter.api.guard import RequestGuard
from qsan_exporter.api.legacy.client import LegacyClient
from qsan_exporter.api.legacy.source import LegacySource
from qsan_exporter.api.log_cursor import LogCounter
from qsan_exporter.api.source import Source
from qsan_exporter.api.stats import ApiStats
from qsan_exporter.api.token_ledger import TokenLedger
from qsan_exporter.api.transport import array_session
from qsan_exporter.api.unified.client import UnifiedClient
from qsan_exporter.api.unified.source import UnifiedSource
from qsan_exporter.config import ArrayConfig


def make_source(config: ArrayConfig, *, stats: ApiStats, guard: RequestGuard,
                ledger: TokenLedger | None = None) -> Source:
    """The source polling `config`'s array for its `api:` setting (unified, legacy or auto).

    `ledger`: the process's record of token sets (api/token_ledger.py), shared by every
    Unified client.
    """
    options: dict[str, Any] = {"verify": config.verify, "timeout": config.timeout_seconds,
                               "password_encoding": config.password_encoding,
                               "stats": stats, "guard": guard,
                               "max_response_bytes": int(config.max_response_mib * 1048576)}
    if config.api == "legacy":
        return LegacySource(_legacy(config, options), timezone=config.timezone)
    if config.api == "unified":
        return UnifiedSource(_unified(config, ledger, options))
    unified_session, legacy_session = _sessions()
    unified_client = _unified(config, ledger, {**options, "session": unified_session})
    legacy_client = _legacy(config, {**options, "session": legacy_session})
    counter = LogCounter()  # one tally: a flavour switch must not reset the log counters
    return AutoSource(UnifiedSource(unified_client, log_counter=counter), unified_client,
                      LegacySource(legacy_client, timezone=config.timezone, log_counter=counter),
                      legacy_client, name=config.name)


def _sessions() -> tuple[requests.Session, requests.Session]:
    """Sessions for `api: auto`'s two clients: cookie jars apart (a legacy login's cookie is
    the legacy client's alone), connection pools shared. The probe's connection is then the one
    the chosen client goes on with, not a second idle socket and pool per array (~12 KiB)."""
    unified, legacy = array_session(None), array_session(None)
    for prefix, adapter in unified.adapters.items():
        legacy.mount(prefix, adapter)
    return unified, legacy


def _unified(config: ArrayConfig, ledger: TokenLedger | None,
             options: dict[str, Any]) -> UnifiedClient:
    return UnifiedClient(config.url, config.username, config.password, ledger=ledger,
                         name=config.name, **options)


def _legacy(config: ArrayConfig, options: dict[str, Any]) -> LegacyClient:
    return LegacyClient(config.url, config.username, config.password, **options)
