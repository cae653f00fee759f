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
        where="qsan_exporter/api/unified/auth_wire.py",
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
        where="qsan_exporter/api/unified/auth_wire.py",
    ),
)

# Response shapes, field names and units (collectors, tolerant readers). Line numbers: "000:N"
# and "000 l.N" are seeds/000_* (the manual with its examples in code blocks), "002 l.N" is
# seeds/002_* (the same manual with the tables' Value/Description columns); "001:N" the SANOS
# 4.0 manual.
DATA_READINGS: tuple[Reading, ...] = (
    # --- system, pools, disks ----------------------------------------------------------------
    Reading(
        "top-level-object",
        "`pools` / `disks` are lists of items, as the examples show (000:249, 000:345)",
        "they are an object, as the tables type them (000:288 `pools object`, 000:374 `disks "
        "object`): one item, or an object of items keyed by id (every value read)",
        "every example and the word 'list' in the paths say list; an object is accepted too",
        "qsan_exporter/api/readers.py elements(), listing()",
    ),
    Reading(
        "null-lists",
        "an empty list is `[]` (raidsets, disks, spare, memoryInfo, sensor lists, pools, disks)",
        "an empty list is `null`, as the manual says of log types 'the null value will be "
        "returned' (000:656)",
        "JSON encoders of lists give []; null is read as the same empty list, never an error",
        "qsan_exporter/api/readers.py elements(), entries(), items()",
    ),
    Reading(
        "enclosures-top-level",
        "`hardware/all/info` answers a list of enclosures (the example opens with `[`, 000:738)",
        "it answers one enclosure object `{encId, info}` (the example's members, 000:739-740)",
        "the endpoint is 'all' enclosures; one object is read as a one-element list",
        "qsan_exporter/collectors/system.py _enclosure_list()",
    ),
    Reading(
        "enclosure-info-array",
        "an enclosure's `info` is one object (example, 000:740; the 'Info (local)' table)",
        "`info` is an array of objects, as typed (000:804 `info Object array`): every element "
        "is read and merged, sensor lists concatenated",
        "the example and both Info tables describe the fields of one object",
        "qsan_exporter/api/readers.py merged(); collectors/system.py _enclosure_info()",
    ),
    Reading(
        "enc-id-spelling",
        "the enclosure id key is `encID` (tables 000:381, 000:803)",
        "it is `encId` (hardware example, 000:739)",
        "two tables against one example; both spellings are read by field()",
        "qsan_exporter/api/readers.py field(); collectors/system.py, disks.py",
    ),
    Reading(
        "raidsets-spelling",
        "a pool's RAID sets are under `raidSets` (table, 000:304)",
        "they are under `raidsets` (example, 000:267)",
        "the table is the reference; both spellings are read by field()",
        "qsan_exporter/collectors/pools.py _collect_pool()",
    ),
    Reading(
        "c2f-key-spacing",
        "the cache-to-flash list key is `cacheToFlash` (table, 000:838)",
        "it is `\" cacheToFlash \"`, with spaces, as the example prints it (000:772)",
        "a key with spaces is almost certainly an extraction artefact; both are read",
        "qsan_exporter/api/readers.py field() (keys compared stripped)",
    ),
    Reading(
        "c2f-state-field",
        "a cache-to-flash entry's state is in `status` (table, 000:849-853)",
        "it is in `value` (example, 000:775 `\"value\": \"absent\"`)",
        "the table names it; `value` is read when `status` is missing",
        "qsan_exporter/collectors/system.py _collect_enclosure()",
    ),
    Reading(
        "sensor-value-type",
        "sensor and fan `value` is a JSON number (table `integer`, 000:847, 000:860)",
        "it is a string (example `value:\"1225\"`, 000:787)",
        "the table types it; numeric strings are read by number()",
        "qsan_exporter/api/readers.py number()",
    ),
    Reading(
        "raidset-id-type",
        "a RAID set id is an integer (example `\"id\": 0`, 000:268)",
        "it is a string (table `id String`, 000:319)",
        "labels are text either way: text() renders 0 and \"0\" alike",
        "qsan_exporter/api/readers.py text()",
    ),
    Reading(
        "disk-pool-id-type",
        "a disk's `poolID` is an integer (example, 000:350)",
        "it is a string (table, 000:391)",
        "the id only identifies; text() renders both alike (the pool label uses poolName)",
        "qsan_exporter/api/readers.py text()",
    ),
    Reading(
        "auto-tier-type",
        "a pool's `autoTier` is a boolean (table, 000:301)",
        "it is a string, `\"\"` in the example (000:281)",
        "the table types it; flag() reads '' / 'false' / false as false",
        "qsan_exporter/api/readers.py flag(); collectors/pools.py",
    ),
    Reading(
        "disk-rate-type",
        "a disk's link `rate` is a number in Gbps, 6.0 in the example (000:364)",
        "it is an integer (table `rate int`, 000:398)",
        "number() reads both; bytes/s = Gbps * 1e9 / 8",
        "qsan_exporter/collectors/disks.py",
    ),
    Reading(
        "disk-media",
        "`type` (HDD, SSD, NVMe; 000:397) decides the media when it names a known one",
        "`isSSD` (000:387) decides; the example has `isSSD: true` beside `type: HDD` and a "
        "spin rate (000:354, 000:357, 000:363)",
        "`type` is the more specific (it tells NVMe apart) and agrees with the spin rate in the "
        "manual's own example; isSSD is read only when `type` is missing or unknown",
        "qsan_exporter/collectors/disks.py _media()",
    ),
    Reading(
        "legacy-availlun-path",
        "SANOS 4.0's available-LUN list is `/rest/storage/availlun/targetid/<id>`, under "
        "`/rest` like every other path of that manual",
        "it is `/storage/availlun/targetid/<id>`, as the manual prints it (001:570)",
        "every other path, and the API list an array gives, are under /rest; the spelling that "
        "answers is asked first from then on",
        "qsan_exporter/api/legacy/source.py AVAILLUN_TEMPLATES",
    ),
    # --- volumes, iSCSI, tasks, logs ---------------------------------------------------------
    Reading(
        name="volumes-iscsi-object",
        first="`volumes` (volume list) and `iscsi` (target and session lists) are lists, as "
              "the examples show (000 l.431, l.878, l.938)",
        second="they are objects, as the tables type them (002 l.434, l.944, l.984): one item "
               "object, or a map of items keyed by id",
        why="the examples are what a developer copies, and a list is the only shape that holds "
            "more than one volume or controller without inventing keys",
        where="api/readers.py item_list, as_items",
    ),
    Reading(
        name="null-lists-services",
        first="an empty list is `[]` (the examples: `\"fc\": []` 000 l.460, `\"sessions\": "
              "[]` 000 l.941)",
        second="an empty list is `null` (\"the null value will be returned\", 002 l.700-701, "
               "for an empty log selection), for `logs`, `tasks`, `volumes`, `sessions`, "
               "`targets`, `freeLuns`, `portals` and the LUN mapping lists",
        why="the examples show `[]`; `null` is read as no items wherever a list may be empty",
        where="api/readers.py as_items, entries; api/unified/source.py _read_page",
    ),
    Reading(
        name="lun-info-object-array",
        first="`lunInfo` is one object `{\"iscsi\": [...], \"fc\": [...]}` (example, "
              "000 l.453)",
        second="`lunInfo` is an \"Object array\" (table, 002 l.482): a list of such objects, "
               "every one counted",
        why="the example; the table's type is read too and every element counts",
        where="collectors/volumes.py _mappings",
    ),
    Reading(
        name="schedule-array-or-object",
        first="a task's `schedule` is one object (example, 000 l.542)",
        second="`schedule` is an \"array\" (tables, 002 l.582, l.590, l.608, l.636): a list "
               "of schedule objects, the earliest next run of all of them counts",
        why="the example shows the crontab fields of one schedule; a list of them has no "
            "documented meaning other than \"any of these\"",
        where="api/readers.py schedules; collectors/tasks.py next_run",
    ),
    Reading(
        name="schedule-end-time",
        first="the end of a NAS time window is `stopTime` (example, 000 l.552)",
        second="it is `EndTime` (table, 000 l.630, 002 l.677)",
        why="the example is a whole answer; the table's capitalised name stands alone",
        where="collectors/tasks.py _cron_fields",
    ),
    Reading(
        name="schedule-week-of-month",
        first="the nth week of the month is `weekOfMouth` (sic; table 000 l.628, 002 l.666)",
        second="it is `weekOfMonth`, the spelling the description means (\"Number of weeks in "
               "the month\", 002 l.669), as a firmware that fixed the typo sends it",
        why="the manual spells it `weekOfMouth` everywhere",
        where="collectors/tasks.py _cron_fields",
    ),
    Reading(
        name="replication-destination-shape",
        first="a replication `destination` is a list of lines (SAN/FAS: up to four, \"A set "
              "of lines\", 002 l.613-615)",
        second="it is one object (table: \"destination object\", 002 l.606)",
        why="several lines per task are documented; one object is read as one line",
        where="collectors/tasks.py _destination",
    ),
    Reading(
        name="backup-types-per-product",
        first="clone tasks exist on SAN and FAS only (the per-type table, 002 l.532-539: "
              "snapshot and replication on SAN, FAS and NAS, clone on SAN/FAS, cloud on NAS)",
        second="clone tasks exist on NAS too: the prose names four types and excludes only "
               "cloud on SAN and FAS (\"San and fas not support cloud task\", 000 l.524)",
        why="the table is per type and per product. Both readings give snapshot and "
            "replication to every product, clone to SAN/FAS and cloud to NAS: a 404/400 for "
            "those is an error (status page, qsan_collector_success 0), asked again every "
            "poll; only clone on NAS and cloud on SAN/FAS are remembered as unsupported",
        where="api/unified/source.py UnifiedSource._tasks; collectors/tasks.py collect",
    ),
    Reading(
        name="log-start-time",
        first="`startTime` is inclusive: events at exactly the cursor come again and are "
              "dropped by a multiset of (timestamp, type, message); asked from cursor - 1 s",
        second="`startTime` is exclusive: \"List all logs after startTime\" (002 l.696)",
        why="asking from one second before the cursor serves both: an inclusive array "
            "returns the cursor's second and the one before, an exclusive array the cursor's "
            "second; events already returned are dropped either way, and an event that "
            "reached the cursor's second after the last fetch is never lost",
        where="api/log_cursor.py new_events",
    ),
    Reading(
        name="log-total-type",
        first="`total` is a number (example: 1000, 000 l.672)",
        second="`total` is a string (table, 002 l.723)",
        why="the example; the exporter pages by `haveNextPage` and an empty page, never by "
            "`total`, so either type is harmless",
        where="api/unified/source.py UnifiedSource._logs",
    ),
)

READINGS: tuple[Reading, ...] = AUTH_READINGS + DATA_READINGS
