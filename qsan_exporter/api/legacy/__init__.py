"""The SANOS 4.0 (legacy) API: `client` talks to the array; `source` says which endpoints feed
which area, and `translate` (the engine), `hardware`, `storage` and `services` (per area) turn
their answers into the Unified-shaped documents the collectors read, by the tables in `mapping`."""
