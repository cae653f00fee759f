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


# Authentication and request bodies (token lifecycle). Line numbers: the manual's text as
# filed with the issues (`000_52c777977c96456f.txt`).
AUTH_READINGS: tuple[Reading, ...] = (
    Reading(
        name="refresh-body-key",
        first='{"refreshToken": ...}: the key of the request tables of /auth/refresh (line 198) '
              "and /auth/revoke (line 229)",
        second='{"refreshToken ": ...}, trailing space: the key of both request examples '
               "(lines 193 and 224)",
        why="the tables define the parameters, and their spelling is the one the login answer "
            "itself uses for the same value (lines 170 and 179); the examples were typed by "
            "hand (each ends its only member with a comma, which is not JSON), so their space "
            "reads as a slip of the same hand. A 400 to one spelling is retried once with the "
            "other and the spelling the array understood is kept for that array, so a literal "
            "array costs one extra request per client, not a login",
        where="qsan_exporter/api/auth_wire.py",
    ),
    Reading(
        name="login-refused-status",
        first="401 Unauthorized (or 403) for a wrong user name or password: the status the "
              "manual gives for authentication failures (lines 106-107)",
        second="400 Bad request: the Auth: Get section (lines 139-179) names no status for "
               "refused credentials, and 400 'Parameter error' (line 105) fits one too",
        why="401 is the manual's only authentication status, and the simulator's default. Both "
            "readings are handled alike: a login refused with any 4xx but 429 (whose "
            "Retry-After is honoured on its own) spends the login budget, so a wrong password "
            "costs the same few attempts whichever status the array chose",
        where="qsan_exporter/api/auth_wire.py",
    ),
)

# Response shapes, field names and units (collectors, tolerant readers).
DATA_READINGS: tuple[Reading, ...] = ()

READINGS: tuple[Reading, ...] = AUTH_READINGS + DATA_READINGS
