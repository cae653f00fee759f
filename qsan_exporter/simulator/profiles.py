"""Per-product differences: the manual's facts plus the spelling variants each profile speaks.

The manual contradicts itself (`raidsets` vs `raidSets`, `encID` vs `encId`, `" cacheToFlash "`
with spaces, ids as int or string, fan speeds as strings). Real firmware will too, so each profile
deliberately speaks a different mix and the exporter's tolerance is exercised on every run.
The table lives in the package docstring (`qsan_exporter/simulator/__init__.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Profile:
    """Everything that differs between XCubeSAN, XCubeFAS and XCubeNAS in the simulator."""

    name: str
    model: str
    expansion_model: str
    cpu_info: str
    controllers: int
    mem_total_mb: int
    # Product facts from the manual.
    nas: bool  # QSM semantics: "always 0" fields, no performance, NAS session/task shapes
    task_types: frozenset[str]
    disk_size_mb: int
    disk_media: str  # HDD or SSD (FAS is all-flash)
    disk_bus: str
    disk_vendor: str
    disk_model: str
    ssd_size_mb: int
    # Spelling variants.
    raidsets_key: str
    hw_enc_key: str  # key of the enclosure id in hardware/*/info
    disk_enc_key: str  # key of the enclosure id in storage/disk/list
    c2f_key: str | None  # None: no cacheToFlash (NAS)
    c2f_field: str  # "value" or "status" in cacheToFlash entries
    c2f_name_suffix: str  # "Power Module Status " carries a trailing space on one profile
    ids_as_strings: bool  # pool/volume/raidset/target/enclosure ids as "123" instead of 123
    disk_id_style: str  # "index" (0, 1, ...) or "slot" ("e0d1")
    fan_as_string: bool  # fan speeds as "1225"
    temperature_as_string: bool
    cpu_usage_as_string: bool
    sensor_status: bool  # voltage/temperature/fan entries carry a "status"
    psu_prefix: str  # PSU names: "PSU1" or bare "1" (the manual's example)
    schedule_week_of_month: bool  # SAN's "weekOfMouth" (sic)

    def ident(self, number: int) -> int | str:
        """An id in this profile's type: the manual says string, examples show int."""
        return str(number) if self.ids_as_strings else number

    def disk_id(self, index: int, enclosure: int, slot: int) -> int | str:
        return index if self.disk_id_style == "index" else f"e{enclosure}d{slot}"


SAN = Profile(
    name="san", model="XS5226D", expansion_model="XD5326",
    cpu_info="Intel(R) Xeon(R) CPU D-1518 @ 2.20GHz", controllers=2, mem_total_mb=16384,
    nas=False, task_types=frozenset({"snapshot", "clone", "replication"}),
    disk_size_mb=3815447, disk_media="HDD", disk_bus="NL-SAS", disk_vendor="SEAGATE",
    disk_model="ST4000NM0025", ssd_size_mb=915715,
    raidsets_key="raidsets", hw_enc_key="encID", disk_enc_key="encID", c2f_key="cacheToFlash",
    c2f_field="value", c2f_name_suffix="", ids_as_strings=False, disk_id_style="index",
    fan_as_string=True, temperature_as_string=False, cpu_usage_as_string=False,
    sensor_status=True, psu_prefix="PSU", schedule_week_of_month=True,
)

FAS = Profile(
    name="fas", model="XF3126D", expansion_model="XD5326",
    cpu_info="Intel(R) Xeon(R) CPU D-1537 @ 1.70GHz", controllers=2, mem_total_mb=32768,
    nas=False, task_types=frozenset({"snapshot", "clone", "replication"}),
    disk_size_mb=1831420, disk_media="SSD", disk_bus="SAS", disk_vendor="TOSHIBA",
    disk_model="KPM5XRUG1T92", ssd_size_mb=915715,
    raidsets_key="raidSets", hw_enc_key="encId", disk_enc_key="encId",
    c2f_key=" cacheToFlash ", c2f_field="status", c2f_name_suffix=" ", ids_as_strings=True,
    disk_id_style="slot", fan_as_string=False, temperature_as_string=True,
    cpu_usage_as_string=False, sensor_status=False, psu_prefix="", schedule_week_of_month=False,
)

NAS = Profile(
    name="nas", model="XN8008R", expansion_model="XD5312",
    cpu_info="Intel® Celeron® CPU 1.10GHz Quad-Core Processor", controllers=1, mem_total_mb=8192,
    nas=True, task_types=frozenset({"snapshot", "replication", "cloud"}),
    disk_size_mb=7630885, disk_media="HDD", disk_bus="SATA", disk_vendor="WDC",
    disk_model="WD80EFZX", ssd_size_mb=457862,
    raidsets_key="raidsets", hw_enc_key="encId", disk_enc_key="encID", c2f_key=None,
    c2f_field="status", c2f_name_suffix="", ids_as_strings=False, disk_id_style="slot",
    fan_as_string=False, temperature_as_string=False, cpu_usage_as_string=True,
    sensor_status=True, psu_prefix="PSU", schedule_week_of_month=False,
)

# SANOS 4.0 (legacy API, see `legacy`): an XCubeSAN of the manual's era. Its Unified documents
# are never served; `legacy` renders the legacy answers from them, so the scenario is the same.
LEGACY = Profile(
    name="legacy", model="XS5216D", expansion_model="XD5316",
    cpu_info="Intel(R) Xeon(R) Processor D-1500 4 Cores", controllers=2, mem_total_mb=16384,
    nas=False, task_types=frozenset(),
    disk_size_mb=3815447, disk_media="HDD", disk_bus="NL-SAS", disk_vendor="SEAGATE",
    disk_model="ST4000NM0025", ssd_size_mb=915715,
    raidsets_key="raidsets", hw_enc_key="encID", disk_enc_key="encID", c2f_key="cacheToFlash",
    c2f_field="value", c2f_name_suffix="", ids_as_strings=False, disk_id_style="index",
    fan_as_string=False, temperature_as_string=False, cpu_usage_as_string=False,
    sensor_status=True, psu_prefix="PSU", schedule_week_of_month=True,
)

PROFILES: dict[str, Profile] = {p.name: p for p in (SAN, FAS, NAS, LEGACY)}


def other_reading(p: Profile) -> Profile:
    """The spellings a `--literal` array speaks: each of `p`'s variants flipped to the other one
    (readings `raidsets-spelling`, `enc-id-spelling`, `c2f-key-spacing`, `c2f-state-field`,
    `sensor-value-type` in qsan_exporter/readings.py)."""
    other_enc = {"encID": "encId", "encId": "encID"}
    c2f_key = p.c2f_key
    if c2f_key is not None:
        c2f_key = "cacheToFlash" if c2f_key != c2f_key.strip() else " cacheToFlash "
    return replace(
        p, raidsets_key="raidSets" if p.raidsets_key == "raidsets" else "raidsets",
        hw_enc_key=other_enc[p.hw_enc_key], disk_enc_key=other_enc[p.disk_enc_key],
        c2f_key=c2f_key, c2f_field="status" if p.c2f_field == "value" else "value",
        fan_as_string=not p.fan_as_string, temperature_as_string=not p.temperature_as_string)
