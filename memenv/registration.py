"""Every registered environment id, in one place (registered on ``import memenv``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True)
class Privilege:
    """How an env id opts into privileged information for oracle agents: the keyword argument that turns it on
    (set to ``True``) and whether it then also gives ``info["gold_facts"]`` (the generator's facts: what the
    restricted oracle plays from and the trainer's UPDATE-hit diagnostic reads), not only ``info["gold"]``."""

    kwarg: str
    gold_facts: bool


# Per env id, the one place saying which kwarg makes it privileged. LoCoMo-v0 is published and frozen: it keeps
# its ``observation_gold`` name (its gold is LoCoMo's annotated observations); the Synthetic envs use ``privileged``.
PRIVILEGES = {
    "MemoryR2/Synthetic-v0": Privilege("privileged", gold_facts=True),
    "MemoryR2/Synthetic-v1": Privilege("privileged", gold_facts=True),
    "MemoryR2/LoCoMo-v0": Privilege("observation_gold", gold_facts=False),
}


def privileged_kwargs(env_id: str, *, gold_facts: bool = False) -> dict[str, bool]:
    """The env kwargs that give an oracle agent its privileged information on ``env_id``; empty for an env id not
    in :data:`PRIVILEGES`, and with ``gold_facts=True`` also for one whose privilege gives no ``gold_facts``."""
    privilege = PRIVILEGES.get(env_id)
    return {privilege.kwarg: True} if privilege and (privilege.gold_facts or not gold_facts) else {}


def is_privileged_env(env_id: str, env_kwargs: dict[str, Any]) -> bool:
    """Whether ``env_kwargs`` make ``env_id`` privileged: its own kwarg (:data:`PRIVILEGES`) set to ``True``; for
    an env id not listed there (a user's env), any of the listed kwarg names set to ``True``.

    >>> is_privileged_env("MemoryR2/LoCoMo-v0", {"observation_gold": True}), is_privileged_env("x", {"privileged": 1})
    (True, False)
    """
    privilege = PRIVILEGES.get(env_id)
    names = {privilege.kwarg} if privilege else {p.kwarg for p in PRIVILEGES.values()}
    return any(env_kwargs.get(name) is True for name in names)


def register_envs() -> None:
    for env_id, (entry_point, _) in ENVS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point)


def describe_envs() -> dict[str, str]:
    """``{env_id: one-line description}`` of every registered memory-r2 env."""
    return {env_id: description for env_id, (_, description) in ENVS.items()}
