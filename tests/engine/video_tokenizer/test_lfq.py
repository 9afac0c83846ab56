import itertools
import math

import pytest
import torch

from engine.video_tokenizer.lfq import LFQ


def test_indices_codes_round_trip_every_index():
    lfq = LFQ(bits=8)
    indices = torch.arange(256).view(1, 256)  # (B, N)
    codes = lfq.indices_to_codes(indices)
    assert codes.shape == (1, 8, 256)
    assert set(codes.unique().tolist()) == {-1.0, 1.0}
    assert torch.equal(lfq.codes_to_indices(codes), indices)
    assert len({tuple(c) for c in codes[0].T.tolist()}) == 256  # every index is its own code


def test_index_is_sum_of_powers_of_positive_channels():
    lfq = LFQ(bits=4)
    codes = torch.tensor([1.0, -1.0, 1.0, 1.0]).view(1, 4, 1)  # bits 0, 2, 3 set
    assert lfq.codes_to_indices(codes).item() == 1 + 4 + 8
    with pytest.raises(ValueError):
        lfq.indices_to_codes(torch.tensor([[16]]))


def test_forward_quantizes_to_signs_with_straight_through_gradient():
    torch.manual_seed(0)
    lfq = LFQ(bits=5).train()
    z = torch.randn(2, 5, 3, 4, 4, requires_grad=True)  # (B, bits, t, h, w)
    out = lfq(z)
    assert torch.equal(out.codes.detach(), torch.where(z > 0, 1.0, -1.0))
    assert torch.equal(out.indices, lfq.codes_to_indices(z.detach()))
    assert out.indices.shape == (2, 3, 4, 4)
    (out.codes * torch.arange(5.0).view(1, 5, 1, 1, 1)).sum().backward()
    expected = torch.arange(5.0).view(1, 5, 1, 1, 1).expand_as(z)
    assert torch.allclose(z.grad, expected)  # identity gradient through the quantizer
    z.grad = None
    lfq(z).commitment.backward()
    assert z.grad.abs().sum() > 0


def _exact_entropies(z: torch.Tensor, temperature: float) -> tuple[float, float]:
    """Per-sample and batch entropy with an explicit softmax over all 2^bits codes."""
    bits = z.shape[1]
    codebook = torch.tensor(list(itertools.product([-1.0, 1.0], repeat=bits)))  # (K, bits)
    flat = z.movedim(1, -1).reshape(-1, bits)
    prob = torch.softmax(flat @ codebook.T / temperature, dim=1)  # (N, K)
    per_sample = -(prob * prob.clamp_min(1e-12).log()).sum(1).mean()
    mean = prob.mean(0)
    return float(per_sample), float(-(mean * mean.clamp_min(1e-12).log()).sum())


def test_factorised_entropy_matches_the_full_softmax():
    torch.manual_seed(0)
    z = 0.1 * torch.randn(3, 6, 2, 2, 2)
    per_sample, batch = LFQ(bits=6, entropy_temperature=0.1, entropy_group_bits=6).entropy_terms(z)
    exact_per_sample, exact_batch = _exact_entropies(z, 0.1)
    assert per_sample.item() == pytest.approx(exact_per_sample, rel=1e-4)
    assert batch.item() == pytest.approx(exact_batch, rel=1e-4)
    _, grouped = LFQ(bits=6, entropy_temperature=0.1, entropy_group_bits=2).entropy_terms(z)
    assert grouped.item() >= exact_batch - 1e-5  # subgroups upper-bound the joint batch entropy


def test_entropy_penalty_prefers_uniform_usage_to_collapse():
    lfq = LFQ(bits=4, entropy_temperature=0.1)
    every_code = lfq.indices_to_codes(torch.arange(16).view(1, 16)).view(1, 4, 16, 1, 1)
    collapsed = torch.ones_like(every_code)
    uniform_loss = lfq.train()(every_code).entropy
    collapsed_loss = lfq(collapsed).entropy
    assert uniform_loss < collapsed_loss
    assert uniform_loss.item() == pytest.approx(-4 * math.log(2), abs=1e-3)  # confident and all used
