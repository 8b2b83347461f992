"""TRL's GRPOTrainer on memenv (engines/trl_recipe.py): a few steps change the tiny model's weights; the rollout's
rows are the env's own episodes (returns, trained tokens); local groups branch one trunk with the env's fork.
Skipped unless the ``trl`` extra is installed."""

from __future__ import annotations

import pytest

pytest.importorskip("trl", reason="the trl extra is not installed: pip install -e '.[trl]'")
torch = pytest.importorskip("torch")

import gymnasium as gym  # noqa: E402

from agents.llm.loading import load_model  # noqa: E402
from agents.reference import extract  # noqa: E402
from engines.trl_recipe import MemoryRollout, RecipeConfig, build_trainer  # noqa: E402
from memenv.compact import parse_compact  # noqa: E402
from memenv.views import ExtractorView  # noqa: E402


def codes(view, row: int) -> str:
    """A scripted manager answer: ADD every fact, except that row 1 of a group writes nothing (NOOP codes)."""
    return " ".join("N" if row == 1 else "A" for _ in view.facts)


class ScriptedTrainer:
    """Stands in for GRPOTrainer's generator: answers each prompt with :func:`codes` for its view (read back from
    the prompt's last user turn through the rollout's own record of views), row by row."""

    def __init__(self, rollout: MemoryRollout, tokenizer, num_generations: int) -> None:
        self.rollout, self.tokenizer, self.num_generations = rollout, tokenizer, num_generations
        self.calls: list[int] = []

    def _generate_single_turn(self, prompt_ids, images, fields, n):
        self.calls.append(len(prompt_ids))
        answers = []
        for row, _ in enumerate(prompt_ids):
            view = self.rollout.current_views[row]
            answers.append(self.tokenizer(codes(view, row % self.num_generations), add_special_tokens=False)["input_ids"]
                           + [self.tokenizer.eos_token_id])
        return answers, None


def in_process_return(seed: int, row: int, max_sessions: int) -> float:
    env = gym.make("MemoryR2/Synthetic-v1", max_sessions=max_sessions)
    _, info = env.reset(seed=seed)
    total, done = 0.0, False
    while not done:
        view = info["view"]
        action = extract(view.turns) if isinstance(view, ExtractorView) else parse_compact(view, codes(view, row))
        _, reward, done, _, info = env.step(action)
        total += reward
    return total


@pytest.fixture(scope="module")
def tiny():
    model, tokenizer, _ = load_model("tiny", seed=0)
    return model, tokenizer


def test_trl_rollout_rows_are_the_envs_episodes(tiny):
    _, tokenizer = tiny
    rollout = MemoryRollout(RecipeConfig(max_sessions=2, seeds=(3, 4)), tokenizer)
    trainer = ScriptedTrainer(rollout, tokenizer, num_generations=2)
    prompts = [row["prompt"] for row in rollout.rows for _ in range(2)]
    out = rollout(prompts, trainer)
    expected = [in_process_return(seed, row, 2) for seed in (3, 4) for row in range(2)]
    assert out["memenv_reward"] == pytest.approx(expected, abs=1e-12)
    assert out["memenv_reward"][0] != out["memenv_reward"][1]  # ADD-all and NOOP-all episodes differ
    assert trainer.calls == [2, 2, 2, 2]  # one batched generation per manager turn (2 conversations x 2 sessions)
    for prompt, completion, mask in zip(out["prompt_ids"], out["completion_ids"], out["env_mask"]):
        assert len(completion) == len(mask)
        trained = tokenizer.decode([t for t, m in zip(completion, mask) if m], skip_special_tokens=True)
        inserted = tokenizer.decode([t for t, m in zip(completion, mask) if not m])
        assert set(trained.replace(" ", "")) <= {"A", "N"}  # only the answers train
        assert "New facts:" in inserted and "user" in inserted  # the next view, as a user turn
        assert "New facts:" in tokenizer.decode(prompt)


def test_trl_local_groups_branch_one_trunk_and_train_only_the_forked_session(tiny):
    _, tokenizer = tiny
    rollout = MemoryRollout(RecipeConfig(max_sessions=3, seeds=(5,), group_mode="local", seed=1), tokenizer)
    trainer = ScriptedTrainer(rollout, tokenizer, num_generations=3)
    out = rollout([rollout.rows[0]["prompt"]] * 3, trainer)
    branch_at = rollout.last_branch_session
    masks, completions = out["env_mask"], out["completion_ids"]
    first_trained = [m.index(1) for m in masks]
    assert len(set(first_trained)) == 1  # one shared trunk, then the fork
    start = first_trained[0]
    assert all(c[:start] == completions[0][:start] for c in completions)  # identical trunk tokens, none trained
    assert completions[0] != completions[1]  # the branches went their own ways after the fork
    answers_trained = [sum(1 for a, b in zip(m, m[1:] + [0]) if a and not b) for m in masks]
    assert answers_trained == [1, 1, 1]  # the forked session's one manager turn (1 chunk per session)
    assert branch_at == 3 and start > 0  # seed 1 forks at session 3: a trunk of two sessions


def test_trl_local_groups_refuse_a_group_split_across_processes(tiny):
    _, tokenizer = tiny
    rollout = MemoryRollout(RecipeConfig(max_sessions=1, seeds=(0, 1), group_mode="local"), tokenizer)
    trainer = ScriptedTrainer(rollout, tokenizer, num_generations=4)
    with pytest.raises(ValueError, match="local groups need each group's 4 rows on one process"):
        rollout([rollout.rows[0]["prompt"]] * 2 + [rollout.rows[1]["prompt"]] * 2, trainer)


def test_trl_grpo_trainer_steps_change_the_tiny_models_weights(tiny, tmp_path):
    from trl import GRPOConfig

    model, tokenizer = load_model("tiny", seed=0)[:2]
    before = {n: p.detach().clone() for n, p in model.named_parameters()}

    def length_signal(completions, **_):  # the tiny model writes noise (equal env returns): give GRPO a signal
        return [0.01 * len(str(c)) for c in completions]

    args = GRPOConfig(output_dir=str(tmp_path), num_generations=2, per_device_train_batch_size=2, max_steps=2,
                      learning_rate=1e-2, max_completion_length=8, logging_steps=1, save_strategy="no",
                      report_to="none", use_cpu=True, seed=0, beta=0.0)
    trainer = build_trainer(model, tokenizer, RecipeConfig(max_sessions=1, seeds=(0, 1)), args, [length_signal])
    trainer.train()
    logged = [h for h in trainer.state.log_history if "rewards/memenv_reward/mean" in h]
    assert len(logged) == 2 and all(h["rewards/memenv_reward/mean"] <= 0 for h in logged)  # noise is invalid
    changed = [n for n, p in model.named_parameters() if not torch.equal(before[n], p.detach())]
    assert changed, "no weight changed after two GRPO steps"
