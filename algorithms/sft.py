"""Warm start by supervised fine-tuning: the LLM learns to write what a teacher agent did, in the env's own
action format, so that an RL run's rollouts differ in reward from its first iteration.

1. :func:`teacher_examples` plays the teacher (``reference`` by default: rules over the views, no gold) on
   training seeds and renders, per step, the LLM agent's prompt for the view (its own prompt path,
   :meth:`agents.llm.LLMAgent.prompt_ids`) and the teacher's action as the agent should write it
   (:func:`agents.llm.prompts.render_target`: compact codes or lines), ended by the end-of-turn token.
   ``roles="manager"`` keeps the manager's steps only (the teacher's extractor plays the other role, as the
   trainer's ``scripted_role="extractor"`` does).
2. :func:`fit` minimises the mean cross-entropy of the completion tokens only (the prompt is context), scored
   through the backend's one scoring path (:meth:`agents.llm.hf.TransformersBackend.score`), with AdamW on every
   weight or on LoRA adapters (:mod:`algorithms.lora`).
3. :func:`save_warm_start` writes a model directory (adapters merged, tokenizer, ``sft.json``) that
   ``memr2 eval --agent llm --model DIR`` and ``TrainerConfig.init_checkpoint`` both load.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import gymnasium as gym
import torch

import memenv  # noqa: F401  (registers the environments)
from agents.llm.agent import LLMAgent
from agents.llm.prompts import render_target
from agents.registry import make_agent
from algorithms.lora import trainable_parameters
from algorithms.sft_config import RECORD_NAME, SFTConfig, SFTRecord
from memenv.files import write_text_atomic
from memenv.registration import privileged_kwargs

@dataclass
class Example:
    """One teacher step: the agent's prompt ids and the teacher's answer as completion ids (end token included)."""

    role: str
    prompt_ids: list[int]
    completion_ids: list[int]
    text: str


def end_token_id(tokenizer: Any) -> int:
    """The token that ends an assistant turn: ChatML's ``<|im_end|>`` where the tokenizer has it, else EOS."""
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if isinstance(im_end, int) and im_end != tokenizer.unk_token_id:
        return im_end
    return tokenizer.eos_token_id


def teacher_examples(config: SFTConfig, agent: LLMAgent) -> tuple[list[Example], bool]:
    """The teacher's steps on ``config.episodes`` training seeds as examples for ``agent`` (whose prompt settings
    render them), and whether the teacher read gold (a privileged teacher gets a privileged env)."""
    teacher = make_agent(config.teacher)
    privileged = bool(getattr(teacher, "privileged", False))
    kwargs = {**config.env_kwargs, "max_sessions": config.max_sessions}
    if privileged:
        kwargs = {**privileged_kwargs(config.env_id), **kwargs}
    env = gym.make(config.env_id, **kwargs)
    tokenizer, end = agent.backend.tokenizer, end_token_id(agent.backend.tokenizer)
    examples = []
    for seed in range(config.seed_offset, config.seed_offset + config.episodes):
        observation, info = env.reset(seed=seed)
        if hasattr(teacher, "reset"):
            teacher.reset()
        done = False
        while not done:
            view = info["view"]
            action = teacher.act(observation, info)
            if config.roles == "both" or view.role == "manager":
                parsed = action if not isinstance(action, (str, dict)) else None
                if parsed is None:
                    raise ValueError(f"teacher {config.teacher!r} returned {type(action).__name__}: it must return action objects")
                text = render_target(view, parsed, agent.fmt, agent.action_format)
                completion = list(tokenizer(text, add_special_tokens=False)["input_ids"]) + [end]
                examples.append(Example(view.role, agent.prompt_ids(view), completion, text))
            observation, _, done, _, info = env.step(action)
    return examples, privileged


def completion_loss(agent: LLMAgent, examples: list[Example], batch_size: int = 8) -> torch.Tensor:
    """Mean cross-entropy (negative log-likelihood, temperature 1) over every completion token of ``examples``,
    the prompt tokens excluded; differentiable."""
    logprobs, _ = agent.backend.score(
        [e.prompt_ids for e in examples], [e.completion_ids for e in examples], temperature=1.0, batch_size=batch_size
    )
    tokens = sum(len(row) for row in logprobs)
    return -torch.cat(logprobs).sum() / max(tokens, 1)


@torch.no_grad()
def greedy_match(agent: LLMAgent, examples: list[Example], batch_size: int = 8) -> float:
    """Share of examples whose greedy completion is exactly the teacher's (token for token, end token included)."""
    from agents.llm.backend import SamplingConfig

    agent.backend.model.eval()
    width = max(len(e.completion_ids) for e in examples)
    sampling = SamplingConfig(temperature=0.0, max_new_tokens=width)
    hits = 0
    for start in range(0, len(examples), batch_size):
        batch = examples[start : start + batch_size]
        samples = agent.backend.generate([e.prompt_ids for e in batch], sampling, seed=0)
        hits += sum(s.token_ids == e.completion_ids for s, e in zip(samples, batch))
    return hits / len(examples)


def fit(config: SFTConfig, agent: LLMAgent, examples: list[Example], on_epoch: Callable[[int, float], Any] | None = None) -> list[float]:
    """``config.epochs`` passes of AdamW over shuffled mini-batches (order from ``config.seed``); returns the
    mean loss of each epoch (token-weighted), each also given to ``on_epoch(epoch, loss)``."""
    model = agent.backend.model
    parameters = list(trainable_parameters(model).values())
    if not parameters:
        raise ValueError("the model has no trainable parameters")
    optimizer = torch.optim.AdamW(parameters, lr=config.learning_rate, weight_decay=0.0)
    order = torch.Generator().manual_seed(config.seed)
    history = []
    for _ in range(config.epochs):
        model.train()
        total, tokens = 0.0, 0
        for batch in torch.randperm(len(examples), generator=order).split(config.batch_size):
            chunk = [examples[i] for i in batch.tolist()]
            optimizer.zero_grad()
            loss = completion_loss(agent, chunk, config.batch_size)
            if not math.isfinite(float(loss.detach())):
                raise ValueError(f"the SFT loss became {float(loss)}: lower --learning-rate")
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, config.max_grad_norm)
            optimizer.step()
            n = sum(len(e.completion_ids) for e in chunk)
            total, tokens = total + float(loss.detach()) * n, tokens + n
        history.append(total / tokens)
        if on_epoch is not None:
            on_epoch(len(history), history[-1])
    model.eval()
    return history


def weights_sha256(directory: str | Path) -> str:
    """SHA-256 over a model directory's ``*.safetensors`` files (sorted by name): what a run records as its warm
    start."""
    files = sorted(Path(directory).glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"{directory}: no *.safetensors weights (is it a `memr2 sft` output directory?)")
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def read_record(directory: str | Path) -> SFTRecord | None:
    """The ``sft.json`` of a warm start directory, or None when it has none (any model directory)."""
    path = Path(directory) / RECORD_NAME
    return SFTRecord.model_validate_json(path.read_text()) if path.is_file() else None


def check_warm_start(directory: str | Path, model: str | None, expected_sha256: str | None = None) -> str:
    """The warm start's weights hash, after checking that ``directory`` holds a model made from ``model`` (per its
    ``sft.json``) and, when ``expected_sha256`` is given (a resumed run), that its weights did not change."""
    path = Path(directory)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"init_checkpoint={str(directory)!r} is not a model directory: make one with `memr2 sft`")
    record = read_record(path)
    if record is not None and model is not None and record.base_model != model:
        raise ValueError(f"init_checkpoint {directory} was fine-tuned from {record.base_model!r}, but model={model!r}")
    digest = weights_sha256(path)
    if expected_sha256 is not None and digest != expected_sha256:
        raise ValueError(f"init_checkpoint {directory} changed since the run started (sha256 {digest} != {expected_sha256})")
    return digest


def save_warm_start(directory: str | Path, agent: LLMAgent, adapters: Any, record: SFTRecord) -> Path:
    """Write the fine-tuned model (adapters merged into the base), its tokenizer and ``sft.json``; the record's
    ``weights_sha256`` is filled from the written weights."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.safetensors"):  # an overwritten warm start's shards would enter the hash
        stale.unlink()
    model = adapters.merge_and_unload() if adapters is not None else agent.backend.model
    model.save_pretrained(directory, safe_serialization=True)
    agent.backend.tokenizer.save_pretrained(directory)
    record.weights_sha256 = weights_sha256(directory)
    write_text_atomic(directory / RECORD_NAME, json.dumps(record.model_dump(mode="json"), indent=2) + "\n")
    return directory


def run_sft(
    config: SFTConfig, output_dir: str | Path, provenance: dict[str, Any] | None = None,
    on_epoch: Callable[[int, float], Any] | None = None,
) -> SFTRecord:
    """Collect the teacher's examples, fine-tune ``config.model`` on them and save the warm start in
    ``output_dir``; returns its record (also written there as ``sft.json``). ``on_epoch(epoch, loss)`` reports
    progress."""
    import time

    from agents.llm.hf import TransformersBackend
    from agents.llm.loading import load_model
    from algorithms.lora import add_lora, torch_dtype

    start = time.perf_counter()
    loaded = load_model(config.model, dtype=torch_dtype(config.llm_dtype), seed=config.seed if config.model == "tiny" else 0)
    agent = LLMAgent(TransformersBackend(*loaded), action_format=config.action_format,
                     prompt_style=config.prompt_style, record=False)
    examples, privileged = teacher_examples(config, agent)
    if not examples:
        raise ValueError(f"the teacher made no {config.roles} steps: give more --episodes or --max-sessions")
    adapters = add_lora(agent.backend.model, config.lora_r, config.lora_alpha, seed=config.seed) if config.lora_r > 0 else None
    with torch.no_grad():
        loss_before = float(completion_loss(agent, examples, config.batch_size))
    match_before = greedy_match(agent, examples, config.batch_size)
    history = fit(config, agent, examples, on_epoch)
    with torch.no_grad():
        loss_after = float(completion_loss(agent, examples, config.batch_size))
    record = SFTRecord(
        config=config, base_model=config.model, examples=len(examples),
        completion_tokens=sum(len(e.completion_ids) for e in examples), teacher_privileged=privileged,
        loss_before=loss_before, loss_history=history, loss_after=loss_after, greedy_match_before=match_before,
        greedy_match_after=greedy_match(agent, examples, config.batch_size), provenance=provenance or {},
    )
    record.wall_time_s = time.perf_counter() - start
    save_warm_start(output_dir, agent, adapters, record)
    return record
