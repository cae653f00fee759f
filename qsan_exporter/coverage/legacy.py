"""Coverage rows: the SANOS 4.0 (legacy) API.

Its manual (`001_*.txt`) gives only paths: the response examples were screenshots and are lost,
so there is no documented field. Every legacy endpoint is listed here; for those the exporter
reads, one row per field it looks for, built from the candidate table that reads it
(qsan_exporter/api/legacy/mapping.py), so the rows cannot drift from the code. A legacy field
becomes whatever the Unified field it stands for becomes (see that area's rows); path syntax as
in the Unified rows, candidate spellings joined by `|`. Line numbers `001:N` are the manual's.
"""

from __future__ import annotations

from qsan_exporter.api.legacy import mapping as m
from qsan_exporter.coverage import Field

_TABLES: tuple[tuple[str, str, tuple[m.Field, ...], str], ...] = (
    # endpoint, path prefix, table, the Unified answer it is read as
    ("/rest/dashboard/systeminfo", "", m.SYSTEM_INFO, "hardware/all/info [].info"),
    ("/rest/dashboard/hwmonitor", "[].<sensor list>[].", m.SENSOR,
     "hardware/all/info voltage/temperature/fanSpeed entries"),
    ("/rest/dashboard/hwmonitor", "[].<state list>[].", m.STATE,
     "hardware/all/info psuStatus/cacheToFlash entries"),
    ("/rest/storage/diskinfo", "[].", m.DISK, "storage/disk/list disks[]"),
    ("/rest/storage/disksmart", "[].", m.SMART, "storage/disk/list disks[]"),
    ("/rest/storage/disksmart", "[].attributes[].", m.SMART_ATTRIBUTE,
     "storage/disk/list disks[] (S.M.A.R.T. attributes by name)"),
    ("/rest/storage/poolinfo", "[].", m.POOL, "storage/pool/list pools[]"),
    ("/rest/storage/poolinfo", "[].raidsets[].", m.RAIDSET,
     "storage/pool/list pools[].raidsets[]"),
    ("/rest/storage/volumeinfo", "[].", m.VOLUME, "storage/volume/list volumes[]"),
    ("/rest/storage/lunmappinginfo", "[].", m.LUN_MAPPING,
     "storage/volume/list volumes[].lunInfo"),
    ("/rest/storage/availtarget", "[].", m.TARGET, "iscsi/target/list targets"),
    ("/rest/storage/availtarget", "[].sessions[].", m.SESSION, "iscsi/session/list sessions"),
    ("/rest/log/list/<page_num>", "[].", m.LOG_EVENT, "log/list events"),
)


def _spellings(field: m.Field) -> str:
    return "|".join(c if isinstance(c, str) else c[0] for c in field.candidates)


def _units(field: m.Field) -> str:
    declared = [f"{c[0]} in {c[1]}" for c in field.candidates if not isinstance(c, str)]
    if field.kind in ("mib", "bytes", "percent"):
        return ("no example survives (001: paths only); sizes are read from their unit "
                "('8 GB'), a bare number as the Unified unit" + (
                    ": " + ", ".join(declared) if declared else ""))
    return ""


def _mapped() -> tuple[Field, ...]:
    return tuple(
        Field(endpoint, prefix + _spellings(f),
              becomes=f"as the Unified {answer} field `{f.target}` ({f.kind})",
              evidence=_units(f))
        for endpoint, prefix, table, answer in _TABLES for f in table)


ROWS: tuple[Field, ...] = (
    Field("/rest/login/account/<user>/password/<password>", "(answer)",
          dropped="the session itself (cookie or token); read by the client, not exported"),
    Field("/rest/", "(answer)",
          dropped="the list of APIs the array offers (001:308): decides which are asked"),
    *_mapped(),
    Field("/rest/storage/snapshot/vdid/<vdid>", "(answer)",
          becomes="a snapshot task of the volume (task = volume id, 001:525)"),
    *(Field("/rest/storage/snapshot/vdid/<vdid>", _spellings(f),
            becomes=f"qsan_snapshot_space_{'size' if f.target == 'totalSize' else 'used'}"
                    "_bytes{task}", evidence=_units(f))
      for f in m.SNAPSHOT),
    Field("/rest/storage/snapshot/vdid/<vdid>", "|".join(m.SNAPSHOT_LISTS) + "[].size",
          becomes="qsan_snapshot_space_used_bytes, summed, when the space's use is not given",
          evidence=_units(m.SNAPSHOT_SIZE[0])),
    Field("/rest/storage/availlun/targetid/<target_id>", "(answer)|" +
          "|".join(m.AVAILLUN_LISTS) + "[]." + "|".join(m.AVAILLUN_ID),
          becomes="qsan_iscsi_target_free_luns (count of the LUN ids; 001:570, tried under "
                  "/rest first, then as printed: reading legacy-availlun-path)"),
    Field("POST /rest/storage/snapspace|snapshot|maplun|unmaplun", "(request)",
          dropped="writes (001:614 and after): the exporter never changes the array"),
)
