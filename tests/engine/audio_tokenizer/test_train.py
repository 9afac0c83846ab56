"""A 2-process torchrun (gloo, CPU) training run that checkpoints, resumes and exports."""

from pathlib import Path

import torch

from engine.audio_tokenizer import AudioTokenizer
from engine.audio_tokenizer.train import improved
from tests.engine.audio_tokenizer.conftest import torchrun

TINY = ["--channels", "2", "--strides", "2", "4", "--dilations", "1", "--latent-dim", "4", "--levels", "2",
        "--codebook-size", "16", "--batch-size", "2", "--crop", "1600", "--eval-every", "2",
        "--eval-clips", "2", "--log-every", "1", "--warmup", "1", "--quantize-after", "1", "--wave-steps", "1"]


def _train(out: Path, steps: int, *extra: str) -> list[dict]:
    return torchrun("engine.audio_tokenizer.train", "--out", str(out), "--steps", str(steps), *TINY, *extra,
                    timeout=120)


def test_two_process_training_checkpoints_resumes_and_exports(tmp_path):
    first = _train(tmp_path / "run", 2)
    assert first[0]["world_size"] == 2 and first[0]["step"] == 0
    assert [r["step"] for r in first if "loss" in r] == [1, 2]
    assert any("eval" in r for r in first) and (tmp_path / "run" / "best" / "config.json").is_file()
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert state["step"] == 2

    second = _train(tmp_path / "run", 3, "--export", str(tmp_path / "shipped"))
    assert second[0]["step"] == 2  # resumed, not restarted
    assert [r["step"] for r in second if "loss" in r] == [3]
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in first + second if "loss" in r)
    model = AudioTokenizer.from_pretrained(tmp_path / "shipped")
    assert model.config.levels == 2 and model.encode(torch.zeros(1, 1, 800)).shape == (1, 2, 100)
    log = (tmp_path / "run" / "log.jsonl").read_text().splitlines()
    assert len(log) == len(first) + len(second)  # every stdout record, "start" included, is in the log


def test_decoder_only_training_adds_a_refiner_and_keeps_the_tokens(tmp_path):
    _train(tmp_path / "stage1", 2, "--export", str(tmp_path / "codec"))
    _train(tmp_path / "stage2", 2, "--init", str(tmp_path / "codec"), "--decoder-only", "--refiner-blocks", "1",
           "--refiner-width", "8", "--refiner-fft", "32", "--complex-weight", "1", "--click-weight", "1",
           "--adversarial-weight", "1", "--feature-weight", "1",
           "--export", str(tmp_path / "refined"))
    assert (tmp_path / "stage2" / "discriminator.pt").is_file()  # the adversary resumes too
    before = AudioTokenizer.from_pretrained(tmp_path / "codec")
    after = AudioTokenizer.from_pretrained(tmp_path / "refined")
    assert after.config.refiner_blocks == 1 and before.config.refiner_blocks == 0
    old, new = before.state_dict(), after.state_dict()
    for name, value in old.items():
        if name.startswith(("encoder.", "quantizer.")):
            assert torch.equal(new[name], value), name  # frozen: the same tokens
    assert any(not torch.equal(new[n], old[n]) for n in old if n.startswith("decoder."))
    torch.manual_seed(0)
    audio = 0.3 * torch.randn(1, 1, 1600)
    assert torch.equal(after.encode(audio), before.encode(audio))


def test_best_model_by_the_judge_breaks_ties_by_spectral_distance():
    best = (0.5, 1.0)
    assert improved({"judge": 0.6, "spectral": 2.0}, best, "judge") == (0.6, 2.0)
    assert improved({"judge": 0.5, "spectral": 0.9}, best, "judge") == (0.5, 0.9)
    assert improved({"judge": 0.5, "spectral": 1.1}, best, "judge") is None
    assert improved({"judge": 0.4, "spectral": 0.1}, best, "judge") is None
    assert improved({"judge": 0.4, "spectral": 0.9}, best, "spectral") == (0.4, 0.9)
    assert improved({"judge": 0.9, "spectral": 1.1}, best, "spectral") is None
