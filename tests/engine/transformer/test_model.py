import shutil

import pytest
import torch

from engine.components import ComponentLoadError
from engine.transformer import Transformer, TransformerConfig

TEXT_LEN, PREFIX, LENGTH = 3, 9, 20


def tiny_model(**overrides) -> Transformer:
    torch.manual_seed(0)
    config = dict(video_vocab=16, audio_vocab_per_level=8, audio_levels=2, d_model=32, n_layers=2, n_heads=2,
                  max_seq_len=64, text_dim=8, grid_size=(2, 3, 3))
    return Transformer(TransformerConfig(**{**config, **overrides})).eval()


def inputs(model: Transformer, batch: int = 2):
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(64, model.config.vocab_size, (batch, LENGTH), generator=g)
    ids[:, 0] = model.config.vocab.task_token("text_to_video")
    ids[:, 1:1 + TEXT_LEN] = model.text_id
    text = torch.randn(batch, TEXT_LEN, 8, generator=g)
    text_mask = torch.ones(batch, TEXT_LEN, dtype=torch.bool)
    text_mask[0, -1] = False
    grid = torch.randint(0, 3, (batch, LENGTH, 3), generator=g)
    return ids, text, text_mask, grid


def test_config_validates_and_fills_defaults():
    config = TransformerConfig(d_model=96, n_heads=3)
    assert config.mlp_hidden == 256 and config.vocab_size == 64 + 2**14 + 4 * 1024
    for bad in (dict(d_model=30, n_heads=4), dict(d_model=30, n_heads=2), dict(dropout=1.0),
                dict(grid_size=(1, 2)), dict(n_layers=0), dict(audio_levels=0)):
        with pytest.raises(ValueError):
            TransformerConfig(**bad)


@torch.no_grad()
def test_prefix_is_bidirectional_and_the_output_causal():
    model = tiny_model()
    ids, text, text_mask, grid = inputs(model)
    base = model(ids, PREFIX, text, text_mask, grid)
    assert base.shape == (2, LENGTH, model.config.vocab_size)

    later = ids.clone()
    later[:, 15] = 70  # an output token: only positions >= 15 may change
    out = model(later, PREFIX, text, text_mask, grid)
    assert torch.equal(out[:, :15], base[:, :15])
    assert not torch.allclose(out[:, 15:], base[:, 15:])

    in_prefix = ids.clone()
    in_prefix[:, PREFIX - 1] = 70  # the last prefix token is seen by every position
    out = model(in_prefix, PREFIX, text, text_mask, grid)
    assert ((out - base).abs().amax(-1) > 1e-6).all()

    everything = model(later, None, text, text_mask, grid)  # fully bidirectional
    assert ((everything - model(ids, None, text, text_mask, grid)).abs().amax(-1) > 1e-6).all()


@torch.no_grad()
def test_hidden_text_slots_are_invisible_and_none_means_all_hidden():
    model = tiny_model()
    ids, text, text_mask, grid = inputs(model)
    base = model(ids, PREFIX, text, text_mask, grid)
    changed = text.clone()
    changed[0, -1] += 5.0  # a masked-out slot
    assert torch.equal(model(ids, PREFIX, changed, text_mask, grid)[:, 1 + TEXT_LEN:], base[:, 1 + TEXT_LEN:])
    changed[0, 0] += 5.0  # a visible slot
    assert not torch.allclose(model(ids, PREFIX, changed, text_mask, grid)[0, -1], base[0, -1])
    hidden = model(ids, PREFIX, text, torch.zeros_like(text_mask), grid)
    no_text = model(ids, PREFIX, None, None, grid)
    torch.testing.assert_close(hidden[:, 1 + TEXT_LEN:], no_text[:, 1 + TEXT_LEN:])


@torch.no_grad()
def test_a_batch_with_per_row_prefixes_equals_rows_run_alone():
    model = tiny_model()
    ids, text, text_mask, grid = inputs(model)
    prefix = torch.tensor([PREFIX, 12])
    batched = model(ids, prefix, text, text_mask, grid)
    for row in range(2):
        alone = model(ids[row:row + 1], int(prefix[row]), text[row:row + 1], text_mask[row:row + 1],
                      grid[row:row + 1])
        torch.testing.assert_close(batched[row:row + 1], alone, atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_kv_cache_prefill_and_decode_match_the_full_forward():
    model = tiny_model()
    ids, text, text_mask, grid = inputs(model)
    full = model(ids, PREFIX, text, text_mask, grid)
    model.setup_caches(2, 32)
    for _ in range(2):  # a second request on the same cache forgets the first
        last = model.prefill(ids[:, :PREFIX], text, text_mask, grid[:, :PREFIX])
        assert (last - full[:, PREFIX - 1]).abs().max() < 1e-5
        for pos in range(PREFIX, LENGTH):
            step = model.decode_one(ids[:, pos], pos, grid[:, pos])
            assert (step - full[:, pos]).abs().max() < 1e-5
    model.prefill(ids[:, :PREFIX], text, text_mask, grid[:, :PREFIX])
    chunk = model.decode(ids[:, PREFIX:], PREFIX, grid[:, PREFIX:])  # several tokens at once
    assert (chunk - full[:, PREFIX:]).abs().max() < 1e-5
    model.clear_caches()
    with pytest.raises(RuntimeError):
        model.prefill(ids[:, :PREFIX])


def decode_steps(model: Transformer, batch: int = 2) -> torch.Tensor:
    """Prefill the prefix, then decode the rest one token at a time -> logits (LENGTH - PREFIX, B, V)."""
    ids, text, text_mask, grid = inputs(model, batch)
    model.setup_caches(batch, 32)
    model.prefill(ids[:, :PREFIX], text, text_mask, grid[:, :PREFIX])
    return torch.stack([model.decode_one(ids[:, pos], pos, grid[:, pos]) for pos in range(PREFIX, LENGTH)])


@torch.no_grad()
def test_int8_decode_steps_stay_close_and_full_passes_keep_the_float_weights():
    model = tiny_model()
    ids, text, text_mask, grid = inputs(model)
    full, steps = model(ids, PREFIX, text, text_mask, grid), decode_steps(model)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    assert model.decode_step == {"block_weights": "float", "compiled": False, "masked_passes": "float32"}
    model.quantize_decoding()
    assert model.decode_step["block_weights"] == "int8"
    quantized = decode_steps(model)
    assert not torch.equal(quantized, steps)  # the int8 kernel ran
    assert (quantized - steps).abs().max() < 0.02 * steps.abs().max()  # bf16 activations, int8 weights
    assert torch.equal(model(ids, PREFIX, text, text_mask, grid), full)  # many rows: the float weights
    assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())  # the checkpoint is unchanged


@torch.no_grad()
@pytest.mark.skipif(not any(shutil.which(cc) for cc in ("g++", "c++", "clang++")),
                    reason="torch.compile's CPU backend needs a C++ compiler")
def test_compiled_decode_steps_equal_the_eager_ones():
    model = tiny_model()
    model.quantize_decoding()  # as the Engine runs it on the CPU
    eager = decode_steps(model)
    model.compile_decoding()
    assert model.decode_step == {"block_weights": "int8", "compiled": True, "masked_passes": "float32"}
    compiled = decode_steps(model)
    assert (compiled - eager).abs().max() < 1e-3 * eager.abs().max()


@torch.no_grad()
def test_bfloat16_runs_and_stays_close_to_float32():
    model = tiny_model()
    ids, text, text_mask, grid = inputs(model)
    full = model(ids, PREFIX, text, text_mask, grid)
    model = model.to(torch.bfloat16)
    half = model(ids, PREFIX, text, text_mask, grid)
    assert half.dtype == torch.bfloat16
    assert (half.float() - full).abs().max() < 0.1
    model.setup_caches(2, 32)
    step = model.prefill(ids[:, :PREFIX], text, text_mask, grid[:, :PREFIX])
    assert torch.isfinite(step.float()).all()


def test_save_and_from_pretrained_round_trip(tmp_path):
    model = tiny_model()
    ids, text, text_mask, grid = inputs(model)
    model.save_pretrained(tmp_path)
    loaded = Transformer.from_pretrained(tmp_path)
    assert loaded.config == model.config and loaded.config.vocab == model.config.vocab
    with torch.no_grad():
        args = (ids, PREFIX, text, text_mask, grid)
        assert torch.equal(loaded(*args), model(*args))
    model.setup_caches(2, 32)  # caches are not weights
    assert not any("cache" in key for key in model.state_dict())
    tiny_model(d_model=64).save_pretrained(tmp_path / "other")
    (tmp_path / "other" / "config.json").write_text((tmp_path / "config.json").read_text())
    with pytest.raises(ComponentLoadError):
        Transformer.from_pretrained(tmp_path / "other")


def test_video_codes_are_factorised_into_sub_tokens():
    model = tiny_model(video_vocab=64, video_factors=2)  # 6 bits -> two 8-way sub-tokens
    assert model.config.factor_sizes == (8, 8)
    assert tiny_model(video_vocab=32, video_factors=2).config.factor_sizes == (8, 4)
    assert tiny_model(video_vocab=10, video_factors=1).config.factor_sizes == (10,)
    with pytest.raises(ValueError, match="video_factors"):
        TransformerConfig(video_vocab=10, video_factors=2)
    lo, hi = model.config.vocab.video_range
    h = torch.randn(5, 32)
    with torch.no_grad():
        logits = model.logits(h)  # (5, V)
        parts = model.video_head(h).split([8, 8], -1)
    assert logits.shape == (5, model.config.vocab_size)
    joint = logits[:, lo:hi].log_softmax(-1).view(5, 8, 8)  # code = 8 * high + low
    product = parts[0].log_softmax(-1)[:, :, None] + parts[1].log_softmax(-1)[:, None, :]
    torch.testing.assert_close(joint, product)
    # the embedding of a code is the sum of its sub-token embeddings
    code = 8 * 3 + 5
    emb = model.embed_tokens(torch.tensor([[lo + code]]))[0, 0]
    torch.testing.assert_close(emb, model.video_emb[0].weight[3] + model.video_emb[1].weight[5])


def test_token_losses_match_the_full_logits_within_each_id_range():
    model = tiny_model(video_vocab=64)
    vocab = model.config.vocab
    lo, hi = vocab.video_range
    targets = torch.tensor([lo + 7, hi - 1, vocab.audio_offset(1) + 3, vocab.token("eov_o")])
    h = torch.randn(4, 32)
    with torch.no_grad():
        losses = model.token_losses(h, targets)
        logits = model.logits(h)
    video = -logits[:2, lo:hi].log_softmax(-1)[torch.arange(2), targets[:2] - lo]
    other_ids = [i for i in range(model.config.vocab_size) if not lo <= i < hi]
    other = -logits[2:, other_ids].log_softmax(-1)[torch.arange(2), [other_ids.index(int(t)) for t in targets[2:]]]
    torch.testing.assert_close(losses, torch.cat((video, other)))


def test_forward_with_targets_gives_per_token_losses():
    model = tiny_model()
    ids, text, text_mask, grid = inputs(model)
    targets = torch.full_like(ids, -100)
    targets[:, PREFIX:-1] = ids[:, PREFIX + 1:]
    with torch.no_grad():
        losses = model(ids, PREFIX, text, text_mask, grid, targets=targets)
        h = model.features(ids, PREFIX, text, text_mask, grid)
    assert losses.shape == ids.shape and (losses[targets < 0] == 0).all() and (losses[targets >= 0] > 0).all()
    torch.testing.assert_close(losses[targets >= 0], model.token_losses(h[targets >= 0], targets[targets >= 0]))


@torch.no_grad()
def test_logits_for_one_id_range_equal_the_full_ones_there_and_are_minus_inf_elsewhere():
    model = tiny_model(video_vocab=64)
    vocab = model.config.vocab
    h = torch.randn(3, 32)
    full = model.logits(h)
    audio_lo = vocab.audio_offset(1)
    straddling = (vocab.video_range[0] - 2, vocab.video_range[0] + 2)  # two kinds of id
    for lo, hi in (vocab.video_range, (audio_lo, audio_lo + 8), (0, vocab.video_range[0]), (0, vocab.size),
                   straddling, (vocab.video_range[0] + 3, vocab.video_range[0] + 9)):
        part = model.logits(h, (lo, hi))
        assert part.shape == full.shape
        torch.testing.assert_close(part[:, lo:hi], full[:, lo:hi])
        torch.testing.assert_close(model.span_logits(h, lo, hi), full[:, lo:hi])  # the range alone
        outside = torch.ones(vocab.size, dtype=torch.bool)
        outside[lo:hi] = False
        assert torch.isneginf(part[:, outside]).all()
    with pytest.raises(ValueError, match="vocabulary"):
        model.span_logits(h, 0, vocab.size + 1)


def test_cached_decoding_with_an_id_range_matches_the_full_forward_in_that_range():
    model = tiny_model()
    ids, text, text_mask, grid = inputs(model)
    full = model(ids, PREFIX, text, text_mask, grid)
    lo, hi = model.config.vocab.video_range
    model.setup_caches(2, 32)
    last = model.prefill(ids[:, :PREFIX], text, text_mask, grid[:, :PREFIX], id_range=(lo, hi))
    assert (last[:, lo:hi] - full[:, PREFIX - 1, lo:hi]).abs().max() < 1e-5
    step = model.decode(ids[:, PREFIX:PREFIX + 1], PREFIX, grid[:, PREFIX:PREFIX + 1], id_range=(lo, hi))[:, -1]
    assert (step[:, lo:hi] - full[:, PREFIX, lo:hi]).abs().max() < 1e-5
