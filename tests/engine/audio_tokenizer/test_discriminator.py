import torch

from engine.audio_tokenizer.discriminator import MultiScaleDiscriminator, discriminator_loss, generator_losses


def _tone_and_noise() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    t = torch.arange(4000) / 16_000
    tone = (0.3 * torch.sin(2 * torch.pi * 440 * t)).expand(2, 1, -1).contiguous()
    return tone, 0.1 * torch.randn(2, 1, 4000)


def test_every_scale_gives_logits_and_features():
    disc = MultiScaleDiscriminator(scales=(256, 512), channels=4)
    outs = disc(torch.zeros(3, 1, 4000))
    assert len(outs) == 2
    for (logits, features), n_fft in zip(outs, (256, 512), strict=True):
        frames = 4000 // (n_fft // 4) + 1
        assert logits.shape[:2] == (3, 1) and logits.shape[-1] == frames
        assert len(features) == 5 and all(f.shape[0] == 3 and f.shape[1] == 4 for f in features)


def test_the_discriminator_learns_to_tell_a_tone_from_noise():
    real, fake = _tone_and_noise()
    torch.manual_seed(0)
    disc = MultiScaleDiscriminator(scales=(256,), channels=8)
    optimizer = torch.optim.Adam(disc.parameters(), lr=1e-3)
    first = discriminator_loss(disc, real, fake).item()
    for _ in range(30):
        loss = discriminator_loss(disc, real, fake)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.5 * first  # hinge: 2 at chance, 0 once every logit is past the margin
    adversarial_fake, _ = generator_losses(disc, real, fake)
    adversarial_real, _ = generator_losses(disc, real, real)
    assert adversarial_fake > adversarial_real  # the decoder is told its noise is fake


def test_feature_matching_is_zero_on_real_audio_and_reaches_the_decoder():
    real, fake = _tone_and_noise()
    disc = MultiScaleDiscriminator(scales=(256, 512), channels=4)
    _, same = generator_losses(disc, real, real)
    assert same.item() == 0.0
    fake = fake.clone().requires_grad_(True)
    _, different = generator_losses(disc, real, fake)
    different.backward()
    assert different.item() > 0 and fake.grad is not None and fake.grad.abs().sum() > 0
