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
        self.ranges: list[tuple[int, int] | None] = []  # the id range asked for, prefill first

    def logits(self, last: torch.Tensor) -> torch.Tensor:
        out = self.table[last].clone()  # (B', V)
        out[: self.batch] += self.bias
        return out

    def prefill(self, ids: torch.Tensor, id_range: tuple[int, int] | None = None) -> torch.Tensor:
        assert ids.shape[0] == self.batch * (2 if self.guided else 1)
        self.ranges.append(id_range)
        return self.logits(ids[:, -1])

    def decode(self, tokens: torch.Tensor, pos: int, id_range: tuple[int, int] | None = None) -> torch.Tensor:
        self.calls.append((pos, tokens.shape[1]))
        self.ranges.append(id_range)
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


def test_the_stepper_is_told_the_id_range_of_the_token_it_predicts():
    stepper = BigramStepper(batch=1)
    allowed = torch.tensor([[0, 4], [4, 8], [8, 12], [0, 12], [2, 6]])
    forced = torch.tensor([0, 1, 1, 0, 0], dtype=torch.bool)
    values = torch.tensor([[0, 5, 9, 0, 0]])
    generate_autoregressive(stepper, torch.tensor([[1]]), 5, torch.Generator().manual_seed(0), allowed=allowed,
                            forced_mask=forced, forced_values=values)
    # prefill predicts token 0; token 0 is fed alone (-> token 1's range), tokens 1-2 as one chunk (-> 3), 3 (-> 4)
    assert stepper.ranges == [(0, 4), (4, 8), (0, 12), (2, 6)]
    assert generate_autoregressive(BigramStepper(batch=1), torch.tensor([[1]]), 2,
                                   torch.Generator().manual_seed(0)).shape == (1, 2)
