import numpy as np
import torch

from engine.training.data import object_mask, video_and_mask_batch, video_batch
from engine.world import sample
from engine.world.palette import OBJECT_COLOURS
from engine.world.render_video import background_video


def test_object_mask_is_where_the_objects_are_drawn():
    clip = sample(3)
    mask = object_mask(clip.scene)  # (17, 64, 64)
    scene = clip.scene
    background = background_video(scene.background, scene.texture, scene.camera)
    assert mask.shape == (17, 64, 64) and mask.min() == 0.0 and mask.max() == 1.0
    np.testing.assert_array_equal(clip.video[mask == 0], background[mask == 0])  # outside: the background
    inside = clip.video[mask == 1]
    colours = np.array([OBJECT_COLOURS[o.colour] for o in scene.objects])
    assert np.all(np.abs(inside[:, None, :].astype(int) - colours[None]).max(-1).min(-1) <= 1)


def test_video_and_mask_batch_matches_video_batch():
    videos, masks = video_and_mask_batch([0, 5])
    assert torch.equal(videos, video_batch([0, 5]))
    assert masks.shape == (2, 1, 17, 64, 64) and masks.dtype == torch.float32
