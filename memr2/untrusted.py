"""The untrusted-agent mode, host side: the agent runs as a child process and only views and action text cross
(``memr2 eval --untrusted-agent CMD``; docs/reliability.md, "The untrusted-agent mode").

:class:`AgentProcess` starts ``CMD`` (an argv, never a shell) with a minimal environment (no ``PYTHONPATH``, no
secret, ``HOME`` and the working directory a fresh temporary folder) and speaks the wire protocol of
:mod:`agents.remote` with it. :class:`RemoteAgent` is a memory agent for :func:`agents.rollout.run_episode` whose
``act()`` sends the observation's view text and returns the reply's action text or dict. Every way a reply can
fail -- no reply within ``step_timeout`` seconds, a line over :data:`~agents.remote.MAX_REPLY_BYTES`, not JSON,
not ``{"id", "action"}``, a wrong id, the process gone -- becomes a :class:`~memenv.actions.ParseError`, which the
env scores as an invalid action (``invalid_action_penalty``, the bank unchanged, ``info["error"]`` says why).
After ``max_failures`` failures in a row, or once the process has exited, the agent is *given up*: it is killed
and every remaining step of the run is an invalid action without asking it.
"""

from __future__ import annotations

import collections
import os
import select
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from typing import Any

from pydantic import ValidationError

from agents.remote import MAX_REPLY_BYTES, AgentReply
from memenv.actions import ROLES, ParseError

DEFAULT_STEP_TIMEOUT = 60.0
"""Seconds an agent has to answer one step (``--agent-step-timeout``): room for an LLM's longest generation."""
DEFAULT_MAX_FAILURES = 5
"""Failed replies in a row after which the agent is given up (``--agent-max-failures``)."""
PASSED_VARIABLES = ("PATH", "LANG", "LC_ALL", "TZ")
"""The only variables of the host's environment the agent gets (plus ``HOME`` / ``TMPDIR``, set to its folder)."""
STDERR_TAIL = 4096
"""Characters of the agent's stderr kept to quote when it fails (the rest is read and dropped)."""


class AgentFailure(Exception):
    """A reply that is no action (its message becomes the invalid action's error); ``fatal``: the process is gone."""

    def __init__(self, message: str, fatal: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal


def parse_command(command: str) -> list[str]:
    """``--untrusted-agent``'s value as an argv (shell-like quoting, no shell), its program found on ``PATH``.

    >>> parse_command("sh -c 'echo hi'")[1:]
    ['-c', 'echo hi']
    """
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ValueError(f"--untrusted-agent {command!r}: {exc}") from None
    if not argv:
        raise ValueError("--untrusted-agent needs a command, e.g. --untrusted-agent 'python -m agents.remote store-all'")
    program = shutil.which(argv[0])
    if program is None:
        raise ValueError(f"--untrusted-agent: program {argv[0]!r} not found (give a path or a program on PATH)")
    return [os.path.abspath(program), *argv[1:]]  # the agent starts in another folder


def child_environment(home: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The agent's whole environment: :data:`PASSED_VARIABLES` from the host, ``HOME`` / ``TMPDIR`` its own
    folder, unbuffered Python output, and ``extra`` (``--agent-env NAME=VALUE``: what the maintainer chooses
    to give it). Nothing else -- no ``PYTHONPATH``, no ``MEMR2_*`` (the seed secret, data paths), no API keys."""
    env = {name: os.environ[name] for name in PASSED_VARIABLES if name in os.environ}
    env.update(HOME=home, TMPDIR=home, PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
    env.update(extra or {})
    return env


class AgentProcess:
    """One agent process and its pipes. ``request(payload, timeout)`` sends one request line and returns the
    reply's action, or raises :class:`AgentFailure`. ``close()`` ends it (stdin closed, then the process group
    killed after a grace period) and removes its folder."""

    def __init__(self, argv: list[str], extra_env: dict[str, str] | None = None, grace: float = 2.0) -> None:
        self.folder = tempfile.mkdtemp(prefix="memr2-agent-")
        self.grace = grace
        self.process = subprocess.Popen(  # noqa: S603 - an argv, no shell; running it is the point
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=self.folder,
            env=child_environment(self.folder, extra_env), start_new_session=True, close_fds=True)
        for pipe in (self.process.stdin, self.process.stdout):
            os.set_blocking(pipe.fileno(), False)
        self._buffer = bytearray()
        self._skipping = False  # inside an over-long line: drop bytes until its newline
        self._closed = False
        self._stderr: collections.deque[str] = collections.deque()
        self._stderr_thread = threading.Thread(target=self._drain_stderr, daemon=True)
        self._stderr_thread.start()

    def _drain_stderr(self) -> None:
        """Read the agent's stderr to its end (so it never blocks on a full pipe), keeping its last characters."""
        kept = 0
        for raw in iter(lambda: self.process.stderr.read1(65536), b""):
            text = raw.decode("utf-8", "replace")
            self._stderr.append(text)
            kept += len(text)
            while kept - len(self._stderr[0]) >= STDERR_TAIL:
                kept -= len(self._stderr.popleft())

    def stderr_tail(self, chars: int = 300) -> str:
        """The last ``chars`` characters the agent wrote on stderr, on one line."""
        return " ".join("".join(self._stderr)[-chars:].split())

    def exited(self) -> str:
        """Why the process is gone: its exit status and the end of its stderr."""
        try:  # its stdout closed: it is exiting (or closed stdout and lives on, then the status is None)
            status = self.process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            status = None
        self._stderr_thread.join(timeout=0.5)
        tail = self.stderr_tail()
        return f"the agent process exited (status {status})" + (f"; its stderr ends: {tail}" if tail else "")

    def request(self, request_id: int, payload: bytes, timeout: float) -> str | dict[str, Any]:
        """Send ``payload`` (one JSON line) and return the action of the reply echoing ``request_id``, all within
        ``timeout`` seconds. Replies to earlier requests (late answers after a timeout) are skipped."""
        deadline = time.monotonic() + timeout
        self._send(payload, deadline, timeout)
        while True:
            line = self._read_line(deadline, timeout)
            try:
                reply = AgentReply.model_validate_json(line)
            except ValidationError as exc:
                raise AgentFailure(f"the reply is not {{\"id\": {request_id}, \"action\": text or object}}: "
                                   f"{_first_error(exc)}") from None
            if reply.id == request_id:
                return reply.action
            if reply.id > request_id:
                raise AgentFailure(f"the reply answers request {reply.id}, which was not sent (expected {request_id})")

    def _send(self, payload: bytes, deadline: float, timeout: float) -> None:
        view = memoryview(payload)
        fd = self.process.stdin.fileno()
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AgentFailure(f"the agent did not read its view within {timeout:g} s (--agent-step-timeout)")
            _, writable, _ = select.select([], [fd], [], remaining)
            if not writable:
                continue
            try:
                view = view[os.write(fd, view):]
            except BrokenPipeError:
                raise AgentFailure(self.exited(), fatal=True) from None
            except BlockingIOError:
                continue

    def _read_line(self, deadline: float, timeout: float) -> bytes:
        """The next complete line of stdout (without its newline), within the deadline and the size cap."""
        fd = self.process.stdout.fileno()
        too_long = f"the reply is longer than {MAX_REPLY_BYTES} bytes (agents.remote.MAX_REPLY_BYTES)"
        while True:
            newline = self._buffer.find(b"\n")
            if newline >= 0:
                line, self._buffer = bytes(self._buffer[:newline]), self._buffer[newline + 1:]
                if self._skipping:  # the end of an over-long line, already refused
                    self._skipping = False
                    continue
                if len(line) > MAX_REPLY_BYTES:
                    raise AgentFailure(too_long)
                return line
            if self._skipping:
                self._buffer.clear()
            elif len(self._buffer) > MAX_REPLY_BYTES:
                self._buffer.clear()
                self._skipping = True
                raise AgentFailure(too_long)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AgentFailure(f"no reply within {timeout:g} s (--agent-step-timeout)")
            readable, _, _ = select.select([fd], [], [], remaining)
            if not readable:
                continue
            try:
                chunk = os.read(fd, 1 << 16)
            except BlockingIOError:
                continue
            if not chunk:
                raise AgentFailure(self.exited(), fatal=True)
            self._buffer += chunk

    def close(self) -> None:
        """Close its stdin (a served agent ends at end of input), wait ``grace`` seconds, then kill its process
        group (the agent and anything it started in its session); remove its folder."""
        if self._closed:
            return
        self._closed = True
        if self.process.poll() is None:
            try:
                self.process.stdin.close()
            except OSError:
                pass
            try:
                self.process.wait(timeout=self.grace)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            try:
                pipe.close()
            except OSError:
                pass
        self._stderr_thread.join(timeout=1.0)
        shutil.rmtree(self.folder, ignore_errors=True)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(map(str, error["loc"])) or "the line"
    return f"{where}: {error['msg']}"[:200]


class RemoteAgent:
    """A memory agent whose ``act()`` asks an :class:`AgentProcess`: the observation's view text goes out, the
    reply's action (text or dict, validated by the env) comes back; a failed reply is a ``ParseError``.

    ``failures`` counts the failed replies by reason (the text before the first ``:``/``(``), ``given_up`` is the
    reason the agent was given up (None while it runs)."""

    privileged = False

    def __init__(self, argv: list[str], *, step_timeout: float = DEFAULT_STEP_TIMEOUT,
                 max_failures: int = DEFAULT_MAX_FAILURES, extra_env: dict[str, str] | None = None) -> None:
        if not 0 < step_timeout < 1e6:  # NaN and infinity too: select() needs a finite timeout
            raise ValueError(f"--agent-step-timeout must be a number of seconds in (0, 1e6), got {step_timeout}")
        if max_failures < 1:
            raise ValueError(f"--agent-max-failures must be >= 1, got {max_failures}")
        self.step_timeout, self.max_failures = step_timeout, max_failures
        self.process = AgentProcess(argv, extra_env)
        self.episode, self.request_id, self.in_a_row = -1, 0, 0
        self.failures: collections.Counter[str] = collections.Counter()
        self.given_up: str | None = None

    def reset(self) -> None:
        self.episode += 1

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str | dict[str, Any] | ParseError:
        role = ROLES[int(observation["role"])]
        if self.given_up is not None:
            return ParseError(role=role, message=f"untrusted agent given up ({self.given_up})")
        payload = (f'{{"id":{self.request_id},"episode":{max(self.episode, 0)},"view":{observation["text"]}}}\n'
                   .encode("ascii"))
        try:
            action = self.process.request(self.request_id, payload, self.step_timeout)
        except AgentFailure as failure:
            return self._failed(role, failure)
        finally:
            self.request_id += 1
        self.in_a_row = 0
        return action

    def _failed(self, role: str, failure: AgentFailure) -> ParseError:
        message = str(failure)
        self.failures[message.split(":")[0].split(" (")[0]] += 1
        self.in_a_row += 1
        if failure.fatal or self.in_a_row >= self.max_failures:
            self.given_up = message if failure.fatal else f"{self.in_a_row} failed replies in a row, the last: {message}"
            self.process.close()
        return ParseError(role=role, message=f"untrusted agent: {message}")

    def summary(self) -> str:
        """One line: failed replies by reason and whether the agent was given up ("" when every reply was read)."""
        if not self.failures:
            return ""
        counts = ", ".join(f"{n} x {reason}" for reason, n in self.failures.most_common())
        return f"failed replies: {counts}" + (f"; given up: {self.given_up}" if self.given_up else "")

    def close(self) -> None:
        self.process.close()

    def __enter__(self) -> "RemoteAgent":
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()


def agent_env_pairs(pairs: list[str] | None) -> dict[str, str]:
    """``--agent-env NAME=VALUE`` flags as a dict (a ``ValueError`` for one without ``=``)."""
    found = {}
    for pair in pairs or ():
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"--agent-env {pair!r}: give NAME=VALUE")
        found[name] = value
    return found

