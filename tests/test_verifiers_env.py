"""memenv as a verifiers environment (engines/verifiers_env.py, ``vf-eval memory-r2``): verifiers' own eval of a
scripted agent served as an OpenAI-compatible endpoint (engines/agent_endpoint.py) reproduces ``memr2 eval``
episode for episode; session-start branch tasks score as the trunk + branch play in-process. Skipped unless the
``verifiers`` extra is installed (the endpoint also needs fastapi/uvicorn, which the ``openenv`` extra brings).

The first ``vf-eval`` on a machine bootstraps verifiers' harness runtime (``uv`` into ``~/.local/bin`` and the chat
program's packages from PyPI); later runs reuse it."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("verifiers.v1", reason="the verifiers extra is not installed: pip install -e '.[verifiers]'")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

import gymnasium as gym  # noqa: E402

import memenv  # noqa: E402,F401
from agents.baselines import StoreAll  # noqa: E402
from agents.reference import ReferenceAgent  # noqa: E402
from engines.agent_endpoint import build_app  # noqa: E402
from engines.serving import serve_in_thread  # noqa: E402
from engines.verifiers_env import MemoryTaskset, MemoryTasksetConfig, plan  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def endpoint(agent: str):
    """The agent endpoint on a free loopback port, in a thread: ``(base url, app)``."""
    app = build_app(agent)
    with serve_in_thread(app) as url:
        yield f"{url}/v1", app


def run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "OMP_NUM_THREADS": "1",
           "VF_TEST_KEY": "unused"}
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{' '.join(cmd[:3])} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def vf_eval(agent: str, taskset: dict, tmp_path: Path, rollouts: int = 1) -> dict[str, list[float]]:
    """``vf-eval memory-r2`` against ``agent``'s endpoint: the reward of every trace, by task name."""
    flags = []
    for key, value in taskset.items():  # a list is the flag then its items
        flags += [f"--env.taskset.{key.replace('_', '-')}", *map(str, value if isinstance(value, list) else [value])]
    with endpoint(agent) as (url, app):
        run([str(Path(sys.executable).parent / "vf-eval"), "memory-r2", *flags, "--env.taskset.view-format", "json",
             "-m", agent, "--client.base-url", url, "--client.api-key-var", "VF_TEST_KEY", "-r", str(rollouts),
             "--no-push", "--no-rich", "-o", str(tmp_path / "vf")], tmp_path)
        assert app.state.requests > 0
    rewards: dict[str, list[float]] = {}
    for path in (tmp_path / "vf").glob("*/traces.jsonl"):
        for line in path.read_text().splitlines():
            episode = json.loads(line)
            assert episode["ok"] and not episode["errors"], episode["errors"]
            name = episode["task"]["data"]["name"]
            scores = {t["rewards"]["memenv_score"]["score"] for t in episode["traces"]}
            assert len(scores) == 1  # every step of an episode carries the episode's score
            rewards.setdefault(name, []).append(scores.pop())
    return rewards


def memr2_eval(agent: str, env_id: str, max_sessions: int, tmp_path: Path, *flags: str) -> dict[int, float]:
    run([sys.executable, "-m", "memr2", "eval", "--agent", agent, "--env", env_id, "--max-sessions", str(max_sessions),
         "--output-dir", str(tmp_path / "m2"), "--run-name", agent, "--no-progress", *flags], tmp_path)
    result = json.loads((tmp_path / "m2" / f"{agent}.json").read_text())
    return {e["seed"]: e["score"] for e in result["episodes"]}


def test_verifiers_eval_of_store_all_matches_memr2_eval_and_branches_score_as_in_process(tmp_path):
    taskset = {"env_id": "MemoryR2/Synthetic-v1", "max_sessions": 2, "episodes": 2, "seed": 3, "branch_sessions": [2]}
    got = vf_eval("store-all", taskset, tmp_path)
    expected = memr2_eval("store-all", "MemoryR2/Synthetic-v1", 2, tmp_path, "--episodes", "2", "--seed", "3")
    for seed, score in expected.items():
        assert got[f"MemoryR2/Synthetic-v1#seed={seed}"] == [score]
    for seed in expected:  # the reference agent plays session 1, the endpoint's store-all session 2
        env = gym.make("MemoryR2/Synthetic-v1", max_sessions=2)
        observation, info = env.reset(seed=seed)
        done = False
        while not done:
            agent = StoreAll() if info["session"] == 2 else ReferenceAgent()
            observation, _, done, _, info = env.step(agent.act(observation, info))
        assert got[f"MemoryR2/Synthetic-v1#seed={seed},branch=2"] == [info["metrics"]["score"]]
    assert len(set(expected.values())) > 1 or len(expected) == 1


def test_verifiers_eval_of_the_reference_agent_on_locomo_matches_memr2_eval(tmp_path):
    taskset = {"env_id": "MemoryR2/LoCoMo-v0", "max_sessions": 2, "conversations": ["conv-26"]}
    got = vf_eval("reference", taskset, tmp_path)
    expected = memr2_eval("reference", "MemoryR2/LoCoMo-v0", 2, tmp_path, "--conversations", "conv-26")
    assert got == {"MemoryR2/LoCoMo-v0#seed=0,conv-26": [expected[0]]}


def test_verifiers_taskset_plans_episodes_as_memr2_eval_and_checks_branches():
    locomo = MemoryTasksetConfig(env_id="MemoryR2/LoCoMo-v0", max_sessions=1)
    planned = plan(locomo)
    assert [options["conversation"] for _, options in planned][:1] == ["conv-26"] and len(planned) >= 3
    assert [seed for seed, _ in planned] == list(range(len(planned)))
    synthetic = MemoryTasksetConfig(episodes=3, seed=10, branch_sessions=[2])
    names = [task.data.name for task in MemoryTaskset(synthetic)]
    assert names == [f"MemoryR2/Synthetic-v1#seed={s}{b}" for s in (10, 11, 12) for b in ("", ",branch=2")]
    with pytest.raises(ValueError, match="use k >= 2"):
        list(MemoryTaskset(MemoryTasksetConfig(branch_sessions=[1])))
    with pytest.raises(ValueError, match="unknown environment"):
        plan(MemoryTasksetConfig(env_id="MemoryR2/Nope-v0"))


def test_verifiers_agent_endpoint_answers_bad_requests_with_clear_errors():
    with endpoint("store-all") as (url, _), httpx.Client(base_url=url, timeout=30) as http:
        not_a_view = http.post("/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        no_user = http.post("/chat/completions", json={"model": "m", "messages": []})
        garbage = http.post("/chat/completions", content=b"[1, 2")
        assert not_a_view.status_code == 400 and "not a memenv view's JSON" in not_a_view.json()["detail"]
        assert no_user.status_code == 400 and "no user message" in no_user.json()["detail"]
        assert garbage.status_code == 400
        env = gym.make("MemoryR2/Synthetic-v1", max_sessions=1)
        observation, info = env.reset(seed=0)
        answer = http.post("/chat/completions", json={"model": "m", "messages": [
            {"role": "user", "content": observation["text"]}]}).json()["choices"][0]["message"]["content"]
        assert json.loads(answer) == {"facts": [f.model_dump(mode="json") for f in StoreAll().act(observation, info).facts]}
    with pytest.raises(ValueError, match="plays from gold"):
        build_app("oracle")
