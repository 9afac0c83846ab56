"""The harmonic decoder: synthesis, its training targets from the world, training, ONNX."""

from pathlib import Path

import numpy as np
import pytest
import torch

from engine.audio_tokenizer import AudioTokenizer
from engine.audio_tokenizer.harmonic import synthesize
from engine.audio_tokenizer.onnx_export import OnnxAudioDecoder, export_decoder
from engine.audio_tokenizer.train_harmonic import SHAPES, timbre_partials, voice_targets
from engine.world import EVAL_SEED_START, sample
from engine.world.palette import LOUDNESS, pitch
from engine.world.render_audio import hum
from tests.engine.audio_tokenizer.conftest import tiny_config, torchrun

HOP = 320


def _constant(frames: int, value: float) -> torch.Tensor:
    return torch.full((1, frames, 1), value)


def test_one_partial_sounds_at_its_harmonic_of_the_pitch():
    frames, partials = 50, torch.zeros(1, 50, 1, 8)
    partials[..., 2] = 1.0  # the 3rd harmonic only
    audio = synthesize(_constant(frames, np.log2(300.0)), _constant(frames, 0.5), partials, HOP, 16_000)
    assert audio.shape == (1, 1, frames * HOP)
    spectrum = np.abs(np.fft.rfft(audio[0, 0].numpy()))
    assert abs(np.argmax(spectrum) * 16_000 / audio.shape[-1] - 900.0) <= 1.0
    assert abs(audio.abs().max().item() - 0.5) < 1e-3


def test_world_controls_resynthesise_the_world_hum():
    """A still object's exact pitch, loudness and timbre give back the renderer's own tone."""
    frames = 107
    for shape in SHAPES:
        heights, radii = np.full(17, 20.0), np.full(17, 8.0)
        expected = hum(shape, heights, radii)
        partials = timbre_partials()[SHAPES.index(shape)].expand(1, frames, 1, 8)
        got = synthesize(_constant(frames, float(np.log2(pitch(20.0)))),
                         _constant(frames, LOUDNESS[0] + LOUDNESS[1] * 8.0), partials, HOP, 16_000)
        # float32 controls drift the phase by ~1e-4 cycles over the clip: within 2 % of the peak
        assert np.abs(got[0, 0, : expected.size].numpy() - expected).max() < 5e-3, shape


def test_voice_targets_follow_the_scene_ordered_by_pitch():
    clip = next(c for c in map(sample, range(100)) if len(c.scene.objects) == 2)
    controls, timbre = voice_targets(clip.scene, 107, HOP, voices=2)
    assert controls.shape == (107, 2, 2) and timbre.shape == (107, 2)
    assert torch.all(controls[:, 0, 0] <= controls[:, 1, 0])  # low voice first
    assert torch.all(controls[..., 1] > 0.1)  # both voices sound throughout
    frame = 8  # latent frame 50 sits at sample 16,160, near video frame 8's centre (17,000)
    heights = sorted(o.trajectory[frame, 1] for o in clip.scene.objects)[::-1]  # lower on screen = lower pitch
    for slot, y in enumerate(heights):
        at = 16_000 * (frame + 0.5) / 8
        latent = int(round(at / HOP - 0.5))
        assert abs(controls[latent, slot, 0].item() - np.log2(pitch(y))) < 0.05
    single = next(c for c in map(sample, range(100)) if len(c.scene.objects) == 1)
    controls, timbre = voice_targets(single.scene, 107, HOP, voices=2)
    assert torch.all(controls[:, 1, 1] == 0) and torch.all(timbre[:, 0] == SHAPES.index(single.scene.objects[0].shape))


def test_harmonic_codec_decodes_every_level_count_and_validates_its_config():
    torch.manual_seed(0)
    model = AudioTokenizer(tiny_config(decoder="harmonic", harmonic_width=8, harmonic_blocks=1)).eval()
    audio = 0.1 * torch.randn(2, 1, 1000)
    indices = model.encode(audio)
    for levels in (1, 3):
        out = model.decode(indices[:, :levels], 1000)
        assert out.shape == (2, 1, 1000) and torch.isfinite(out).all() and out.abs().max() <= 1
    with pytest.raises(ValueError, match="decoder"):
        tiny_config(decoder="vocoder")
    with pytest.raises(ValueError, match="Nyquist"):
        tiny_config(harmonic_hz=(100.0, 1200.0))


def test_onnx_harmonic_decoder_matches_pytorch(tmp_path):
    torch.manual_seed(0)
    model = AudioTokenizer(tiny_config(decoder="harmonic", harmonic_width=8, harmonic_blocks=1)).eval()
    indices = model.encode(0.1 * torch.randn(2, 1, 1000))
    onnx_audio = OnnxAudioDecoder(export_decoder(model, tmp_path)).decode(indices, 1000)
    assert torch.max(torch.abs(onnx_audio - model.decode(indices, 1000))).item() <= 1e-4


def _train(init: Path, out: Path, steps: int, *extra: str) -> list[dict]:
    return torchrun("engine.audio_tokenizer.train_harmonic", "--init", str(init), "--out", str(out),
                    "--steps", str(steps), "--width", "8", "--blocks", "1", "--pool", "4", "--batch-size", "2",
                    "--eval-every", "2", "--eval-clips", "2", "--log-every", "1", "--warmup", "1", *extra)


def test_two_process_training_keeps_the_tokens_resumes_and_exports(tmp_path):
    torch.manual_seed(0)
    codec = AudioTokenizer(tiny_config(clip_samples=34_000, strides=(4, 80)))
    codec.save_pretrained(tmp_path / "codec")
    first = _train(tmp_path / "codec", tmp_path / "run", 2)
    assert first[0]["world_size"] == 2 and [r["step"] for r in first if "loss" in r] == [1, 2]
    assert {"timbre_kept", "pitch_kept"} <= set(next(r for r in first if "eval" in r)["eval"])
    second = _train(tmp_path / "codec", tmp_path / "run", 3, "--export", str(tmp_path / "shipped"))
    assert second[0]["step"] == 2 and [r["step"] for r in second if "loss" in r] == [3]
    shipped = AudioTokenizer.from_pretrained(tmp_path / "shipped")
    assert shipped.config.decoder == "harmonic" and shipped.config.refiner_blocks == 0
    clip = torch.from_numpy(sample(EVAL_SEED_START).audio)[None, None]
    assert torch.equal(shipped.encode(clip), codec.eval().encode(clip))  # encoder and codebooks kept
