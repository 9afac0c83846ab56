import pytest
import torch

from engine.sampling import generate_autoregressive

V = 12


class BigramStepper:
    """A fake model: logits depend on the last token only; rows [B:] (unconditional) lack `bias`."""

    def __init__(self, batch: int, guided: bool = False) -> None:
        self.table = torch.randn(V, V, generator=torch.Generator().manual_seed(0))
        self.bias = torch.zeros(V)
        self.bias[7] = 2.0
        self.batch, self.guided = batch, guided
        self.calls: list[tuple[int, int]] = []  # (pos, number of tokens) of every decode

    def logits(self, last: torch.Tensor) -> torch.Tensor:
        out = self.table[last].clone()  # (B', V)
        out[: self.batch] += self.bias
        return out

    def prefill(self, ids: torch.Tensor) -> torch.Tensor:
        assert ids.shape[0] == self.batch * (2 if self.guided else 1)
        return self.logits(ids[:, -1])

    def decode(self, tokens: torch.Tensor, pos: int) -> torch.Tensor:
        self.calls.append((pos, tokens.shape[1]))
        return self.logits(tokens[:, -1])


def test_forced_tokens_are_kept_and_fed_as_one_chunk_and_ranges_hold():
    stepper = BigramStepper(batch=2)
    prefix = torch.tensor([[1, 2, 3], [4, 5, 6]])
    n = 8
    forced = torch.tensor([0, 1, 1, 1, 0, 0, 1, 0], dtype=torch.bool)
    values = torch.full((2, n), -5)
    values[:, forced] = torch.tensor([[9, 10, 11, 0], [1, 2, 3, 4]])
    allowed = torch.tensor([[4, 8]] * n)
    seen = []
    out = generate_autoregressive(stepper, prefix, n, torch.Generator().manual_seed(0), allowed=allowed,
                                  forced_mask=forced, forced_values=values,
                                  progress=lambda i, t: seen.append((i, t)))
    assert torch.equal(out[:, forced], values[:, forced])
    assert bool(((out[:, ~forced] >= 4) & (out[:, ~forced] < 8)).all())
    assert stepper.calls == [(3, 1), (4, 3), (7, 1), (8, 1), (9, 1)]  # the forced run goes in at once
    assert seen[-1] == (n, n) and [i for i, _ in seen] == sorted(i for i, _ in seen)


def test_same_seed_reproduces_and_other_seeds_differ():
    prefix = torch.tensor([[1, 2]])

    def run(seed: int) -> torch.Tensor:
        return generate_autoregressive(BigramStepper(1), prefix, 40, torch.Generator().manual_seed(seed))

    assert torch.equal(run(3), run(3))
    assert not torch.equal(run(3), run(4))


def test_guidance_batches_cond_and_uncond_and_combines_them():
    prefix = torch.tensor([[1, 2]])
    g = torch.Generator()
    stepper = BigramStepper(1, guided=True)
    guided = generate_autoregressive(stepper, prefix, 10, g, temperature=0, cfg_scale=3.0)
    last, expected = prefix[0, -1], []
    for _ in range(10):  # greedy on uncond + 3 * (cond - uncond) = table + 3 * bias
        last = (stepper.table[last] + 3 * stepper.bias).argmax()
        expected.append(int(last))
    assert guided[0].tolist() == expected


def test_bad_arguments_are_refused():
    prefix = torch.tensor([[1, 2]])
    g = torch.Generator()
    with pytest.raises(ValueError):
        generate_autoregressive(BigramStepper(1), prefix, 4, g, allowed=torch.tensor([[0, V]] * 3))
    with pytest.raises(ValueError):
        generate_autoregressive(BigramStepper(1), prefix, 4, g, forced_mask=torch.ones(4, dtype=torch.bool))
