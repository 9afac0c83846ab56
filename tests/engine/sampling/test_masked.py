import pytest
import torch

from engine.sampling import Factored, cfg_combine, generate_masked, mask_schedule
from engine.sampling.masked import draw

V, N, MASK = 12, 40, 99  # MASK: an id the samplers never draw (outside every allowed range)


class CanvasFake:
    """A fake bidirectional model: logits depend on the position only; rows [B:] (unconditional) lack
    `bias`. Checks that it is asked for masked positions only; records every batch it is given."""

    def __init__(self, batch: int = 1) -> None:
        self.table = torch.randn(N, V, generator=torch.Generator().manual_seed(0))
        self.bias = torch.zeros(V)
        self.bias[7] = 2.0
        self.batch = batch
        self.seen: list[torch.Tensor] = []

    def __call__(self, ids: torch.Tensor, positions: torch.Tensor, span: tuple[int, int] | None) -> torch.Tensor:
        assert positions.shape[0] == ids.shape[0] and bool((ids.gather(-1, positions) == MASK).all())
        self.seen.append(ids.clone())
        out = self.table[positions].clone()  # (B', n, V)
        out[: self.batch] += self.bias
        lo, hi = span or (0, V)
        return out[..., lo:hi]  # (B', n, W) over the span (a span past V leaves fewer: refused)


def known_and_values(batch: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    known = torch.zeros(N, dtype=torch.bool)
    known[:8] = True  # a "first frame"
    known[20:24] = True
    values = torch.full((batch, N), -5)
    values[:, known] = torch.arange(int(known.sum())) % 3 + 9
    return known, values


def run(seed: int = 0, **kw) -> torch.Tensor:
    known, values = known_and_values()
    model = kw.pop("model", CanvasFake())
    return generate_masked(model, values, known, torch.Generator().manual_seed(seed), mask_id=MASK, **kw)


def test_known_tokens_are_kept_exactly_and_seen_in_place_from_the_first_step():
    known, values = known_and_values(batch=2)
    model = CanvasFake(batch=2)
    out = generate_masked(model, values, known, torch.Generator().manual_seed(0), mask_id=MASK,
                          allowed=torch.tensor([[2, 9]] * N))
    assert torch.equal(out[:, known], values[:, known])
    first = model.seen[0]
    assert torch.equal(first[:, known], values[:, known]) and (first[:, ~known] == MASK).all()
    assert all(torch.equal(ids[:, known], values[:, known]) for ids in model.seen)
    assert not (out == MASK).any()


def test_each_position_stays_in_its_id_range():
    allowed = torch.tensor([[2, 5], [5, 9]] * (N // 2))  # alternating ranges, as audio levels are
    model = CanvasFake()
    model.table[:, 0] = 50.0  # the most likely id is outside every range
    out = run(model=model, allowed=allowed)[0]
    unknown = ~known_and_values()[0]
    lo, hi = allowed[:, 0], allowed[:, 1]
    assert bool(((out >= lo) & (out < hi))[unknown].all())
    greedy = run(model=model, allowed=allowed, temperature=0)[0]
    assert bool(((greedy >= lo) & (greedy < hi))[unknown].all())


def test_same_seed_reproduces_other_seeds_differ_and_greedy_uses_no_randomness():
    assert torch.equal(run(3, top_k=8, top_p=0.9), run(3, top_k=8, top_p=0.9))
    assert not torch.equal(run(3), run(4))
    assert torch.equal(run(3, temperature=0), run(4, temperature=0))


def test_one_forward_pass_per_step_and_guidance_batches_cond_and_uncond():
    for steps in (1, 4, 12):
        model = CanvasFake()
        run(model=model, steps=steps)
        assert len(model.seen) == steps and all(ids.shape == (1, N) for ids in model.seen)
    guided = CanvasFake()
    out = run(model=guided, steps=6, temperature=0, cfg_scale=3.0)
    assert len(guided.seen) == 6 and all(ids.shape == (2, N) for ids in guided.seen)
    expected = (guided.table + 3 * guided.bias).argmax(-1)  # uncond + 3 (cond - uncond)
    unknown = ~known_and_values()[0]
    assert torch.equal(out[0, unknown], expected[unknown])


def test_fewer_tokens_are_masked_each_step_and_none_at_the_end():
    model, ticks, guesses = CanvasFake(), [], []
    out = run(model=model, steps=8, progress=lambda done, total: ticks.append((done, total)),
              on_step=lambda step, tokens: guesses.append((step, tokens.clone())))
    masked = [int((ids == MASK).sum()) for ids in model.seen]
    assert masked[0] == int((~known_and_values()[0]).sum())
    assert all(a > b for a, b in zip(masked, masked[1:], strict=False)) and not (out == MASK).any()
    unknown = masked[0]
    assert [t for t, _ in ticks] == [N - left for left in mask_schedule(unknown, 8)] and ticks[-1] == (N, N)
    assert [s for s, _ in guesses] == list(range(8)) and torch.equal(guesses[-1][1], out)
    assert all(not (g == MASK).any() for _, g in guesses)  # a preview has a guess everywhere
    for (_, g), ids in zip(guesses, model.seen[1:], strict=False):  # committed tokens never change
        committed = ids != MASK
        assert torch.equal(g[committed], out[committed])


def test_the_schedule_is_maskgits_cosine_and_matches_diffusers_amused():
    diffusers = pytest.importorskip("diffusers")
    assert mask_schedule(64, 12) == [63, 61, 59, 55, 50, 45, 38, 32, 24, 16, 8, 0]
    assert mask_schedule(5, 12) == [4, 3, 2, 1, 0]  # fewer tokens than steps: one per pass, early end
    assert mask_schedule(0, 12) == [] and mask_schedule(7, 1) == [0]
    for n, steps in ((64, 12), (300, 24), (20, 8)):
        scheduler = diffusers.AmusedScheduler(mask_token_id=-1)
        scheduler.set_timesteps(steps)
        sample, g, counts = torch.full((1, n), -1), torch.Generator().manual_seed(0), []
        for t in scheduler.timesteps:
            sample = scheduler.step(torch.randn(1, n, 10, generator=g), t, sample, generator=g).prev_sample
            counts.append(int((sample == -1).sum()))
        # diffusers computes the cosine in float32: cos(pi/3) = 0.49999997 floors one lower
        assert all(abs(a - b) <= 1 for a, b in zip(counts, mask_schedule(n, steps), strict=True))


def test_nothing_unknown_needs_no_pass_and_bad_arguments_are_refused():
    known, values = torch.ones(N, dtype=torch.bool), torch.zeros(1, N, dtype=torch.long)
    model = CanvasFake()
    out = generate_masked(model, values, known, torch.Generator(), mask_id=MASK)
    assert torch.equal(out, values) and model.seen == []
    with pytest.raises(ValueError):
        generate_masked(model, values, known[:-1], torch.Generator(), mask_id=MASK)
    with pytest.raises(ValueError):
        run(allowed=torch.tensor([[0, V]] * (N - 1)))
    with pytest.raises(ValueError):
        run(allowed=torch.tensor([[0, V + 1]] * N))
    with pytest.raises(ValueError):
        run(steps=0)


def random_parts(*sizes: int, rows: int = 1, seed: int = 0) -> Factored:
    g = torch.Generator().manual_seed(seed)
    return Factored(tuple(2 * torch.randn(rows, 1, size, generator=g) for size in sizes))  # (rows, 1, size) each


def test_factored_logits_are_drawn_digit_by_digit_from_the_joint_distribution():
    logits = random_parts(4, 8)
    joint = logits.joint()  # (1, 1, 32): id d0 * 8 + d1 has parts[0][d0] + parts[1][d1]
    assert logits.width == 32 and joint[0, 0, 3 * 8 + 5] == logits.parts[0][0, 0, 3] + logits.parts[1][0, 0, 5]
    many = Factored(tuple(p.expand(1, 50_000, -1) for p in logits.parts))
    ids, logp = draw(many, torch.Generator().manual_seed(0), temperature=0.7, top_k=None, top_p=None)
    expected = (joint[0, 0] / 0.7).softmax(-1)
    counts = torch.bincount(ids[0], minlength=32).float() / ids.numel()
    torch.testing.assert_close(counts, expected, atol=0.01, rtol=0)  # ~4 standard errors
    torch.testing.assert_close(logp[0], expected.log()[ids[0]])  # the confidence is the joint log-probability
    greedy, greedy_logp = draw(logits, torch.Generator(), temperature=0, top_k=None, top_p=None)
    assert int(greedy) == int(joint.argmax()) and torch.allclose(greedy_logp, joint.log_softmax(-1).max())


def test_factored_logits_go_joint_for_top_k_and_guide_part_by_part():
    logits = random_parts(4, 8, rows=2)
    cond, uncond = logits.rows(slice(0, 1)), logits.rows(slice(1, 2))
    guided = cfg_combine(cond, uncond, 3.0)
    torch.testing.assert_close(guided.joint(), cfg_combine(cond.joint(), uncond.joint(), 3.0))
    many = Factored(tuple(p.expand(1, 2000, -1) for p in guided.parts))
    ids, _ = draw(many, torch.Generator().manual_seed(0), temperature=1.0, top_k=3, top_p=None)
    assert set(ids.unique().tolist()) <= set(guided.joint()[0, 0].topk(3).indices.tolist())


class FactoredFake(CanvasFake):
    """CanvasFake whose V = 12 ids are 3 x 4 digits, given as the two parts' logits."""

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(1)
        self.parts = torch.randn(N, 3, generator=g), torch.randn(N, 4, generator=g)
        self.table = Factored(tuple(p[:, None] for p in self.parts)).joint()[:, 0]  # (N, V) for the joint twin
        self.bias.zero_()

    def __call__(self, ids: torch.Tensor, positions: torch.Tensor, span: tuple[int, int] | None) -> Factored:
        super().__call__(ids, positions, span)  # the same checks and records
        return Factored(tuple(p[positions] for p in self.parts))  # (B', n, 3), (B', n, 4)


def test_masked_decoding_with_factored_logits_keeps_known_tokens_and_matches_the_joint_greedily():
    known, values = known_and_values()
    factored = FactoredFake()
    joint = CanvasFake()
    joint.table, joint.bias = factored.table, factored.bias
    greedy = run(model=factored, temperature=0)
    assert torch.equal(greedy[:, known], values[:, known])
    assert torch.equal(greedy, run(model=joint, temperature=0))  # same argmaxes, same confidences
    sampled = run(seed=4, model=FactoredFake(), cfg_scale=2.0)
    assert torch.equal(sampled, run(seed=4, model=FactoredFake(), cfg_scale=2.0))
    assert bool((sampled[:, ~known] < V).all()) and not torch.equal(sampled, run(seed=5, model=FactoredFake()))
