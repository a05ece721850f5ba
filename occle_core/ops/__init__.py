"""Numerical operators of the OccLE network that are not plain torch layers.

`selective_scan` is the selective state-space scan of Mamba with mamba-ssm's semantics: on CUDA
with mamba-ssm installed it runs mamba-ssm's kernel, elsewhere our chunked torch implementation.
"""

from occle_core.ops.selective_scan import (
    selective_scan,
    selective_scan_backend,
    selective_scan_torch,
)

__all__ = ["selective_scan", "selective_scan_backend", "selective_scan_torch"]
