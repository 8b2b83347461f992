"""What makes a run reproducible and its directory trustworthy: provenance in every result, the thread count fixed
by the config, one run per run directory, one writer at a time, and a rerun compared field by field."""

import dataclasses
import json
import os
import subprocess
import sys

import pytest

from algorithms.config import TrainerConfig
from memr2.cli import main
from memr2.reproduce import drift, rerun_argv
from memr2.results import read_result, write_result
from memr2.run_dir import LOCK_NAME, claim_run_dir

TRAIN = ["train", "--env", "MemoryR2/Synthetic-v1", "--curriculum", "2", "--iterations", "1", "--eval-every", "1",
         "--num-generations", "2", "--conversations-per-iteration", "1", "--eval-seeds", "100000", "--test-seeds",
         "200000", "--estimator", "grpo", "--no-progress"]


def test_an_eval_result_records_command_threads_versions_platform_and_commit(tmp_path):
    argv = ["eval", "--env", "MemoryR2/Synthetic-v1", "--agent", "store-all", "--max-sessions", "2", "--episodes", "1",
            "--output-dir", str(tmp_path), "--run-name", "r", "--no-progress", "--torch-threads", "2"]
    assert main(argv) == 0
    result = read_result(tmp_path / "r.json")
    assert result.command == "memr2 " + " ".join(argv) and result.torch_threads == 2
    assert {"python", "numpy", "pydantic"} <= set(result.versions) and result.platform["cpus"] == str(os.cpu_count())
    assert result.commit is None or len(result.commit) == 40
    assert result.dirty in (None, True, False)


def test_the_config_fixes_the_thread_count_not_the_environment(tmp_path):
    """`memr2 study` used to set OMP_NUM_THREADS=1 for its cells while `memr2 train` left torch's default: the same
    cell ran with different thread counts. Now every process takes the config's count (default 1)."""
    assert TrainerConfig().torch_threads == 1
    assert TrainerConfig.from_dict({"torch_threads": None}).torch_threads == 1  # config.json files of older runs
    with pytest.raises(ValueError, match="torch_threads"):
        TrainerConfig(torch_threads=0)
    script = ("import torch, os; from memr2.runtime import limit_threads; limit_threads(1); "
              "print(torch.get_num_threads(), os.environ['OMP_NUM_THREADS'])")
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["1", "1"]


def test_env_kwargs_cannot_silently_lose_to_a_trainer_field():
    """`--env-kwargs '{"compression_coef": 0.0}'` reached the env as the config's 0.3 (issue 21)."""
    with pytest.raises(ValueError, match="compression_coef"):
        TrainerConfig(env_kwargs={"compression_coef": 0.0})


def test_train_refuses_a_directory_holding_a_run_and_overwrite_replaces_it(tmp_path, capsys):
    """A second `memr2 train` into one directory appended to the first run's metrics.jsonl, and its result's
    diagnostics were computed over both runs (issue 21)."""
    out = tmp_path / "run"
    assert main([*TRAIN, "--output-dir", str(out)]) == 0
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert main([*TRAIN, "--output-dir", str(out)]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert (out / "metrics.jsonl").read_text().splitlines() == lines
    assert main([*TRAIN, "--output-dir", str(out), "--overwrite", "--seed", "1"]) == 0
    assert len((out / "metrics.jsonl").read_text().splitlines()) == len(lines)  # replaced, not appended
    assert json.loads((out / "config.json").read_text())["seed"] == 1
    assert not (out / LOCK_NAME).exists()  # released at the end


def test_one_writer_per_run_directory(tmp_path):
    """An orphaned trainer and a rerun study wrote one run directory at once (issue 19)."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / LOCK_NAME).write_text(f"{sleeper.pid}\n")
        with pytest.raises(ValueError, match=f"in use by process {sleeper.pid}"):
            with claim_run_dir(tmp_path, resume=False, overwrite=True):
                pass
    finally:
        sleeper.kill()
        sleeper.wait()
    with claim_run_dir(tmp_path, resume=False, overwrite=False):  # its process is gone: a stale lock is taken over
        assert (tmp_path / LOCK_NAME).read_text().strip() == str(os.getpid())
    with pytest.raises(ValueError, match="give one"):
        with claim_run_dir(tmp_path, resume=True, overwrite=True):
            pass


def test_a_rerun_from_the_recorded_command_reproduces_the_result(tmp_path):
    out = tmp_path / "run"
    assert main([*TRAIN, "--output-dir", str(out), "--run-name", "first"]) == 0
    first = read_result(out / "first.json")
    again = tmp_path / "again"
    assert main(rerun_argv(first.command, again)) == 0
    rerun = read_result(again / "rerun.json")
    assert drift(first, rerun) == []
    changed = rerun.model_copy(update={"invalid_actions": rerun.invalid_actions + 1})
    assert drift(first, changed) == [f"result.invalid_actions: {first.invalid_actions} -> {first.invalid_actions + 1}"]


def test_rerun_argv_refuses_what_is_not_a_memr2_train_or_eval_command():
    for command in ("rm -rf /", "memr2 leaderboard --out x", "python -m memr2 train"):
        with pytest.raises(ValueError, match="not a rerunnable"):
            rerun_argv(command, "/tmp/x")


def test_the_last_iterations_policy_is_tested_beside_the_chosen_one(tmp_path):
    """Issue 18: both the best-checkpoint and the final-iterate test scores are reported, and the optimizer steps."""
    from algorithms import checkpoint as ckpt
    from algorithms.trainer import Trainer

    config = TrainerConfig(env_id="MemoryR2/Synthetic-v1", curriculum=[4], iterations=4, eval_every=1, num_generations=2,
                           conversations_per_iteration=1, eval_seeds=[100000, 100001], test_seeds=[200000, 200001],
                           estimator="grpo", learning_rate=0.3)
    trainer = Trainer(config, tmp_path)
    trainer.train()
    chosen = trainer.test()
    final = trainer.test_final_iterate()
    assert chosen["score"] != final["score"]  # this run peaks on validation before its last iteration
    assert trainer.test() == chosen  # testing the last iterate leaves the chosen weights in place
    ckpt.load_weights(tmp_path / "checkpoints" / "last", trainer.policy.model)  # saved at the last iteration
    assert trainer.test() == final
    out = tmp_path / "cli"
    assert main([*TRAIN, "--output-dir", str(out), "--run-name", "r", "--iterations", "2"]) == 0
    result = read_result(out / "r.json")
    assert result.final_test_metrics is not None and result.train["optimizer_updates"] == 2

    last = Trainer(dataclasses.replace(config, load_best_model_at_end=False), tmp_path / "last")
    last.train()
    assert last.test() == final != chosen  # the same training, tested as its last iteration's weights


def test_without_load_best_model_at_end_the_result_scores_the_last_iteration_once(tmp_path):
    out = tmp_path / "run"
    argv = [*TRAIN, "--output-dir", str(out), "--run-name", "r", "--iterations", "2"]
    assert main([*argv, "--no-load-best-model-at-end"]) == 0
    result = read_result(out / "r.json")
    assert result.config["load_best_model_at_end"] is False
    assert result.final_test_metrics == result.test_metrics
    assert result.metrics.score == result.curve[-1].score  # the final validation is the last iteration's


def test_memr2_verify_reruns_a_result_file_and_reports_drift(tmp_path, capsys):
    argv = ["eval", "--env", "MemoryR2/Synthetic-v1", "--agent", "reference", "--max-sessions", "3", "--episodes", "2",
            "--output-dir", str(tmp_path), "--run-name", "mine", "--no-progress"]
    assert main(argv) == 0
    path = tmp_path / "mine.json"
    assert main(["verify", str(path), "--scratch", str(tmp_path / "scratch")]) == 0
    assert "1 reproduced, 0 drifted" in capsys.readouterr().out
    drifted = read_result(path)
    drifted.metrics.score = 1.0 - drifted.metrics.score / 2
    write_result(drifted, tmp_path)  # a consistent file (checksum and all) whose numbers the code no longer gives
    assert main(["verify", str(path), "--scratch", str(tmp_path / "scratch")]) == 1
    assert "DRIFT" in capsys.readouterr().out


def test_provenance_is_taken_when_the_run_starts(tmp_path, monkeypatch):
    """A long run must record the code it started with, not the commit checked out when it happened to end."""
    import memr2.runtime

    states = iter([("a" * 40, False)])
    monkeypatch.setattr(memr2.runtime, "git_state", lambda: next(states, ("b" * 40, True)))
    assert main([*TRAIN, "--output-dir", str(tmp_path), "--run-name", "r"]) == 0
    result = read_result(tmp_path / "r.json")
    assert (result.commit, result.dirty) == ("a" * 40, False)


def test_drift_skips_fields_an_older_result_lacks_but_not_changed_ones(tmp_path):
    argv = ["eval", "--env", "MemoryR2/Synthetic-v1", "--agent", "store-all", "--max-sessions", "2", "--episodes", "1",
            "--output-dir", str(tmp_path), "--run-name", "r", "--no-progress"]
    assert main(argv) == 0
    new = read_result(tmp_path / "r.json")
    older = new.model_copy(update={"torch_threads": None, "ceiling": None})  # written before those fields existed
    assert drift(older, new.model_copy(update={"ceiling": {"metrics": {}}})) == []
    changed = new.model_copy(update={"invalid_actions": new.invalid_actions + 1})
    assert drift(older, changed) != []
