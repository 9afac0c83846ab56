import pytest
import torch

from engine.components import ComponentLoadError
from engine.video_tokenizer.lfq import LFQ
from engine.video_tokenizer.model import VideoTokenizer, VideoTokenizerConfig


def test_shapes_for_clips_and_images(tiny_model, video):
    assert tiny_model.latent_shape(17, 32, 32) == (5, 4, 4)
    assert tiny_model.vocab_size == 64
    indices = tiny_model.encode(video)
    assert indices.dtype == torch.long and indices.shape == (2, 5, 4, 4)
    assert int(indices.max()) < 64 and int(indices.min()) >= 0
    out = tiny_model.decode(indices)
    assert out.shape == video.shape and out.abs().max() <= 1
    image = video[:, :, :1]
    assert tiny_model.encode(image).shape == (2, 1, 4, 4)
    assert tiny_model.decode(tiny_model.encode(image)).shape == image.shape
    with pytest.raises(ValueError):
        tiny_model.latent_shape(16, 32, 32)


def test_encoder_is_causal_and_frame_zero_is_encoded_alone(tiny_model, video):
    z = tiny_model.encode_latent(video)  # (B, bits, 5, h, w)
    changed = video.clone()
    changed[:, :, 9:] = torch.rand_like(changed[:, :, 9:])  # frames 9.. map to latent frames 3, 4
    z2 = tiny_model.encode_latent(changed)
    assert torch.equal(z[:, :, :3], z2[:, :, :3])
    assert not torch.allclose(z[:, :, 3:], z2[:, :, 3:])
    assert torch.allclose(z[:, :, :1], tiny_model.encode_latent(video[:, :, :1]), atol=1e-6)


def test_decoder_is_causal(tiny_model, video):
    indices = tiny_model.encode(video)
    out = tiny_model.decode(indices)
    changed = indices.clone()
    changed[:, 2:] = (changed[:, 2:] + 1) % 64  # latent frame 2 covers frames 5..8
    out2 = tiny_model.decode(changed)
    assert torch.equal(out[:, :, :5], out2[:, :, :5])
    assert not torch.allclose(out[:, :, 5:], out2[:, :, 5:])


def test_save_and_from_pretrained_round_trip_is_exact_and_strict(tiny_model, video, tmp_path):
    tiny_model.save_pretrained(tmp_path / "vt")
    loaded = VideoTokenizer.from_pretrained(tmp_path / "vt")
    assert loaded.config == tiny_model.config
    for key, value in tiny_model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key])
    assert torch.equal(loaded.decode(loaded.encode(video)), tiny_model.decode(tiny_model.encode(video)))

    from safetensors.torch import load_file, save_file
    state = load_file(str(tmp_path / "vt" / "model.safetensors"))
    state["decoder.extra.weight"] = torch.zeros(1)
    save_file(state, str(tmp_path / "vt" / "model.safetensors"))
    with pytest.raises(ComponentLoadError):
        VideoTokenizer.from_pretrained(tmp_path / "vt")


def test_config_validation_and_quantizer_injection(make_config):
    with pytest.raises(ValueError):
        VideoTokenizerConfig(channels=(8, 16), spatial_down=(True, True), temporal_down=(True,))
    with pytest.raises(ValueError):
        VideoTokenizer(make_config(), quantizer=LFQ(bits=7))
    model = VideoTokenizer(make_config(), quantizer=LFQ(bits=6, entropy_temperature=0.5))
    assert model.quantizer.temperature == 0.5


def test_training_forward_gives_losses_and_gradients(make_config, video):
    torch.manual_seed(0)
    model = VideoTokenizer(make_config()).train()
    recon, q = model(video)
    assert recon.shape == video.shape
    loss = (recon - video).pow(2).mean() + 0.25 * q.commitment + 0.1 * q.entropy
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
