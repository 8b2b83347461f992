"""Issue 19, item 4: a spec in a config file, a run directory or a JSON flag ran code -- ``subprocess:run`` as
the answerer ran a shell command (3/3 ways) and ``shutil:rmtree`` as the agent or the answerer deleted a folder.
Specs from those sources are limited to registered names unless ``--trust-specs``, and no spec may name the
standard library. A marker file proves nothing ran; every test fails at 6a013e2."""

import json

import pytest

from memenv.objects import resolve_spec
from memenv.scoring.llm import LLMScorer
from memr2.cli import main


def _shell_env_kwargs(marker) -> dict:
    """The issue's payload: an LLM scorer whose answerer factory is ``subprocess.run`` with a shell command."""
    return {"scorer": "llm", "scorer_kwargs": {"answerer": "subprocess:run",
                                               "answerer_kwargs": {"args": f"touch {marker}", "shell": True}}}


@pytest.mark.parametrize("trust", [False, True])
def test_env_kwargs_cannot_run_a_shell_command(tmp_path, capsys, trust):
    marker = tmp_path / "PWNED"
    argv = ["eval", "--env", "MemoryR2/Synthetic-v0", "--agent", "no-memory", "--episodes", "1", "--max-sessions", "2",
            "--env-kwargs", json.dumps(_shell_env_kwargs(marker)), "--output-dir", str(tmp_path / "out")]
    assert main(argv + (["--trust-specs"] if trust else [])) == 2
    error = capsys.readouterr().err
    expected = "standard library module 'subprocess'" if trust else "--env-kwargs names code to import"
    assert expected in error
    assert trust or "add --trust-specs" in error
    assert not marker.exists()


def test_a_trainer_config_cannot_run_a_shell_command(tmp_path, capsys):
    marker = tmp_path / "PWNED"
    config = tmp_path / "config.yaml"
    config.write_text(f"trainer:\n  env_kwargs: {json.dumps(_shell_env_kwargs(marker))}\n")
    assert main(["train", "--config", str(config), "--output-dir", str(tmp_path / "run")]) == 2
    assert f"--config {config} names code to import: env_kwargs.scorer_kwargs.answerer = 'subprocess:run'" in (
        capsys.readouterr().err)
    assert not marker.exists() and not (tmp_path / "run").exists()


def test_a_run_directory_cannot_run_a_shell_command_on_resume(tmp_path, capsys):
    marker = tmp_path / "PWNED"
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"env_kwargs": _shell_env_kwargs(marker)}))
    assert main(["train", "--resume", str(run)]) == 2
    assert "config.json names code to import" in capsys.readouterr().err
    assert not marker.exists()


def test_an_agent_spec_cannot_delete_a_folder(tmp_path, capsys):
    victim = tmp_path / "victim"
    victim.mkdir()
    assert main(["eval", "--env", "MemoryR2/Synthetic-v0", "--agent", "shutil:rmtree", "--agent-kwargs",
                 json.dumps({"path": str(victim)}), "--episodes", "1", "--output-dir", str(tmp_path / "out")]) == 2
    assert "standard library module 'shutil'" in capsys.readouterr().err
    assert victim.is_dir()


def test_an_answerer_spec_cannot_delete_a_folder(tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    with pytest.raises(ValueError, match="standard library module 'shutil'"):
        LLMScorer(answerer="shutil:rmtree", answerer_kwargs={"path": str(victim)})
    assert victim.is_dir()


@pytest.mark.parametrize("spec", ["subprocess:run", "shutil:rmtree", "os.path:join", "json:loads",
                                  "subprocess:Popen"])
def test_no_spec_resolves_into_the_standard_library(spec):
    with pytest.raises(ValueError, match="standard library"):
        resolve_spec(spec, method="wait", what="answerer")


def test_registered_specs_in_a_config_still_load(tmp_path):
    from memr2.commands import check_spec_sources, registered_specs

    config = tmp_path / "c.json"
    config.write_text(json.dumps({"env_kwargs": {"scorer": "llm", "scorer_kwargs": {
        "answerer": "agents.llm.openai_backend:make_openai_answerer"}}, "estimator": "my.py:make"}))

    class Args:
        trust_specs, resume, env_kwargs = False, None, None
        estimator = "my.py:make"  # given on the command line: the user's own choice

    Args.config = str(config)
    check_spec_sources(Args())
    assert "agents.llm.openai_backend:make_openai_answerer" in registered_specs()
