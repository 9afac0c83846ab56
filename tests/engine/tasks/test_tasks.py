import pytest
import torch

from engine.sampling import Factored
from engine.tasks import (
    IGNORE,
    TASKS,
    CanvasModel,
    TaskSpec,
    audio_to_sequence,
    build_sequence,
    collate,
    generate,
    sequence_to_audio,
)
from engine.transformer import MASK_INDEX, Transformer, TransformerConfig, Vocab

VOCAB = Vocab(video_vocab=16, audio_vocab_per_level=8, audio_levels=2)
TEXT_LEN, TEXT_DIM = 4, 8


def task_inputs(name: str, grid=(2, 3, 3), audio=(2, 5), seed: int = 0) -> dict:
    """Random but valid inputs for `name` (grid sizes as a tokenizer config would give them)."""
    spec, g = TASKS[name], torch.Generator().manual_seed(seed)
    shape = grid if spec.output == "video" else audio
    kw: dict = {"output_shape": shape, "text_len": TEXT_LEN if spec.text else 0}
    if spec.input_video:
        kw["input_video"] = torch.randint(0, 16, (1 if name == "image_to_video" else grid[0], *grid[1:]),
                                          generator=g)
    if spec.control_video:
        kw["control_video"] = torch.randint(0, 16, grid, generator=g)
    if spec.input_audio:
        kw["input_audio"] = torch.randint(0, 8, audio, generator=g)
    high = 16 if spec.output == "video" else 8
    kw["output"] = torch.randint(0, high, shape, generator=g)
    if spec.known == "mask":
        kw["known"] = torch.rand(shape, generator=g) > 0.5
        kw["input_video"][~kw["known"]] = MASK_INDEX  # the source with the hidden tokens masked
    return kw


@pytest.mark.parametrize("grid", [(2, 3, 3), (5, 8, 8), (1, 16, 16)])
@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_lays_out_its_segments_with_the_right_lengths(name, grid):
    spec = TASKS[name]
    grid = (1, *grid[1:]) if name == "text_to_image" else grid
    kw = task_inputs(name, grid=grid, audio=(2, 7))
    seq = build_sequence(name, VOCAB, **kw)
    segments = [("input_video", 2), ("control_video", 2), ("input_audio", 2)]
    expected_prefix = 1 + kw["text_len"] + sum(kw[k].numel() + extra for k, extra in segments if k in kw) + 1
    n = kw["output"].numel()
    assert (seq.prefix_len, seq.num_output, len(seq)) == (expected_prefix, n, expected_prefix + n + 1)
    assert seq.ids[0] == VOCAB.task_token(name)
    assert (seq.ids[1:1 + kw["text_len"]] == VOCAB.text).all()
    begin, end = ("bov_o", "eov_o") if spec.output == "video" else ("boa_o", "eoa_o")
    assert seq.ids[seq.prefix_len - 1] == VOCAB.token(begin) and seq.ids[-1] == VOCAB.token(end)
    out = seq.ids[seq.output]
    assert bool(((out >= seq.allowed[:, 0]) & (out < seq.allowed[:, 1])).all())
    assert torch.equal(seq.output_tokens(out), kw["output"])
    expected_known = {"none": 0, "first_frame": grid[1] * grid[2]}
    assert int(seq.known.sum()) == expected_known.get(spec.known, int(kw.get("known", seq.known).sum()))
    if spec.output == "video":  # 1-based (t, h, w) on the output tokens, up to the grid size
        assert seq.grid[seq.output].amax(0).tolist() == list(grid) and seq.grid[seq.output].amin() == 1
    assert seq.grid[:1 + kw["text_len"]].eq(0).all()


def test_audio_is_frame_major_with_levels_interleaved_and_ranges_follow_the_level():
    codes = torch.tensor([[0, 1, 2], [10, 11, 12]])  # (levels, frames)
    assert audio_to_sequence(codes).tolist() == [0, 10, 1, 11, 2, 12]
    assert torch.equal(sequence_to_audio(audio_to_sequence(codes), 2), codes)
    seq = build_sequence("video_to_audio", VOCAB, **task_inputs("video_to_audio", audio=(2, 3)))
    assert seq.allowed.tolist() == [list(VOCAB.audio_range(level)) for _ in range(3) for level in range(2)]


def test_targets_cover_the_unknown_output_and_the_end_marker_only():
    kw = task_inputs("inpaint")
    seq = build_sequence("inpaint", VOCAB, **kw)
    tgt = seq.targets()
    P, n = seq.prefix_len, seq.num_output
    assert (tgt[:P - 1] == IGNORE).all() and tgt[P - 1 + n] == VOCAB.token("eov_o")
    learned = tgt[P - 1:P - 1 + n] != IGNORE
    assert torch.equal(learned, ~seq.known)
    assert torch.equal(tgt[P - 1:P - 1 + n][learned], seq.ids[seq.output][learned])
    inference = build_sequence("text_to_video", VOCAB, output_shape=(2, 3, 3), text_len=TEXT_LEN)
    assert (inference.ids[inference.output] == VOCAB.mask).all()
    with pytest.raises(ValueError):
        inference.targets()


def test_collate_pads_a_mixed_batch_and_keeps_each_prefix():
    seqs = [build_sequence(name, VOCAB, **task_inputs(name)) for name in ("text_to_video", "video_to_audio")]
    batch = collate(seqs)
    assert batch.ids.shape == (2, max(len(s) for s in seqs))
    assert batch.tasks == ["text_to_video", "video_to_audio"]
    assert batch.prefix_len.tolist() == [s.prefix_len for s in seqs]
    short = min(range(2), key=lambda i: len(seqs[i]))
    assert (batch.ids[short, len(seqs[short]):] == VOCAB.pad).all()
    assert (batch.targets[short, len(seqs[short]):] == IGNORE).all()
    other = build_sequence("text_to_video", VOCAB, **{**task_inputs("text_to_video"), "text_len": 2})
    with pytest.raises(ValueError):
        collate([seqs[0], other])


def test_inconsistent_inputs_are_refused():
    kw = task_inputs("inpaint")
    with pytest.raises(ValueError):  # inpaint needs its known mask
        build_sequence("inpaint", VOCAB, **{k: v for k, v in kw.items() if k != "known"})
    with pytest.raises(ValueError):  # unconditional has no text
        build_sequence("unconditional", VOCAB, output_shape=(2, 3, 3), text_len=4)
    with pytest.raises(ValueError):  # image_to_video needs its image
        build_sequence("image_to_video", VOCAB, output_shape=(2, 3, 3), text_len=4)
    with pytest.raises(ValueError):  # known first frame without its values
        build_sequence("image_to_video", VOCAB, output_shape=(2, 3, 3), text_len=4,
                       input_video=torch.zeros(1, 3, 3, dtype=torch.long))
    with pytest.raises(ValueError):  # audio output with the wrong number of levels
        build_sequence("video_to_audio", VOCAB, output_shape=(3, 5), input_video=torch.zeros(2, 3, 3).long())
    with pytest.raises(ValueError):
        TaskSpec("no_such_task", "video")
    with pytest.raises(KeyError):
        build_sequence("no_such_task", VOCAB, output_shape=(2, 3, 3))


def tiny_model() -> Transformer:
    torch.manual_seed(0)
    config = TransformerConfig(video_vocab=16, audio_vocab_per_level=8, audio_levels=2, d_model=32,
                               n_layers=2, n_heads=2, max_seq_len=128, text_dim=TEXT_DIM, grid_size=(2, 3, 3))
    return Transformer(config).eval()


def test_generation_keeps_known_tokens_exactly_and_respects_audio_levels():
    model = tiny_model()
    kw = task_inputs("inpaint")
    kw["output"][~kw["known"]] = MASK_INDEX  # at inference only the known values exist
    seq = build_sequence("inpaint", VOCAB, **kw)
    out = generate(model, seq, torch.Generator().manual_seed(0)).tokens
    assert out.shape == (2, 3, 3) and torch.equal(out[kw["known"]], kw["output"][kw["known"]])
    assert bool(((out >= 0) & (out < 16)).all())

    kw = task_inputs("video_to_audio")
    del kw["output"]
    audio = generate(model, build_sequence("video_to_audio", VOCAB, **kw), torch.Generator().manual_seed(0)).tokens
    assert audio.shape == (2, 5) and bool(((audio >= 0) & (audio < 8)).all())
    with pytest.raises(ValueError):  # no prompt to guide with
        generate(model, build_sequence("video_to_audio", VOCAB, **kw), torch.Generator(), cfg_scale=2.0)


def test_seeds_reproduce_bit_for_bit_and_guidance_scale_one_is_the_conditional_model():
    model = tiny_model()
    seq = build_sequence("text_to_video", VOCAB, output_shape=(2, 3, 3), text_len=TEXT_LEN)
    text = torch.randn(TEXT_LEN, TEXT_DIM, generator=torch.Generator().manual_seed(5))
    ticks = []

    def run(seed: int, **kw) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        return generate(model, seq, g, text=text, top_k=10, top_p=0.95, **kw).tokens

    first = run(1, progress=lambda i, n: ticks.append((i, n)))
    assert ticks[-1] == (18, 18)
    assert torch.equal(first, run(1)) and not torch.equal(first, run(2))
    assert torch.equal(run(1, cfg_scale=1.0), first)
    assert not torch.equal(run(1, cfg_scale=5.0), first)


def test_a_task_is_data_a_new_layout_needs_no_model_change():
    spec = TaskSpec("text_to_video", "video", text=True, input_audio=True)  # a variant, not registered
    seq = build_sequence(spec, VOCAB, output_shape=(2, 3, 3), text_len=TEXT_LEN,
                         input_audio=torch.zeros(2, 5, dtype=torch.long))
    assert VOCAB.token("boa_i") in seq.ids.tolist()
    model = tiny_model().train()
    out = generate(model, seq, torch.Generator().manual_seed(0)).tokens
    assert out.shape == (2, 3, 3) and model.training  # decoding ran in eval mode and restored the mode


def test_masked_decoding_keeps_known_tokens_counts_passes_and_respects_audio_levels():
    model = tiny_model()
    kw = task_inputs("inpaint")
    kw["output"][~kw["known"]] = MASK_INDEX
    seq = build_sequence("inpaint", VOCAB, **kw)
    text = torch.randn(TEXT_LEN, TEXT_DIM, generator=torch.Generator().manual_seed(5))
    out, passes = generate(model, seq, torch.Generator().manual_seed(0), text=text, cfg_scale=2.0,
                           decoding="masked", steps=4)
    assert out.shape == (2, 3, 3) and torch.equal(out[kw["known"]], kw["output"][kw["known"]])
    assert bool(((out >= 0) & (out < 16)).all()) and passes == 4  # a guided pass is one batch of 2 rows

    kw = task_inputs("video_to_audio")
    del kw["output"]
    audio, passes = generate(model, build_sequence("video_to_audio", VOCAB, **kw), torch.Generator().manual_seed(0),
                             decoding="masked", steps=3)
    assert audio.shape == (2, 5) and bool(((audio >= 0) & (audio < 8)).all()) and passes == 3
    ar = generate(model, build_sequence("video_to_audio", VOCAB, **kw), torch.Generator().manual_seed(0))
    assert ar.forward_passes == 10  # the prefill, then one decode per token but the last
    with pytest.raises(ValueError):
        generate(model, seq, torch.Generator(), decoding="diffusion")


def test_masked_decoding_reproduces_and_sees_the_canvas_bidirectionally():
    model = tiny_model()
    seq = build_sequence("text_to_video", VOCAB, output_shape=(2, 3, 3), text_len=TEXT_LEN)
    text = torch.randn(TEXT_LEN, TEXT_DIM, generator=torch.Generator().manual_seed(5))

    def run(seed: int, **kw) -> torch.Tensor:
        return generate(model, seq, torch.Generator().manual_seed(seed), text=text, decoding="masked", **kw).tokens

    assert torch.equal(run(1), run(1)) and not torch.equal(run(1), run(2))
    guesses = []
    run(1, steps=5, on_step=lambda s, tokens: guesses.append(tokens))
    assert len(guesses) == 5 and guesses[-1].shape == (1, seq.num_output)
    canvas = CanvasModel(model, seq, seq.ids[None], seq.grid[None], text[None])
    tokens, positions = seq.ids[None, seq.output], torch.tensor([[4, 0, 17]])
    full = model(seq.ids[None], None, text[None], None, seq.grid[None])  # (1, L, V), all bidirectional
    torch.testing.assert_close(canvas(tokens, positions, None), full[:, seq.prefix_len + positions[0]])
    lo, hi = VOCAB.video_range  # only the video head runs, its sub-token logits kept apart: the same sums
    video = canvas(tokens, positions, (lo, hi))
    assert isinstance(video, Factored) and [p.shape for p in video.parts] == [(1, 3, 4), (1, 3, 4)]
    torch.testing.assert_close(video.joint(), full[:, seq.prefix_len + positions[0], lo:hi])
    assert canvas.calls == 2


def test_bf16_masked_passes_stay_close_to_float_and_still_reproduce():
    model = tiny_model()
    seq = build_sequence("text_to_video", VOCAB, output_shape=(2, 3, 3), text_len=TEXT_LEN)
    text = torch.randn(TEXT_LEN, TEXT_DIM, generator=torch.Generator().manual_seed(5))
    canvas = CanvasModel(model, seq, seq.ids[None], seq.grid[None], text[None])
    tokens, positions = seq.ids[None, seq.output], torch.tensor([[4, 0, 17]])
    full = canvas(tokens, positions, VOCAB.video_range).joint()
    model.bf16_passes = True
    assert model.decode_step["masked_passes"] == "bfloat16 autocast"
    half = canvas(tokens, positions, VOCAB.video_range).joint()
    assert half.dtype == torch.float32 and not torch.equal(half, full)  # the blocks did run in bf16
    torch.testing.assert_close(half, full, atol=0.05 * float(full.abs().max()), rtol=0)

    def run(seed: int) -> torch.Tensor:
        return generate(model, seq, torch.Generator().manual_seed(seed), text=text, decoding="masked").tokens

    assert torch.equal(run(3), run(3))
