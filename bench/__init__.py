"""Benchmarks, one module per capability, run by `make bench` (python -m bench).

Each module exposes ``run() -> list[dict]``; every row names the case, our figure, the
baseline's figure measured in the same run, and their ratio. Benchmarks generate their
inputs locally and download nothing.
"""
