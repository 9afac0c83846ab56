"""The bookkeeping every trainer shares: a JSON-lines log, the learning-rate schedule, the time
budget and checkpoint cadence, and copying the best weights into a shipped folder.

Kept apart from the training steps themselves so each `train.py` reads as its model's loop only.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from engine.components import CONFIG_NAME, WEIGHTS_NAME
from engine.training import distributed as D


class JsonLog:
    """Rank 0 prints each record as one JSON line and appends it to `<out>/log.jsonl`."""

    def __init__(self, out: Path, is_main: bool) -> None:
        self.path = out / "log.jsonl"
        self.is_main = is_main
        if is_main:
            out.mkdir(parents=True, exist_ok=True)

    def __call__(self, record: dict[str, Any]) -> None:
        if not self.is_main:
            return
        line = json.dumps(record)
        print(line, flush=True)
        with self.path.open("a") as file:
            file.write(line + "\n")


def warmup_cosine(step: int, total: int, warmup: int, peak: float, floor: float = 0.1) -> float:
    """Linear warmup to `peak`, then cosine decay to `floor * peak` at `total` steps."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


class RunClock:
    """Wall-clock budget (`max_minutes`, 0 = none) and checkpoint cadence (`ckpt_minutes`)."""

    def __init__(self, max_minutes: float, ckpt_minutes: float) -> None:
        self.start = self.last_checkpoint = time.monotonic()
        self.max_minutes = max_minutes
        self.ckpt_minutes = ckpt_minutes

    def minutes(self) -> float:
        return (time.monotonic() - self.start) / 60

    def out_of_time(self) -> bool:
        """True on every rank once any rank is past the budget (collectives must stay matched)."""
        if self.max_minutes <= 0:
            return False
        late = torch.tensor(float(self.minutes() > self.max_minutes))
        return bool(D.all_reduce_mean(late) > 0)

    def checkpoint_due(self) -> bool:
        return time.monotonic() - self.last_checkpoint > self.ckpt_minutes * 60

    def checkpointed(self) -> None:
        self.last_checkpoint = time.monotonic()


def eval_and_checkpoint(step: int, total: int, eval_every: int, clock: RunClock,
                        evaluate: Callable[[], None], checkpoint: Callable[[], None]) -> bool:
    """The end of a training step: on eval steps, the last step or when out of time, evaluate (the
    callback decides which rank does) and checkpoint with all ranks in step; otherwise checkpoint
    when one is due. Returns True when the run must stop (out of time)."""
    out_of_time = clock.out_of_time()
    if step % eval_every == 0 or step == total or out_of_time:
        evaluate()
        checkpoint()
        clock.checkpointed()
        D.barrier()
    elif clock.checkpoint_due():
        checkpoint()
        clock.checkpointed()
    return out_of_time


def export_weights(source: Path, target: Path) -> None:
    """Copy a saved component (`config.json` + `model.safetensors`) into a shipped weights folder."""
    target.mkdir(parents=True, exist_ok=True)
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        shutil.copy2(source / name, target / name)
