"""Shared training plumbing: torchrun/DDP setup, resumable checkpoints, world data batches."""
