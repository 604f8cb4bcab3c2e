"""Benchmarks: each prints figures and ratios; run them with `.venv/bin/python bench/<name>.py`."""
