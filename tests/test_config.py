"""TrainerConfig: defaults, validation messages, YAML/TOML loading, help strings."""

import json

import pytest

from algorithms.config import TrainerConfig


def test_defaults_follow_trl_and_memory_r2():
    cfg = TrainerConfig()
    assert (cfg.estimator, cfg.local_num_generations, cfg.local_prob, cfg.compression_coef) == ("logo", 4, 0.5, 0.3)
    assert cfg.curriculum == [8, 16, 32] and cfg.epsilon_high == cfg.epsilon
    assert all(TrainerConfig.help().values()), "every field has a help string"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"loss_type": "bnpo"}, "loss_type"),
        ({"num_generations": 1}, "num_generations"),
        ({"local_prob": 1.5}, "probability"),
        ({"temperature": 0.0}, "temperature"),
        ({"curriculum": []}, "curriculum"),
        ({"policy": "llm"}, "needs model"),
        ({"dual_clip": 0.5}, "dual_clip"),
        ({"env_kwargs": {"max_sessions": 8}}, "curriculum="),
    ],
)
def test_validation_says_how_to_fix(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainerConfig(**kwargs)


def test_local_m_irrelevant_for_global():
    assert TrainerConfig(estimator="global", local_num_generations=1).local_num_generations == 1


def test_the_config_is_a_leaf_and_the_trainer_checks_the_estimator():
    """Building a default config imported the estimators, and so torch (7 s); now the trainer checks them."""
    import subprocess
    import sys

    script = "import sys; from algorithms.config import TrainerConfig; TrainerConfig(); print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.strip() == "False"
    from algorithms.trainer import Trainer

    with pytest.raises(ValueError, match="a group needs >= 2 rerollouts"):
        Trainer(TrainerConfig(estimator="logo", local_num_generations=1))
    with pytest.raises(ValueError, match="unknown estimator 'ppo'"):
        Trainer(TrainerConfig(estimator="ppo"))


def test_yaml_toml_roundtrip(tmp_path):
    (tmp_path / "c.yaml").write_text("estimator: global\ncurriculum: [8]\nlearning_rate: 0.01\n")
    (tmp_path / "c.toml").write_text('[trainer]\nestimator = "grpo"\ncurriculum = [8, 16]\n')
    y = TrainerConfig.from_file(tmp_path / "c.yaml", learning_rate=None, seed=3)
    assert (y.estimator, y.curriculum, y.learning_rate, y.seed) == ("global", [8], 0.01, 3)
    t = TrainerConfig.from_file(tmp_path / "c.toml")
    assert (t.estimator, t.curriculum) == ("grpo", [8, 16])
    saved = y.save(tmp_path / "resolved.json")
    assert TrainerConfig.from_file(saved) == y
    assert json.loads(saved.read_text())["estimator"] == "global"
    (tmp_path / "bad.yaml").write_text("estimmator: logo\n")
    with pytest.raises(ValueError, match="unknown TrainerConfig field"):
        TrainerConfig.from_file(tmp_path / "bad.yaml")
    (tmp_path / "c.ini").write_text("estimator = logo\n")
    with pytest.raises(ValueError, match="unknown config format"):
        TrainerConfig.from_file(tmp_path / "c.ini")


def test_training_defaults_to_synthetic_v1():
    """Issue 21 item 12: Synthetic-v0 is deprecated; a default config trains on v1."""
    from memr2.cli import build_parser

    assert TrainerConfig().env_id == "MemoryR2/Synthetic-v1"
    train = build_parser()._subparsers._group_actions[0].choices["train"]
    help_text = train.format_help()
    assert "Synthetic-v1" in help_text and "restricted-oracle" in build_parser()._subparsers._group_actions[0].choices[
        "eval"].format_help()


def test_defaults_without_building_a_config():
    """``TrainerConfig.defaults()`` (the one reader of the dataclass defaults: CLI help, leaderboard grouping) is
    what a default config holds, but for the fields ``__post_init__`` resolves; factories give fresh objects."""
    defaults, built = TrainerConfig.defaults(), TrainerConfig().to_dict()
    assert defaults.keys() == built.keys()
    assert {k for k in defaults if defaults[k] != built[k]} == {"epsilon_high"} and defaults["epsilon_high"] is None
    defaults["curriculum"].append(64)
    assert TrainerConfig.defaults()["curriculum"] == [8, 16, 32]
