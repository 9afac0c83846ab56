"""Pixel masks, inpaint and outpaint presets, and their mapping onto the causal tokenizer's token grid."""

import numpy as np
import pytest
import torch

from engine.masks import (
    OUTPAINT_PRESETS,
    MaskError,
    box_mask,
    check_pixel_mask,
    grow_mask,
    inpaint_mask,
    latent_frame_groups,
    object_mask,
    outpaint_mask,
    pixel_to_token_mask,
    pool_mask,
    token_to_pixel_mask,
)
from engine.structure import control_video
from engine.world import sample


def test_presets_keep_the_named_region():
    keep = {name: ~outpaint_mask(name) for name in OUTPAINT_PRESETS}
    assert keep["centre"][16:48, 16:48].all() and keep["centre"].sum() == 32 * 32
    assert keep["left"][:, :32].all() and not keep["left"][:, 32:].any()
    assert keep["right"][:, 32:].all() and not keep["right"][:, :32].any()
    assert keep["top"][:32].all() and not keep["top"][32:].any()
    assert keep["bottom"][32:].all() and not keep["bottom"][:32].any()
    assert np.array_equal(outpaint_mask("center"), outpaint_mask("centre"))
    with pytest.raises(MaskError, match="unknown outpaint preset"):
        outpaint_mask("diagonal")


def test_latent_frames_group_pixel_frames_causally():
    groups = latent_frame_groups(17, 4)
    assert [list(g) for g in groups] == [[0], [1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]
    assert [list(g) for g in latent_frame_groups(1, 4)] == [[0]]
    with pytest.raises(MaskError):
        latent_frame_groups(16, 4)


def test_a_token_is_generated_when_any_of_its_pixels_is_masked():
    mask = check_pixel_mask(box_mask(10, 20, 3, 1), 17, 64, 64)  # a static 3x1 box
    tokens = pixel_to_token_mask(mask, 4, 8)  # (5, 8, 8)
    assert tokens.shape == (5, 8, 8) and tokens.dtype == torch.bool
    expected = torch.zeros(8, 8, dtype=torch.bool)
    expected[1, 2] = True  # rows 10..12 -> token row 1; column 20 -> token column 2
    assert all(torch.equal(tokens[k], expected) for k in range(5))
    # a kept token covers only kept pixels; every masked pixel is under a generated token
    covered = token_to_pixel_mask(tokens, 4, 8)
    assert covered.shape == (17, 64, 64) and not (mask & ~covered).any()


def test_a_moving_mask_maps_frame_by_frame():
    mask = np.zeros((17, 64, 64), dtype=bool)
    mask[0, :8, :8] = True
    mask[16, 56:, 56:] = True
    tokens = pixel_to_token_mask(mask, 4, 8)
    assert tokens[0, 0, 0] and tokens[4, 7, 7] and tokens.sum() == 2


def test_bad_masks_are_refused():
    with pytest.raises(MaskError, match="dtype bool"):
        check_pixel_mask(np.ones((64, 64), np.uint8), 17, 64, 64)
    with pytest.raises(MaskError, match=r"\(64, 64\) or \(17, 64, 64\)"):
        check_pixel_mask(np.ones((32, 32), bool), 17, 64, 64)
    with pytest.raises(MaskError, match="numpy"):
        check_pixel_mask([[True]], 17, 64, 64)


def test_inpaint_presets_name_the_region_to_generate():
    clip = sample(7).video
    centre, left = inpaint_mask("centre", clip), inpaint_mask("left", clip)
    assert np.array_equal(centre, box_mask(16, 16, 32, 32)) and np.array_equal(centre, ~outpaint_mask("centre"))
    assert left.shape == (64, 64) and left[:, :32].all() and not left[:, 32:].any()
    follow = inpaint_mask("object", clip)
    assert follow.shape == (17, 64, 64) and 0 < follow.mean() < 0.5
    assert np.array_equal(follow, object_mask(clip))
    with pytest.raises(MaskError, match="unknown inpaint preset"):
        inpaint_mask("diagonal", clip)


def test_the_object_mask_covers_the_silhouette_grown_by_the_margin():
    clip = sample(7).video
    silhouette = control_video(clip)[..., 0] > 0
    follow = object_mask(clip)
    assert (follow >= silhouette).all() and follow.sum() > silhouette.sum()
    assert not object_mask(np.full((17, 64, 64, 3), 128, np.uint8)).any()  # no object, nothing to follow


def test_grow_dilates_in_space_only():
    mask = np.zeros((3, 16, 16), dtype=bool)
    mask[1, 8, 8] = True
    grown = grow_mask(mask, 2)
    assert grown[1, 6:11, 6:11].all() and grown[1].sum() == 25
    assert not grown[0].any() and not grown[2].any()
    mask[1, 0, 15] = True  # at the edge the square is clipped, not wrapped
    assert grow_mask(mask, 1)[1].sum() == 9 + 4 and np.array_equal(grow_mask(mask, 0), mask)


def test_pool_marks_a_cell_when_any_of_its_pixels_is_set():
    drawn = np.zeros((256, 256), dtype=bool)
    drawn[0, 255] = True
    pooled = pool_mask(drawn)
    assert pooled.shape == (64, 64) and pooled.sum() == 1 and pooled[0, 63]
    assert np.array_equal(pool_mask(box_mask(16, 16, 32, 32)), box_mask(16, 16, 32, 32))
    for bad in [np.zeros((100, 100), bool), np.zeros((128, 64), bool)]:
        with pytest.raises(MaskError, match="multiple of 64"):
            pool_mask(bad)
