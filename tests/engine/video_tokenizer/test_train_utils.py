import argparse
import math

import pytest
import torch

from engine.video_tokenizer.train import codebook_usage, hard_pixel_loss, learning_rate, psnr


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
