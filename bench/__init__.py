"""Benchmarks: detection quality against peer debouncers, loop cost, allocation, footprint,
log. Run `python -m bench` (bench/run.py)."""
