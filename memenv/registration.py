"""Every registered environment id, in one place (registered on ``import memenv``)."""

from __future__ import annotations

import gymnasium as gym

ENVS = {
    "MemoryR2/Synthetic-v0": (
        "memenv.envs.synthetic:SyntheticEnv",
        "Procedural world: entity attributes introduced, updated and retracted across 8/16/32 sessions; exact rule scorer.",
    ),
    "MemoryR2/LoCoMo-v0": (
        "memenv.envs.locomo:LoCoMoEnv",
        "LoCoMo long conversations (3-conversation dev subset embedded; full file via data_path); recall scorer.",
    ),
}


def register_envs() -> None:
    for env_id, (entry_point, _) in ENVS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point)


def describe_envs() -> dict[str, str]:
    """``{env_id: one-line description}`` of every registered memory-r2 env."""
    return {env_id: description for env_id, (_, description) in ENVS.items()}
