import argparse
import math

import pytest
import torch

from engine.video_tokenizer.train import codebook_usage, hard_pixel_loss, learning_rate, object_loss, psnr


def test_psnr_of_known_error():
    x = torch.zeros(2, 3, 1, 4, 4)
    y = x + 0.2  # 0.1 in [0, 1] units -> mse 0.01 -> 20 dB
    assert psnr(y, x).tolist() == pytest.approx([20.0, 20.0], abs=1e-4)


def test_hard_pixel_loss_averages_only_the_worst_pixels():
    recon = torch.zeros(1, 3, 1, 10, 10)  # 100 pixels
    target = torch.zeros_like(recon)
    target[..., 0, :5] = 1.0  # 5 pixels fully wrong
    assert hard_pixel_loss(recon, target, 0.05).item() == pytest.approx(1.0)
    assert hard_pixel_loss(recon, target, 0.10).item() == pytest.approx(0.5)


def test_object_loss_averages_the_error_near_objects_only():
    recon, target = torch.zeros(1, 3, 1, 16, 16), torch.zeros(1, 3, 1, 16, 16)
    mask = torch.zeros(1, 1, 1, 16, 16)
    mask[..., 8, 8] = 1.0  # one object pixel: with a 2 px rim, a 5 x 5 neighbourhood counts
    target[..., 0, 0] = 1.0  # far from it: not counted
    assert object_loss(recon, target, mask).item() == 0.0
    target[..., 10, 10] = 1.0  # on the rim's corner
    assert object_loss(recon, target, mask).item() == pytest.approx(1.0 / 25)
    assert object_loss(recon, target, torch.zeros_like(mask)).item() == 0.0  # no object: no loss


def test_codebook_usage_and_perplexity():
    stats = codebook_usage(torch.tensor([[0, 1, 2, 3]]), vocab_size=8)
    assert stats["usage"] == 0.5 and stats["perplexity"] == pytest.approx(4.0)


def test_learning_rate_warmup_then_cosine_to_a_tenth():
    args = argparse.Namespace(lr=1e-3, warmup=10, steps=110)
    assert learning_rate(0, args) == pytest.approx(1e-4)
    assert learning_rate(10, args) == pytest.approx(1e-3)
    assert learning_rate(110, args) == pytest.approx(1e-4)
    assert learning_rate(60, args) == pytest.approx(1e-3 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi / 2))))


def test_decoder_only_fine_tune_keeps_the_tokens(tmp_path):
    from engine.video_tokenizer.model import VideoTokenizer, VideoTokenizerConfig
    from engine.video_tokenizer.train import main

    torch.manual_seed(0)
    start = VideoTokenizer(VideoTokenizerConfig(channels=(8, 12, 16), bits=6))
    start.save_pretrained(tmp_path / "start")
    main(["--out", str(tmp_path / "run"), "--init", str(tmp_path / "start"), "--decoder-only", "--steps", "2",
          "--batch-size", "1", "--warmup", "1", "--eval-every", "2", "--eval-clips", "2", "--log-every", "1",
          "--device", "cpu"])
    tuned = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["model"]
    before = start.state_dict()
    assert all(torch.equal(before[k], tuned[k]) for k in before if k.startswith(("encoder.", "quantizer.")))
    assert any(not torch.equal(before[k], tuned[k]) for k in before if k.startswith("decoder."))


def test_decoder_only_needs_initial_weights(tmp_path):
    from engine.video_tokenizer.train import main

    with pytest.raises(ValueError, match="--init"):
        main(["--out", str(tmp_path / "run"), "--decoder-only", "--steps", "1", "--device", "cpu"])


def test_judge_eval_reads_originals_right_and_prefers_the_better_model(tmp_path):
    from engine.training.data import eval_seeds
    from engine.video_tokenizer.train import JudgeEval

    class Identity(torch.nn.Module):  # encode/decode that give the clip back: the judge's own accuracy
        def encode(self, x):
            return x

        def decode(self, x):
            return x

    class Grey(Identity):  # a decoder that loses everything
        def decode(self, x):
            return torch.zeros_like(x)

    seeds = eval_seeds(3)
    judge = JudgeEval(seeds)
    perfect, lost = judge(Identity()), judge(Grey())
    assert perfect["judge"] == 1.0 and perfect["judge_shape"] == 1.0
    assert lost["judge"] == 0.0
    assert set(perfect) == {"judge", "judge_colour", "judge_shape", "judge_motion"}
