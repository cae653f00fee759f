"""Polling: the fleet of per-array jobs (fleet.py) and the poll of one array (array.py).

One poll of one array, in order: backoff.py says whether it may run; fetch.py fetches the due
areas in the areas table's order (qsan_exporter/areas.py); carry.py hands each collector the
answers of the areas it needs; logs.py folds the log events into the tally; identity.py reads
the array's model and product; collect.py runs each collector (its failure isolation); own.py
turns the typed poll status into the exporter's own families, at the edge.
"""
