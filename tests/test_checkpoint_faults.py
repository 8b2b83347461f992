"""Damaged checkpoints give one CheckpointError naming the file, before anything changes (issue 14, defect 7)."""

import math
import shutil

import numpy as np
import pytest
import torch

from algorithms import checkpoint as ckpt


def _save(directory, *, weight=None, global_step=5):
    model = torch.nn.Linear(3, 2)
    if weight is not None:
        with torch.no_grad():
            model.weight[0, 0] = weight
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)
    ckpt.save_checkpoint(directory, model=model, optimizer=opt, torch_generators={"g": torch.Generator()},
                         numpy_generators={"r": np.random.default_rng(1)}, config={},
                         trainer_state=ckpt.TrainerState(global_step=global_step))


def _load(directory, model=None):
    model = model or torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)
    state = ckpt.load_checkpoint(directory, model=model, optimizer=opt)
    ckpt.load_rng(directory, 0, {"g": torch.Generator()}, {"r": np.random.default_rng(0)})
    return state


DAMAGE = {
    "truncated weights": ("model.safetensors", lambda b: b[: len(b) // 2]),
    "empty weights": ("model.safetensors", lambda b: b""),
    "garbage optimizer": ("optimizer.safetensors", lambda b: b"\x00garbage" * 10),
    "garbage optimizer meta": ("optimizer.json", lambda b: b"{not json"),
    "garbage rng": ("rng-rank0.safetensors", lambda b: b"garbage"),
    "garbage rng json": ("rng-rank0.json", lambda b: b'{"r": {"state": 1}}'),
    "garbage trainer state": ("trainer_state.json", lambda b: b'{"stage": "x", "unknown": 1}'),
}


@pytest.mark.parametrize("name", list(DAMAGE))
def test_a_damaged_file_is_a_clear_error_naming_it(tmp_path, name):
    filename, damage = DAMAGE[name]
    _save(tmp_path / "c")
    path = tmp_path / "c" / filename
    path.write_bytes(damage(path.read_bytes()))
    model = torch.nn.Linear(3, 2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ckpt.CheckpointError, match=filename):
        _load(tmp_path / "c", model)
    if not filename.startswith("rng"):  # checkpoint files are all read before the model changes
        assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("weight", [math.nan, math.inf])
def test_non_finite_weights_are_refused(tmp_path, weight):
    _save(tmp_path / "c", weight=weight)
    with pytest.raises(ckpt.CheckpointError, match="non-finite"):
        _load(tmp_path / "c")


def test_a_negative_global_step_is_refused(tmp_path):
    _save(tmp_path / "c", global_step=-5)
    with pytest.raises(ckpt.CheckpointError, match="global_step"):
        _load(tmp_path / "c")


def test_resume_finds_a_complete_last_tmp_when_last_is_missing(tmp_path):
    """A kill between removing ``last`` and renaming ``last.tmp`` left the only checkpoint in ``last.tmp``."""
    _save(tmp_path / "checkpoints" / "last")
    shutil.move(tmp_path / "checkpoints" / "last", tmp_path / "checkpoints" / "last.tmp")
    assert ckpt.resolve_checkpoint(tmp_path) == tmp_path / "checkpoints" / "last.tmp"
    assert _load(ckpt.resolve_checkpoint(tmp_path)).global_step == 5
    (tmp_path / "checkpoints" / "last.tmp" / "trainer_state.json").unlink()  # an incomplete copy is not used
    assert ckpt.resolve_checkpoint(tmp_path) == tmp_path


@pytest.mark.parametrize("field, value, message", [
    ("global_step", 10**30, r"global_step must be an integer in \[0, 1000000000000\]"),
    ("env_steps", True, "env_steps must be an integer"),
    ("iteration", 2.5, "iteration must be an integer"),
    ("wall_time_s", float("nan"), "wall_time_s must be a finite number"),
    ("best_value", float("inf"), "best_value must be a finite number"),
])
def test_insane_counters_are_refused(tmp_path, field, value, message):
    """Issue 19, item 7: ``global_step = 10**30`` in a checkpoint became the result's iteration count."""
    import json

    _save(tmp_path / "c")
    path = tmp_path / "c" / "trainer_state.json"
    state = json.loads(path.read_text())
    state[field] = value
    path.write_text(json.dumps(state))
    with pytest.raises(ckpt.CheckpointError, match=message):
        _load(tmp_path / "c")
