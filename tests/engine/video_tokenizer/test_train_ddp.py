"""Two CPU processes under torchrun (gloo): train a tiny tokenizer, checkpoint, resume."""

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[3]
TINY = ["--channels", "8", "12", "16", "--spatial-down", "1", "0", "--temporal-down", "1", "1", "--bits", "6",
        "--batch-size", "1", "--log-every", "1", "--eval-every", "2", "--eval-clips", "2", "--warmup", "1"]


def _torchrun(out: Path, steps: int) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone",
           "-m", "engine.video_tokenizer.train", "--out", str(out), "--steps", str(steps), *TINY]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_two_process_training_checkpoints_and_resumes(tmp_path):
    out = tmp_path / "run"
    first = _torchrun(out, 2)
    assert first.returncode == 0, first.stderr[-3000:]
    start = json.loads(first.stdout.splitlines()[0])
    assert start["world_size"] == 2 and start["step"] == 0
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["step"] == 2
    assert (out / "best" / "model.safetensors").is_file()

    second = _torchrun(out, 4)
    assert second.returncode == 0, second.stderr[-3000:]
    assert json.loads(second.stdout.splitlines()[0])["step"] == 2  # resumed, not restarted
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "loss" in r] == [1, 2, 3, 4]
    assert any(r.get("event") == "eval" and r["step"] == 4 for r in records)
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] == 4
