"""Talking to QSAN arrays. No Prometheus imports here."""
