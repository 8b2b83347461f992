"""Issue 19, item 6: a model server is untrusted too. A server trickling its reply never tripped the per-read
timeout, a gzip bomb took 5 GB, a 50 MB answer went into the result file, a negative ``usage`` lost the whole
eval, and a non-UTF-8 body or garbage log-probs gave errors that did not name the server. All servers here listen
on 127.0.0.1 only and every test is bounded in time. Each test fails at 6a013e2."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time

import pytest

from agents.llm.openai_backend import (
    MAX_CHARS_PER_TOKEN,
    EndpointConfig,
    EndpointError,
    OpenAIAnswerer,
    OpenAIChat,
    request_deadline,
)
from memr2.results import EndpointUsage

PATH = "/v1/chat/completions"
ASK = [[{"role": "user", "content": "q"}]]


def body(text: str = "Rome", usage: dict | None = None, logprobs: list | None = None) -> dict:
    choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
    if logprobs is not None:
        choice["logprobs"] = {"content": logprobs}
    return {"id": "c", "object": "chat.completion", "created": 0, "model": "m", "choices": [choice],
            "usage": usage if usage is not None else {"prompt_tokens": 4, "completion_tokens": 1}}


@pytest.fixture
def server(http_server):
    yield http_server
    http_server.clear()


def config(url: str, **overrides) -> EndpointConfig:
    return EndpointConfig(**{"model": "m", "base_url": url, "progress": False, "max_retries": 0, **overrides})


@pytest.fixture
def trickler():
    """A raw socket server on 127.0.0.1 that answers every connection by ``send(connection)``; returns its URL."""
    stop = threading.Event()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(0.1)

    def start(send) -> str:
        def serve() -> None:
            while not stop.is_set():
                try:
                    connection, _ = listener.accept()
                except OSError:
                    continue
                with connection:
                    connection.recv(65536)
                    try:
                        send(connection, stop)
                    except OSError:
                        pass

        threading.Thread(target=serve, daemon=True).start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}/v1"

    yield start
    stop.set()
    listener.close()


def _slowly(connection, stop, data: bytes, pause: float = 0.05) -> None:
    for byte in data:
        if stop.is_set():
            return
        connection.sendall(bytes([byte]))
        time.sleep(pause)


def test_a_server_trickling_its_body_is_cut_at_the_timeout(trickler):
    payload = json.dumps(body("x" * 2000)).encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n".encode()
    url = trickler(lambda c, stop: (c.sendall(head), _slowly(c, stop, payload)))
    start = time.monotonic()
    with pytest.raises(EndpointError, match=rf"{url} \(model 'm'\) did not finish its reply within 0.5 s"):
        OpenAIChat(config(url, timeout_s=0.5)).complete(ASK)
    assert time.monotonic() - start < 3.0  # each read came within the per-read timeout: only a total cuts it


def test_a_server_trickling_its_headers_is_abandoned_at_the_request_deadline(trickler):
    url = trickler(lambda c, stop: _slowly(c, stop, b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"a" * 100000))
    chosen = config(url, timeout_s=0.5)
    start = time.monotonic()
    with pytest.raises(EndpointError, match=rf"{url} \(model 'm'\) did not complete a request within 1.5 s"):
        OpenAIChat(chosen).complete(ASK)
    assert request_deadline(chosen) == 1.5 and time.monotonic() - start < 4.0


def test_a_gzip_bomb_is_refused_after_its_cap(server):
    bomb = gzip.compress(b" " * (200 * 2**20), compresslevel=9)  # 200 MB of spaces in ~200 KB
    server.expect_request(PATH).respond_with_data(bomb, headers={"Content-Encoding": "gzip"},
                                                  content_type="application/json")
    url = server.url_for("/v1")
    with pytest.raises(EndpointError, match=rf"{url} \(model 'm'\) sent a reply of more than 16777216 bytes"):
        OpenAIChat(config(url)).complete(ASK)


def test_a_reply_past_max_tokens_is_cut(server):
    huge = "word " * 1_000_000  # 5 MB: the server ignored max_tokens
    steps = [{"token": "word", "logprob": -0.5}] * 300
    server.expect_request(PATH).respond_with_json(body(huge, logprobs=steps))
    judge = OpenAIAnswerer(config(server.url_for("/v1")), max_tokens=128, first_line=False)
    (reply,) = judge.answer(["q"])
    assert len(reply) <= 128 * MAX_CHARS_PER_TOKEN
    (full,) = OpenAIChat(config(server.url_for("/v1"))).complete(ASK, max_tokens=100)
    assert len(full.tokens) == len(full.logprobs) == 100 and not full.finished


@pytest.mark.parametrize("usage", [{"prompt_tokens": -5, "completion_tokens": 3},
                                   {"prompt_tokens": "many", "completion_tokens": 1}, {"prompt_tokens": 1.5}, []])
def test_malformed_usage_is_recorded_as_unknown(server, usage):
    server.expect_request(PATH).respond_with_json(body(usage=usage))
    chat = OpenAIChat(config(server.url_for("/v1")))
    (reply,) = chat.complete(ASK * 1)
    assert reply.text == "Rome" and reply.completion_tokens == 0
    recorded = EndpointUsage(**chat.usage.as_dict())  # what the result file gets: valid, so the eval is kept
    assert (recorded.requests, recorded.requests_without_usage, recorded.prompt_tokens) == (1, 1, 0)


@pytest.mark.parametrize("raw, message", [
    (b'{"choices": [{"message": {"content": "\xff\xfe"}}]}', "not valid chat-completion JSON: UnicodeDecodeError"),
    (json.dumps(body(logprobs=[{"token": 5, "logprob": "high"}])).encode(), "malformed logprobs"),
    (json.dumps(body(logprobs=[{"token": "a", "logprob": float("nan")}])).encode(), "malformed logprobs"),
    (b"[1, 2]", "not valid chat-completion JSON"),
])
def test_garbage_replies_are_errors_naming_the_server(server, raw, message):
    server.expect_request(PATH).respond_with_data(raw, content_type="application/json")
    url = server.url_for("/v1")
    with pytest.raises(EndpointError, match=message) as caught:
        OpenAIChat(config(url)).complete(ASK)
    assert f"{url} (model 'm')" in str(caught.value)
