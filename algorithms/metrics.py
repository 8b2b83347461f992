"""Per-iteration training metrics with CleanRL/TRL namespacing, and a JSONL writer."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from algorithms.advantages import frac_zero_std
from algorithms.estimators import Row
from algorithms.rollouts import RolloutBatch
from memenv.files import open_no_follow, write_text_atomic


def _stats(values: Sequence[float]) -> tuple[float, float]:
    return (float(np.mean(values)), float(np.std(values))) if len(values) else (0.0, 0.0)


def release_freed_memory() -> None:
    """Hand the heap's free pages back to the OS (glibc's ``malloc_trim``; a no-op elsewhere).

    Tensors of varying shapes (prompts of varying length) fragment glibc's heap, and freed holes stay resident: an
    LLM training run grew from 5.5 GB to 12.6 GB in 15 iterations and two side by side ran out of memory. The
    trainer calls this after each iteration and validation.
    """
    import ctypes
    import ctypes.util

    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def peak_rss_gb() -> float:
    """This process's peak resident memory so far, in GB (Linux reports KiB, macOS bytes)."""
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1e9 if sys.platform == "darwin" else 1e6)


def rollout_metrics(batch: RolloutBatch, rows: Sequence[Row], num_tokens: int, rollout_s: float) -> dict[str, Any]:
    """What the rollouts and their rows looked like: rewards, advantages by role and group kind, bank size."""
    out: dict[str, Any] = {}
    rewards = [r.reward for r in rows]
    out["charts/reward_mean"], out["charts/reward_std"] = _stats(rewards)
    out["charts/episode_score"], out["charts/episode_score_std"] = _stats([t.score for t in batch.trajectories])
    out["charts/episode_return"], _ = _stats([t.episode_return for t in batch.trajectories])
    out["charts/compression_penalty"], _ = _stats([t.compression_penalty for t in batch.trajectories])
    for role in ("extractor", "manager"):
        for kind in ("global", "local"):
            adv = [r.advantage for r in rows if r.role == role and r.kind == kind]
            if adv:
                mean, std = _stats(adv)
                out[f"advantages/{role}_{kind}_mean"], out[f"advantages/{role}_{kind}_std"] = mean, std
    out["rollout/rows"] = len(rows)
    out["rollout/local_frac"] = float(np.mean([r.kind == "local" for r in rows])) if rows else 0.0
    out["rollout/local_groups"] = len(batch.local_groups)
    out["rollout/frac_reward_zero_std"] = frac_zero_std(rewards, [r.group for r in rows])
    for kind in ("global", "local"):  # groups that teach nothing, per kind (a local group is one rerolled session)
        kind_rows = [r for r in rows if r.kind == kind]
        if kind_rows:
            out[f"rollout/frac_reward_zero_std_{kind}"] = frac_zero_std([r.reward for r in kind_rows], [r.group for r in kind_rows])
    global_steps = [s for t in batch.trajectories for s in t.steps]
    updates = sum(s.updates for s in global_steps)
    if updates:
        out["diagnostics/update_hit_rate"] = sum(s.update_hits for s in global_steps) / updates
    out["diagnostics/updates_per_episode"] = updates / max(len(batch.trajectories), 1)
    steps = [s for t in batch.trajectories for s in t.steps]
    steps += [s for g in batch.local_groups for t in g.rerollouts for s in t.steps]
    out["rollout/parse_failure_rate"] = float(np.mean([s.decision.parse_failed for s in steps])) if steps else 0.0
    out["rollout/invalid_action_rate"] = float(np.mean([s.error is not None for s in steps])) if steps else 0.0
    out["memory/entries"], _ = _stats([t.entries for t in batch.trajectories])
    out["memory/tokens"], _ = _stats([t.tokens for t in batch.trajectories])
    out["perf/rollout_s"] = rollout_s
    out["perf/tokens_per_s"] = num_tokens / rollout_s if rollout_s > 0 else 0.0
    out["perf/env_steps"] = batch.env_steps
    return out


DIAGNOSTICS = {
    "zero_std_global": "rollout/frac_reward_zero_std_global",
    "zero_std_local": "rollout/frac_reward_zero_std_local",
    "update_hit_rate": "diagnostics/update_hit_rate",
    "updates_per_episode": "diagnostics/updates_per_episode",
    "entropy": "losses/entropy",
}


def diagnostics_summary(records: Sequence[dict[str, Any]], window: int = 5) -> dict[str, dict[str, float | None]]:
    """Each diagnostic's mean over the first and the last ``window`` iterations of a run's metrics records:
    ``{name: {"start": ..., "end": ...}}`` (None where the run never logged it, e.g. a local fraction without
    local groups).

    >>> rows = [{"losses/entropy": e} for e in (1.0, 0.8, 0.2, 0.0)]
    >>> diagnostics_summary(rows, window=2)["entropy"]
    {'start': 0.9, 'end': 0.1}
    """
    def mean(part: Sequence[dict[str, Any]], key: str) -> float | None:
        values = [r[key] for r in part if key in r]
        return sum(values) / len(values) if values else None

    start, end = records[:window], records[-window:]
    return {name: {"start": mean(start, key), "end": mean(end, key)} for name, key in DIAGNOSTICS.items()}


class JsonlLogger:
    """Appends one JSON object per line (a resumed run appends to the same file); never writes through a symlink."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.is_symlink():
                raise OSError(f"{self.path} is a symlink: a run's metrics are never written through one")

    def truncate(self, iteration: int) -> None:
        """Drop lines past ``iteration`` (a resumed run redoes the iterations after its checkpoint)."""
        if self.path and self.path.exists():
            lines = self.path.read_text(encoding="utf-8").splitlines()
            kept = [line for line in lines if json.loads(line).get("iteration", 0) <= iteration]
            write_text_atomic(self.path, "".join(line + "\n" for line in kept))

    def records(self) -> list[dict[str, Any]]:
        """Every record logged so far (empty without a file)."""
        if not self.path or not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines()]

    def log(self, record: dict[str, Any]) -> None:
        if self.path:
            with open_no_follow(self.path, "a") as handle:
                handle.write(json.dumps(record, sort_keys=True) + "\n")
