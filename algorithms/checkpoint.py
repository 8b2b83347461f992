"""Checkpoints without pickle: safetensors for tensors, JSON for everything else.

A checkpoint directory holds

* ``model.safetensors``      -- the policy's trainable parameters (``state_dict``),
* ``optimizer.safetensors``  -- the optimizer's per-parameter tensors, plus ``optimizer.json`` (hyper-parameters
  and scalar state),
* ``rng-rank<R>.safetensors`` -- each rank's torch generator states, plus ``rng-rank<R>.json`` (numpy
  ``Generator`` bit states); under DDP every rank writes its own,
* ``config.json``            -- the resolved :class:`~algorithms.config.TrainerConfig`,
* ``trainer_state.json``     -- step counters, curriculum stage, validation curve, best score.

Restoring all of them makes a resumed run continue exactly as an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file


@dataclass
class TrainerState:
    """Counters and history of a run (JSON)."""

    stage: int = 0
    iteration: int = 0  # iterations finished in the current stage
    global_step: int = 0  # iterations finished over all stages
    env_steps: int = 0
    best_value: float | None = None
    bad_evals: int = 0
    curve: list[dict[str, Any]] = field(default_factory=list)
    initial_metrics: dict[str, Any] | None = None
    stage_done: bool = False
    wall_time_s: float = 0.0  # training time up to the last checkpoint, over every process that ran it


def _optimizer_split(state_dict: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, per_param in state_dict["state"].items():
        for name, value in per_param.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{name}"] = value.detach().contiguous().clone()
            else:
                scalars.setdefault(str(index), {})[name] = value
    return tensors, {"param_groups": state_dict["param_groups"], "scalars": scalars}


def _optimizer_join(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    for index, values in meta["scalars"].items():
        state.setdefault(int(index), {}).update(values)
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(
    directory: str | Path,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    torch_generators: dict[str, torch.Generator],
    numpy_generators: dict[str, np.random.Generator],
    config: dict[str, Any],
    trainer_state: TrainerState,
) -> Path:
    """Write a checkpoint atomically (to ``<dir>.tmp``, then rename) and return its directory.

    Run it on the main process; the generators given are rank 0's (other ranks then call :func:`save_rng`).
    """
    directory = Path(directory)
    tmp = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file({k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}, tmp / "model.safetensors")
    opt_tensors, opt_meta = _optimizer_split(optimizer.state_dict())
    save_file(opt_tensors, tmp / "optimizer.safetensors")
    (tmp / "optimizer.json").write_text(json.dumps(opt_meta))
    save_rng(tmp, 0, torch_generators, numpy_generators)
    (tmp / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True))
    (tmp / "trainer_state.json").write_text(json.dumps(trainer_state.__dict__, indent=2))
    if directory.exists():
        shutil.rmtree(directory)
    os.replace(tmp, directory)
    return directory


TorchGenerators = dict[str, torch.Generator]
NumpyGenerators = dict[str, np.random.Generator]


def save_rng(directory: str | Path, rank: int, torch_generators: TorchGenerators, numpy_generators: NumpyGenerators) -> None:
    """Write one rank's generator states into an existing checkpoint directory (each file atomically)."""
    directory = Path(directory)
    torch_states = {k: g.get_state() for k, g in torch_generators.items()}
    numpy_states = json.dumps({k: g.bit_generator.state for k, g in numpy_generators.items()})
    for name, write in (
        (f"rng-rank{rank}.safetensors", lambda p: save_file(torch_states, p)),
        (f"rng-rank{rank}.json", lambda p: p.write_text(numpy_states)),
    ):
        tmp = directory / f".{name}.tmp"
        write(tmp)
        os.replace(tmp, directory / name)


class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated, garbage or inconsistent (the message names the file)."""


def _read(path: Path, reader: Any) -> Any:
    """``reader(path)``, with any failure turned into a :class:`CheckpointError` naming ``path``."""
    try:
        return reader(path)
    except (OSError, ValueError, TypeError, KeyError, RuntimeError, SafetensorError) as exc:
        raise CheckpointError(f"{path}: unreadable checkpoint file ({exc})") from None


def _read_json(path: Path) -> Any:
    return _read(path, lambda p: json.loads(p.read_text()))


def _read_tensors(path: Path, *, finite: bool = False) -> dict[str, torch.Tensor]:
    tensors = _read(path, load_file)
    if finite:
        bad = [name for name, t in tensors.items() if t.is_floating_point() and not torch.isfinite(t).all()]
        if bad:
            raise CheckpointError(f"{path}: non-finite values (NaN or inf) in {bad[:5]}")
    return tensors


def resolve_checkpoint(directory: str | Path) -> Path:
    """The checkpoint to resume from ``directory``: itself, its ``checkpoints/last``, or -- when a kill fell
    between removing ``last`` and renaming its replacement -- the complete ``checkpoints/last.tmp``."""
    directory = Path(directory)
    last = directory / "checkpoints" / "last"
    if last.is_dir():
        return last
    pending = last.with_name("last.tmp")
    if pending.is_dir() and (pending / "trainer_state.json").is_file():  # written last: the copy is complete
        return pending
    return directory


def load_rng(directory: str | Path, rank: int, torch_generators: TorchGenerators, numpy_generators: NumpyGenerators) -> None:
    """Restore one rank's generators in place."""
    directory = Path(directory)
    states = _read_tensors(directory / f"rng-rank{rank}.safetensors")
    bit_states = _read_json(directory / f"rng-rank{rank}.json")
    for name, generator in torch_generators.items():
        _read(directory / f"rng-rank{rank}.safetensors", lambda _: generator.set_state(states[name]))
    for name, generator in numpy_generators.items():
        _read(directory / f"rng-rank{rank}.json", lambda _: setattr(generator.bit_generator, "state", bit_states[name]))


def load_weights(directory: str | Path, model: torch.nn.Module) -> None:
    """Load only the policy weights (warm start of the next curriculum stage); non-finite weights are refused."""
    path = Path(directory) / "model.safetensors"
    tensors = _read_tensors(path, finite=True)
    _read(path, lambda _: model.load_state_dict(tensors))


MAX_COUNTER = 10**12
"""The largest step counter a checkpoint may hold (a trillion iterations or env steps: no run comes near)."""


def counter_problems(state: TrainerState) -> list[str]:
    """What is insane in ``state``: a counter that is not an integer in ``[0, MAX_COUNTER]`` (a bool, ``10**30``,
    ``-1``, ``2.5``), or a wall time / best value that is not a finite number (``wall_time_s`` also >= 0).

    >>> counter_problems(TrainerState(global_step=10**30, wall_time_s=float("nan")))
    ['global_step must be an integer in [0, 1000000000000], got 1000000000000000000000000000000', 'wall_time_s must be a finite number >= 0, got nan']
    """
    problems = [f"{name} must be an integer in [0, {MAX_COUNTER}], got {value!r}"
                for name in ("stage", "iteration", "global_step", "env_steps", "bad_evals")
                if not (isinstance(value := getattr(state, name), int) and not isinstance(value, bool)
                        and 0 <= value <= MAX_COUNTER)]
    finite = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)  # noqa: E731
    if not (finite(state.wall_time_s) and state.wall_time_s >= 0):
        problems.append(f"wall_time_s must be a finite number >= 0, got {state.wall_time_s!r}")
    if state.best_value is not None and not finite(state.best_value):
        problems.append(f"best_value must be a finite number or null, got {state.best_value!r}")
    return problems


def _trainer_state(path: Path) -> TrainerState:
    raw = _read_json(path)
    state = _read(path, lambda _: TrainerState(**raw))
    bad = counter_problems(state)
    if bad:
        raise CheckpointError(f"{path}: {'; '.join(bad)} (the file was damaged or edited; resume from another checkpoint)")
    return state


def load_checkpoint(
    directory: str | Path,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
) -> TrainerState:
    """Restore weights and optimizer in place (generators: :func:`load_rng`); return the trainer state.

    Every file is read and checked before the model or optimizer changes; a bad one raises CheckpointError.
    """
    directory = Path(directory)
    state = _trainer_state(directory / "trainer_state.json")
    meta = _read_json(directory / "optimizer.json")
    opt_tensors = _read_tensors(directory / "optimizer.safetensors")
    load_weights(directory, model)
    _read(directory / "optimizer.json", lambda _: optimizer.load_state_dict(_optimizer_join(opt_tensors, meta)))
    return state


def read_config(directory: str | Path) -> dict[str, Any]:
    """The config saved with a checkpoint."""
    return json.loads((Path(directory) / "config.json").read_text())
