"""Which arrays this instance polls: `--shard=I/N` math (shards.py) and, in a Kubernetes
StatefulSet, N followed from the API server (kube.py)."""

from qsan_exporter.sharding.shards import Shard, parse_shard, select_shard, shard_of

__all__ = ["Shard", "parse_shard", "select_shard", "shard_of"]
