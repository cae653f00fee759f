"""The one place that says how the manual's contradictions are read.

The QSAN Unified REST API manual often says one thing in a table and another in the example
beside it (or in its prose). Real arrays were built by people who read it one way or the other,
so the exporter accepts every reading. Each row names the contradiction, the reading tried or
preferred first and why, the other reading, and where the code handles it. The simulator's
`--literal` mode takes the `second` reading of every row, and the tests run against both.

Rows are data, not behaviour: the code that reads both ways cites the row's `name`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reading:
    name: str  # short id, cited by the code and tests that handle it
    first: str  # the reading tried / preferred first
    second: str  # the other reading, also accepted (what `simulate --literal` does)
    why: str  # why `first` comes first
    where: str  # module that reads both ways


# Authentication and request bodies (token lifecycle).
AUTH_READINGS: tuple[Reading, ...] = ()

# Response shapes, field names and units (collectors, tolerant readers).
DATA_READINGS: tuple[Reading, ...] = ()

READINGS: tuple[Reading, ...] = AUTH_READINGS + DATA_READINGS
