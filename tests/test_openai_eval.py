"""The LLM agent, answerer and judge over HTTP, end to end through ``memr2 eval``, against a scripted
OpenAI-compatible server started in the test: same prompts and parsing as in-process models, log-probs in the
agent's records, J per rubric with agreement, usage in the result file, the key never written, the verdict cache."""

from __future__ import annotations

import hashlib
import json
from importlib import resources

import gymnasium as gym
import pytest
from werkzeug import Request, Response

import memenv  # noqa: F401
from agents.llm.agent import LLMAgent
from agents.llm.openai_backend import EndpointConfig, OpenAIBackend
from agents.llm.prompts import build_messages
from memr2.cli import main

KEY = "sk-never-write-me"


def reply_for(body: dict) -> str:
    """What a well-behaved model would say to each kind of request this project sends."""
    system = body["messages"][0]["content"] if body["messages"][0]["role"] == "system" else ""
    user = body["messages"][-1]["content"]
    if "fact extractor" in system:
        return "- Caroline: Caroline went to an LGBTQ support group. [D1:3]"
    if "memory manager" in system:
        return "ADD: Caroline went to an LGBTQ support group. [D1:3]"
    if user.startswith("Answer the question"):
        return "an LGBTQ support group\nextra line the answerer drops"
    if "Gold answer:" in user:  # the lenient Mem0 rubric says "generous"; the strict one does not
        return 'Same topic. {"label": "CORRECT"}' if "generous" in user else 'Not the fact. {"label": "WRONG"}'
    return "one two three"


@pytest.fixture
def model_server(http_server):
    def handler(request: Request) -> Response:
        body = request.get_json()
        text = reply_for(body)
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        if body.get("logprobs"):
            choice["logprobs"] = {"content": [{"token": w, "logprob": -0.25, "top_logprobs": []} for w in text.split()]}
        usage = {"prompt_tokens": 100, "completion_tokens": len(text.split()), "total_tokens": 100 + len(text.split())}
        payload = {"id": "c", "object": "chat.completion", "created": 0, "model": body["model"],
                   "choices": [choice], "usage": usage}
        return Response(json.dumps(payload), content_type="application/json")

    http_server.expect_request("/v1/chat/completions", method="POST").respond_with_handler(handler)
    yield http_server
    http_server.clear()


def test_agent_sends_the_transformers_prompts_and_records_server_logprobs(model_server):
    env = gym.make("MemoryR2/LoCoMo-v0", max_sessions=1)
    observation, info = env.reset(seed=0, options={"conversation": "conv-26"})
    backend = OpenAIBackend(EndpointConfig("served", base_url=model_server.url_for("/v1"), progress=False))
    agent = LLMAgent(backend, temperature=0.5, max_new_tokens=40, seed=1)
    text = agent.act(observation, info)
    body = model_server.log[-1][0].get_json()
    assert body["messages"] == build_messages(info["view"], "lines", True)
    assert (body["temperature"], body["max_tokens"], body["logprobs"]) == (0.5, 40, True)
    (record,) = agent.records
    assert record.text == text and record.parse_error is None and record.role == "extractor"
    assert record.tokens == text.split() and record.logprobs == [-0.25] * len(record.tokens)
    assert agent.stats["extractor"].tokens == len(record.tokens)
    with pytest.raises(ValueError, match="served over HTTP"):
        agent.logprobs([record])


def run_eval(tmp_path, url: str, name: str, *extra: str) -> tuple[dict, str]:
    out = tmp_path / name
    code = main(["eval", "--env", "MemoryR2/LoCoMo-v0", "--agent", "llm", "--backend", "openai", "--model", "served",
                 "--base-url", url, "--answerer", "served", "--judge", "served", "--conversations", "conv-26",
                 "--max-sessions", "1", "--max-questions", "3", "--price-input", "0.5", "--price-output", "1.5",
                 "--output-dir", str(out), "--no-progress", *extra])
    assert code == 0
    (path,) = out.glob("*.json")
    return json.loads(path.read_text()), path.read_text()


def test_eval_reports_j_per_rubric_agreement_and_usage_without_the_key(model_server, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MEMR2_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MEMR2_OPENAI_API_KEY", KEY)
    monkeypatch.delenv("MEMR2_LOCOMO_PATH", raising=False)
    result, raw = run_eval(tmp_path, model_server.url_for("/v1"), "first")
    printed = capsys.readouterr().out

    assert KEY not in raw and KEY not in printed
    assert all(KEY not in str(request.get_data()) for request, _ in model_server.log)  # body; header carries it
    assert len(result["records"]) == result["metrics"]["count"] == 3  # --max-questions
    judge = result["metrics"]["judge"]
    mem0, strict = judge["rubrics"]["mem0-v2"], judge["rubrics"]["strict-v2"]
    assert (mem0["score"], strict["score"]) == (1.0, 0.0)
    assert sum(c["count"] for c in mem0["per_category"].values()) == 3
    rubric_file = resources.files("memenv.scoring") / "rubrics" / "mem0-v2.txt"
    assert mem0["prompt_sha256"] == hashlib.sha256(rubric_file.read_bytes()).hexdigest()
    assert mem0["model"].startswith("served@http://127.0.0.1")
    assert judge["agreement"]["mem0-v2~strict-v2"]["agree"] == 0.0
    assert set(judge["agreement"]) == {"mem0-v2~strict-v2", "mem0-v2~f1>=0.5", "strict-v2~f1>=0.5"}
    usage = result["usage"]
    assert set(usage) == {"agent", "answerer", "judge"}
    # 3 questions x 2 rubrics, plus the J ceiling: the one of them whose gold errata audit-v1 corrects, x 2 rubrics
    assert usage["answerer"]["requests"] == 3 and usage["judge"]["requests"] == 6 + 2
    assert result["ceiling"]["metrics"]["J mem0-v2"]["overall"]["changed"] == 1
    assert usage["agent"]["requests"] == 3  # the ETA probe, then one extractor and one manager step
    assert usage["judge"]["cost_usd"] == pytest.approx((800 * 0.5 + usage["judge"]["completion_tokens"] * 1.5) / 1e6)
    assert result["agent_kwargs"]["base_url"] == model_server.url_for("/v1")
    assert "plan: 1 conversation(s), 2 agent steps, then 3 questions" in printed
    assert "J mem0-v2" in printed and "agreement mem0-v2~strict-v2: 0.0000" in printed

    again, _ = run_eval(tmp_path, model_server.url_for("/v1"), "second")  # same bank: answers and verdicts cached
    assert again["usage"]["answerer"]["requests"] == again["usage"]["judge"]["requests"] == 0
    assert again["metrics"]["judge"]["rubrics"]["mem0-v2"]["score"] == 1.0


def test_judge_without_answerer_and_bad_rubric_are_one_line_errors(model_server, tmp_path, capsys):
    url = model_server.url_for("/v1")
    assert main(["eval", "--agent", "store-all", "--base-url", url, "--judge", "served", "--no-progress",
                 "--output-dir", str(tmp_path)]) == 2
    assert "--judge needs --answerer" in capsys.readouterr().err
    assert main(["eval", "--agent", "store-all", "--base-url", url, "--answerer", "served", "--judge", "served",
                 "--judge-rubrics", "lenient", "--no-progress", "--output-dir", str(tmp_path)]) == 2
    assert "unknown judge rubric 'lenient'" in capsys.readouterr().err


def test_cached_verdicts_are_reported_and_no_judge_cache_asks_the_judge_again(model_server, tmp_path, monkeypatch,
                                                                              capsys):
    """Issue 21 item 4: a verdict reused from the cache was silent (``requests: 0``) and could not be bypassed."""
    monkeypatch.setenv("MEMR2_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MEMR2_LOCOMO_PATH", raising=False)
    url = model_server.url_for("/v1")
    first, _ = run_eval(tmp_path, url, "first")
    asked = first["usage"]["judge"]["requests"]  # 3 answers x 2 rubrics, plus the J ceiling's corrected golds
    assert first["usage"]["judge"]["cached"] == 0 and asked >= 6
    capsys.readouterr()
    again, _ = run_eval(tmp_path, url, "again")
    assert again["usage"]["judge"] | {"requests": 0, "cached": asked} == again["usage"]["judge"]
    assert again["usage"]["answerer"]["cached"] == 3
    assert f"judge: {asked} replies from the cache (--no-judge-cache asks the judge again)" in capsys.readouterr().out
    fresh, _ = run_eval(tmp_path, url, "fresh", "--no-judge-cache")
    assert (fresh["usage"]["judge"]["requests"], fresh["usage"]["judge"]["cached"]) == (asked, 0)
    assert fresh["usage"]["answerer"]["cached"] == 3  # only the verdicts are asked again
    assert fresh["metrics"]["judge"]["rubrics"]["mem0-v2"]["score"] == 1.0
    assert main(["eval", "--agent", "store-all", "--no-judge-cache", "--output-dir", str(tmp_path)]) == 2
    assert "--no-judge-cache needs --judge" in capsys.readouterr().err
