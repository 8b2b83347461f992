"""The trainer: rollouts -> rows (by estimator) -> group advantages -> clipped policy-gradient update.

Reads top to bottom like CleanRL: :class:`Trainer` builds envs for the current horizon, collects ``n`` rollouts
per conversation (plus local rerollouts for ``logo`` / ``local`` / ``logo-sum``), turns them into rows with
:func:`~algorithms.estimators.build_rows`, z-scores rewards per group and takes ``num_iterations`` gradient steps.
A curriculum runs stages of growing horizon, each warm-started from the previous stage's best validation
checkpoint. Under ``accelerate launch`` (DDP) each rank rolls out its own conversations and gradients are
averaged by DDP; nothing else changes.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs
from tqdm.auto import tqdm

import memenv  # noqa: F401  (registers the environments)
from algorithms import checkpoint as ckpt
from algorithms import curriculum, seeding
from algorithms.config import TrainerConfig
from algorithms.estimators import Row, assign_advantages, build_rows, get_estimator
from algorithms.losses import grpo_loss
from algorithms.metrics import JsonlLogger, peak_rss_gb, release_freed_memory, rollout_metrics
from agents.registry import make_agent
from algorithms.policies import Policy, make_policy
from algorithms.policies.base import ScriptedRole
from algorithms.rollouts import collect_rollouts, evaluate_policy
from memenv.registration import privileged_kwargs


class Trainer:
    """Train ``policy`` (default: the one ``config`` names) and write checkpoints/metrics under ``output_dir``."""

    def __init__(
        self,
        config: TrainerConfig,
        output_dir: str | Path | None = None,
        *,
        policy: Policy | None = None,
        accelerator: Accelerator | None = None,
        progress: bool = False,
    ) -> None:
        self.config = config
        torch.set_num_threads(config.torch_threads)  # `memr2 train` also limits BLAS pools (memr2.runtime)
        cpu = config.policy == "feature" or not torch.cuda.is_available()
        ddp = DistributedDataParallelKwargs(find_unused_parameters=True)
        self.accelerator = accelerator or Accelerator(cpu=cpu, kwargs_handlers=[ddp])
        self.rank, self.world = self.accelerator.process_index, self.accelerator.num_processes
        self.estimator = get_estimator(config.estimator, config.estimator_kwargs)  # checked here: the config is a leaf that loads no code
        if self.estimator.needs_local and config.local_num_generations < 2:
            raise ValueError(f"local_num_generations={config.local_num_generations}: estimator {config.estimator!r} "
                             "forms local groups, and a group needs >= 2 rerollouts")
        self.policy = policy or make_policy(config)
        # The scripted agent plays that role and the policy learns the other; envs are privileged only for an
        # agent that declares it needs gold (the restricted oracle does, the rule-based reference does not).
        self.scripted_privileged = False
        if config.scripted_role:
            scripted = make_agent(config.scripted_agent)
            self.scripted_privileged = bool(getattr(scripted, "privileged", False))
            self.policy = ScriptedRole(self.policy, config.scripted_role, scripted)
        self.output_dir = Path(output_dir) if output_dir else None
        self.progress = progress and self.accelerator.is_main_process
        # One SeedSequence, one named stream each (algorithms/seeding.py); saved with every checkpoint.
        self.generator = seeding.torch_generator(config.seed, "sampling", self.rank)
        self.rng = seeding.numpy_generator(config.seed, "rollouts", self.rank)
        self.eval_generator = seeding.torch_generator(config.seed, "validation")  # validation is greedy
        self.state = ckpt.TrainerState()
        self._clock = time.perf_counter()
        log_path = self.output_dir / "metrics.jsonl" if self.output_dir and self.accelerator.is_main_process else None
        self.logger = JsonlLogger(log_path)
        if log_path is not None:  # every run saves its resolved config
            config.save(self.output_dir / "config.json")
        self._new_optimizer()

    # -- set-up -----------------------------------------------------------------------------------------------
    def _new_optimizer(self) -> None:
        """A fresh AdamW (each stage starts one), the DDP-prepared model, and the frozen reference if beta > 0."""
        cfg = self.config
        optimizer = torch.optim.AdamW(self.policy.model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
        self.model, self.optimizer = self.accelerator.prepare(self.policy.model, optimizer)
        self.ref_model = copy.deepcopy(self.policy.model).requires_grad_(False) if cfg.beta > 0 else None

    def make_env(self, horizon: int, *, diagnostics: bool = False) -> Any:
        """A factory of envs at ``horizon`` sessions (terminal reward; scores and session rewards come in info).

        ``diagnostics``: training envs get privileged gold (where the env has it and ``config.diagnostics``) so
        the UPDATE hit rate can be logged; the policy acts on ``info["view"]`` only. With a ``scripted_role`` played
        by a privileged ``scripted_agent`` (the restricted oracle) every env is privileged: it plays from gold.
        """
        kwargs = {**self.config.env_kwargs, "max_sessions": horizon, "compression_coef": self.config.compression_coef}
        wants_gold = self.scripted_privileged or (diagnostics and self.config.diagnostics)
        if wants_gold:  # only where the privilege gives gold_facts (Synthetic), what the diagnostic reads
            kwargs = {**privileged_kwargs(self.config.env_id, gold_facts=True), **kwargs}
        return lambda: gym.make(self.config.env_id, **kwargs)

    def train_seeds(self) -> list[int]:
        """This iteration's training conversations: disjoint across iterations and ranks."""
        cpi = self.config.conversations_per_iteration
        base = self.config.train_seed_offset + (self.state.global_step * self.world + self.rank) * cpi
        return list(range(base, base + cpi))

    @property
    def _generators(self) -> tuple[dict[str, torch.Generator], dict[str, np.random.Generator]]:
        return {"sampling": self.generator}, {"rollouts": self.rng}

    # -- one iteration ----------------------------------------------------------------------------------------
    def collect(self, horizon: int):
        cfg = self.config
        local = self.estimator.needs_local
        return collect_rollouts(
            self.make_env(horizon, diagnostics=True),
            self.train_seeds(),
            self.policy,
            num_generations=cfg.num_generations,
            generator=self.generator,
            rng=self.rng,
            local_num_generations=cfg.local_num_generations if local else 0,
            local_prob=cfg.local_prob if local else 0.0,
        )

    def update(self, rows: list[Row]) -> dict[str, float]:
        """``num_iterations`` clipped policy-gradient steps on ``rows`` (advantages set).

        Rows go through the model in micro-batches of ``per_device_train_batch_size``; each micro-batch's loss
        uses the whole batch's row and token counts, so the accumulated gradient is the full-batch gradient
        (DDP synchronises only on the last micro-batch).
        """
        cfg = self.config
        counts = self.accelerator.gather(torch.tensor([len(rows)], device=self.accelerator.device))
        if int(counts.min()) == 0:  # some rank has nothing to learn from: every rank skips, DDP stays in step
            return {}
        size = cfg.per_device_train_batch_size or len(rows)
        chunks = [[r.sample for r in rows[i : i + size]] for i in range(0, len(rows), size)]
        advantages = [torch.tensor([r.advantage * r.weight for r in rows[i : i + size]]) for i in range(0, len(rows), size)]
        totals = {"total_rows": len(rows), "total_tokens": float(sum(len(r.old_logp) for r in rows))}
        width = cfg.max_completion_length if cfg.policy == "llm" else max(1, *(len(r.old_logp) for r in rows))
        with torch.no_grad():
            old = [self.policy.evaluate(self.policy.model, c).logp for c in chunks] if cfg.num_iterations > 1 else None
            ref = [self.policy.evaluate(self.ref_model, c).logp for c in chunks] if self.ref_model is not None else None
        for _ in range(cfg.num_iterations):
            self.optimizer.zero_grad()
            stats: dict[str, float] = defaultdict(float)
            for j, samples in enumerate(chunks):
                last = j == len(chunks) - 1
                with contextlib.nullcontext() if last else self.accelerator.no_sync(self.model):
                    ev = self.policy.evaluate(self.model, samples)
                    out = grpo_loss(
                        ev.logp, ev.logp.detach() if old is None else old[j], advantages[j].to(ev.logp.device),
                        ev.mask, entropy=ev.entropy, ref_logp=None if ref is None else ref[j],
                        loss_type=cfg.loss_type, epsilon=cfg.epsilon, epsilon_high=cfg.epsilon_high,
                        dual_clip=cfg.dual_clip, beta=cfg.beta, entropy_coef=cfg.entropy_coef,
                        max_completion_length=width, **totals,
                    )
                    self.accelerator.backward(out.loss)
                share = float(ev.mask.sum()) / max(totals["total_tokens"], 1.0)  # token-weighted statistics
                stats["losses/loss"] += float(out.loss.detach())
                for key, value in (("policy_loss", out.pg_loss), ("kl", out.kl), ("entropy", out.entropy),
                                   ("clipfrac", out.clipfrac), ("approx_kl", out.approx_kl)):
                    stats[f"losses/{key}"] += share * value
            stats["losses/grad_norm"] = float(self.accelerator.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm))
            self.optimizer.step()
        return dict(stats)

    def iteration(self, horizon: int) -> dict[str, Any]:
        start = time.perf_counter()
        batch = self.collect(horizon)
        rollout_s = time.perf_counter() - start
        rows = build_rows(batch, self.estimator)
        cfg = self.config
        assign_advantages(rows, scale_rewards=cfg.scale_rewards, std_eps=cfg.std_eps, std_floor=cfg.std_floor,
                          local_advantage_weight=cfg.local_advantage_weight)
        num_tokens = sum(len(r.old_logp) for r in rows)
        metrics = rollout_metrics(batch, rows, num_tokens, rollout_s)
        metrics.update(self.update(rows))
        metrics["perf/wall_time_s"] = time.perf_counter() - start
        release_freed_memory()
        metrics["perf/peak_rss_gb"] = peak_rss_gb()
        self.state.env_steps += batch.env_steps * self.world
        return metrics

    # -- validation and checkpoints ---------------------------------------------------------------------------
    def validate(self, horizon: int) -> dict[str, Any]:
        result = evaluate_policy(self.make_env(horizon), self.config.eval_seeds, self.policy, self.eval_generator)
        release_freed_memory()
        return result

    def _tick(self) -> None:
        """Add the time since the last tick to ``state.wall_time_s`` (so a resumed run counts its earlier part)."""
        now = time.perf_counter()
        self.state.wall_time_s += now - self._clock
        self._clock = now

    def save(self, directory: Path) -> None:
        """Checkpoint (main writes weights/optimizer/state; every rank writes its own generator states)."""
        if self.output_dir is None:
            return
        self._tick()
        torch_gens, np_gens = self._generators
        if self.accelerator.is_main_process:
            ckpt.save_checkpoint(
                directory, model=self.accelerator.unwrap_model(self.model), optimizer=self.optimizer,
                torch_generators=torch_gens, numpy_generators=np_gens, config=self.config.to_dict(),
                trainer_state=self.state,
            )
        self.accelerator.wait_for_everyone()
        if not self.accelerator.is_main_process:
            ckpt.save_rng(directory, self.rank, torch_gens, np_gens)
        self.accelerator.wait_for_everyone()

    def resume(self, directory: str | Path) -> None:
        """Continue the run saved in ``directory`` (a checkpoint, or a run directory holding ``checkpoints/last``)."""
        directory = ckpt.resolve_checkpoint(directory)
        self.state = ckpt.load_checkpoint(directory, model=self.policy.model, optimizer=self.optimizer)
        self._clock = time.perf_counter()
        ckpt.load_rng(directory, self.rank, *self._generators)
        self.logger.truncate(self.state.global_step)
        if self.ref_model is not None and self.state.stage > 0:  # the reference is the stage's warm start
            handed_on = curriculum.handed_on_checkpoint_name(self.state.stage - 1, self.config.load_best_model_at_end)
            ckpt.load_weights(directory.parent / handed_on, self.ref_model)

    def _checkpoint_dir(self, name: str) -> Path:
        return (self.output_dir or Path(".")) / "checkpoints" / name

    def _after_validation(self, horizon: int, val: dict[str, Any]) -> None:
        st = self.state
        st.curve.append({"iteration": st.global_step, "env_steps": st.env_steps, "score": val["score"],
                         "return": val["return"], "stage": st.stage, "horizon": horizon})
        value = val[self.config.metric_for_best_model]
        if curriculum.record_validation(st, value, self.config.early_stopping_patience):
            self.save(self._checkpoint_dir(curriculum.best_checkpoint_name(st.stage)))

    # -- the loop ---------------------------------------------------------------------------------------------
    def train(self, stop_after: int | None = None) -> dict[str, Any] | None:
        """Run (or continue) every curriculum stage; return the final validation, or None if stopped early.

        ``stop_after``: return after this many global iterations (simulates an interrupted run).
        """
        cfg, st = self.config, self.state
        if st.initial_metrics is None:
            st.initial_metrics = self.validate(cfg.curriculum[0])
            st.curve.append({"iteration": 0, "env_steps": 0, "score": st.initial_metrics["score"],
                             "return": st.initial_metrics["return"], "stage": 0, "horizon": cfg.curriculum[0]})
        total = len(cfg.curriculum) * cfg.iterations
        bar = tqdm(total=total, initial=st.stage * cfg.iterations + st.iteration, disable=not self.progress, desc="train")
        while st.stage < len(cfg.curriculum):
            horizon = cfg.curriculum[st.stage]
            while not curriculum.stage_finished(st, cfg.iterations):
                if stop_after is not None and st.global_step >= stop_after:
                    bar.close()
                    return None
                metrics = self.iteration(horizon)
                st.iteration += 1
                st.global_step += 1
                record = {"iteration": st.global_step, "stage": st.stage, "horizon": horizon,
                          "env_steps": st.env_steps, **metrics}
                spent = cfg.env_steps_per_stage is not None and st.env_steps >= (st.stage + 1) * cfg.env_steps_per_stage
                validate = st.iteration % cfg.eval_every == 0 or st.iteration == cfg.iterations or spent
                if validate:
                    val = self.validate(horizon)
                    record.update({"eval/score": val["score"], "eval/return": val["return"], "eval/entries": val["entries"]})
                    self._after_validation(horizon, val)
                    st.stage_done = st.stage_done or spent  # the stage's budget is spent: end it (saved below)
                self.logger.log(record)
                if validate:  # after logging, so a resumed run neither repeats nor loses a metrics line
                    self.save(self._checkpoint_dir("last"))
                bar.update(1)
                bar.set_postfix(score=f"{record['charts/episode_score']:.3f}", stage=st.stage)
            handed_on = self._checkpoint_dir(curriculum.handed_on_checkpoint_name(st.stage, cfg.load_best_model_at_end))
            if not cfg.load_best_model_at_end and st.stage + 1 < len(cfg.curriculum):
                self.save(handed_on)  # a run resumed in the next stage reads its KL reference from here
            curriculum.next_stage(st)
            if st.stage < len(cfg.curriculum):  # warm start: the previous stage's best checkpoint, or its last weights
                if self.output_dir is not None and cfg.load_best_model_at_end:
                    ckpt.load_weights(handed_on, self.policy.model)
                self._new_optimizer()
        bar.close()
        self.final_iterate = {k: v.detach().clone() for k, v in self.policy.model.state_dict().items()}
        if self.output_dir is not None and cfg.load_best_model_at_end:
            ckpt.load_weights(self._checkpoint_dir(curriculum.best_checkpoint_name(len(cfg.curriculum) - 1)), self.policy.model)
        final = self.validate(cfg.curriculum[-1])
        self._tick()
        return final

    def test(self) -> dict[str, Any] | None:
        """The current policy (after :meth:`train`: the best validation checkpoint, or the last iteration's weights
        when ``load_best_model_at_end`` is False) on ``config.test_seeds`` at
        the last horizon; None when there are no test seeds. Call once, after every choice is made."""
        if not self.config.test_seeds:
            return None
        return evaluate_policy(self.make_env(self.config.curriculum[-1]), self.config.test_seeds, self.policy,
                               self.eval_generator)

    def test_final_iterate(self) -> dict[str, Any] | None:
        """As :meth:`test`, for the weights of the last training iteration rather than the best validation
        checkpoint (both are reported: the choice between them would otherwise hide a late collapse)."""
        if not self.config.test_seeds or getattr(self, "final_iterate", None) is None:
            return None
        chosen = {k: v.detach().clone() for k, v in self.policy.model.state_dict().items()}
        self.policy.model.load_state_dict(self.final_iterate)
        try:
            return self.test()
        finally:
            self.policy.model.load_state_dict(chosen)
