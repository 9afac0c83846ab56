import pytest
import torch

from engine.tasks import TASKS
from engine.transformer.vocab import MASK_INDEX, SPECIAL_TOKENS, TASK_NAMES, Vocab


def test_layout_is_specials_then_video_then_one_range_per_audio_level():
    v = Vocab(video_vocab=16, audio_vocab_per_level=8, audio_levels=3)
    assert v.video_range == (64, 80)
    assert [v.audio_range(level) for level in range(3)] == [(80, 88), (88, 96), (96, 104)]
    assert v.size == 104
    assert len({v.token(name) for name in SPECIAL_TOKENS}) == len(SPECIAL_TOKENS)
    assert max(v.token(name) for name in SPECIAL_TOKENS) < v.num_special
    assert {f"task_{name}" for name in TASKS} <= set(SPECIAL_TOKENS)
    assert set(TASK_NAMES) == set(TASKS)
    for name in ("bov_i", "eov_i", "boa_i", "eoa_i", "boc_i", "eoc_i", "bov_o", "eov_o", "boa_o", "eoa_o"):
        assert v.token(name) < v.num_special
    with pytest.raises(KeyError):
        v.token("nope")
    with pytest.raises(ValueError):
        Vocab(num_special=len(SPECIAL_TOKENS) - 1)


def test_video_round_trip_is_exact_including_mask():
    v = Vocab(video_vocab=16, audio_vocab_per_level=8, audio_levels=2)
    idx = torch.randint(0, 16, (2, 3, 4, 5))
    idx[0, 0, 0, 0], idx[1, 2, 3, 4] = 0, 15
    idx[0, 1, 1, 1] = MASK_INDEX
    ids = v.video_to_ids(idx)
    assert ids[0, 1, 1, 1] == v.mask
    lo, hi = v.video_range
    assert bool(((ids >= lo) & (ids < hi) | (ids == v.mask)).all())
    assert torch.equal(v.ids_to_video(ids), idx)


def test_audio_round_trip_is_exact_and_levels_do_not_share_ids():
    v = Vocab(video_vocab=16, audio_vocab_per_level=8, audio_levels=3)
    idx = torch.randint(0, 8, (2, 3, 7))
    ids = v.audio_to_ids(idx)
    for level in range(3):
        lo, hi = v.audio_range(level)
        assert bool(((ids[:, level] >= lo) & (ids[:, level] < hi)).all())
    assert torch.equal(v.ids_to_audio(ids), idx)


def test_out_of_range_indices_and_foreign_ids_are_errors():
    v = Vocab(video_vocab=16, audio_vocab_per_level=8, audio_levels=2)
    with pytest.raises(ValueError):
        v.video_to_ids(torch.tensor([16]))
    with pytest.raises(ValueError):
        v.video_to_ids(torch.tensor([-2]))
    with pytest.raises(TypeError):
        v.video_to_ids(torch.tensor([1.0]))
    with pytest.raises(ValueError):  # the last special id is not a masked video token
        v.ids_to_video(torch.tensor([v.video_offset - 1]))
    with pytest.raises(ValueError):  # an audio id is not a video id
        v.ids_to_video(torch.tensor([v.audio_offset(0)]))
    wrong_level = torch.tensor([[v.audio_offset(1)], [v.audio_offset(1)]])  # level-1 id on level 0
    with pytest.raises(ValueError):
        v.ids_to_audio(wrong_level)
    with pytest.raises(ValueError):
        v.audio_to_ids(torch.zeros(3, 4, dtype=torch.long))  # 3 levels for a 2-level vocab
