"""Benchmarks of OccLE's compute kernels (run them with `occle bench ...`).

`scan`: the selective scan, our chunked torch implementation against mambapy's parallel scan
and a sequential loop, timing and peak memory per case.
"""
