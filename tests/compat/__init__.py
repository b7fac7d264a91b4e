"""Differential tests: statetrainer against Lightning 2.6.6 hook order, counters and metrics."""
