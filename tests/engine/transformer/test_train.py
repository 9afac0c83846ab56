"""The token cache builds for a few clips, and the task-mixture trainer runs, logs, resumes and exports."""

import copy
import json

import pytest
import torch

from engine.pipeline import Engine
from engine.tasks import IGNORE
from engine.transformer import Transformer, TransformerConfig
from engine.transformer.dataset import TokenCache, build_cache, retokenize_audio, state_hash
from engine.transformer.train import (
    TRAIN_TASKS,
    batch_losses,
    main,
    make_batch,
    make_example,
    masked_row,
    parse_task_list,
    parse_task_weights,
)
from engine.world import sample_pair


def test_the_cache_holds_tokens_of_every_kind(cache_dir, components):
    video, audio, text, _ = components
    cache = TokenCache(cache_dir)
    assert len(cache) == 5 and cache.info["shards"] == ["shard-00000.safetensors", "shard-00001.safetensors"]
    assert cache.video.shape == (5, 5, 4, 4) and cache.ext_prev.shape == cache.ext_next.shape == (5, 3, 4, 4)
    assert cache.control.shape == cache.styled.shape == (5, 5, 4, 4) and cache.audio.shape == (5, 2, 54)
    assert cache.text.shape[0] == 5 and cache.text.shape[2] == 16 and cache.seeds.tolist() == [0, 1, 2, 3, 4]
    first, second = sample_pair(3)
    x = torch.from_numpy(second.video).permute(3, 0, 1, 2).float().div(127.5).sub(1)[None]
    assert torch.equal(cache.styled[3], video.encode(x)[0])
    emb, mask = cache.text_of(3)
    assert int(mask.sum()) == text.count_tokens(first.caption)
    torch.testing.assert_close(emb[mask], text.encode([first.caption]).tokens[0][mask], atol=1e-2, rtol=1e-2)
    # the extend window's first latent frame is frame 8 alone, as the Engine forces it
    frame8 = torch.from_numpy(first.video[8:9]).permute(3, 0, 1, 2).float().div(127.5).sub(1)[None]
    assert torch.equal(cache.ext_next[3][:1], video.encode(frame8)[0])
    last = torch.from_numpy(first.video[16:]).permute(3, 0, 1, 2).float().div(127.5).sub(1)[None]
    assert torch.equal(cache.last_image[3], video.encode(last)[0])  # interpolate's end frame
    build_cache(cache_dir, 5, video, audio, text, shard_size=3, batch_size=2, log=lambda line: None)  # resumes
    with pytest.raises(ValueError, match="different cache"):
        build_cache(cache_dir, 6, video, audio, text, shard_size=3, log=lambda line: None)


def test_a_cache_gets_new_audio_tokens_and_keeps_the_rest(cache_dir, components, tmp_path):
    new_codec = copy.deepcopy(components[1])
    with torch.no_grad():
        next(new_codec.encoder.parameters()).mul_(-1.0)  # another codec: other audio tokens
    out = retokenize_audio(cache_dir, tmp_path / "a2", new_codec, batch_size=2, log=lambda line: None)
    old, new = TokenCache(cache_dir), TokenCache(out)
    sound = torch.from_numpy(sample_pair(4)[0].audio)[None, None]
    assert torch.equal(new.audio[4], new_codec.encode(sound)[0]) and not torch.equal(new.audio, old.audio)
    for key in ("video", "styled", "control", "text", "seeds"):
        assert torch.equal(getattr(new, key), getattr(old, key))
    assert new.info["audio_tokenizer"]["weights"] == state_hash(new_codec) != old.info["audio_tokenizer"]["weights"]
    with pytest.raises(ValueError, match="already holds"):
        retokenize_audio(cache_dir, out, new_codec, log=lambda line: None)


def test_a_cache_follows_the_encoder_not_the_decoder(components):
    for tokenizer in copy.deepcopy(components[:2]):  # the video and the audio tokenizer
        before = state_hash(tokenizer)
        with torch.no_grad():
            next(tokenizer.decoder.parameters()).add_(1.0)  # a decoder-only fine-tune keeps every token
            assert state_hash(tokenizer) == before
            next(tokenizer.encoder.parameters()).add_(1.0)  # a new encoder makes other tokens: stale cache
            assert state_hash(tokenizer) != before


def test_every_task_makes_a_training_sequence(cache_dir):
    cache = TokenCache(cache_dir)
    vocab = cache.vocab
    g = torch.Generator().manual_seed(0)
    for task in TRAIN_TASKS:
        seq, text, mask = make_example(cache, 1, task, g, vocab, caption_dropout=0.0, optional_dropout=0.0)
        assert seq.task == task and text.shape == (40, 16) and (seq.targets() != IGNORE).any()
        assert mask.any() == (task not in ("video_to_audio", "unconditional"))
    with pytest.raises(ValueError, match="unknown task"):
        parse_task_weights("text_to_poem=1")


def test_task_lists_name_known_tasks():
    assert parse_task_list("text_to_video, stylize") == frozenset({"text_to_video", "stylize"})
    assert parse_task_list(None) is None and parse_task_list(" ") is None
    with pytest.raises(ValueError, match="unknown task"):
        parse_task_list("text_to_video,text_to_poem")


def test_masked_rows_hide_unknown_output_tokens_and_keep_the_known_ones(cache_dir):
    cache = TokenCache(cache_dir)
    vocab = cache.vocab
    g = torch.Generator().manual_seed(0)
    ratios = []
    for _ in range(20):
        seq, _, _ = make_example(cache, 2, "image_to_video", g, vocab, caption_dropout=0.0, optional_dropout=0.0)
        masked, targets = masked_row(seq, g)
        hidden = masked.ids == vocab.mask
        out = seq.output
        assert masked.prefix_len == len(seq) and hidden.any() and not hidden[:out.start].any()
        assert torch.equal(targets[hidden], seq.ids[hidden]) and (targets[~hidden] == IGNORE).all()
        assert torch.equal(masked.ids[out][seq.known], seq.ids[out][seq.known])  # COMMIT: condition kept
        ratios.append(float(hidden.sum() / (~seq.known).sum()))
    assert min(ratios) < 0.5 < max(ratios)  # the cosine schedule draws different mask ratios
    probs = torch.ones(len(TRAIN_TASKS), dtype=torch.float64) / len(TRAIN_TASKS)
    batch, _, _, names = make_batch(cache, vocab, list(TRAIN_TASKS), probs, 12, g, 0.1, 0.5, masked_share=0.5)
    masked_rows = [i for i, n in enumerate(names) if n.startswith("masked_")]
    assert masked_rows and all(batch.prefix_len[i] == (batch.ids[i] != vocab.pad).sum() for i in masked_rows)


def test_the_trainer_runs_resumes_and_exports(tmp_path, cache_dir, components):
    out, weights = tmp_path / "run", tmp_path / "weights"
    common = ["--cache", str(cache_dir), "--val-cache", str(cache_dir), "--out", str(out), "--weights",
              str(weights), "--batch-size", "3", "--d-model", "32", "--layers", "1", "--heads", "2",
              "--log-every", "1", "--eval-every", "2", "--eval-examples", "1", "--warmup", "1"]
    main([*common, "--steps", "2", "--no-export"])
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "event" not in r] == [1, 2]
    steps = [r for r in records if "event" not in r]
    assert records[0]["event"] == "start" and any(k.startswith("loss_") for k in steps[0])
    assert records[-1]["event"] == "eval"
    assert "val_text_to_video" in records[-1] and "val_masked_text_to_video" in records[-1]
    main([*common, "--steps", "3"])  # resumes at step 2
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "event" not in r] == [1, 2, 3]
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] == 3
    model = Transformer.from_pretrained(weights / "transformer")
    video, audio, text, _ = components
    engine = Engine(video, audio, text, model)  # the exported model drops into the Engine
    assert engine.generate("text_to_image", prompt="a red ball", seed=0).video.shape == (1, 64, 64, 3)


def test_init_starts_from_saved_weights_whose_config_wins(tmp_path, cache_dir):
    common = ["--cache", str(cache_dir), "--weights", str(tmp_path / "weights"), "--batch-size", "2",
              "--log-every", "1", "--eval-every", "1",
              "--warmup", "1", "--no-export", "--steps", "1"]
    main([*common, "--out", str(tmp_path / "a"), "--d-model", "32", "--layers", "1", "--heads", "2"])
    first = Transformer.from_pretrained(tmp_path / "a" / "last")
    main([*common, "--out", str(tmp_path / "b"), "--init", str(tmp_path / "a" / "last"), "--lr", "0"])
    second = Transformer.from_pretrained(tmp_path / "b" / "last")  # the default width flags were ignored
    assert second.config == first.config
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values(),
                                                  strict=True))  # lr 0: the step left the weights as loaded


def test_a_bf16_loss_on_the_cpu_is_close_to_the_float_one(cache_dir):
    cache = TokenCache(cache_dir)
    info, vocab = cache.info, cache.vocab
    torch.manual_seed(0)
    model = Transformer(TransformerConfig(video_vocab=info["video_vocab"], d_model=32, n_layers=1, n_heads=2,
                                          audio_vocab_per_level=info["audio_vocab_per_level"],
                                          audio_levels=info["audio_levels"], text_dim=info["text_dim"],
                                          max_seq_len=1024, grid_size=tuple(info["video_latent"])))
    probs = torch.ones(len(TRAIN_TASKS), dtype=torch.float64)
    batch, text, mask, _ = make_batch(cache, vocab, list(TRAIN_TASKS), probs, 2, torch.Generator().manual_seed(2),
                                      0.0, 0.0)
    losses = [batch_losses(model, batch, text, mask, torch.device("cpu"), amp)[0] for amp in (False, True)]
    assert torch.isfinite(losses[1]) and abs(float(losses[1] - losses[0])) < 0.02 * float(losses[0])
