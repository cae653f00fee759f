"""Benchmarks of the exporter's data path: poll cost, profile, scrape latency, fleet, memory.

`python -m bench.run` runs everything and writes `bench/results/latest.json` and the README's
performance section; `python -m bench.run --quick` is the smoke run the tests use. Modules:
`fleet` (simulated arrays in their own processes), `scrape` (the Prometheus-like client, in its
own process, and the three servers compared), `baseline` (the naive prometheus_client
collector), `phases` (poll cost, fleet freshness, memory), `profile` (where a poll's CPU goes),
`targets` (the one table of goals), `report` (table, JSON, README).
"""
