"""The ``openai`` backend: any OpenAI-compatible chat server (``vllm serve``, llama.cpp's server, Ollama, SGLang,
a hosted API) behind the official ``openai`` client, for the LLM agent, the LLM scorer's answerer and its judge.

No torch here (``memenv``'s scorer may load the answerer and judge from this module): the ``openai`` package is
imported when a client is built. What it adds over a bare client call:

* requests of one batch run concurrently, at most ``max_concurrency`` at a time, behind a tqdm bar with an ETA;
* a timeout per request, and retries with exponential backoff on 429, 5xx, timeouts and dropped connections
  (the client's own retry loop, which also honours ``Retry-After``); the reply's body is read by this module, so
  a server that trickles it is cut at the timeout too (not only one that pauses), and the whole request, retries
  included, is abandoned at :func:`request_deadline` whatever the server does;
* a reply is at most ``max_response_bytes`` once decompressed (a gzip bomb is refused after one chunk), and its
  text at most ``max_tokens`` tokens' worth (:data:`MAX_CHARS_PER_TOKEN` characters each: there is no tokenizer
  here) -- longer replies are cut and marked unfinished;
* a malformed ``usage`` (negative, not an integer, missing) is counted in ``requests_without_usage`` instead of
  failing the run;
* token usage (and cost, when prices are given) summed in :class:`Usage`, which ``memr2 eval`` writes to the
  result file; the API key is read from an environment variable and never stored or printed;
* failures become one :class:`EndpointError` whose message names the server, the model and what to do.

Sampled-token log-probs are requested with ``logprobs=true, top_logprobs=0`` (vLLM and llama.cpp return them); see
``docs/agents.md`` ("Models behind an HTTP server") for what they can and cannot be used for in training.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from tqdm import tqdm

API_KEY_ENVS = ("MEMR2_OPENAI_API_KEY", "OPENAI_API_KEY")
"""Where the key is looked for, in order, unless ``api_key_env`` names another variable."""
NO_KEY = "EMPTY"
"""Sent when no key is set: local servers (vLLM, llama.cpp) accept any key, the client insists on one."""
MAX_CHARS_PER_TOKEN = 32
"""A reply longer than ``max_tokens`` times this many characters cannot be ``max_tokens`` tokens of any common
tokenizer: it is cut there (the server ignored ``max_tokens``)."""
MAX_BACKOFF_S = 8.0
"""The longest wait between two retries (the client's exponential backoff, 0.5 s to 8 s)."""


class EndpointError(ValueError):
    """An OpenAI-compatible server could not answer (down, timed out, HTTP error after retries, malformed reply).

    A ValueError, so ``memr2`` prints its one-line message instead of a traceback.
    """


@dataclass(frozen=True)
class EndpointConfig:
    """Where the model is served and how to talk to it."""

    model: str
    """Model name as the server knows it (``vllm serve NAME``; llama.cpp accepts any name)."""
    base_url: str | None = None
    """Server URL up to ``/v1`` (e.g. ``http://127.0.0.1:8000/v1``); None uses the client's default (OpenAI)."""
    api_key_env: str | None = None
    """Environment variable holding the key; None tries ``MEMR2_OPENAI_API_KEY`` then ``OPENAI_API_KEY``."""
    max_concurrency: int = 8
    """Requests in flight at once."""
    timeout_s: float = 120.0
    """Per-attempt timeout, seconds: for connecting, for each read, and for the whole reply once its headers came."""
    max_response_bytes: int = 16 * 2**20
    """The most a reply may hold once decompressed; more is an error naming the server."""
    max_retries: int = 4
    """Retries per request on 429, 5xx, timeouts and connection errors (exponential backoff, 0.5 s to 8 s)."""
    price_input_per_mtok: float | None = None
    """USD per million prompt tokens, for the cost estimate (None: no cost reported)."""
    price_output_per_mtok: float | None = None
    """USD per million completion tokens."""
    logprobs: bool = True
    """Ask for the sampled tokens' log-probs (turn off for servers that reject ``logprobs``)."""
    progress: bool = True
    """Show a progress bar for batches of more than one request."""

    def __post_init__(self) -> None:
        if not self.model:
            raise ValueError("the openai backend needs a model name (--model NAME as the server knows it)")
        if self.max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {self.max_concurrency}")
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.max_response_bytes < 1:
            raise ValueError(f"max_response_bytes must be >= 1, got {self.max_response_bytes}")

    def api_key(self) -> str:
        names = (self.api_key_env,) if self.api_key_env else API_KEY_ENVS
        return next((os.environ[n] for n in names if os.environ.get(n)), NO_KEY)

    @property
    def where(self) -> str:
        return self.base_url or "the OpenAI API"


@dataclass
class ChatReply:
    """One completion: its text, the sampled tokens with their log-probs (when the server returned them)."""

    text: str
    tokens: list[str] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    """Log-prob of each sampled token as the server reports it (vLLM: after temperature if so configured)."""
    finished: bool = True
    """False when the server stopped at ``max_tokens`` (``finish_reason == "length"``)."""
    completion_tokens: int = 0
    """Tokens generated, as the server's ``usage`` counts them (0 when it does not say)."""


@dataclass
class Usage:
    """Requests and tokens spent on one endpoint (and their cost, where prices were given)."""

    model: str
    base_url: str | None
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    request_seconds: float = 0.0
    """Summed over requests (concurrent requests overlap, so this exceeds wall time)."""
    cost_usd: float | None = None
    requests_without_usage: int = 0
    """Requests whose reply had no usable ``usage`` (missing, negative, not integers): their tokens are unknown and
    not in the sums above."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def first_line(text: str) -> str:
    """The first non-empty line, stripped (small models add explanations after a short answer).

    >>> first_line("\\n Rome \\nbecause...")
    'Rome'
    """
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def request_deadline(config: EndpointConfig) -> float:
    """Seconds after which a request is abandoned, retries included: every attempt at its timeout plus the
    longest backoff between attempts, and one second more (so that an attempt's own timeout, which says more,
    is reported first).

    >>> request_deadline(EndpointConfig("m", timeout_s=10, max_retries=2))
    47.0
    """
    return config.timeout_s * (config.max_retries + 1) + MAX_BACKOFF_S * config.max_retries + 1.0


def call_with_deadline(function: Any, seconds: float, expired: Any) -> Any:
    """``function()`` in a daemon thread; if it has not returned after ``seconds``, raise ``expired()`` and leave
    the thread behind (it cannot be killed; it ends when its socket does, and never delays exit)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = function()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True, name="openai-request")
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise expired()
    if "error" in box:
        raise box["error"]
    return box["value"]


def read_capped(chunks: Any, *, limit: int, deadline: float, where: str, timeout_s: float) -> bytes:
    """The (decompressed) body from ``chunks``, refused past ``limit`` bytes or past ``deadline``
    (``time.monotonic()``), however slowly or quickly the server sends it."""
    parts, size = [], 0
    try:
        for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise EndpointError(f"{where} sent a reply of more than {limit} bytes (decompressed); refused "
                                    "(raise max_response_bytes if the server is yours and that is expected)")
            if time.monotonic() > deadline:
                raise EndpointError(f"{where} did not finish its reply within {timeout_s:g} s (it sent {size} bytes "
                                    "so far); raise the timeout or check the server")
            parts.append(chunk)
    except EndpointError:
        raise
    except Exception as exc:  # noqa: BLE001 - the HTTP library's read errors (timeouts, broken connections)
        raise EndpointError(f"{where}: the reply broke off after {size} bytes: {type(exc).__name__}: "
                            f"{_short(exc)}") from exc
    return b"".join(parts)


def _count(value: Any) -> int | None:
    """A token count as a server reports it, or None when it is not a sane one (negative, fractional, a string)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**12 else None


def usage_counts(usage: Any) -> tuple[int, int] | None:
    """``(prompt_tokens, completion_tokens)`` of a reply's ``usage``, or None when it is missing or malformed.

    >>> usage_counts({"prompt_tokens": 3, "completion_tokens": 2}), usage_counts({"prompt_tokens": -5})
    ((3, 2), None)
    """
    if not isinstance(usage, dict):
        return None
    counts = (_count(usage.get("prompt_tokens", 0)), _count(usage.get("completion_tokens", 0)))
    return None if None in counts else counts


class OpenAIChat:
    """A thread-safe chat-completions client for one model on one server.

    >>> OpenAIChat(EndpointConfig("m", base_url="http://127.0.0.1:9/v1")).name
    'm@http://127.0.0.1:9/v1'
    """

    def __init__(self, config: EndpointConfig) -> None:
        self.config = config
        self.name = f"{config.model}@{config.base_url or 'openai'}"
        self.usage = Usage(model=config.model, base_url=config.base_url)
        self._lock = threading.Lock()
        self._client = None

    @property
    def client(self):
        if self._client is None:
            try:
                import openai
            except ImportError as exc:
                raise EndpointError(
                    "the openai backend needs the openai client: pip install 'memory-r2[llm]' (or pip install openai)"
                ) from exc
            self._client = openai.OpenAI(
                base_url=self.config.base_url,
                api_key=self.config.api_key(),
                timeout=self.config.timeout_s,
                max_retries=self.config.max_retries,
            )
        return self._client

    def complete(
        self,
        conversations: Sequence[list[dict[str, str]]],
        *,
        temperature: float = 0.0,
        top_p: float = 1.0,
        max_tokens: int = 256,
        seed: int | None = None,
        logprobs: bool | None = None,
        desc: str = "requests",
    ) -> list[ChatReply]:
        """One reply per conversation (a list of chat messages), in order; request ``i`` is seeded ``seed + i``."""
        if not conversations:
            return []
        want_logprobs = self.config.logprobs if logprobs is None else logprobs

        def one(index: int) -> ChatReply:
            request: dict[str, Any] = {
                "model": self.config.model,
                "messages": list(conversations[index]),
                "temperature": temperature,
                "max_tokens": max_tokens,
            }
            if top_p < 1.0:
                request["top_p"] = top_p
            if seed is not None:
                request["seed"] = int(seed) + index
            if want_logprobs:  # llama.cpp's server returns none unless top_logprobs is set too (0: sampled only)
                request.update(logprobs=True, top_logprobs=0)
            return self._request(request)

        workers = min(self.config.max_concurrency, len(conversations))
        show = self.config.progress and len(conversations) > 1
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="openai") as pool:
            futures = [pool.submit(one, i) for i in range(len(conversations))]
            with tqdm(total=len(futures), desc=f"{desc} ({self.config.model})", unit="req", disable=not show,
                      leave=False) as bar:
                for future in futures:
                    future.add_done_callback(lambda _f: bar.update())
                try:
                    return [future.result() for future in futures]
                except BaseException:
                    for future in futures:
                        future.cancel()
                    raise

    def _request(self, request: dict[str, Any]) -> ChatReply:
        where = f"{self.config.where} (model {self.config.model!r})"
        seconds = request_deadline(self.config)

        def expired() -> EndpointError:
            return EndpointError(f"{where} did not complete a request within {seconds:g} s (timeout "
                                 f"{self.config.timeout_s:g} s, {self.config.max_retries} retries); raise the timeout "
                                 "or check the server")

        start = time.perf_counter()
        data = call_with_deadline(lambda: self._fetch(request, where), seconds, expired)
        reply = self._parse(data, where, request["max_tokens"])
        counts = usage_counts(data.get("usage"))
        reply.completion_tokens = counts[1] if counts else 0
        with self._lock:
            self.usage.requests += 1
            self.usage.request_seconds += time.perf_counter() - start
            if counts is None:
                self.usage.requests_without_usage += 1
            else:
                self.usage.prompt_tokens += counts[0]
                self.usage.completion_tokens += counts[1]
            self.usage.cost_usd = self._cost()
        return reply

    def _fetch(self, request: dict[str, Any], where: str) -> dict[str, Any]:
        """The reply's JSON object: sent by the client (its retries, its errors mapped to ours), read by
        :func:`read_capped`."""
        import openai

        try:
            with self.client.chat.completions.with_streaming_response.create(**request) as response:
                body = read_capped(response.iter_bytes(), limit=self.config.max_response_bytes,
                                   deadline=time.monotonic() + self.config.timeout_s, where=where,
                                   timeout_s=self.config.timeout_s)
        except openai.APITimeoutError as exc:
            raise EndpointError(
                f"{where} did not answer within {self.config.timeout_s:g} s ({self.config.max_retries} retries); "
                "raise the timeout or lower the concurrency"
            ) from exc
        except openai.APIConnectionError as exc:
            raise EndpointError(
                f"cannot reach {where}: {_short(exc.__cause__ or exc)}; is the server running at that --base-url?"
            ) from exc
        except openai.APIStatusError as exc:
            retried = f" after {self.config.max_retries} retries" if exc.status_code == 429 or exc.status_code >= 500 else ""
            raise EndpointError(
                f"{where} answered HTTP {exc.status_code}{retried}: {_short(exc.response.text or exc.message)}"
            ) from exc
        except (json.JSONDecodeError, openai.APIResponseValidationError) as exc:
            raise EndpointError(f"{where} sent a reply that is not valid chat-completion JSON: {_short(exc)}") from exc
        except openai.OpenAIError as exc:
            raise EndpointError(f"{where} failed: {type(exc).__name__}: {_short(exc)}") from exc
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise EndpointError(f"{where} sent a reply that is not valid chat-completion JSON: "
                                f"{type(exc).__name__}: {_short(exc)}") from None
        if not isinstance(data, dict):
            raise EndpointError(f"{where} sent a reply that is not valid chat-completion JSON: {_short(body[:200])}")
        return data

    @staticmethod
    def _parse(data: dict[str, Any], where: str, max_tokens: int) -> ChatReply:
        """The reply of a chat-completion JSON object, cut to ``max_tokens`` (tokens, and
        :data:`MAX_CHARS_PER_TOKEN` characters per token of text); anything malformed names the server."""
        choices = data.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
        message = choice.get("message")
        if not isinstance(message, dict):
            raise EndpointError(f"{where} sent a reply without choices[0].message: {_short(json.dumps(data)[:400])}")
        content = message.get("content")
        if content is not None and not isinstance(content, str):
            raise EndpointError(f"{where} sent a non-text message content: {_short(content)}")
        text = content or ""
        steps = (choice.get("logprobs") or {}).get("content") if isinstance(choice.get("logprobs"), dict) else None
        try:
            pairs = [(step["token"], float(step["logprob"])) for step in steps or []]
            if not all(isinstance(t, str) and math.isfinite(p) for t, p in pairs):
                raise ValueError("a token that is not text or a log-prob that is not finite")
        except (TypeError, KeyError, ValueError) as exc:
            raise EndpointError(f"{where} sent malformed logprobs ({type(exc).__name__}: {_short(exc)}); turn "
                                "log-probs off for this server (EndpointConfig logprobs=False)") from None
        cut = len(text) > max_tokens * MAX_CHARS_PER_TOKEN or len(pairs) > max_tokens
        return ChatReply(
            text=text[: max_tokens * MAX_CHARS_PER_TOKEN],
            tokens=[t for t, _ in pairs[:max_tokens]],
            logprobs=[p for _, p in pairs[:max_tokens]],
            finished=not cut and choice.get("finish_reason") != "length",
        )

    def _cost(self) -> float | None:
        price_in, price_out = self.config.price_input_per_mtok, self.config.price_output_per_mtok
        if price_in is None and price_out is None:
            return None
        return ((price_in or 0.0) * self.usage.prompt_tokens + (price_out or 0.0) * self.usage.completion_tokens) / 1e6


class OpenAIBackend:
    """The LLM agent's backend for a model behind an OpenAI-compatible server.

    It speaks chat messages, not token ids (``tokenizer`` is None): :class:`agents.llm.LLMAgent` sends the same
    messages it renders for in-process models, parses the replies the same way, and records the returned
    sampled-token log-probs. It cannot recompute log-probs with gradients (see the module docstring).
    """

    tokenizer = None

    def __init__(self, config: EndpointConfig) -> None:
        self.chat = OpenAIChat(config)
        self.name = f"{config.model}@openai"

    @property
    def usage(self) -> Usage:
        return self.chat.usage

    def generate_chat(self, conversations: Sequence[list[dict[str, str]]], sampling: Any, seed: int) -> list[ChatReply]:
        """One sampled reply per conversation, with the settings of ``sampling`` (a ``SamplingConfig``)."""
        return self.chat.complete(
            conversations,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            max_tokens=sampling.max_new_tokens,
            seed=seed,
            desc="generate",
        )


class OpenAIAnswerer:
    """The LLM scorer's answerer (or judge) on an OpenAI-compatible server: ``name`` + ``answer(prompts)``.

    Each prompt is one user turn (after an optional system turn), decoded greedily. The answerer keeps the first
    non-empty line of each reply, like :class:`agents.llm.LLMAnswerer`; a judge keeps the whole reply
    (``first_line=False``: the Mem0 rubric asks for a sentence of reasoning before the label).
    """

    def __init__(
        self, config: EndpointConfig, *, max_tokens: int = 32, system: str | None = None, first_line: bool = True
    ) -> None:
        self.chat = OpenAIChat(config)
        self.max_tokens = max_tokens
        self.system = system
        self.first_line = first_line
        self.name = f"{self.chat.name}|greedy|{max_tokens}"

    @property
    def usage(self) -> Usage:
        return self.chat.usage

    def answer(self, prompts: Sequence[str]) -> list[str]:
        head = [{"role": "system", "content": self.system}] if self.system else []
        replies = self.chat.complete(
            [head + [{"role": "user", "content": p}] for p in prompts],
            temperature=0.0,
            max_tokens=self.max_tokens,
            seed=0,
            logprobs=False,
            desc="answer" if self.first_line else "judge",
        )
        if not self.first_line:
            return [r.text.strip() for r in replies]
        return [first_line(r.text) for r in replies]


def make_openai_answerer(
    model: str, base_url: str | None = None, *, max_tokens: int = 32, judge: bool = False, **endpoint: Any
) -> OpenAIAnswerer:
    """An answerer (``judge=False``) or judge (``judge=True``, whole replies, 128 tokens unless given) by name,
    for ``scorer_kwargs={"answerer": "agents.llm.openai_backend:make_openai_answerer", "answerer_kwargs": {...}}``.
    ``endpoint`` takes any other :class:`EndpointConfig` field."""
    config = EndpointConfig(model=model, base_url=base_url, **{"logprobs": False, **endpoint})
    if judge and max_tokens == 32:
        max_tokens = 128
    return OpenAIAnswerer(config, max_tokens=max_tokens, first_line=not judge)
