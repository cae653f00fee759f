"""Scale-out: three `--shard=I/3` exporters share one config of 30 arrays; a real Prometheus
scrapes all three and sees every array exactly once, each on the shard its name hashes to."""

from __future__ import annotations

from collections import Counter

import pytest

from qsan_exporter.sharding import shard_of
from tests.conftest import query, wait_for, write_config

ARRAYS = 30
SHARDS = 3
SMALL = {"enclosures": 1, "disks": 8, "pools": 1, "volumes": 2}


@pytest.mark.slow
def test_three_shards_scrape_every_array_exactly_once(simulators, exporter, prometheus,
                                                      tmp_path) -> None:
    names = [f"fleet-{i:02d}" for i in range(ARRAYS)]
    sims = {name: simulators(("san", "fas", "nas")[i % 3], **SMALL)
            for i, name in enumerate(names)}
    config = write_config(tmp_path / "fleet.yml", sims, interval_seconds=2, timeout_seconds=1)
    expected = {i: {n for n in names if shard_of(n, SHARDS) == i} for i in range(SHARDS)}
    assert all(expected.values()), f"a shard would be empty: {expected}"

    shards = [exporter(f"--config.file={config}", f"--shard={i}/{SHARDS}")
              for i in range(SHARDS)]
    for shard in shards:
        shard.wait_ready()
    instances = {shard.url.removeprefix("http://"): i for i, shard in enumerate(shards)}
    url = prometheus([{"job_name": "qsan", "static_configs": [{"targets": list(instances)}]}])

    wait_for(lambda: len(query(url, 'up{job="qsan"} == 1')) == SHARDS, 30, "all shards up")
    wait_for(lambda: len(query(url, "qsan_up == 1")) == ARRAYS, 30, "every array polled")

    # Every array is served exactly once across the shards.
    per_array = query(url, "count by (array) (qsan_up)")
    assert {r["metric"]["array"] for r in per_array} == set(names)
    assert all(r["value"][1] == "1" for r in per_array), per_array
    # ...by the shard its name hashes to, and no shard is empty.
    served = {i: set() for i in range(SHARDS)}
    for r in query(url, "qsan_up"):
        served[instances[r["metric"]["instance"]]].add(r["metric"]["array"])
    assert served == expected
    counts = Counter({i: len(arrays) for i, arrays in served.items()})
    assert min(counts.values()) >= ARRAYS // SHARDS // 2, counts  # roughly its share
    # Device data follows the same split: each array's disks come from one shard only.
    disks = query(url, "count by (array) (count by (array, instance) (qsan_disk_health))")
    assert len(disks) == ARRAYS and all(r["value"][1] == "1" for r in disks)
    # One token set per array across the fleet, not one per shard.
    assert all(sim.live_token_sets() == 1 for sim in sims.values())
