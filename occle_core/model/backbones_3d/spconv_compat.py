"""Loading spconv, and two CPU compatibility shims for spconv 2.3 on CPU-only torch.

Both shims were written against spconv 2.3.8 (the PyPI CPU build, cumm 0.7.11). They are applied
only when ``torch.cuda.is_available()`` is False, so GPU machines always run spconv unmodified,
and applying them again changes nothing.

1. ``get_current_stream`` (backward on CPU-only torch).
   ``spconv.pytorch.cppcore.get_current_stream()`` returns
   ``torch.cuda.current_stream().cuda_stream``. Most call sites only call it for CUDA tensors,
   but the native backward pass ``spconv.pytorch.ops.indice_conv_backward`` (the gradient of
   every ``SubMConv3d`` / ``SparseConv3d`` / ``SparseInverseConv3d``) calls it unconditionally,
   and on a torch build without CUDA that raises ``AssertionError: Torch not compiled with CUDA
   enabled``. On the CPU path the stream is never used (that branch gathers, multiplies with
   ``torch.mm`` and scatters; spconv's own CPU branches pass ``stream = 0``), so the shim
   replaces the function by one returning 0, in ``spconv.pytorch.cppcore`` and in every loaded
   ``spconv.*`` module that bound it with ``from spconv.pytorch.cppcore import
   get_current_stream`` (``ops``, ``hash``, ``utils``, the quantization modules). Modules
   imported later pick up the patched ``cppcore`` attribute.

2. ``SpconvOps.scatter_add_cpu`` (wrong results with more than one OpenMP thread).
   The CPU forward and backward of every sparse convolution (``ops.indice_conv`` and
   ``ops.indice_conv_backward``) accumulate each kernel offset's product rows into the output
   with the C++ ``SpconvOps.scatter_add_cpu``. Its OpenMP loop (``GatherCPU::scatter_add``,
   generated from ``spconv/csrc/sparse/gather.py``) declares the row pointers ``buf`` and
   ``out_ptr`` outside the parallel lambda and captures them by reference, so the threads
   overwrite each other's pointers and rows are added to the wrong output or lost. With
   torch's default thread count this silently corrupts outputs and gradients (observed on 2
   cores: a wrong row in roughly 1 to 4 % of calls, so in most non-trivial forward passes).
   The shim replaces ``SpconvOps`` as seen by ``spconv.pytorch.ops`` (that module's global,
   nothing else) by a proxy whose ``scatter_add_cpu`` does the same accumulation with
   ``torch.Tensor.index_add_`` on zero-copy views of the same buffers; every other attribute
   is the original's.

`load_spconv` is the one way our code imports spconv: it imports ``spconv.pytorch`` only when
called (importing this module does not load spconv, so torch-only code never pays for it),
raises an ImportError that says what to install when spconv is missing, and applies the shims.
`occle_core.model.backbones_3d.blocks`, on which our sparse networks are built, calls it at import.
Code that imports spconv itself should call `load_spconv` (or `apply_cpu_shims`) first.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

import torch

_CPPCORE = "spconv.pytorch.cppcore"
_OPS = "spconv.pytorch.ops"
_STREAM_ATTRIBUTE = "get_current_stream"
_OPS_ATTRIBUTE = "SpconvOps"

_INSTALL_HINT = (
    "install the CPU build with `pip install spconv`, or on a GPU machine the build matching "
    "your CUDA, e.g. `pip install spconv-cu120`"
)

# torch.fx's logger and the start of its one-time notice about `is_fx_tracing` (torch 2.13).
_FX_LOGGER = "torch.fx._symbolic_trace"
_FX_TRACING_NOTICE = "is_fx_tracing will return true"

# spconv's original get_current_stream, remembered so that only references to it are replaced.
_original_get_current_stream: Callable[[], int] | None = None


def _cpu_current_stream() -> int:
    """Stand-in for spconv's get_current_stream on CPU-only torch: the null stream, 0."""
    return 0


class _SpconvOpsWithSerialScatter:
    """``SpconvOps`` with a race-free ``scatter_add_cpu``; every other attribute is forwarded."""

    def __init__(self, ops: Any) -> None:
        self.wrapped = ops

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)

    @staticmethod
    def scatter_add_cpu(out: Any, inp: Any, inds: Any) -> None:
        """``out[inds[i]] += inp[i]`` for i < len(inds), as spconv's C++ function means to.

        Args:
            out: (N_out, C) cumm ``tv.Tensor`` on the CPU, updated in place.
            inp: (>= M, C) ``tv.Tensor`` of rows to add (a reused buffer; rows past M unused).
            inds: (M,) int32 ``tv.Tensor`` of target rows.
        """
        count = int(inds.dim(0))
        if count == 0:
            return
        # numpy_view shares memory with the tv tensor, which shares it with spconv's torch tensor.
        target = torch.from_numpy(out.numpy_view())
        rows = torch.from_numpy(inp.numpy_view())[:count]
        index = torch.from_numpy(inds.numpy_view()).long()
        target.index_add_(0, index, rows)


def _patch_current_stream() -> bool:
    global _original_get_current_stream
    try:
        cppcore = importlib.import_module(_CPPCORE)
    except ImportError:
        return False
    current = getattr(cppcore, _STREAM_ATTRIBUTE, None)
    if current is None:
        return False
    if current is not _cpu_current_stream:
        _original_get_current_stream = current
        setattr(cppcore, _STREAM_ATTRIBUTE, _cpu_current_stream)
    original = _original_get_current_stream
    # `from cppcore import get_current_stream` copied the function into these modules' globals;
    # only those copies are replaced, so an unrelated attribute of the same name stays.
    for name, module in list(sys.modules.items()):
        if name.startswith("spconv.") and getattr(module, _STREAM_ATTRIBUTE, None) is original:
            setattr(module, _STREAM_ATTRIBUTE, _cpu_current_stream)
    return True


def _patch_scatter_add() -> bool:
    try:
        ops = importlib.import_module(_OPS)
    except ImportError:
        return False
    current = getattr(ops, _OPS_ATTRIBUTE, None)
    if current is None or not hasattr(current, "scatter_add_cpu"):
        return False
    if not isinstance(current, _SpconvOpsWithSerialScatter):
        setattr(ops, _OPS_ATTRIBUTE, _SpconvOpsWithSerialScatter(current))
    return True


def apply_cpu_shims() -> bool:
    """Apply both CPU shims (see the module docstring) when CUDA is unavailable.

    Safe to call any number of times.

    Returns:
        True when both shims are in place after the call; False when CUDA is available (nothing
        is patched), spconv is missing, or spconv no longer has the patched attributes.
    """
    if torch.cuda.is_available():
        return False
    stream = _patch_current_stream()
    scatter = _patch_scatter_add()
    return stream and scatter


def cpu_shims_active() -> bool:
    """Whether both CPU shims are currently in place in the loaded spconv."""
    cppcore = sys.modules.get(_CPPCORE)
    ops = sys.modules.get(_OPS)
    return (
        cppcore is not None
        and ops is not None
        and getattr(cppcore, _STREAM_ATTRIBUTE, None) is _cpu_current_stream
        and isinstance(getattr(ops, _OPS_ATTRIBUTE, None), _SpconvOpsWithSerialScatter)
    )


def load_spconv() -> ModuleType:
    """Import ``spconv.pytorch`` (on first call) with the CPU shims applied.

    Returns:
        The ``spconv.pytorch`` module.

    Raises:
        ImportError: spconv is not installed or fails to import; the message says what to
            install.
    """
    try:
        module = importlib.import_module("spconv.pytorch")
    except ImportError as error:
        raise ImportError(
            f"occle's sparse 3D networks need spconv, but `import spconv.pytorch` failed "
            f"({error}); {_INSTALL_HINT}"
        ) from error
    apply_cpu_shims()
    _quiet_fx_tracing_notice()
    return module


class _DropFxTracingNotice(logging.Filter):
    """Drops torch.fx's notice about `is_fx_tracing`; every other record passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(_FX_TRACING_NOTICE)


def _quiet_fx_tracing_notice() -> None:
    """Keep torch.fx's `is_fx_tracing` notice out of our users' logs (idempotent).

    spconv's ``SparseConvTensor`` is built with torch.fx's ``ProxyableClassMeta``, whose every
    construction calls ``torch.fx.is_fx_tracing()``; torch 2.13 logs a WARNING about that
    function's meaning the first time, so every training and inference run printed a torch.fx
    warning that says nothing about our run (we never trace with fx). Only that record is
    dropped, by a filter on torch.fx's logger.
    """
    logger = logging.getLogger(_FX_LOGGER)
    if not any(isinstance(existing, _DropFxTracingNotice) for existing in logger.filters):
        logger.addFilter(_DropFxTracingNotice())
