"""Run files hold under faults: no write through a planted symlink, finite configs, wall time over resumes."""

from __future__ import annotations

import json
import math

import pytest

from algorithms.config import TrainerConfig
from algorithms.metrics import JsonlLogger
from memenv.files import open_no_follow, write_text_atomic
from memr2.commands.data import download


@pytest.fixture
def victim(tmp_path):
    path = tmp_path / "victim.txt"
    path.write_text("precious\n")
    return path


def test_config_and_metrics_never_write_through_a_planted_symlink(tmp_path, victim):
    (tmp_path / "config.json").symlink_to(victim)
    (tmp_path / "metrics.jsonl").symlink_to(victim)
    TrainerConfig(curriculum=[2]).save(tmp_path / "config.json")
    assert victim.read_text() == "precious\n"
    assert json.loads((tmp_path / "config.json").read_text())["curriculum"] == [2]
    with pytest.raises(OSError, match="symlink"):
        JsonlLogger(tmp_path / "metrics.jsonl")
    assert victim.read_text() == "precious\n"
    logger = JsonlLogger(tmp_path / "run" / "metrics.jsonl")
    logger.log({"iteration": 1})
    (tmp_path / "run" / "metrics.jsonl").unlink()
    (tmp_path / "run" / "metrics.jsonl").symlink_to(victim)  # planted after the logger started
    with pytest.raises(OSError):
        logger.log({"iteration": 2})
    assert victim.read_text() == "precious\n"


def test_a_download_does_not_write_through_a_planted_part_symlink(tmp_path, victim):
    import hashlib

    source = tmp_path / "source.json"
    source.write_text("[]\n")
    out = tmp_path / "locomo10.json"
    (tmp_path / "locomo10.json.part").symlink_to(victim)
    download(source.as_uri(), out, hashlib.sha256(b"[]\n").hexdigest())
    assert victim.read_text() == "precious\n" and out.read_text() == "[]\n"


def test_open_no_follow_and_atomic_write(tmp_path, victim):
    link = tmp_path / "link"
    link.symlink_to(victim)
    with pytest.raises(OSError):
        open_no_follow(link, "a")
    write_text_atomic(link, "new\n")
    assert victim.read_text() == "precious\n" and link.read_text() == "new\n" and not link.is_symlink()


@pytest.mark.parametrize("field", ["learning_rate", "compression_coef", "epsilon", "local_prob", "beta"])
@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_non_finite_config_values_are_refused(field, value):
    with pytest.raises(ValueError, match=f"{field}=.*finite|{field}="):
        TrainerConfig(**{field: value})


def test_a_resumed_run_counts_the_wall_time_of_its_earlier_part(tmp_path):
    from algorithms.trainer import Trainer

    cfg = TrainerConfig(curriculum=[1], iterations=4, eval_every=2, num_generations=2, local_num_generations=2,
                        conversations_per_iteration=1, eval_seeds=[900], test_seeds=[])
    first = Trainer(cfg, tmp_path)
    assert first.train(stop_after=2) is None
    earlier = first.state.wall_time_s
    assert earlier > 0
    second = Trainer(cfg, tmp_path)
    second.resume(tmp_path)
    assert second.state.wall_time_s == pytest.approx(earlier)
    second.train()
    assert second.state.wall_time_s > earlier
