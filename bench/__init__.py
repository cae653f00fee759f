"""Benchmarks of the exporter's data path: scrape latency, poll cost, fleet freshness, memory.

`python -m bench.run` runs everything and writes `bench/results/latest.json` and the README's
performance section; `python -m bench.run --quick` is the smoke run the tests use. Modules:
`fleet` (simulated arrays in their own process), `scrape` (the Prometheus-like client, in its own
process, and the three servers compared), `baseline` (the naive prometheus_client collector),
`phases` (poll cost, fleet freshness, memory), `report` (table, JSON, README).
"""
