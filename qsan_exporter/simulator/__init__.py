"""A simulated QSAN array speaking the Unified REST API over real HTTP.

Used by `--demo`, the integration tests and benchmarks (hundreds of arrays in one process)::

    sim = SimulatedArray(SimulatorConfig(profile="fas"), host="127.0.0.1", port=0)
    sim.start(); ...; sim.stop()

Fault injection, per array and per route, switchable while it serves (`faults` documents the
kinds and the matching order)::

    sim.faults.add(Fault(kind="status", route="/rest/v1/storage/disk/list", status=500))
    sim.faults.clear(); sim.faults.active(); sim.revoke_all_tokens()
    sim.stats.max_concurrent_requests; sim.stats.request_times("/rest/v1/log/list")

or over HTTP on the unauthenticated ``/_sim/faults``, ``/_sim/revoke-tokens``, ``/_sim/stats``
(`admin`), or ``qsan-exporter simulate --fault KIND:ROUTE[:ARG]`` (`cli`). Events of its own
choosing join the array's event log with ``POST /_sim/events`` or ``sim.device.logs.add(...)``.

Modules: `config` (options), `profiles` (product facts and spellings), `scenario` (layout and
what is broken), `hardware`/`storage`/`services`/`logs` (response bodies), `device` (routing of
`/rest/v1/*`), `auth` (tokens), `stats` (counters), `server` (HTTP), `faults` (what to
inject, matching), `inject` and `mangle` (acting it out), `admin` (``/_sim/*``), `cli`
(`qsan-exporter simulate`).

Spelling variants: the manual is inconsistent, so each profile speaks a different mix and every
run exercises the exporter's tolerance.

================================  ==================  ===================  ==================
variant                           san (XS5226D)       fas (XF3126D)        nas (XN8008R)
================================  ==================  ===================  ==================
RAID sets key in pool list        ``raidsets``        ``raidSets``         ``raidsets``
enclosure key, hardware/*/info    ``encID`` (int)     ``encId`` ("0")      ``encId`` (int)
enclosure key, disk list          ``encID`` (int)     ``encId`` ("0")      ``encID`` ("0")
cacheToFlash key                  ``cacheToFlash``    ``" cacheToFlash "`` (none: NAS)
cacheToFlash entry field          ``value``           ``status``           —
cacheToFlash entry names          "Power Module       "Power Module
                                  Status"             Status " (trailing
                                                      space)
ids (pool, volume, raidset,       int                 string               int; pool ``id``
target, controller)                                                        string
disk ids                          int (0, 1, ...)     "e0d1"               "e0d1"
fan speed values                  string ("4950")     int                  int
temperature values                int                 string ("41")        int
cpuUsage                          float               float                string ("18.0")
sensor entries carry ``status``   yes                 no                   yes
PSU names                         "PSU1", "PSU2"      "1", "2"             "PSU1", "PSU2"
schedule extras                   ``weekOfMouth``     —                    ``startTime`` /
                                                                           ``stopTime``
================================  ==================  ===================  ==================

`SimulatorConfig(literal=True)` (``simulate --literal``) answers with the manual's other
reading wherever it contradicts itself (the rows of `qsan_exporter.readings`): for volumes,
iSCSI, tasks and logs, lists typed "object" as id-keyed objects, empty lists as ``null``,
``schedule`` as an array, ``EndTime``, ``weekOfMonth``, a one-line replication destination as
an object, an exclusive log ``startTime`` and ``total`` as a string.

Units as on the device: sizes in MB (MiB), cache capacities in MB, QoS maxThroughput in KBps,
disk throughput in MB/s and latency in ms.

The fixed scenario (same for the same config; see `scenario` and `SimulatedArray.facts`): the
disk at position 1 of the first RAID set (disk index 1, enclosure 0 slot 1) has failed, so RAID
set 0 and Pool-1 are degraded; PSU 2 and FAN2 of enclosure 0 have failed/stopped; the
replication task of Vol-2 is in error; the first target of each controller has sessions, the
second none; Vol-1 has a QoS maximum (5000 IOPS, 102400 KBps; not on NAS, where QoS is always
off); the last volume is unmapped; Pool-2 (Pool-1 if there is one pool) has an SSD read cache.
"""

from qsan_exporter.simulator.config import SimulatorConfig
from qsan_exporter.simulator.faults import Fault, FaultSet, parse_fault
from qsan_exporter.simulator.scenario import Facts
from qsan_exporter.simulator.server import SimulatedArray
from qsan_exporter.simulator.stats import Stats

__all__ = ["Facts", "Fault", "FaultSet", "SimulatedArray", "SimulatorConfig", "Stats",
           "parse_fault"]
