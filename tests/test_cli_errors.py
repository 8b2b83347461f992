"""Every usual user mistake ends ``memr2 play|eval`` with one line ``memr2 <cmd>: error: ...`` and exit status 2."""

from __future__ import annotations

import os
import subprocess
import sysconfig
from pathlib import Path

import gymnasium as gym
import pytest

import memenv  # noqa: F401
from memr2.cli import main

SYNTHETIC = ["--env", "MemoryR2/Synthetic-v0", "--episodes", "1", "--max-sessions", "1", "--no-progress"]

MISTAKES = {
    "wrong env id (gymnasium's suggestion)": (
        ["--env", "MemoryR2/Locomo-v0", "--agent", "store-all"],
        "unknown environment 'MemoryR2/Locomo-v0': Environment `Locomo` doesn't exist in namespace MemoryR2. "
        "Did you mean: `LoCoMo`?",
    ),
    "wrong env version (the registered ids)": (
        ["--env", "MemoryR2/LoCoMo-v9", "--agent", "store-all"],
        "Registered memory-r2 envs: MemoryR2/Synthetic-v0, MemoryR2/Synthetic-v1, MemoryR2/LoCoMo-v0.",
    ),
    "unknown env kwarg": (
        [*SYNTHETIC, "--agent", "store-all", "--env-kwargs", '{"max_session": 2}'],
        "MemoryR2/Synthetic-v0 has no argument 'max_session'; did you mean 'max_sessions'?",
    ),
    "unknown agent kwarg": (
        [*SYNTHETIC, "--agent", "mem0-like", "--agent-kwargs", '{"update_treshold": 0.5}'],
        "agent 'mem0-like' has no argument 'update_treshold'; did you mean 'update_threshold'?",
    ),
    "--model on a non-LLM agent": (
        [*SYNTHETIC, "--agent", "store-all", "--model", "smollm2"],
        "--model is only for agents that take model= (--agent llm); agent 'store-all' does not",
    ),
    "--backend on a non-LLM agent": (
        [*SYNTHETIC, "--agent", "no-memory", "--backend", "vllm"],
        "--backend is only for agents that take backend= (--agent llm); agent 'no-memory' does not",
    ),
    "unknown agent name": ([*SYNTHETIC, "--agent", "store_all"], "unknown agent 'store_all'; choose one of"),
}


@pytest.mark.parametrize("command", ["eval", "play"])
@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_user_mistakes_get_one_line_errors(mistake, command, tmp_path, capsys):
    args, expected = MISTAKES[mistake]
    if command == "play":
        args = [a for a in args if a != "--no-progress"]
    else:
        args = [*args, "--output-dir", str(tmp_path)]
    assert main([command, *args]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"memr2 {command}: error: ") and expected in line
    assert not list(tmp_path.iterdir())  # nothing written


def test_uncached_hub_model_fails_fast_naming_the_cache_and_hf_hub_offline(tmp_path):
    """Run through the console script with an empty Hugging Face cache and HF_HUB_OFFLINE unset: before the fix,
    transformers retried the network for about a minute and ended in a raw OSError traceback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")} | {"HF_HOME": str(tmp_path / "hf")}
    script = Path(sysconfig.get_path("scripts")) / "memr2"
    done = subprocess.run(
        [str(script), "eval", *SYNTHETIC, "--agent", "llm", "--model", "someone/uncached-model",
         "--output-dir", str(tmp_path / "out")],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("memr2 eval: error: model 'someone/uncached-model' is not in the Hugging Face cache "
                           f"{tmp_path / 'hf' / 'hub'}") and "HF_HUB_OFFLINE=unset" in line


@pytest.mark.parametrize(
    ("env_id", "good"),
    [("MemoryR2/Synthetic-v0", {"conversation_seed": 3}), ("MemoryR2/LoCoMo-v0", {"conversation": "conv-26"})],
)
def test_unknown_reset_options_are_an_error(env_id, good):
    env = gym.make(env_id, max_sessions=1)
    env.reset(seed=0, options=good)
    with pytest.raises(ValueError, match=r"unknown reset option\(s\) \['conversaton'\]; .* accepts \["):
        env.reset(seed=0, options={**good, "conversaton": "x"})
