"""What the poll asks of an array's source, whichever API flavour is behind it.

`fetch(area)` returns that area's raw answers, in the Unified API's shapes (the collectors'
docstrings show them); `close()` ends the source's sessions (it owns its clients). Different
areas may be fetched in parallel (max_concurrent_requests > 1), one area never twice at once.
"""

from __future__ import annotations

from typing import Any, Protocol


class Fetcher(Protocol):
    def fetch(self, area: str) -> Any: ...


class Closable(Protocol):
    def close(self) -> None: ...


class Source(Fetcher, Closable, Protocol):
    """A source the poll fetches from and closes at the end."""
