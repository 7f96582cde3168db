"""Benchmarks of what ccr adds on top of an upstream call; run ``python -m bench.latency``."""
