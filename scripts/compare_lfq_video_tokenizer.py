"""Our LFQ against `vector-quantize-pytorch`'s LFQ on the same latents: indices, losses, speed.

Needs its own environment (not a project requirement), e.g.

    python -m venv --system-site-packages runs/video_tokenizer/peer_venv
    runs/video_tokenizer/peer_venv/bin/pip install vector-quantize-pytorch
    runs/video_tokenizer/peer_venv/bin/python scripts/compare_lfq_video_tokenizer.py \
        --weights weights/video_tokenizer --clips 16

The latents are the trained encoder's outputs on eval-split clips. The peer numbers its codes with
channel 0 as the most significant bit, ours with channel 0 as the least (index = sum 2^i over
positive channels, as in the paper), so its indices are compared on the channel-reversed latents.
Its soft assignment is softmax(2 * inv_temperature * <z, c>); ours is softmax(<z, c> / T), so
inv_temperature = 1 / (2 T) gives the same distribution and the entropies can be compared exactly.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from timing import median_ms  # noqa: E402

from engine.training.data import eval_seeds, video_batch  # noqa: E402
from engine.video_tokenizer.model import VideoTokenizer  # noqa: E402


def main() -> None:
    from vector_quantize_pytorch import LFQ as PeerLFQ

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path, default=Path("weights/video_tokenizer"))
    p.add_argument("--clips", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    model = VideoTokenizer.from_pretrained(args.weights)
    with torch.no_grad():
        z = model.encode_latent(video_batch(eval_seeds(args.clips)))  # (B, bits, t, h, w)
    ours = model.quantizer
    bits = ours.bits
    peer = PeerLFQ(dim=bits, codebook_size=2**bits, entropy_loss_weight=1.0, commitment_loss_weight=1.0,
                   diversity_gamma=ours.gamma, channel_first=True)
    inv_temperature = 1 / (2 * ours.temperature)

    ours.eval()
    peer.eval()
    with torch.no_grad():
        our_out = ours(z)
        peer_codes, peer_indices, _ = peer(z.flip(1))
    same_indices = float((peer_indices == our_out.indices).double().mean())
    same_codes = bool(torch.equal(peer_codes.flip(1), our_out.codes))
    lsb_vs_msb = float((peer(z)[1] == our_out.indices).double().mean())

    ours.train()
    peer.train()
    with torch.no_grad():
        mine = ours(z)
        _, breakdown = peer(z.flip(1), inv_temperature=inv_temperature, return_loss_breakdown=True)
    print(f"latents {tuple(z.shape)}, {z[:, 0].numel()} tokens, {2**bits} codes")
    print(f"indices identical (peer on channel-reversed latents): {100 * same_indices:.3f} %")
    print(f"indices identical without the reversal (bit order differs): {100 * lsb_vs_msb:.3f} %")
    print(f"codes identical: {same_codes}")
    print(f"per-sample entropy: ours {mine.per_sample_entropy:.5f}  peer {breakdown.per_sample_entropy:.5f}")
    print(f"batch entropy: ours (subgroups {ours.group_sizes}) {mine.batch_entropy:.4f}  "
          f"peer (full {2**bits}-way softmax) {breakdown.batch_entropy:.4f}")
    print(f"commitment: ours {mine.commitment:.5f}  peer {breakdown.commitment:.5f}")

    rows = []
    for mode in ("eval", "train"):
        ours.train(mode == "train")
        peer.train(mode == "train")
        with torch.no_grad():
            t_ours = median_ms(lambda: ours(z), reps=10, warmup=1)
            t_peer = median_ms(lambda: peer(z.flip(1), inv_temperature=inv_temperature), reps=10, warmup=1)
        rows.append((mode, t_ours, t_peer))
    print("\n| LFQ forward (no grad) | ours ms | vector-quantize-pytorch ms |\n| --- | --- | --- |")
    for mode, t_ours, t_peer in rows:
        label = "quantize only (eval)" if mode == "eval" else "with entropy + commitment (train)"
        print(f"| {label} | {t_ours:.2f} | {t_peer:.2f} |")


if __name__ == "__main__":
    main()
