"""Cheat (a) of issue 19: build a privileged env of its own on the protocols' public seeds, recognise the episode
from its first view and replay the shadow's gold (synthetic-v1-8 and -32: 1.000 in process, store-all 0.212 /
0.227). An episode it does not recognise is played as store-all.

``--agent tests/cheats/shadow_env.py:make_agent`` runs it in process; as a script it is served over the
untrusted-agent wire protocol (``agents.remote.serve``), where it gets only views.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

import memenv  # noqa: F401  (registers the env ids)
from agents.baselines import StoreAll
from memr2.protocols import PROTOCOLS


class ShadowEnv:
    """Replays the gold of a shadow env whose first view equals the episode's."""

    def __init__(self) -> None:
        self.candidates = [(p.env_kwargs, p.seed + i) for p in PROTOCOLS.values() if p.env_id == "MemoryR2/Synthetic-v1"
                           for i in range(p.episodes or 0)]
        self.store_all = StoreAll()
        self.shadow, self.gold = None, None

    def reset(self) -> None:
        self.shadow, self.gold = None, None

    def recognise(self, text: str) -> None:
        for kwargs, seed in self.candidates:
            env = gym.make("MemoryR2/Synthetic-v1", privileged=True, **kwargs)
            observation, info = env.reset(seed=seed)
            if observation["text"] == text:
                self.shadow, self.gold = env, info["gold"]
                return
            env.close()

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> Any:
        view = info["view"]
        if view.role == "extractor" and view.session == 1 and view.chunk == 0 and self.shadow is None:
            self.recognise(observation["text"])
        if self.shadow is None:
            return self.store_all.act(observation, info)
        action = self.gold
        _, _, terminated, _, shadow_info = self.shadow.step(action)
        self.gold = None if terminated else shadow_info["gold"]
        return action


def make_agent() -> ShadowEnv:
    return ShadowEnv()


if __name__ == "__main__":
    from agents.remote import serve

    raise SystemExit(serve(make_agent()))
