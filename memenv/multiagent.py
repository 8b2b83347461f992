"""PettingZoo AEC view of a memory env: agents ``"extractor"`` and ``"manager"`` take turns over one episode.

The Gymnasium env already alternates roles (extractor, then manager, per chunk); this adapter names each role as
a PettingZoo agent so that multi-agent code (separate policies, per-agent rewards) can drive it unchanged.

>>> from memenv.multiagent import env
>>> aec = env("MemoryR2/Synthetic-v0", max_sessions=2)
>>> aec.reset(seed=0)
>>> aec.agent_selection
'extractor'
"""

from __future__ import annotations

import warnings
from typing import Any

import gymnasium as gym
from pettingzoo import AECEnv
from pettingzoo.utils import wrappers

from memenv.actions import ROLES
from memenv.env import MemoryEnv


class raw_env(AECEnv):
    """Two cooperating agents on one :class:`~memenv.env.MemoryEnv` episode.

    ## Agents
    ``"extractor"`` acts on every chunk's turns, then ``"manager"`` acts on the extracted facts; the env's
    ``role`` decides whose turn it is.

    ## Observation / Action Spaces
    The same as the wrapped env for both agents: ``Dict(role, session, text)`` observations (the shared
    current view; ``observe(agent)`` returns it) and ``Text`` actions (or action objects / dicts).

    ## Rewards
    Team reward: the task reward of each step (session or terminal QA score minus the compression penalty)
    goes to both agents; the ``invalid_action_penalty`` of a step goes only to the agent that acted.

    ## Episode End
    Termination for both agents when the wrapped env terminates (after the last manager step).

    ## Forking
    ``memenv.fork(aec)`` copies the whole AEC env (wrappers included) at its current state; ``raw_env.clone()``
    does the same for the bare adapter. The memory env underneath is forked in O(1) of its bank size.

    ## Arguments
    ``memory_env``: a ``MemoryEnv`` instance or a registered id (default ``"MemoryR2/Synthetic-v0"``);
    ``render_mode``; any other keyword goes to ``gymnasium.make`` with the id.
    """

    metadata = {"render_modes": ["ansi", "human"], "name": "memory_r2_aec_v0", "is_parallelizable": False}

    def __init__(self, memory_env: MemoryEnv | str = "MemoryR2/Synthetic-v0", render_mode: str | None = None, **kwargs: Any):
        super().__init__()
        if isinstance(memory_env, str):
            memory_env = gym.make(memory_env, render_mode=render_mode, **kwargs).unwrapped
        elif kwargs:
            raise TypeError("keyword arguments are for gymnasium.make; pass an id, not an env instance, with them")
        self.core: MemoryEnv = memory_env
        self.render_mode = self.core.render_mode
        self.possible_agents = list(ROLES)
        self._observation_spaces = {agent: self.core.observation_space for agent in self.possible_agents}
        self._action_spaces = {agent: self.core.action_space for agent in self.possible_agents}
        self._observation: dict[str, Any] | None = None

    def observation_space(self, agent: str):
        return self._observation_spaces[agent]

    def action_space(self, agent: str):
        return self._action_spaces[agent]

    def observe(self, agent: str) -> dict[str, Any] | None:
        """The current view of the shared episode (the same for both agents)."""
        return self._observation

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        """As the Gymnasium env's ``reset``, except that unknown ``options`` keys are dropped with a warning
        instead of raising: PettingZoo's ``api_test`` passes an arbitrary key to check that ``options`` exists."""
        unknown = sorted(set(options or {}) - set(self.core.reset_options))
        if unknown:
            warnings.warn(f"ignoring unknown reset option(s) {unknown}; accepted: {list(self.core.reset_options)}")
            options = {k: v for k, v in options.items() if k not in unknown}
        self._observation, info = self.core.reset(seed=seed, options=options)
        self.agents = list(self.possible_agents)
        self.rewards = {agent: 0.0 for agent in self.agents}
        self._cumulative_rewards = {agent: 0.0 for agent in self.agents}
        self.terminations = {agent: False for agent in self.agents}
        self.truncations = {agent: False for agent in self.agents}
        self.infos = {agent: dict(info) for agent in self.agents}
        self.agent_selection = self.core.role

    def step(self, action: Any) -> None:
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        self._cumulative_rewards[agent] = 0.0
        self._observation, reward, terminated, truncated, info = self.core.step(action)
        penalty = self.core.invalid_action_penalty if "error" in info else 0.0
        self.rewards = {other: reward - penalty for other in self.agents}
        self.rewards[agent] = reward
        self.infos = {other: dict(info) for other in self.agents}
        if terminated or truncated:
            self.terminations = {other: terminated for other in self.agents}
            self.truncations = {other: truncated for other in self.agents}
        else:
            self.agent_selection = self.core.role
        self._accumulate_rewards()
        if self.render_mode == "human":
            self.render()

    def clone(self) -> "raw_env":
        """An independent AEC env at the identical state (rewards, agent selection, the memory env's bank and
        position); see :func:`memenv.wrappers.fork`, which also forks the wrappers of :func:`env`."""
        from memenv.wrappers import fork

        return fork(self)

    def render(self) -> str | None:
        return self.core.render()

    def close(self) -> None:
        self.core.close()


def env(env_id: str = "MemoryR2/Synthetic-v0", **kwargs: Any) -> AECEnv:
    """The AEC env for ``env_id`` (keywords go to ``gymnasium.make``), with PettingZoo's order-enforcing wrapper."""
    return wrappers.OrderEnforcingWrapper(raw_env(env_id, **kwargs))
