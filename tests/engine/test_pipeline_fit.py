"""The kept-pixel fit in the Engine (engine/video_tokenizer/fit.py): inpaint, outpaint, interpolate."""

import json

import numpy as np
import pytest
import torch

from engine.pipeline import END_FRAMES
from engine.training.data import video_to_tensor
from engine.video_tokenizer.fit import FIT_STEPS


def _known_error(engine, tokens, video, known):
    """Squared error of the float decode of tokens (t, h, w) against uint8 video on known (T, H, W) pixels."""
    decoded = engine.video_tokenizer.decode(tokens[None])[0]  # (3, T, H, W)
    return float(((decoded - video_to_tensor(video)) ** 2 * torch.from_numpy(known)).sum())


def test_the_kept_pixels_are_fitted_without_touching_the_known_tokens(engine, clip, monkeypatch):
    mask = np.zeros((17, 64, 64), dtype=bool)
    mask[:, 16:40, 16:40] = True
    fitted = engine.generate("inpaint", video=clip.video, mask=mask, seed=3, with_audio=False)
    monkeypatch.setattr(engine, "fit_steps", 0)
    plain = engine.generate("inpaint", video=clip.video, mask=mask, seed=3, with_audio=False)
    token_mask = fitted.tokens["token_mask"]
    assert torch.equal(fitted.tokens["video"][~token_mask], plain.tokens["video"][~token_mask])
    assert _known_error(engine, fitted.tokens["video"], clip.video, ~mask) <= \
        _known_error(engine, plain.tokens["video"], clip.video, ~mask)
    assert fitted.info["settings"]["fit_steps"] == FIT_STEPS and "fit" in fitted.info["timings"]
    assert plain.info["settings"]["fit_steps"] == 0 and "fit" not in plain.info["timings"]
    t2v = engine.generate("text_to_video", prompt="a red ball", seed=3, with_audio=False)
    assert t2v.info["settings"]["fit_steps"] is None


def test_interpolate_fits_only_its_last_latent_frame_to_the_given_end(engine, clip, monkeypatch):
    ends = clip.video[[0, 16]]
    fitted = engine.generate("interpolate", video=ends, seed=1, with_audio=False)
    monkeypatch.setattr(engine, "fit_steps", 0)
    plain = engine.generate("interpolate", video=ends, seed=1, with_audio=False)
    assert torch.equal(fitted.tokens["video"][:-1], plain.tokens["video"][:-1])
    known = np.zeros((17, 64, 64), dtype=bool)
    known[-END_FRAMES:] = True
    target = np.repeat(ends[1:], 17, axis=0)
    assert _known_error(engine, fitted.tokens["video"], target, known) <= \
        _known_error(engine, plain.tokens["video"], target, known)


def test_the_progress_bar_counts_the_fit_steps_after_the_tokens(engine, clip, monkeypatch):
    monkeypatch.setattr(engine, "fit_steps", 5)
    mask = np.zeros((17, 64, 64), dtype=bool)
    mask[:, 16:40, 16:40] = True
    ticks = []
    result = engine.generate("inpaint", video=clip.video, mask=mask, seed=3, with_audio=False,
                             progress=lambda done, total: ticks.append((done, total)))
    tokens = result.info["tokens_generated"]
    assert {total for _, total in ticks} == {tokens + 5}
    assert sorted({done for done, _ in ticks})[-6:] == [tokens + i for i in range(6)]  # the fit's steps, one by one
    assert ticks[-1] == (tokens + 5, tokens + 5)
    assert all(a[0] <= b[0] for a, b in zip(ticks, ticks[1:], strict=False))
    ticks.clear()
    engine.generate("text_to_video", prompt="a red ball", seed=3, with_audio=False,
                    progress=lambda done, total: ticks.append((done, total)))
    assert ticks[-1][0] == ticks[-1][1]  # no fit planned, none counted


def test_the_cli_sets_the_fit_steps_and_refuses_negative_ones(tmp_path, engine, clip, monkeypatch, capsys):
    from engine.__main__ import main
    from engine.media import write_png

    monkeypatch.setattr(engine, "fit_steps", engine.fit_steps)  # restored after the test
    first, last = tmp_path / "a.png", tmp_path / "b.png"
    write_png(first, clip.video[0])
    write_png(last, clip.video[16])
    out = tmp_path / "x.mp4"
    main(["generate", "--task", "interpolate", "--image", str(first), "--last-image", str(last), "--no-audio",
          "--fit-steps", "0", "--out", str(out)], engine=engine)
    assert json.loads(out.with_suffix(".json").read_text())["settings"]["fit_steps"] == 0
    with pytest.raises(SystemExit):
        main(["generate", "--task", "interpolate", "--fit-steps", "-1", "--out", str(out)], engine=engine)
    assert "--fit-steps" in capsys.readouterr().err
