import pytest
import torch

from engine.video_tokenizer.fit import fit_tokens


def _error(model, tokens, target, known):
    """Squared error of the decode of tokens (t, h, w) against target (3, T, H, W) on known pixels."""
    return float(((model.decode(tokens[None])[0] - target) ** 2 * known).sum())


@pytest.fixture
def case(tiny_model, video):
    """Tokens whose middle latent frames were replaced at random; the target is the true decode."""
    true = tiny_model.encode(video[:1])[0]  # (5, 4, 4)
    target = tiny_model.decode(true[None])[0]  # (3, 17, 32, 32)
    free = torch.zeros_like(true, dtype=torch.bool)
    free[2:4, 1:3] = True
    start = torch.where(free, torch.randint(0, 64, true.shape, generator=torch.Generator().manual_seed(3)), true)
    known = torch.ones(target.shape[1:], dtype=torch.bool)
    known[5:13, 8:24] = False  # the pixels under the free tokens are not known
    return start, free, target, known


def test_only_free_tokens_change_and_known_pixels_get_closer(tiny_model, case):
    start, free, target, known = case
    fitted = fit_tokens(tiny_model, start, free, target, known, steps=30)
    assert fitted.dtype == torch.long and fitted.shape == start.shape
    assert torch.equal(fitted[~free], start[~free])
    assert not torch.equal(fitted[free], start[free])
    assert _error(tiny_model, fitted, target, known) < _error(tiny_model, start, target, known)


def test_a_bf16_fit_also_keeps_the_known_tokens_and_gets_closer(tiny_model, case):
    start, free, target, known = case
    fitted = fit_tokens(tiny_model, start, free, target, known, steps=30, dtype=torch.bfloat16)
    assert torch.equal(fitted[~free], start[~free])
    assert _error(tiny_model, fitted, target, known) < _error(tiny_model, start, target, known)
    assert next(tiny_model.parameters()).dtype == torch.float32  # autocast only: the weights stay float


def test_the_fit_never_loses_on_known_pixels_and_is_deterministic(tiny_model, case):
    start, free, target, known = case
    far = -target  # a target no bits can reach
    a = fit_tokens(tiny_model, start, free, far, known, steps=5, lr=10.0)
    assert _error(tiny_model, a, far, known) <= _error(tiny_model, start, far, known)
    steps = []
    assert torch.equal(a, fit_tokens(tiny_model, start, free, far, known, steps=5, lr=10.0, on_step=steps.append))
    assert steps == [1, 2, 3, 4, 5]  # the progress hook sees every step


def test_nothing_to_fit_returns_the_tokens_and_shapes_are_checked(tiny_model, case):
    start, free, target, known = case
    assert fit_tokens(tiny_model, start, free, target, known, steps=0) is start
    assert fit_tokens(tiny_model, start, torch.zeros_like(free), target, known) is start
    with pytest.raises(ValueError, match="free"):
        fit_tokens(tiny_model, start, free[:4], target, known)
    with pytest.raises(ValueError, match="known"):
        fit_tokens(tiny_model, start, free, target, known[:9])


def test_the_fit_runs_under_inference_mode_and_leaves_the_weights_alone(tiny_model, case):
    start, free, target, known = case
    before = [p.clone() for p in tiny_model.parameters()]
    with torch.inference_mode():
        fitted = fit_tokens(tiny_model, start, free, target, known, steps=3)
    assert fitted.shape == start.shape
    assert all(torch.equal(a, b) and b.grad is None for a, b in zip(before, tiny_model.parameters(), strict=True))
