import json

import onnx
import pytest
import torch

from engine.audio_tokenizer import AudioTokenizer, AudioTokenizerConfig
from engine.audio_tokenizer.losses import (
    MultiScaleSpectralLoss,
    click_loss,
    complex_spectral_loss,
    high_band_envelope,
    mel_filterbank,
    partials_loss,
)
from engine.audio_tokenizer.onnx_export import OnnxAudioDecoder, export_decoder, load_audio_decoder
from engine.audio_tokenizer.stft import STFT
from engine.audio_tokenizer.train import with_refiner
from engine.components import ComponentLoadError
from engine.transformer.dataset import state_hash
from engine.world.render_audio import click

from .conftest import tiny_config


def test_shapes_vocabulary_and_frames(tiny_model, audio):
    indices = tiny_model.encode(audio)
    assert indices.shape == (2, 3, tiny_model.frames_for(1000)) == (2, 3, 125)
    assert indices.dtype == torch.long and indices.min() >= 0 and indices.max() < 32
    assert tiny_model.decode(indices).shape == (2, 1, 1000)
    assert tiny_model.decode(indices, 900).shape == (2, 1, 900)
    assert tiny_model.decode(indices[:, :1]).shape == (2, 1, 1000)  # fewer levels still decode
    assert tiny_model.frames_for(1001) == 126 and tiny_model.latent_shape() == (3, 125)
    vocab = (tiny_model.vocab_size_per_level, tiny_model.vocab_size, tiny_model.level_offset(2))
    assert vocab == (32, 96, 64)
    recon, q = tiny_model(audio)
    assert recon.shape == audio.shape and torch.equal(q.indices, indices)
    with pytest.raises(ValueError):
        tiny_model.decode(torch.full((1, 3, 4), 32))


def test_defaults_give_50_frames_per_second():
    config = AudioTokenizerConfig()
    assert config.hop == 320 and config.frame_rate == 50.0
    with pytest.raises(ValueError):
        AudioTokenizerConfig(kernel_size=4)


def test_save_and_load_round_trip_is_exact_and_strict(tiny_model, audio, tmp_path):
    tiny_model.save_pretrained(tmp_path / "m")
    loaded = AudioTokenizer.from_pretrained(tmp_path / "m")
    assert loaded.config == tiny_model.config
    indices = tiny_model.encode(audio)
    assert torch.equal(loaded.encode(audio), indices)
    assert torch.equal(loaded.decode(indices), tiny_model.decode(indices))
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    (tmp_path / "m" / "config.json").write_text(json.dumps({**config, "levels": 2}))
    with pytest.raises(ComponentLoadError):
        AudioTokenizer.from_pretrained(tmp_path / "m")


def test_stft_is_a_centred_dft_and_its_inverse_gives_the_signal_back():
    stft = STFT(32, 8)
    torch.manual_seed(3)
    x = torch.randn(2, 1, 8 * 9)
    real, imag = stft.analysis(x)  # (2, 17, 9)
    assert real.shape == imag.shape == (2, 17, 9)
    frame = torch.nn.functional.pad(x[0, 0], (12, 12))[8 * 4: 8 * 4 + 32] * torch.hann_window(32)
    expected = torch.fft.rfft(torch.roll(frame, -16))  # time origin at the frame's centre
    torch.testing.assert_close(torch.complex(real[0, :, 4], imag[0, :, 4]), expected, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(stft.synthesis(real, imag), x, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError):
        STFT(30, 8)


def test_complex_loss_sees_phase_where_magnitude_losses_do_not(audio):
    stft = STFT(32, 8)
    assert complex_spectral_loss(stft, audio, audio).item() == 0.0
    assert complex_spectral_loss(stft, -audio, audio).item() > 0.1  # same magnitudes, opposite phase


def test_partials_loss_counts_partials_not_faint_noise(audio):
    spectral = MultiScaleSpectralLoss(windows=(256,))
    t = torch.arange(1000) / 16_000
    tone = 0.3 * torch.sin(2 * torch.pi * 440 * t)[None, None]
    harmonic = tone + 0.03 * torch.sin(2 * torch.pi * 1320 * t)[None, None]  # a 3rd harmonic at -20 dB
    faint = tone + 1e-5 * torch.randn(1, 1, 1000)  # noise 90 dB under the tone
    assert partials_loss(spectral, tone, tone, n_fft=256).item() == 0.0
    missing_partial = partials_loss(spectral, tone, harmonic, n_fft=256).item()
    assert missing_partial > 10 * partials_loss(spectral, faint, tone, n_fft=256).item()


def _hum_and_click() -> tuple[torch.Tensor, torch.Tensor]:
    """A 440 Hz hum with its 8th harmonic, and the same hum with the world's click at 0.25 s."""
    t = torch.arange(8000) / 16_000
    hum = 0.3 * torch.sin(2 * torch.pi * 440 * t) + 0.05 * torch.sin(2 * torch.pi * 3520 * t)
    burst = torch.from_numpy(click()).float()
    clicked = hum.clone()
    clicked[4000:4000 + burst.numel()] += burst
    return hum[None, None], clicked[None, None]


def test_high_band_envelope_reads_the_click_and_not_the_hum():
    hum, clicked = _hum_and_click()
    spectral = MultiScaleSpectralLoss(windows=(256,))
    quiet, loud = high_band_envelope(spectral, hum)[0], high_band_envelope(spectral, clicked)[0]
    assert quiet[4:-4].max() < 1e-4  # the hum's partials all lie under 7.3 kHz (its cut ends aside)
    assert loud.max() > 0.02 and 4000 // 64 <= loud.argmax() <= (4000 + click().size) // 64  # in the burst
    high = torch.fft.irfft(torch.fft.rfft(torch.randn(16_000)) * (torch.arange(8001) > 7300), 16_000)
    rms = high.pow(2).mean().sqrt().item()  # a signal that lives above the cutoff: the envelope is its RMS
    assert high_band_envelope(spectral, high[None, None])[0, 4:-4].mean().item() == pytest.approx(rms, rel=0.1)


def test_click_loss_counts_a_missing_click_not_the_hum():
    hum, clicked = _hum_and_click()
    spectral = MultiScaleSpectralLoss(windows=(256,))
    assert click_loss(spectral, clicked, clicked).item() == 0.0
    missing = click_loss(spectral, hum, clicked).item()
    louder_hum = click_loss(spectral, clicked + 0.5 * hum, clicked).item()
    assert missing > 0.05 and louder_hum < missing / 20  # a hum 50 % louder costs nothing here


def test_a_new_refiner_starts_as_the_identity_and_keeps_every_token(tiny_model, audio):
    refined = with_refiner(tiny_model, 1, 8, 32).eval()
    assert refined.config.refiner_blocks == 1 and refined.decoder.refiner is not None
    indices = tiny_model.encode(audio)
    assert torch.equal(refined.encode(audio), indices) and state_hash(refined) == state_hash(tiny_model)
    torch.testing.assert_close(refined.decode(indices), tiny_model.decode(indices), atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        refined.decoder.refiner.proj_out.bias.fill_(1.0)  # every bin e times louder
    assert not torch.allclose(refined.decode(indices), tiny_model.decode(indices), atol=1e-3)
    assert with_refiner(refined, 2, 8, 32) is refined  # a refiner is never replaced


@pytest.mark.parametrize("refiner", [False, True])
def test_onnx_decoder_matches_pytorch(tiny_model, tmp_path, refiner):
    if refiner:
        tiny_model = with_refiner(tiny_model, 1, 8, 32).eval()
        with torch.no_grad():  # a refiner that does something: random gains
            torch.nn.init.normal_(tiny_model.decoder.refiner.proj_out.weight, std=0.3)
    tiny_model.save_pretrained(tmp_path)
    path = export_decoder(tiny_model, tmp_path)
    constants = [n.attribute[0].t.SerializeToString() for n in onnx.load(str(path)).graph.node
                 if n.op_type == "Constant" and n.attribute[0].t.dims and n.attribute[0].t.dims[0] >= 32]
    assert len(constants) == (1 if refiner else 0)  # the refiner's STFT basis, once (traced twice)
    decoder = load_audio_decoder(tmp_path)
    assert isinstance(decoder, OnnxAudioDecoder) and path.name == "decoder.onnx"
    torch.manual_seed(2)
    indices = torch.randint(0, 32, (3, 3, 37))  # another batch and length than the traced example
    expected = tiny_model.decode(indices, 290)
    assert (decoder.decode(indices, 290) - expected).abs().max() <= 1e-4


def test_pytorch_fallback_without_onnx(tiny_model, tmp_path):
    tiny_model.save_pretrained(tmp_path)
    assert isinstance(load_audio_decoder(tmp_path), AudioTokenizer)


def test_spectral_loss_is_zero_on_identical_audio_and_mel_filters_cover_the_band(audio):
    spectral = MultiScaleSpectralLoss(windows=(64, 128))
    assert torch.all(spectral.distance(audio, audio) == 0)
    assert spectral.distance(audio, audio * 0.5).min() > 0.1
    fb = mel_filterbank(512, 40, 16_000)
    assert fb.shape == (40, 257) and fb.max() <= 1.0 and (fb.sum(0)[3:-3] > 0).all()


def test_training_step_reduces_the_loss(audio):
    torch.manual_seed(0)
    model = AudioTokenizer(tiny_config(quantizer_dropout=0.0)).train()
    spectral = MultiScaleSpectralLoss(windows=(64, 128))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(15):
        recon, q = model(audio)
        loss = sum(spectral(recon, audio).values()) + (recon - audio).abs().mean() + q.commit_loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
