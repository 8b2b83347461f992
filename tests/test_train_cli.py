"""``memr2 train`` end to end: config file + flags, JSONL metrics, result JSON, resume."""

import json

from memr2.cli import main
from memr2.results import read_result

FAST = ["--curriculum", "2", "--num-generations", "2", "--local-num-generations", "2", "--eval-seeds", "900",
        "--conversations-per-iteration", "1", "--no-progress"]


def test_train_writes_metrics_config_and_result(tmp_path, capsys):
    config = tmp_path / "cfg.yaml"
    config.write_text("estimator: global\nlearning_rate: 0.01\neval_every: 1\n")
    out = tmp_path / "run"
    code = main(["train", "--config", str(config), "--estimator", "logo", "--iterations", "2", "--seed", "3",
                 "--output-dir", str(out), "--results-dir", str(tmp_path / "board"), *FAST])
    assert code == 0
    saved = json.loads((out / "config.json").read_text())
    assert (saved["estimator"], saved["learning_rate"], saved["seed"], saved["iterations"]) == ("logo", 0.01, 3, 2)
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in lines] == [1, 2]
    for key in ("charts/reward_mean", "charts/reward_std", "rollout/local_frac", "rollout/parse_failure_rate",
                "memory/tokens", "losses/kl", "losses/entropy", "perf/tokens_per_s", "perf/wall_time_s", "eval/score"):
        assert key in lines[0], key
    result = read_result(out / "run.json")
    assert result.kind == "train" and result.estimator == "logo" and result.config["seed"] == 3
    assert result.initial_metrics is not None and [p.iteration for p in result.curve] == [0, 1, 2]
    assert result.env_kwargs["max_sessions"] == 2 and result.scorer == "rule"
    assert (tmp_path / "board" / "run.json").is_file()
    assert result.command.startswith("memr2 train --config ") and "--seed 3" in result.command
    assert "score" in capsys.readouterr().out


def test_resume_continues_the_run(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--iterations", "1", "--eval-every", "1", "--output-dir", str(out), *FAST]) == 0
    assert main(["train", "--resume", str(out), "--iterations", "2", "--no-progress"]) == 0
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in lines] == [1, 2]
    assert [p.iteration for p in read_result(out / "run.json").curve] == [0, 1, 2]


def test_bad_flag_values_are_reported(tmp_path, capsys):
    assert main(["train", "--local-prob", "2", "--output-dir", str(tmp_path), "--no-progress"]) == 2
    assert "local_prob" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "nothing"), "--no-progress"]) == 2


def test_train_with_the_reference_as_scripted_extractor_builds_no_privileged_env(tmp_path, monkeypatch):
    import gymnasium

    built, make = [], gymnasium.make

    def recording_make(env_id, **kwargs):
        env = make(env_id, **kwargs)
        built.append(env.unwrapped.privileged)
        return env

    monkeypatch.setattr(gymnasium, "make", recording_make)
    out = tmp_path / "run"
    assert main(["train", "--env-id", "MemoryR2/Synthetic-v1", "--scripted-role", "extractor", "--scripted-agent",
                 "reference", "--no-diagnostics", "--iterations", "1", "--eval-every", "1", "--test-seeds", "901",
                 "--output-dir", str(out), *FAST]) == 0
    assert built and not any(built)  # training, validation and test envs: none privileged
    result = read_result(out / "run.json")
    assert result.privileged is False and result.config["scripted_agent"] == "reference"
    assert result.test_metrics is not None
