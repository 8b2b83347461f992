"""One CLI dialect for the env: ``--scorer`` / ``--scorer-kwargs`` / ``--max-sessions`` / ``--compression-coef``
mean the same on ``play``, ``eval`` and ``train`` (memr2.commands.add_scorer_flags / env_kwargs_from), and a key
given both as a flag and in ``--env-kwargs`` with another value is an error, never silently overridden."""

import json

from memr2.cli import main
from memr2.results import read_result

SYNTHETIC = ["--env", "MemoryR2/Synthetic-v0", "--agent", "store-all", "--episodes", "1", "--seed", "5",
             "--max-sessions", "4"]
TRAIN = ["train", "--iterations", "1", "--eval-every", "1", "--num-generations", "2", "--eval-seeds", "900",
         "--conversations-per-iteration", "1", "--no-progress"]


def eval_result(tmp_path, name, *flags):
    assert main(["eval", *SYNTHETIC, *flags, "--output-dir", str(tmp_path), "--run-name", name, "--no-progress"]) == 0
    return read_result(tmp_path / f"{name}.json")


def test_eval_takes_compression_coef(tmp_path):
    free = eval_result(tmp_path, "free", "--compression-coef", "0")
    taxed = eval_result(tmp_path, "taxed", "--compression-coef", "2.5")
    assert free.env_kwargs["compression_coef"] == 0.0 and taxed.env_kwargs["compression_coef"] == 2.5
    assert free.metrics.score == taxed.metrics.score  # the penalty is in the rewards, not the QA score
    assert taxed.episodes[0].total_reward < free.episodes[0].total_reward == free.metrics.score


def test_a_flag_and_env_kwargs_that_disagree_are_an_error(tmp_path, capsys):
    code = main(["eval", *SYNTHETIC, "--compression-coef", "0", "--env-kwargs", '{"compression_coef": 0.3}',
                 "--output-dir", str(tmp_path), "--no-progress"])
    assert code == 2 and "--env-kwargs also sets ['compression_coef']" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_play_takes_compression_coef(capsys):
    assert main(["play", *SYNTHETIC[2:], "--compression-coef", "0"]) == 0
    free = capsys.readouterr().out
    assert main(["play", *SYNTHETIC[2:], "--compression-coef", "2.5"]) == 0
    assert free != capsys.readouterr().out  # the return column differs (same score)


def test_train_takes_scorer_and_max_sessions(tmp_path):
    out = tmp_path / "run"
    assert main([*TRAIN, "--scorer", "recall", "--scorer-kwargs", '{"top_k": 3}', "--max-sessions", "2",
                 "--output-dir", str(out)]) == 0
    saved = json.loads((out / "config.json").read_text())
    assert saved["curriculum"] == [2]
    assert saved["env_kwargs"] == {"scorer": "recall", "scorer_kwargs": {"top_k": 3}}
    result = read_result(out / "run.json")
    assert result.scorer == "recall" and result.env_kwargs["max_sessions"] == 2


def test_train_env_flag_conflicts_are_errors(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*TRAIN, "--max-sessions", "2", "--curriculum", "2", "4", "--output-dir", str(out)]) == 2
    assert "--max-sessions N is --curriculum N" in capsys.readouterr().err
    assert main([*TRAIN, "--scorer", "recall", "--env-kwargs", '{"scorer": "rule"}', "--output-dir", str(out)]) == 2
    assert "env_kwargs also sets ['scorer']" in capsys.readouterr().err
    assert not out.exists()
