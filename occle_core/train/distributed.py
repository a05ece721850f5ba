"""Multi-process training through torchrun: process group set-up and the rank's role.

`torchrun --nproc_per_node N -m occle_core.cli.main train ...` starts N processes with RANK,
WORLD_SIZE and LOCAL_RANK set; each takes every N-th sample of a global micro-batch, gradients
are averaged by DistributedDataParallel, and only rank 0 writes logs, checkpoints and runs
validation. Without those variables training runs in one process as usual.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import distributed as dist


@dataclass(frozen=True)
class DistributedContext:
    """This process's place in the job.

    Attributes:
        enabled: a process group is active (torchrun, even with one process).
        rank: global rank.
        world_size: number of processes.
        local_rank: rank on this machine (selects the GPU).
    """

    enabled: bool = False
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()


def init_distributed() -> DistributedContext:
    """Join the torchrun process group when its environment variables are set.

    Uses NCCL when CUDA is available, gloo otherwise (so a CPU job with one or more processes
    works, e.g. in tests).
    """
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return DistributedContext()
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
    return DistributedContext(True, rank, world, local_rank)


def shutdown(context: DistributedContext) -> None:
    """Leave the process group (call once at the end of the job)."""
    if context.enabled and dist.is_initialized():
        dist.destroy_process_group()
