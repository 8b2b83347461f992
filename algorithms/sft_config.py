"""The settings and the record of ``memr2 sft`` (:mod:`algorithms.sft`), kept free of torch so the command line
can build its flags without loading it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RECORD_NAME = "sft.json"


class SFTConfig(BaseModel):
    """Everything ``memr2 sft`` does (its flags are generated from these fields)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str = Field("smollm2", description="Base model: 'tiny', 'smollm2', a Hugging Face id or a directory.")
    env_id: str = Field("MemoryR2/Synthetic-v1", description="Environment the teacher plays.")
    env_kwargs: dict[str, Any] = Field(default_factory=dict, description="Extra gymnasium.make arguments.")
    max_sessions: int = Field(4, ge=1, description="Sessions per teacher episode.")
    episodes: int = Field(16, ge=1, description="Teacher episodes: env seeds seed_offset, seed_offset + 1, ...")
    seed_offset: int = Field(0, ge=0, description="First env seed (training seeds: keep clear of eval/test seeds).")
    teacher: str = Field("reference", description="Teacher agent: 'reference' (no gold) or any agent name/spec.")
    roles: Literal["manager", "both"] = Field(
        "manager", description="Learn the manager only (the teacher extracts) or both roles."
    )
    action_format: Literal["line", "compact"] = Field("compact", description="The manager's answer format.")
    prompt_style: Literal["fewshot", "terse"] = Field("terse", description="Role prompts: few-shot or terse.")
    epochs: int = Field(4, ge=1, description="Passes over the examples.")
    batch_size: int = Field(4, ge=1, description="Examples per optimiser step.")
    learning_rate: float = Field(5e-4, gt=0, description="AdamW learning rate.")
    max_grad_norm: float = Field(1.0, gt=0, description="Gradient clipping norm.")
    lora_r: int = Field(16, ge=0, description="LoRA rank (0 = fine-tune every weight).")
    lora_alpha: int | None = Field(None, ge=1, description="LoRA alpha (None = 2 * lora_r).")
    llm_dtype: Literal["float32", "bfloat16"] = Field("float32", description="Dtype of the base weights.")
    seed: int = Field(0, description="Seed of the example order (and of the tiny model's initialisation).")
    torch_threads: int = Field(1, ge=1, description="Compute threads (recorded; results can depend on it).")


class SFTRecord(BaseModel):
    """``sft.json`` in the warm start's directory: how it was made and how well it fits its teacher."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    kind: Literal["sft"] = "sft"
    config: SFTConfig
    base_model: str
    examples: int
    completion_tokens: int
    teacher_privileged: bool
    loss_before: float
    loss_history: list[float] = Field(description="Mean completion-token cross-entropy per epoch (while training).")
    loss_after: float
    greedy_match_before: float = Field(description="Share of examples whose greedy completion is the teacher's.")
    greedy_match_after: float
    weights_sha256: str = ""
    wall_time_s: float = 0.0
    provenance: dict[str, Any] = Field(default_factory=dict)
