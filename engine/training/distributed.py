"""Run the same training script on one CPU process or under `torchrun` on many GPUs.

`torchrun --nproc_per_node N -m engine.<component>.train ...` sets RANK / WORLD_SIZE / LOCAL_RANK;
`setup()` reads them and starts a process group: gloo on the CPU, NCCL on CUDA. A plain
`python -m ...` is a world of size 1 with no process group at all.

Checkpoints hold model + optimizer + step and are written by rank 0 atomically (temporary file,
then rename), so a run killed mid-write resumes from the previous checkpoint. They are training
state only (loaded with `weights_only=True`); shipped weights are safetensors (engine.components).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from engine.world import EVAL_SEED_START


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(device: str | None = None) -> DistInfo:
    """Join the process group when launched by torchrun; pick the device for this rank."""
    rank = int(os.environ.get("RANK", 0))
    world_size = int(os.environ.get("WORLD_SIZE", 1))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    use_cuda = torch.cuda.is_available() if device is None else device.startswith("cuda")
    if use_cuda:
        torch.cuda.set_device(local_rank)
        dev = torch.device("cuda", local_rank)
    else:
        dev = torch.device("cpu")
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistInfo(rank, world_size, local_rank, dev)


def cleanup() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def wrap_ddp(model: nn.Module, info: DistInfo) -> nn.Module:
    """DistributedDataParallel when there is more than one process, the model itself otherwise."""
    if info.world_size == 1:
        return model
    device_ids = [info.local_rank] if info.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def all_reduce_mean(value: torch.Tensor) -> torch.Tensor:
    """Average a scalar tensor over ranks (for logging the same loss on every rank)."""
    if dist.is_initialized():
        value = value.detach().clone()
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
        value /= dist.get_world_size()
    return value


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def save_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, step: int,
                    extra: dict[str, Any] | None = None) -> None:
    """Rank 0 writes {model, optimizer, step, extra} atomically; other ranks do nothing."""
    if dist.is_initialized() and dist.get_rank() != 0:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"model": unwrap(model).state_dict(), "optimizer": optimizer.state_dict(),
             "step": step, "extra": extra or {}}
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as tmp:
        tmp_path = Path(tmp.name)
    torch.save(state, tmp_path)
    os.replace(tmp_path, path)


def load_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None) -> tuple[int, dict]:
    """Restore model (and optimizer) from `path`; returns (step, extra). Missing file -> (0, {})."""
    if not path.is_file():
        return 0, {}
    state = torch.load(path, map_location="cpu", weights_only=True)
    unwrap(model).load_state_dict(state["model"], strict=True)
    if optimizer is not None:
        optimizer.load_state_dict(state["optimizer"])
    return int(state["step"]), dict(state["extra"])


def rank_seeds(step: int, batch_size: int, info: DistInfo, offset: int = 0) -> list[int]:
    """World seeds for this rank at this step: disjoint across ranks and steps, so no clip repeats
    within a run and a resumed run sees exactly the data it would have seen. Training seeds stay
    below the evaluation split (`EVAL_SEED_START`): a seed there raises instead of leaking eval data."""
    start = offset + (step * info.world_size + info.rank) * batch_size
    if start + batch_size > EVAL_SEED_START:
        raise ValueError(f"training seeds {start}..{start + batch_size - 1} reach the eval split ({EVAL_SEED_START})")
    return list(range(start, start + batch_size))
