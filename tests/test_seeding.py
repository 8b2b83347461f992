"""One seeding scheme: named SeedSequence streams, independent of each other, per rank where they must be."""

import numpy as np
import pytest
import torch

from algorithms import seeding
from algorithms.config import TrainerConfig
from algorithms.trainer import Trainer


def test_streams_are_the_seed_sequence_children_and_differ():
    ints = {s: seeding.seed_int(3, s) for s in seeding.STREAMS}
    assert len(set(ints.values())) == len(ints)
    expected = np.random.SeedSequence(3, spawn_key=(1, 0)).generate_state(1, np.uint64)[0] >> np.uint64(1)
    assert ints["sampling"] == int(expected)
    assert seeding.seed_int(3, "sampling", rank=1) != ints["sampling"]  # per rank
    assert seeding.seed_int(3, "policy_init", rank=1) == ints["policy_init"]  # the same weights on every rank
    assert seeding.seed_int(4, "sampling") != ints["sampling"]
    with pytest.raises(ValueError, match="unknown seed stream"):
        seeding.seed_int(3, "sampler")


def test_trainer_draws_every_generator_from_its_stream():
    config = TrainerConfig(curriculum=[2], iterations=1, seed=5)
    a, b = Trainer(config), Trainer(config)
    assert torch.equal(a.generator.get_state(), seeding.torch_generator(5, "sampling").get_state())
    assert a.rng.integers(1 << 30) == seeding.numpy_generator(5, "rollouts").integers(1 << 30)
    assert all(torch.equal(p, q) for p, q in zip(a.policy.model.parameters(), b.policy.model.parameters()))
    other = Trainer(TrainerConfig(curriculum=[2], iterations=1, seed=6))
    assert not all(torch.equal(p, q) for p, q in zip(a.policy.model.parameters(), other.policy.model.parameters()))
