"""Policies the trainer can learn: :class:`FeaturePolicy` (small torch model) and ``LLMPolicy`` (an LLM agent)."""

from __future__ import annotations

from typing import Any

from algorithms.policies.base import Decision, Evaluation, Policy


def make_policy(config: Any) -> Policy:
    """The policy a :class:`~algorithms.config.TrainerConfig` names (``feature`` or ``llm``), seeded by its
    ``policy_init`` stream (algorithms/seeding.py)."""
    from algorithms.seeding import seed_int

    seed = seed_int(config.seed, "policy_init")
    if config.policy == "feature":
        from algorithms.policies.feature import FeaturePolicy

        return FeaturePolicy(
            hidden=config.feature_hidden,
            temperature=config.temperature,
            seed=seed,
            similarity=config.feature_similarity,
            delete_keeps_fact=config.feature_delete_keeps_fact,
            factored=config.feature_factored,
            similarity_prior=config.feature_similarity_prior,
        )
    from algorithms.policies.llm import LLMPolicy
    from algorithms.sft import check_warm_start

    if config.init_checkpoint:  # the run records the warm start's hash; a changed warm start is refused
        config.init_checkpoint_sha256 = check_warm_start(config.init_checkpoint, config.model, config.init_checkpoint_sha256)
    return LLMPolicy(
        model=config.model,
        backend=config.backend,
        temperature=config.temperature,
        max_new_tokens=config.max_completion_length,
        seed=seed,
        batch_size=config.per_device_train_batch_size or 8,
        gradient_checkpointing=config.gradient_checkpointing,
        action_format=config.action_format,
        prompt_style=config.prompt_style,
        dtype=config.llm_dtype,
        lora_r=config.lora_r,
        lora_alpha=config.lora_alpha,
        init_checkpoint=config.init_checkpoint,
    )


__all__ = ["Decision", "Evaluation", "Policy", "make_policy"]
