"""Every registered environment id, in one place (registered on ``import memenv``)."""

from __future__ import annotations

import gymnasium as gym

ENVS = {
    "MemoryR2/Synthetic-v0": (
        "memenv.envs.synthetic:SyntheticEnv",
        "Procedural world: entity attributes introduced, updated and retracted across 8/16/32 sessions; exact rule scorer.",
    ),
    "MemoryR2/Synthetic-v1": (
        "memenv.envs.synthetic:SyntheticV1Env",
        "Synthetic world with a retrieval-based strict reader: targeted UPDATE decides the score (credit-assignment testbed).",
    ),
    "MemoryR2/LoCoMo-v0": (
        "memenv.envs.locomo:LoCoMoEnv",
        "LoCoMo long conversations (3-conversation dev subset embedded; full file via data_path); recall scorer.",
    ),
}


# The env argument that opts an env into privileged information (gold actions / observations) for oracle agents.
PRIVILEGED_FLAGS = {
    "MemoryR2/Synthetic-v0": "privileged",
    "MemoryR2/Synthetic-v1": "privileged",
    "MemoryR2/LoCoMo-v0": "observation_gold",
}


def privileged_kwargs(env_id: str) -> dict[str, bool]:
    """The env kwargs that give an oracle agent its privileged information on ``env_id`` (empty if unknown)."""
    flag = PRIVILEGED_FLAGS.get(env_id)
    return {flag: True} if flag else {}


def register_envs() -> None:
    for env_id, (entry_point, _) in ENVS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point)


def describe_envs() -> dict[str, str]:
    """``{env_id: one-line description}`` of every registered memory-r2 env."""
    return {env_id: description for env_id, (_, description) in ENVS.items()}
