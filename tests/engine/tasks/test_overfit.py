"""End to end on the smallest scale: build a mixed-task batch, train the transformer on it with the
next-token loss, then decode each task greedily with the KV cache and get the training targets back."""

import time

import torch
import torch.nn.functional as F

from engine.tasks import IGNORE, build_sequence, collate, generate
from engine.transformer import MASK_INDEX, Transformer, TransformerConfig, Vocab

VOCAB = Vocab(video_vocab=32, audio_vocab_per_level=16, audio_levels=2)
TEXT_LEN, TEXT_DIM = 4, 8


def test_a_tiny_model_overfits_a_mixed_batch_then_generates_it_greedily():
    start = time.perf_counter()
    g = torch.Generator().manual_seed(0)
    video = torch.randint(0, 32, (2, 3, 3), generator=g)
    audio = torch.randint(0, 16, (2, 6), generator=g)
    image = torch.randint(0, 32, (1, 3, 3), generator=g)
    clip = torch.cat((image, torch.randint(0, 32, (1, 3, 3), generator=g)))
    text = torch.randn(TEXT_LEN, TEXT_DIM, generator=g)
    seqs = [
        build_sequence("text_to_video", VOCAB, output_shape=(2, 3, 3), text_len=TEXT_LEN, output=video),
        build_sequence("video_to_audio", VOCAB, output_shape=(2, 6), input_video=video, output=audio),
        build_sequence("image_to_video", VOCAB, output_shape=(2, 3, 3), text_len=TEXT_LEN, input_video=image,
                       output=clip),
    ]
    batch = collate(seqs)
    texts = torch.stack([text, torch.zeros_like(text), text])  # a row without text slots ignores its row

    torch.manual_seed(0)
    config = TransformerConfig(video_vocab=32, audio_vocab_per_level=16, audio_levels=2, d_model=64,
                               n_layers=2, n_heads=4, max_seq_len=64, text_dim=TEXT_DIM, grid_size=(2, 3, 3))
    model = Transformer(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    for _ in range(150):
        logits = model(batch.ids, batch.prefix_len, texts, None, batch.grid)  # (B, L, V)
        loss = F.cross_entropy(logits.flatten(0, 1), batch.targets.flatten(), ignore_index=IGNORE)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05

    model.eval()  # inference sequences: only the known output tokens (the image frame) are given
    first_frame = torch.full_like(clip, MASK_INDEX)
    first_frame[0] = image[0]
    greedy = {"temperature": 0.0, "generator": torch.Generator()}
    t2v = build_sequence("text_to_video", VOCAB, output_shape=(2, 3, 3), text_len=TEXT_LEN)
    v2a = build_sequence("video_to_audio", VOCAB, output_shape=(2, 6), input_video=video)
    i2v = build_sequence("image_to_video", VOCAB, output_shape=(2, 3, 3), text_len=TEXT_LEN,
                         input_video=image, output=first_frame)
    assert torch.equal(generate(model, t2v, text=text, **greedy).tokens, video)
    assert torch.equal(generate(model, v2a, **greedy).tokens, audio)
    assert torch.equal(generate(model, i2v, text=text, **greedy).tokens, clip)
    assert time.perf_counter() - start < 10
