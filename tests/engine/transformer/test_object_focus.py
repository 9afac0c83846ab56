"""The object focus marks the token cells the objects cover and weights the targets there."""

import json

import numpy as np
import pytest
import torch

from engine.tasks import IGNORE
from engine.training.data import object_mask
from engine.transformer.dataset import TokenCache
from engine.transformer.object_focus import ObjectFocus, token_cells
from engine.transformer.train import TRAIN_TASKS, batch_losses, main, make_batch, make_example, masked_row
from engine.world import sample


def test_cells_pool_the_frames_each_latent_frame_encodes():
    coverage = np.zeros((9, 16, 16), np.float32)
    coverage[0, 0, 0] = 1.0  # frame 0 alone -> latent frame 0
    coverage[3, 9, 9] = 0.6  # frames 1..4 -> latent frame 1
    coverage[8, 15, 0] = 0.4  # under COVERED: not an object's cell
    cells = token_cells(coverage, temporal_factor=4, spatial_factor=8)
    assert cells.shape == (3, 2, 2) and cells.dtype == bool
    assert np.argwhere(cells).tolist() == [[0, 0, 0], [1, 1, 1]]
    with pytest.raises(ValueError, match="does not tile"):
        token_cells(np.zeros((8, 16, 16)), 4, 8)


def test_the_cells_hold_the_objects_of_the_rendered_clip():
    clip = sample(7)
    cells = token_cells(object_mask(clip.scene), 4, 8)  # (5, 8, 8)
    background = np.median(clip.video[0].reshape(-1, 3), axis=0)
    away = np.abs(clip.video[0].astype(int) - background).sum(-1) > 120  # frame 0's object pixels
    ys, xs = np.nonzero(away)
    assert len(ys) > 0 and cells[0][ys // 8, xs // 8].mean() > 0.9
    assert 0 < cells.mean() < 0.5  # objects cover a minority of the cells


def _focus_and_cache(cache_dir, weight):
    cache = TokenCache(cache_dir)
    return ObjectFocus.for_cache(cache, weight), cache, cache.vocab


def test_row_weights_follow_the_targets(cache_dir):
    focus, cache, vocab = _focus_and_cache(cache_dir, 4.0)
    g = torch.Generator().manual_seed(0)
    for task in ("text_to_video", "extend", "stylize", "video_to_audio"):
        seq, _, _ = make_example(cache, 1, task, g, vocab, caption_dropout=0.0, optional_dropout=0.0)
        out = seq.output
        expected = focus.output_weights(task, 1, seq.output_shape)
        weights = focus.row_weights(seq, 1, masked=False)
        assert weights.shape == (len(seq),)
        assert torch.equal(weights[out.start - 1:out.stop - 1], expected)  # target j is token j + 1
        assert (weights[:out.start - 1] == 1).all() and (weights[out.stop - 1:] == 1).all()
        assert (expected > 1).any() == (task != "video_to_audio")
        if seq.modality == "video":
            masked, _ = masked_row(seq, g)
            assert torch.equal(focus.row_weights(masked, 1, masked=True)[out], expected)
    with pytest.raises(ValueError, match="favour the background"):
        ObjectFocus([0], cache.info, 0.5)


def test_object_tasks_limit_the_weighting(cache_dir):
    cache = TokenCache(cache_dir)
    focus = ObjectFocus.for_cache(cache, 4.0, frozenset({"text_to_video", "stylize"}))
    g = torch.Generator().manual_seed(0)
    for task, weighted in (("text_to_video", True), ("stylize", True), ("image_to_video", False), ("inpaint", False)):
        seq, _, _ = make_example(cache, 1, task, g, cache.vocab, caption_dropout=0.0, optional_dropout=0.0)
        assert (focus.output_weights(task, 1, seq.output_shape) > 1).any() == weighted, task


def test_the_weighted_loss_counts_object_targets_more(cache_dir):
    focus, cache, vocab = _focus_and_cache(cache_dir, 5.0)
    probs = torch.zeros(len(TRAIN_TASKS), dtype=torch.float64)
    probs[TRAIN_TASKS.index("text_to_video")] = 1.0
    batch, text, text_mask, _ = make_batch(cache, vocab, list(TRAIN_TASKS), probs, 3,
                                           torch.Generator().manual_seed(1), 0.0, 0.0, focus=focus)
    assert batch.weights.shape == batch.targets.shape and (batch.weights[batch.targets == IGNORE] >= 1).all()
    heavy = batch.weights > 1
    assert heavy.any() and (batch.targets[heavy] != IGNORE).all()

    per_token = torch.rand(batch.targets.shape) * (batch.targets != IGNORE)

    def model(*args, targets):
        return per_token

    weighted, sums, counts = batch_losses(model, batch, text, text_mask, torch.device("cpu"), amp=False)
    plain_mean = per_token.sum() / counts.sum()
    assert torch.isclose(sums.sum() / counts.sum(), plain_mean)  # the logged figures stay unweighted
    w = batch.weights * (batch.targets != IGNORE)
    assert torch.isclose(weighted, (per_token * w).sum() / w.sum()) and not torch.isclose(weighted, plain_mean)
    batch.weights = None
    assert torch.isclose(batch_losses(model, batch, text, text_mask, torch.device("cpu"), amp=False)[0], plain_mean)


def test_the_trainer_takes_an_object_weight(tmp_path, cache_dir):
    out = tmp_path / "run"
    main(["--cache", str(cache_dir), "--out", str(out), "--weights", str(tmp_path / "weights"), "--batch-size", "2",
          "--d-model", "32", "--layers", "1", "--heads", "2", "--log-every", "1", "--warmup", "1", "--steps", "2",
          "--object-weight", "3", "--object-tasks", "text_to_video,inpaint", "--no-export"])
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "loss" in r] == [1, 2]
    assert all(np.isfinite(r["loss"]) for r in records if "loss" in r)
