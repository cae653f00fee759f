"""What one simulated array looks like: product profile, credentials, size and clocks.

Frozen so one config can safely start many arrays (benchmarks run hundreds in one process).
The minimum sizes exist because the fixed scenario needs room: a degraded RAID 5 needs three
member disks per pool, plus one global/dedicated spare and one SSD cache disk.
"""

from __future__ import annotations

from dataclasses import dataclass

PROFILES = ("san", "fas", "nas", "legacy")  # legacy: the SANOS 4.0 API (`legacy`)
PASSWORD_ENCODINGS = ("plain", "base64", "any")

MIN_ENCLOSURES = 1
MIN_POOLS = 1
MIN_VOLUMES = 2  # one volume with a QoS maximum, one unmapped
RESERVED_DISKS = 2  # one spare, one SSD cache disk
MIN_DISKS_PER_POOL = 3  # smallest RAID 5


def min_disks(pools: int) -> int:
    """Fewest disks that still hold every scenario fact for `pools` pools."""
    return RESERVED_DISKS + MIN_DISKS_PER_POOL * pools


@dataclass(frozen=True)
class SimulatorConfig:
    """Options of one simulated array; `ValueError` on a size the scenario cannot fit.

    `disks` is the total over all enclosures (filled enclosure by enclosure), so a benchmark's
    "2 enclosures, 48 disks" is `enclosures=2, disks=48`. `password_encoding` selects what
    `/auth/get` accepts: the password as configured, its base64, or either. `literal` makes
    the array answer and expect the manual's second reading wherever it contradicts itself.
    """

    profile: str = "san"
    username: str = "admin"
    password: str = "admin"
    token_lifetime: float = 3600.0
    enclosures: int = 1
    disks: int = 12
    pools: int = 2
    volumes: int = 4
    log_interval: float = 10.0
    seed: int = 0
    password_encoding: str = "plain"
    # The manual's other reading: where its tables, examples and prose disagree, a literal array
    # follows the reading the exporter does NOT try first (see qsan_exporter/readings.py).
    literal: bool = False

    def __post_init__(self) -> None:
        problems = []
        if self.profile not in PROFILES:
            problems.append(f"profile must be one of {', '.join(PROFILES)}, not {self.profile!r}")
        if self.password_encoding not in PASSWORD_ENCODINGS:
            problems.append(f"password_encoding must be one of {', '.join(PASSWORD_ENCODINGS)}")
        if self.token_lifetime <= 0:
            problems.append("token_lifetime must be > 0")
        if self.log_interval < 0:
            problems.append("log_interval must be >= 0 (0 = no new events)")
        if self.enclosures < MIN_ENCLOSURES:
            problems.append(f"enclosures must be >= {MIN_ENCLOSURES}")
        if self.pools < MIN_POOLS:
            problems.append(f"pools must be >= {MIN_POOLS}")
        if self.volumes < MIN_VOLUMES:
            problems.append(f"volumes must be >= {MIN_VOLUMES}")
        if self.disks < min_disks(max(self.pools, MIN_POOLS)):
            problems.append(f"disks must be >= {min_disks(max(self.pools, MIN_POOLS))} "
                            f"for {self.pools} pool(s)")
        if problems:
            raise ValueError("invalid simulator config: " + "; ".join(problems))
