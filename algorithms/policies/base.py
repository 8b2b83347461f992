"""What the trainer needs from a policy: act with sampling, then recompute differentiable log-probs.

A policy's unit of probability is a *token*: one generated token for an LLM, one discrete decision (keep a
turn, choose an operation) for the :class:`~algorithms.policies.feature.FeaturePolicy`. ``act`` returns, per
env, the action and a policy-specific sample that remembers how to recompute that action's per-token log-probs;
``evaluate`` turns a list of samples into padded ``[B, T]`` tensors with a mask.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch

from agents.base import GOLD_INFO_KEYS  # noqa: F401  (privileged info keys; re-exported)


@dataclass
class Decision:
    """What a policy did at one env step: the action for the env, and how to score it again."""

    action: Any  # ExtractAction | ManageAction | str
    sample: Any  # policy-specific, consumed by Policy.evaluate
    old_logp: torch.Tensor  # [T] per-token log-probs under the sampling policy (no grad)
    parse_failed: bool = False
    scripted: bool = False  # played by a scripted agent (ScriptedRole): stepped in the env, never trained on


@dataclass
class Evaluation:
    """Per-token outputs of :meth:`Policy.evaluate` (all ``[B, T]``)."""

    logp: torch.Tensor
    entropy: torch.Tensor
    mask: torch.Tensor


@runtime_checkable
class Policy(Protocol):
    """The trainer's view of a learnable policy."""

    model: torch.nn.Module
    temperature: float

    def act(self, infos: Sequence[dict[str, Any]], *, generator: torch.Generator, greedy: bool = False) -> list[Decision]:
        """One decision per env, from each env's ``info`` (``info["view"]`` is the structured view)."""
        ...

    def evaluate(self, model: torch.nn.Module, samples: Sequence[Any]) -> Evaluation:
        """Differentiable per-token log-probs and entropies of ``samples`` under ``model`` (maybe DDP-wrapped)."""
        ...


class ScriptedRole:
    """A policy whose decisions for one role (``"extractor"`` or ``"manager"``) come from a scripted agent.

    Used to measure how much of a score one role decides: train the other role with the scripted one fixed.
    An agent that does not declare ``privileged = True`` never sees the gold info keys, even in an env that has
    them (training envs are privileged for diagnostics).
    The scripted decisions are marked ``scripted`` so the estimators leave them out of the loss; the learned
    policy's ``model`` and ``evaluate`` are the wrapped policy's.
    """

    def __init__(self, policy: Policy, role: str, agent: Any) -> None:
        if role not in ("extractor", "manager"):
            raise ValueError(f"scripted role must be 'extractor' or 'manager', got {role!r}")
        self.policy, self.role, self.agent = policy, role, agent
        self.model, self.temperature = policy.model, policy.temperature

    def act(self, infos: Sequence[dict[str, Any]], *, generator: torch.Generator, greedy: bool = False) -> list[Decision]:
        learned = [i for i, info in enumerate(infos) if info["role"] != self.role]
        decisions: list[Decision | None] = [None] * len(infos)
        for i, decision in zip(learned, self.policy.act([infos[i] for i in learned], generator=generator, greedy=greedy)):
            decisions[i] = decision
        privileged = getattr(self.agent, "privileged", False)
        for i, info in enumerate(infos):
            if decisions[i] is None:
                shown = info if privileged else {k: v for k, v in info.items() if k not in GOLD_INFO_KEYS}
                decisions[i] = Decision(self.agent.act({}, shown), None, torch.zeros(0), scripted=True)
        return decisions

    def evaluate(self, model: torch.nn.Module, samples: Sequence[Any]) -> Evaluation:
        return self.policy.evaluate(model, samples)
