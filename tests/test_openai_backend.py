"""The ``openai`` backend against a real HTTP server started in the test (pytest-httpserver, threaded): request
shape, the concurrency bound, retries on 500 and 429, timeouts, a server that is down, malformed replies, and the
error messages a user sees."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from agents.llm.backend import SamplingConfig
from agents.llm.openai_backend import EndpointConfig, EndpointError, OpenAIAnswerer, OpenAIBackend, OpenAIChat

PATH = "/v1/chat/completions"


@pytest.fixture
def server(http_server):
    yield http_server
    http_server.clear()


def completion(text: str, *, logprobs: list[tuple[str, float]] | None = None, finish: str = "stop") -> dict:
    """A chat-completion body as vLLM / llama.cpp send it."""
    choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
    if logprobs is not None:
        choice["logprobs"] = {"content": [{"token": t, "logprob": p, "top_logprobs": []} for t, p in logprobs]}
    return {
        "id": "cmpl-1", "object": "chat.completion", "created": 0, "model": "m", "choices": [choice],
        "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14},
    }


def config(server: HTTPServer, **overrides) -> EndpointConfig:
    return EndpointConfig(**{"model": "m", "base_url": server.url_for("/v1"), "progress": False, **overrides})


def test_request_shape_and_reply_parsing(server, monkeypatch):
    monkeypatch.setenv("MEMR2_OPENAI_API_KEY", "sk-test-secret")
    bodies, headers = [], []

    def handler(request: Request) -> Response:
        bodies.append(request.get_json())
        headers.append(dict(request.headers))
        return Response(json.dumps(completion("ADD: hi", logprobs=[("ADD", -0.5), (":", -0.1), (" hi", -1.0)])),
                        content_type="application/json")

    server.expect_request(PATH, method="POST").respond_with_handler(handler)
    backend = OpenAIBackend(config(server, price_input_per_mtok=1.0, price_output_per_mtok=2.0))
    messages = [[{"role": "system", "content": "s"}, {"role": "user", "content": f"u{i}"}] for i in range(2)]
    replies = backend.generate_chat(messages, SamplingConfig(temperature=0.7, top_p=0.9, max_new_tokens=64), seed=5)

    assert sorted(b["seed"] for b in bodies) == [5, 6]  # request i is seeded seed + i
    body = next(b for b in bodies if b["seed"] == 5)
    assert body["model"] == "m" and body["messages"] == messages[0]
    assert (body["temperature"], body["top_p"], body["max_tokens"], body["logprobs"]) == (0.7, 0.9, 64, True)
    assert body["top_logprobs"] == 0  # without it llama.cpp's server sends no log-probs
    assert all(h["Authorization"] == "Bearer sk-test-secret" for h in headers)
    assert [r.text for r in replies] == ["ADD: hi", "ADD: hi"]
    assert replies[0].tokens == ["ADD", ":", " hi"] and replies[0].logprobs == [-0.5, -0.1, -1.0]
    assert replies[0].finished and replies[0].completion_tokens == 3
    usage = backend.usage.as_dict()
    assert (usage["requests"], usage["prompt_tokens"], usage["completion_tokens"]) == (2, 22, 6)
    assert usage["cost_usd"] == pytest.approx((22 * 1.0 + 6 * 2.0) / 1e6)
    assert "sk-test-secret" not in json.dumps(usage) + backend.name


def test_length_cut_is_not_finished_and_missing_logprobs_are_empty(server):
    server.expect_request(PATH).respond_with_json(completion("- a", finish="length"))
    (reply,) = OpenAIChat(config(server)).complete([[{"role": "user", "content": "x"}]])
    assert not reply.finished and reply.logprobs == [] and reply.tokens == []


def test_requests_run_concurrently_up_to_the_bound(server):
    in_flight, peak, lock = [0], [0], threading.Lock()

    def slow(request: Request) -> Response:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.2)
        with lock:
            in_flight[0] -= 1
        return Response(json.dumps(completion(request.get_json()["messages"][0]["content"])),
                        content_type="application/json")

    server.expect_request(PATH).respond_with_handler(slow)
    prompts = [[{"role": "user", "content": str(i)}] for i in range(9)]
    replies = OpenAIChat(config(server, max_concurrency=3)).complete(prompts)
    assert [r.text for r in replies] == [str(i) for i in range(9)]  # order kept whatever the completion order
    assert peak[0] == 3


def scripted(*responses: Response):
    """A handler that plays ``responses`` in turn, then repeats the last; it counts the requests it saw."""
    calls = []

    def handler(request: Request) -> Response:
        calls.append(request)
        return responses[min(len(calls), len(responses)) - 1]

    return handler, calls


def ok(text: str = "fine") -> Response:
    return Response(json.dumps(completion(text)), content_type="application/json")


def test_a_500_is_retried_then_succeeds(server):
    handler, calls = scripted(Response("overloaded", status=500), ok("second try"))
    server.expect_request(PATH).respond_with_handler(handler)
    (reply,) = OpenAIChat(config(server, max_retries=2)).complete([[{"role": "user", "content": "q"}]])
    assert reply.text == "second try" and len(calls) == 2


def test_a_429_rate_limit_is_retried_and_reported_when_it_persists(server):
    limited = Response('{"error": {"message": "rate limit reached"}}', status=429, headers={"Retry-After": "0"},
                       content_type="application/json")
    handler, calls = scripted(limited, ok("after the wait"))
    server.expect_request(PATH).respond_with_handler(handler)
    (reply,) = OpenAIChat(config(server, max_retries=2)).complete([[{"role": "user", "content": "q"}]])
    assert reply.text == "after the wait" and len(calls) == 2

    server.clear()
    handler, calls = scripted(limited)
    server.expect_request(PATH).respond_with_handler(handler)
    with pytest.raises(EndpointError, match=r"answered HTTP 429 after 1 retries: .*rate limit reached"):
        OpenAIChat(config(server, max_retries=1)).complete([[{"role": "user", "content": "q"}]])
    assert len(calls) == 2


def test_a_client_error_is_not_retried_and_its_message_is_shown(server):
    handler, calls = scripted(Response('{"error": {"message": "logprobs are not supported"}}', status=400,
                                       content_type="application/json"))
    server.expect_request(PATH).respond_with_handler(handler)
    with pytest.raises(EndpointError, match=r"model 'm'\) answered HTTP 400: .*logprobs are not supported"):
        OpenAIChat(config(server, max_retries=3)).complete([[{"role": "user", "content": "q"}]])
    assert len(calls) == 1


def test_a_slow_server_times_out_with_a_clear_error(server):
    def never_in_time(_request: Request) -> Response:
        time.sleep(2.0)
        return ok()

    server.expect_request(PATH).respond_with_handler(never_in_time)
    start = time.perf_counter()
    with pytest.raises(EndpointError, match=r"did not answer within 0.2 s \(0 retries\)"):
        OpenAIChat(config(server, timeout_s=0.2, max_retries=0)).complete([[{"role": "user", "content": "q"}]])
    assert time.perf_counter() - start < 1.8  # gave up at the timeout, did not wait for the late reply


def test_a_server_that_is_down_is_named_in_the_error():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    chat = OpenAIChat(EndpointConfig("m", base_url=url, max_retries=0, progress=False))
    with pytest.raises(EndpointError, match=rf"cannot reach {url} \(model 'm'\).*is the server running"):
        chat.complete([[{"role": "user", "content": "q"}]])


@pytest.mark.parametrize(
    "body, message",
    [
        ("{not json", "not valid chat-completion JSON"),
        ('{"id": "x", "object": "chat.completion", "choices": []}', "without choices"),
    ],
)
def test_malformed_replies_are_errors_not_empty_answers(server, body, message):
    server.expect_request(PATH).respond_with_data(body, content_type="application/json")
    with pytest.raises(EndpointError, match=message):
        OpenAIChat(config(server, max_retries=0)).complete([[{"role": "user", "content": "q"}]])


def test_answerer_keeps_the_first_line_and_the_judge_the_whole_reply(server):
    server.expect_request(PATH).respond_with_json(completion("Rome\nbecause the memory says so"))
    answerer = OpenAIAnswerer(config(server))
    judge = OpenAIAnswerer(config(server), max_tokens=128, first_line=False)
    assert answerer.answer(["q1", "q2"]) == ["Rome", "Rome"]
    assert judge.answer(["q"]) == ["Rome\nbecause the memory says so"]
    body = server.log[-1][0].get_json()
    assert body["temperature"] == 0 and body["max_tokens"] == 128 and "logprobs" not in body


def test_bad_endpoint_settings_are_explained():
    with pytest.raises(ValueError, match="max_concurrency"):
        EndpointConfig("m", max_concurrency=0)
    with pytest.raises(ValueError, match="needs a model name"):
        EndpointConfig("")


def test_the_http_backend_loads_neither_torch_nor_the_client_until_used():
    code = (
        "import sys, agents.llm.openai_backend, memenv.scoring.llm; "
        "print(sorted(m for m in ('torch', 'transformers', 'openai') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_module_doctests():
    """Verdict parsing (JSON label, one word, both words, INCORRECT), agreement and kappa, rubric loading."""
    import doctest

    import agents.llm.openai_backend
    import memenv.scoring.judging

    for module in (agents.llm.openai_backend, memenv.scoring.judging):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__
