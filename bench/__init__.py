"""Benchmarks: each ``bench/bench_*.py`` prints its figure next to a floor measured in the same
run, and their ratio. ``python -m bench`` (``make bench``) runs them all."""
