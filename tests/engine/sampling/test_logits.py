import math

import pytest
import torch

from engine.sampling import (
    cfg_combine,
    draw_from,
    logits_to_probs,
    sample,
    top_k_filter,
    top_p_filter,
)

PROBS = torch.tensor([0.05, 0.5, 0.15, 0.3])  # sorted: ids 1 (0.5), 3 (0.3), 2 (0.15), 0 (0.05)
LOGITS = PROBS.log()


def support(logits: torch.Tensor) -> set[int]:
    return set(torch.isfinite(logits).nonzero().flatten().tolist())


def test_top_k_keeps_the_k_largest():
    assert support(top_k_filter(LOGITS, 1)) == {1}
    assert support(top_k_filter(LOGITS, 2)) == {1, 3}
    assert support(top_k_filter(LOGITS, 10)) == {0, 1, 2, 3}
    with pytest.raises(ValueError):
        top_k_filter(LOGITS, 0)


def test_top_p_keeps_the_smallest_set_reaching_p():
    assert support(top_p_filter(LOGITS, 0.4)) == {1}
    assert support(top_p_filter(LOGITS, 0.75)) == {1, 3}
    assert support(top_p_filter(LOGITS, 0.9)) == {1, 3, 2}
    assert support(top_p_filter(LOGITS, 1.0)) == {0, 1, 2, 3}
    batched = top_p_filter(torch.stack((LOGITS, LOGITS.flip(0))), 0.75)  # works row by row
    assert support(batched[1]) == {0, 2}


def test_probs_after_filters_renormalise():
    probs = logits_to_probs(LOGITS, temperature=1.0, top_k=2)
    torch.testing.assert_close(probs, torch.tensor([0, 0.5 / 0.8, 0, 0.3 / 0.8]))
    sharp = logits_to_probs(LOGITS, temperature=0.5)
    assert sharp[1] > PROBS[1] and math.isclose(float(sharp.sum()), 1.0, rel_tol=1e-6)
    with pytest.raises(ValueError):
        logits_to_probs(LOGITS, temperature=0.0)


def test_restricted_sampling_stays_in_range():
    logits = torch.zeros(500, 10)
    logits[:, 0] = 10.0  # the most likely id is outside the range
    g = torch.Generator().manual_seed(0)
    ids = sample(logits, g, id_range=(4, 7))
    assert set(ids.tolist()) == {4, 5, 6}
    assert set(sample(logits, g, temperature=0, id_range=(4, 7)).tolist()) <= {4, 5, 6}
    with pytest.raises(ValueError):
        sample(logits, g, id_range=(7, 7))


def test_cfg_scale_one_is_conditional_and_zero_unconditional():
    g = torch.Generator().manual_seed(0)
    cond, uncond = torch.randn(3, 11, generator=g), torch.randn(3, 11, generator=g)
    torch.testing.assert_close(cfg_combine(cond, uncond, 1.0), cond)
    torch.testing.assert_close(cfg_combine(cond, uncond, 0.0), uncond)
    torch.testing.assert_close(cfg_combine(cond, uncond, 3.0), uncond + 3 * (cond - uncond))


def test_same_seed_same_tokens_other_seed_other_tokens_and_greedy_is_argmax():
    logits = torch.randn(4, 64, 50, generator=torch.Generator().manual_seed(0))

    def draw(seed: int) -> torch.Tensor:
        return sample(logits, torch.Generator().manual_seed(seed), temperature=1.0, top_k=20, top_p=0.9)

    first = draw(1)
    assert first.shape == (4, 64)
    assert torch.equal(first, draw(1))
    assert not torch.equal(first, draw(2))
    assert torch.equal(sample(logits, torch.Generator(), temperature=0), logits.argmax(-1))


def test_draws_follow_the_probabilities_and_never_pick_a_zero():
    probs = torch.tensor([0.0, 0.5, 0.0, 0.2, 0.3, 0.0])  # zeros first, inside and last
    ids = draw_from(probs.expand(40_000, -1), torch.Generator().manual_seed(0))
    counts = torch.bincount(ids, minlength=6).double() / len(ids)
    assert counts[[0, 2, 5]].sum() == 0
    torch.testing.assert_close(counts, probs.double(), atol=0.01, rtol=0)  # ~4 standard errors
    u_near_one = torch.tensor([0.0, 1.0, 0.0])  # the only mass sits before a trailing zero
    assert draw_from(u_near_one.expand(1000, -1), torch.Generator().manual_seed(1)).eq(1).all()
