"""Pixel masks, outpaint presets, and their mapping onto the causal tokenizer's token grid."""

import numpy as np
import pytest
import torch

from engine.masks import (
    OUTPAINT_PRESETS,
    MaskError,
    box_mask,
    check_pixel_mask,
    latent_frame_groups,
    outpaint_mask,
    pixel_to_token_mask,
    token_to_pixel_mask,
)


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
