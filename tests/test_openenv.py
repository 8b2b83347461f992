"""memenv as an OpenEnv environment (engines/openenv_server.py): a client plays over HTTP/WebSocket and gets the
in-process result; fork and state endpoints continue a session exactly as ``clone()`` / ``set_state`` do; bad input
gets a clear error and the server goes on. Skipped unless the ``openenv`` extra is installed."""

from __future__ import annotations

import contextlib
import json

import pytest

pytest.importorskip("openenv.core", reason="the openenv extra is not installed: pip install -e '.[openenv]'")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

import gymnasium as gym  # noqa: E402

import memenv  # noqa: E402,F401
from agents.baselines import NoMemory, Oracle, StoreAll  # noqa: E402
from agents.reference import ReferenceAgent  # noqa: E402
from agents.rollout import run_episode  # noqa: E402
from engines.openenv_client import MemoryEnvClient, fork_session, full_state, play  # noqa: E402
from engines.openenv_models import MemoryAction  # noqa: E402
from engines.openenv_server import build_app, main  # noqa: E402
from engines.serving import serve_in_thread  # noqa: E402

ENV = "MemoryR2/Synthetic-v1"
KWARGS = {"max_sessions": 3}


@contextlib.contextmanager
def serve(env_kwargs: dict | None = None, env_id: str = ENV):
    """The server on a free loopback port, in a thread, for the block's duration."""
    with serve_in_thread(build_app(env_id, KWARGS if env_kwargs is None else env_kwargs)) as url:
        yield url


@pytest.fixture(scope="module")
def url():
    with serve() as base:
        yield base


def in_process(agent, seed: int, **kwargs):
    return run_episode(gym.make(ENV, **{**KWARGS, **kwargs}), agent, seed=seed)


@pytest.mark.parametrize("agent", [StoreAll, ReferenceAgent], ids=["store-all", "reference"])
def test_openenv_client_plays_a_full_episode_with_the_in_process_score(url, agent):
    with MemoryEnvClient(base_url=url).sync() as env:
        first = env.reset(seed=5, episode_id=f"full-{agent.__name__}")
        last, total = play(env, agent(), first)
        state = env.state()
    local = in_process(agent(), seed=5)
    assert last.done and last.observation.metrics["score"] == local.score
    assert total == pytest.approx(local.total_reward, abs=1e-12)
    assert (state.bank_entries, state.bank_tokens, state.invalid_actions) == (local.entries, local.tokens, local.invalid_actions)
    assert state.step_count == local.steps and state.terminated


def test_openenv_oracle_over_a_privileged_server_scores_as_in_process():
    with serve({**KWARGS, "privileged": True}) as base, MemoryEnvClient(base_url=base).sync() as env:
        last, _ = play(env, Oracle(), env.reset(seed=2))
    local = in_process(Oracle(), seed=2, privileged=True)
    assert last.observation.metrics["score"] == local.score > 0.5


def test_openenv_fork_continues_as_the_in_process_clone(url):
    """A session forked at the start of session 2 and continued by another client ends in the state an in-process
    ``fork`` continued by the same agent ends in, whatever the original session does afterwards."""
    core = gym.make(ENV, **KWARGS)
    observation, info = core.reset(seed=7)
    agent = StoreAll()
    while info["session"] < 2 or info["role"] != "extractor":
        observation, _, _, _, info = core.step(agent.act(observation, info))
    branch = memenv.fork(core)
    terminated = False
    while not terminated:
        observation, _, terminated, _, info = branch.step(agent.act(observation, info))
    expected = branch.unwrapped.get_state().model_dump(mode="json")

    with MemoryEnvClient(base_url=url).sync() as parent, MemoryEnvClient(base_url=url).sync() as child:
        at, _ = play(parent, StoreAll(), parent.reset(seed=7, episode_id="fork-parent"), until_session=2)
        assert (at.observation.session, at.observation.role) == (2, "extractor")
        fork_id = fork_session(url, "fork-parent")
        play(parent, NoMemory(), at)  # the original goes elsewhere; the fork must not see it
        resumed = child.reset(fork_id=fork_id, episode_id="fork-child")
        assert resumed.observation.text == observation_text_at_fork(fork_id, url)
        last, _ = play(child, StoreAll(), resumed)
        got = full_state(url, "fork-child")
    assert last.observation.metrics["score"] == info["metrics"]["score"]
    assert got == expected


def observation_text_at_fork(fork_id: str, url: str) -> str:
    """The first observation of a second session started from the same fork (a fork seeds any number)."""
    with MemoryEnvClient(base_url=url).sync() as other:
        return other.reset(fork_id=fork_id).observation.text


def test_openenv_state_endpoint_is_get_state_and_reset_state_restores_it(url):
    core = gym.make(ENV, **KWARGS).unwrapped
    observation, info = core.reset(seed=11)
    for _ in range(3):
        observation, _, _, _, info = core.step(StoreAll().act(observation, info))
    with MemoryEnvClient(base_url=url).sync() as env, MemoryEnvClient(base_url=url).sync() as other:
        result = env.reset(seed=11, episode_id="state-a")
        for _ in range(3):
            result = env.step(MemoryAction(action=StoreAll().act({"text": result.observation.text}, {})))
        saved = full_state(url, "state-a")
        assert saved == core.get_state().model_dump(mode="json")
        restored = other.reset(state=saved, episode_id="state-b")
        assert restored.observation.text == observation["text"]
        assert full_state(url, "state-b") == saved


def ws_exchange(url: str, messages: list) -> list[dict]:
    """Send raw WebSocket messages (strings as they are, objects as JSON) and collect one answer each."""
    from websockets.sync.client import connect

    answers = []
    with connect(url.replace("http://", "ws://") + "/ws", open_timeout=10) as ws:
        for message in messages:
            ws.send(message if isinstance(message, str) else json.dumps(message))
            answers.append(json.loads(ws.recv(timeout=30)))
    return answers


def test_openenv_bad_input_gets_a_clear_error_and_the_server_goes_on(url):
    tampered = None
    with MemoryEnvClient(base_url=url).sync() as env:
        env.reset(seed=1, episode_id="victim")
        tampered = full_state(url, "victim")
    tampered["session"] = 99  # past the episode's last session
    answers = ws_exchange(url, [
        {"type": "step", "data": {"text": "- hi"}},
        "{not json",
        {"type": "reset", "data": {"seed": 0, "bogus": 1}},
        {"type": "reset", "data": {"seed": -3}},
        {"type": "reset", "data": {"fork_id": "f" * 32}},
        {"type": "reset", "data": {"state": tampered}},
        {"type": "reset", "data": {"episode_id": "x" * 500}},
        {"type": "reset", "data": {"seed": 0}},
        {"type": "step", "data": {"text": 5}},
        {"type": "step", "data": {"text": "- a", "action": {"role": "extractor"}}},
        {"type": "step", "data": {"action": {"role": "manager", "operations": []}}},
        {"type": "step", "data": {"text": "x" * 200_000}},  # over MAX_REQUEST_CHARS
        {"type": "step", "data": {"text": "- Ann likes tea"}},
    ])
    errors = [a["data"]["message"] for a in answers[:7]] + [a["data"].get("message", "") for a in answers[8:12]]
    assert all(a["type"] == "error" for a in answers[:7]) and answers[7]["type"] == "observation"
    assert "call reset() before step()" in errors[0]
    assert "Invalid JSON" in errors[1]
    assert "unknown reset argument(s) ['bogus']" in errors[2]
    assert "seed must be a non-negative integer" in errors[3]
    assert "unknown fork_id" in errors[4]
    assert "session" in errors[5] and "99" in errors[5]
    assert "episode_id must be" in errors[6]
    assert answers[8]["type"] == answers[9]["type"] == "error" and "exactly one" in json.dumps(answers[9])
    # a manager action in the extractor's turn is an invalid action, penalised as in-process; the session goes on
    assert answers[10]["type"] == "observation" and "manager action was given in the extractor phase" in (
        answers[10]["data"]["observation"]["error"])
    assert answers[11]["type"] == "error" and answers[12]["type"] == "observation"
    with httpx.Client(base_url=url, timeout=30) as http:
        missing = http.post("/memenv/sessions/nobody/fork")
        stateless = http.post("/step", json={"action": {"text": "- hi"}})
        assert missing.status_code == 404 and "no live session has episode_id 'nobody'" in missing.json()["detail"]
        assert stateless.status_code == 409 and "call reset() before step()" in stateless.json()["detail"]
        assert http.get("/health").json()["status"] == "healthy"
    with MemoryEnvClient(base_url=url).sync() as env:  # still serving whole episodes
        last, _ = play(env, StoreAll(), env.reset(seed=5))
    assert last.observation.metrics["score"] == in_process(StoreAll(), seed=5).score


def test_openenv_server_command_refuses_an_unknown_env_before_serving():
    with pytest.raises(ValueError, match="unknown environment 'MemoryR2/Nope-v0'"):
        main(["--env", "MemoryR2/Nope-v0"])
    with pytest.raises(ValueError, match="max_sessions"):
        main(["--max-sessions", "0"])
