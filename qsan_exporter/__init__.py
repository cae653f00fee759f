"""Prometheus exporter for QSAN storage arrays."""

__version__ = "0.1.0"
