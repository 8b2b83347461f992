"""TRL's ``GRPOTrainer`` training the LLM agent's manager on a memenv env (docs/engines.md).

    python -m engines.trl_recipe --model tiny --max-sessions 2 --num-generations 4 --max-steps 2 --output-dir runs/trl

The regime is docs/llm-training.md's: the LLM plays the **manager** in compact codes with terse prompts, the
reference agent's rule extractor plays the extractor (no gold reaches any role). TRL trains one (prompt, completion)
sequence per rollout, so an episode is one chat: the first manager view is the prompt, each later view a user turn
inserted into the completion with ``env_mask`` 0 (not trained on), each manager answer a trained assistant turn.
The reward is the episode's return (score minus compression penalty plus invalid-action penalties), the env's own.

**Groups.** TRL normalises rewards over the ``num_generations`` consecutive rows of one prompt. ``group_mode``:

* ``"global"``: those rows are independent episodes of one conversation (GRPO's global group).
* ``"local"``: the rows share one trunk played by the policy up to a session start (chosen per conversation), then
  the env is forked (``clone()``, O(1)) once per row and each branch plays on; only the forked session's answers
  are trained (the trunk and the later sessions have ``env_mask`` 0), so the group compares rerollouts of one
  session from one state: a local group. ``local_prob`` mixes the two per conversation.

What TRL's hooks allow, and what they do not: ``rollout_func`` owns a whole generation batch, so it can fork envs
and choose which tokens train; but every row carries one scalar reward, a group is always ``num_generations``
rows of one prompt, and the advantage is TRL's (no second, summed advantage as ``logo-sum``'s). Local groups
need each group's rows on one process (``per_device_train_batch_size`` a multiple of ``num_generations`` and
``steps_per_generation`` 1); this module checks it.

Generation goes through the trainer's own single-turn generator (``_generate_single_turn``: transformers on CPU,
vLLM with ``use_vllm``), batched across the rows of a batch at each turn.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, Literal

from engines import require

require("trl", "trl")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

import memenv  # noqa: E402,F401  (registers the env ids)
from agents.llm.prompts import system_prompt, user_message  # noqa: E402
from agents.reference import extract  # noqa: E402
from memenv.compact import parse_compact  # noqa: E402
from memenv.views import ExtractorView  # noqa: E402

GroupMode = Literal["global", "local"]
TESTED_TRL = "1.16"


@dataclass(frozen=True)
class RecipeConfig:
    """The env side of the recipe: which env, its horizon, the training conversations, and the groups."""

    env_id: str = "MemoryR2/Synthetic-v1"
    max_sessions: int = 2
    seeds: tuple[int, ...] = tuple(range(16))
    group_mode: GroupMode = "global"
    local_prob: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.group_mode not in ("global", "local"):
            raise ValueError(f"group_mode must be 'global' or 'local', got {self.group_mode!r}")
        if not 0.0 <= self.local_prob <= 1.0:
            raise ValueError(f"local_prob must lie in [0, 1], got {self.local_prob}")
        if not self.seeds:
            raise ValueError("seeds must name at least one training conversation")


class ChatTurns:
    """The chat template's pieces for one model: the first prompt, and the tokens inserted between answers."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.system = system_prompt("manager", action_format="compact", style="terse")
        base = [{"role": "user", "content": "X"}, {"role": "assistant", "content": "Y"}]
        closed = tokenizer.apply_chat_template(base, tokenize=False)
        self._opened = tokenizer.apply_chat_template(base + [{"role": "user", "content": "\x00"}], tokenize=False,
                                                     add_generation_prompt=True)[len(closed):]
        self._after_answer = closed[closed.rindex("Y") + 1:]  # what closes an assistant turn (end token and all)
        self._eos = tokenizer.eos_token or ""

    def messages(self, view: Any) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user_message(view, "terse")}]

    def prompt_ids(self, view: Any) -> list[int]:
        text = self.tokenizer.apply_chat_template(self.messages(view), add_generation_prompt=True, tokenize=False)
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def inserted_ids(self, view: Any, answer_ended: bool) -> list[int]:
        """Tokens between an answer and the next one: the rest of the closing of the answer's turn (all of it when
        the answer was cut before its end token), then the next view as a user turn and the generation prompt."""
        closing = self._after_answer
        if answer_ended and self._eos and closing.startswith(self._eos):
            closing = closing[len(self._eos):]
        text = closing + self._opened.replace("\x00", user_message(view, "terse"))
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]


class Episode:
    """One row's episode: the env, the tokens so far, which of them train, and their sampling log-probs."""

    def __init__(self, env: Any, trained: bool = True) -> None:
        self.env, self.trained = env, trained
        self.prompt: list[int] = []
        self.completion: list[int] = []
        self.mask: list[int] = []
        self.logprobs: list[float] = []
        self.total_reward, self.done, self.info = 0.0, False, {}
        self.view: Any = None
        self.ended = False  # whether the last answer ended with an end token

    def advance(self, reward: float, terminated: bool, info: dict[str, Any]) -> None:
        """Record one step's outcome, then let the rule extractor play until the manager's turn (or the end)."""
        self.total_reward += reward
        self.done, self.info = terminated, info
        while not self.done and isinstance(info["view"], ExtractorView):
            _, reward, self.done, _, info = self.env.step(extract(info["view"].turns))
            self.total_reward += reward
            self.info = info
        self.view = None if self.done else self.info["view"]

    def fork(self, trained: bool) -> "Episode":
        twin = Episode(memenv.fork(self.env), trained)
        twin.prompt, twin.completion = list(self.prompt), list(self.completion)
        twin.mask, twin.logprobs = [0] * len(self.mask), list(self.logprobs)  # a shared trunk does not train
        twin.total_reward, twin.done, twin.info, twin.view = self.total_reward, self.done, self.info, self.view
        twin.ended = self.ended
        return twin


class MemoryRollout:
    """``rollout_func`` for ``GRPOTrainer`` and the dataset it plays: one row per training conversation, whose
    prompt is the first manager turn (the rollout finds the conversation's seed from it)."""

    def __init__(self, config: RecipeConfig, tokenizer: Any) -> None:
        self.config, self.turn = config, ChatTurns(tokenizer)
        self._rng = np.random.default_rng(config.seed)
        self._seed_of: dict[str, int] = {}
        self.current_views: list[Any] = []  # the views of the rows being generated (read by tests and debuggers)
        self.last_branch_session: int | None = None  # the session the last local group forked at
        self.rows = []
        for seed in config.seeds:
            episode = self._episode(seed)
            text = user_message(episode.view, "terse")
            if text in self._seed_of:
                raise ValueError(f"seeds {self._seed_of[text]} and {seed} open with the same view; drop one")
            self._seed_of[text] = seed
            self.rows.append({"prompt": self.turn.messages(episode.view), "memenv_seed": seed})

    def dataset(self) -> Any:
        from datasets import Dataset

        return Dataset.from_list(self.rows)

    def _episode(self, seed: int) -> Episode:
        env = gym.make(self.config.env_id, max_sessions=self.config.max_sessions)
        _, info = env.reset(seed=seed)
        episode = Episode(env)
        episode.advance(0.0, False, info)
        return episode

    # -- the rollout ------------------------------------------------------------------------------------------
    def __call__(self, prompts: list[Any], trainer: Any) -> dict[str, Any]:
        generate = getattr(trainer, "_generate_single_turn", None)
        if generate is None:
            raise RuntimeError(f"this TRL has no GRPOTrainer._generate_single_turn; the recipe is tested with trl "
                               f"{TESTED_TRL}.x (pip install -e '.[trl]')")

        def sample(ids: list[list[int]]) -> tuple[list[list[int]], list[list[float]] | None]:
            return generate(ids, None, {}, 1)

        episodes = []
        for first, size in self._groups(prompts, trainer):
            episodes += self._group(self._seed_of[first], size, sample)
        logprobs = [e.logprobs for e in episodes] if all(len(e.logprobs) == len(e.completion) for e in episodes) else None
        return {"prompt_ids": [e.prompt for e in episodes], "completion_ids": [e.completion for e in episodes],
                "logprobs": logprobs, "env_mask": [e.mask for e in episodes],
                "memenv_reward": [e.total_reward for e in episodes],
                "memenv_score": [float(e.info.get("metrics", {}).get("score", 0.0)) for e in episodes]}

    def _groups(self, prompts: list[Any], trainer: Any) -> list[tuple[str, int]]:
        """``(first user message, rows)`` per run of equal prompts (TRL repeats each prompt ``num_generations``
        times in a row)."""
        runs: list[list[Any]] = []
        for prompt in prompts:
            text = prompt[-1]["content"] if isinstance(prompt, list) else str(prompt)
            if text not in self._seed_of:
                raise ValueError("a prompt that this rollout did not build reached it; train on MemoryRollout.dataset()")
            if runs and runs[-1][0] == text:
                runs[-1][1] += 1
            else:
                runs.append([text, 1])
        if self.config.group_mode == "local":
            size = getattr(trainer, "num_generations", None)
            if any(n != size for _, n in runs):
                raise ValueError(f"local groups need each group's {size} rows on one process in one generation batch "
                                 f"(rows per prompt here: {[n for _, n in runs]}); make per_device_train_batch_size a "
                                 "multiple of num_generations and steps_per_generation 1")
        return [(text, n) for text, n in runs]

    def _group(self, seed: int, size: int, sample: Any) -> list[Episode]:
        local = self.config.group_mode == "local" and self._rng.random() < self.config.local_prob
        if not local:
            episodes = [self._episode(seed) for _ in range(size)]
            self._play(episodes, sample)
            return episodes
        trunk = self._episode(seed)
        sessions = trunk.view.num_sessions
        branch_at = int(self._rng.integers(1, sessions + 1))  # 1-based session whose start is forked
        self.last_branch_session = branch_at
        self._play([trunk], sample, stop_at=branch_at)
        branches = [trunk.fork(trained=True) for _ in range(size)]
        self._play(branches, sample, train_until=branch_at)
        return branches

    def _play(self, episodes: list[Episode], sample: Any, stop_at: int | None = None,
              train_until: int | None = None) -> None:
        """Play ``episodes`` in lockstep, one batched generation per manager turn, until they end (or, with
        ``stop_at``, until each reaches that session's first manager turn). With ``train_until``, answers in later
        sessions are generated with mask 0."""
        while True:
            active = [e for e in episodes if not e.done and (stop_at is None or e.view.session < stop_at)]
            if not active:
                return
            for e in active:
                if e.prompt:
                    e.completion += (inserted := self.turn.inserted_ids(e.view, answer_ended=e.ended))
                    e.mask += [0] * len(inserted)
                    e.logprobs += [0.0] * len(inserted)
                else:
                    e.prompt = self.turn.prompt_ids(e.view)
            self.current_views = [e.view for e in active]
            completions, logprobs = sample([e.prompt + e.completion for e in active])
            for k, (e, answer) in enumerate(zip(active, completions)):
                trained = e.trained and (train_until is None or e.view.session <= train_until)
                e.completion += list(answer)
                e.mask += [int(trained)] * len(answer)
                e.logprobs += list(logprobs[k]) if logprobs is not None else []
                e.ended = bool(answer) and answer[-1] in self._stop_ids()
                text = self.turn.tokenizer.decode(answer, skip_special_tokens=True)
                _, reward, terminated, _, info = e.env.step(parse_compact(e.view, text))
                e.advance(reward, terminated, info)

    def _stop_ids(self) -> set[int]:
        eos = self.turn.tokenizer.eos_token_id
        return {eos} if isinstance(eos, int) else set(eos or ())



def memenv_reward(completions: list[Any], memenv_reward: list[float], **_: Any) -> list[float]:
    """The reward function: the episode return the rollout recorded for each row."""
    return [float(r) for r in memenv_reward]


def build_trainer(model: Any, tokenizer: Any, config: RecipeConfig, args: Any, extra_rewards: list | None = None) -> Any:
    """A ``GRPOTrainer`` for ``model`` on ``config``'s env with ``args`` (a ``trl.GRPOConfig``); ``extra_rewards``
    (TRL reward functions) are added to the env's return."""
    import os

    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    from trl import GRPOTrainer

    tokenizer.padding_side = "left"
    rollout = MemoryRollout(config, tokenizer)
    return GRPOTrainer(model=model, reward_funcs=[memenv_reward, *(extra_rewards or [])], args=args, train_dataset=rollout.dataset(),
                       processing_class=tokenizer, rollout_func=rollout)


def main(argv: list[str] | None = None) -> None:
    """``python -m engines.trl_recipe``: train with GRPOTrainer; the model, groups and budget from flags, every
    other ``GRPOConfig`` field with ``--grpo KEY=VALUE`` (e.g. ``--grpo use_vllm=true --grpo vllm_mode=colocate``)."""
    import json

    from trl import GRPOConfig

    from agents.llm.loading import load_model
    from memr2.runtime import limit_threads

    parser = argparse.ArgumentParser(prog="python -m engines.trl_recipe", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="tiny", help="tiny | smollm2 | a model directory (e.g. memr2 sft's)")
    parser.add_argument("--env", default="MemoryR2/Synthetic-v1")
    parser.add_argument("--max-sessions", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=16, help="training conversations: seeds 0..N-1")
    parser.add_argument("--group-mode", choices=("global", "local"), default="global")
    parser.add_argument("--local-prob", type=float, default=1.0)
    parser.add_argument("--num-generations", type=int, default=4)
    parser.add_argument("--max-steps", type=int, default=10)
    parser.add_argument("--learning-rate", type=float, default=1e-5)
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--grpo", action="append", default=[], metavar="KEY=VALUE", help="any GRPOConfig field (JSON value)")
    args = parser.parse_args(argv)
    limit_threads(args.torch_threads)
    extra = {}
    for item in args.grpo:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--grpo {item!r}: write KEY=VALUE")
        try:
            extra[key] = json.loads(value)
        except json.JSONDecodeError:
            extra[key] = value
    config = RecipeConfig(env_id=args.env, max_sessions=args.max_sessions, seeds=tuple(range(args.seeds)),
                          group_mode=args.group_mode, local_prob=args.local_prob, seed=args.seed)
    model, tokenizer, _ = load_model(args.model, seed=args.seed)
    grpo = dict(output_dir=args.output_dir, num_generations=args.num_generations,
                per_device_train_batch_size=args.num_generations, max_steps=args.max_steps,
                learning_rate=args.learning_rate, max_completion_length=16, temperature=1.0, logging_steps=1,
                save_strategy="no", report_to="none", seed=args.seed, beta=0.0)
    trainer = build_trainer(model, tokenizer, config, GRPOConfig(**{**grpo, **extra}))
    trainer.train()
    trainer.save_model(args.output_dir)


if __name__ == "__main__":
    main()
