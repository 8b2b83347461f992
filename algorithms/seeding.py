"""One seeding scheme for a training run: ``numpy.random.SeedSequence(seed)`` with one named child per stream.

Each stream is ``SeedSequence(seed, spawn_key=(stream, rank))``, so streams never share state, adding a stream
leaves the others unchanged, and every DDP rank has its own sampling and rollout streams while the policy's
initial weights and the validation generator are the same on all ranks.

| stream        | used for                                                         |
|---------------|------------------------------------------------------------------|
| `policy_init` | the policy's initial weights (FeaturePolicy) / agent seed (LLM)  |
| `sampling`    | the torch generator that samples actions in rollouts             |
| `rollouts`    | the numpy generator that picks sessions for local rerollouts     |
| `validation`  | the torch generator handed to greedy validation and test runs    |
"""

from __future__ import annotations

import numpy as np
import torch

STREAMS = ("policy_init", "sampling", "rollouts", "validation")
PER_RANK = ("sampling", "rollouts")


def seed_sequence(seed: int, stream: str, rank: int = 0) -> np.random.SeedSequence:
    """The SeedSequence of ``stream`` (one of :data:`STREAMS`) for a run seeded ``seed``, on ``rank``."""
    if stream not in STREAMS:
        raise ValueError(f"unknown seed stream {stream!r}; the streams are {STREAMS}")
    return np.random.SeedSequence(seed, spawn_key=(STREAMS.index(stream), rank if stream in PER_RANK else 0))


def seed_int(seed: int, stream: str, rank: int = 0) -> int:
    """A 63-bit integer seed drawn from the stream (for APIs that take an int, such as ``manual_seed``)."""
    return int(seed_sequence(seed, stream, rank).generate_state(1, np.uint64)[0] >> np.uint64(1))


def torch_generator(seed: int, stream: str, rank: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed_int(seed, stream, rank))


def numpy_generator(seed: int, stream: str, rank: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed_sequence(seed, stream, rank))
