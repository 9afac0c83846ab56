import pytest
import torch

from engine.audio_tokenizer.rvq import ResidualVQ


def _trained_rvq(levels: int = 4, steps: int = 30) -> tuple[ResidualVQ, torch.Tensor]:
    torch.manual_seed(0)
    rvq = ResidualVQ(dim=6, levels=levels, codebook_size=16, decay=0.8, restart_after=5, dropout=0.0)
    data = torch.randn(4, 6, 50)  # (B, D, T)
    rvq.train()
    for _ in range(steps):
        rvq(data)
    return rvq.eval(), data


def test_indices_and_codes_round_trip_exactly():
    rvq, data = _trained_rvq()
    indices = rvq.encode(data)
    assert indices.shape == (4, 4, 50) and indices.dtype == torch.long
    codes = rvq.indices_to_codes(indices)
    assert codes.shape == (4, 4, 6, 50)
    assert torch.equal(rvq.codes_to_indices(codes), indices)
    assert torch.equal(rvq.dequantize(indices), codes.sum(1))


def test_eval_forward_matches_encode_and_passes_gradients_straight_through():
    rvq, data = _trained_rvq()
    z = data.clone().requires_grad_(True)
    out = rvq(z)
    assert torch.equal(out.indices, rvq.encode(data))
    torch.testing.assert_close(out.quantized, rvq.dequantize(out.indices))
    out.quantized.sum().backward()
    assert torch.equal(z.grad, torch.ones_like(z))


def test_more_levels_reduce_the_error():
    rvq, data = _trained_rvq()
    errors = [(rvq.dequantize(rvq.encode(data, n)) - data).pow(2).mean().item() for n in (1, 2, 3, 4)]
    assert all(a > b for a, b in zip(errors, errors[1:], strict=False)), errors


def test_training_updates_codebooks_and_restarts_dead_codes():
    torch.manual_seed(0)
    rvq = ResidualVQ(dim=4, levels=1, codebook_size=64, restart_after=2, dropout=0.0).train()
    data = torch.randn(1, 4, 8)  # 8 vectors cannot use 64 codes: most go dead and are restarted
    rvq(data)
    vq = rvq.quantizers[0]
    assert bool(vq.initialized)
    for _ in range(3):
        rvq(data)
    assert int(vq.unused_steps.max()) < 2
    distances = torch.cdist(vq.codebook, data[0].t()).min(dim=1).values
    assert distances.max() < 0.1  # every code now sits near a batch vector


def test_quantizer_dropout_keeps_a_prefix_of_levels():
    torch.manual_seed(0)
    rvq = ResidualVQ(dim=4, levels=3, codebook_size=8, dropout=1.0).train()
    out = rvq(torch.randn(64, 4, 5))
    assert out.indices.shape == (64, 3, 5)
    with pytest.raises(ValueError):
        ResidualVQ(dim=4, levels=0)
