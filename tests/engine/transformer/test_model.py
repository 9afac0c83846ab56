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
