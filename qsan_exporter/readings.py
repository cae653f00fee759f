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

# Response shapes, field names and units (collectors, tolerant readers). Line numbers are those
# of the Unified manual's first text extraction (000_*.txt); the second (002_*.txt) agrees.
DATA_READINGS: tuple[Reading, ...] = (
    # --- system, pools, disks ----------------------------------------------------------------
    Reading(
        "top-level-object",
        "`pools` / `disks` are lists of items, as the examples show (000:249, 000:345)",
        "they are an object, as the tables type them (000:288 `pools object`, 000:374 `disks "
        "object`): one item, or an object of items keyed by id (every value read)",
        "every example and the word 'list' in the paths say list; an object is accepted too",
        "qsan_exporter/collectors/base.py elements(), listing()",
    ),
    Reading(
        "null-lists",
        "an empty list is `[]` (raidsets, disks, spare, memoryInfo, sensor lists, pools, disks)",
        "an empty list is `null`, as the manual says of log types 'the null value will be "
        "returned' (000:656)",
        "JSON encoders of lists give []; null is read as the same empty list, never an error",
        "qsan_exporter/collectors/base.py elements(), entries(), items()",
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
        "qsan_exporter/collectors/base.py merged(); collectors/system.py _enclosure_info()",
    ),
    Reading(
        "enc-id-spelling",
        "the enclosure id key is `encID` (tables 000:381, 000:803)",
        "it is `encId` (hardware example, 000:739)",
        "two tables against one example; both spellings are read by field()",
        "qsan_exporter/collectors/base.py field(); collectors/system.py, disks.py",
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
        "qsan_exporter/collectors/base.py field() (keys compared stripped)",
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
        "qsan_exporter/collectors/base.py number()",
    ),
    Reading(
        "raidset-id-type",
        "a RAID set id is an integer (example `\"id\": 0`, 000:268)",
        "it is a string (table `id String`, 000:319)",
        "labels are text either way: text() renders 0 and \"0\" alike",
        "qsan_exporter/collectors/base.py text()",
    ),
    Reading(
        "disk-pool-id-type",
        "a disk's `poolID` is an integer (example, 000:350)",
        "it is a string (table, 000:391)",
        "the id only identifies; text() renders both alike (the pool label uses poolName)",
        "qsan_exporter/collectors/base.py text()",
    ),
    Reading(
        "auto-tier-type",
        "a pool's `autoTier` is a boolean (table, 000:301)",
        "it is a string, `\"\"` in the example (000:281)",
        "the table types it; flag() reads '' / 'false' / false as false",
        "qsan_exporter/collectors/base.py flag(); collectors/pools.py",
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
        "qsan_exporter/legacy/source.py AVAILLUN_TEMPLATES",
    ),
)

READINGS: tuple[Reading, ...] = AUTH_READINGS + DATA_READINGS
