"""Benchmark and robustness tests: real processes, real model, loopback only."""
