"""The SANOS 4.0 (legacy) API: which endpoints feed which area, and how their answers become
the Unified-shaped documents the collectors read (`source`, `translate`, `mapping`)."""
