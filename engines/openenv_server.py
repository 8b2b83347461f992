"""memenv served as an OpenEnv environment, with fork / state endpoints so that a trainer can branch a session.

    python -m engines.openenv_server --env MemoryR2/Synthetic-v1 --max-sessions 2 --port 8000

OpenEnv's own protocol, unchanged: a WebSocket session per client (``/ws``: ``reset(seed, episode_id)``, ``step``,
``state``; :class:`engines.openenv_client.MemoryEnvClient` speaks it), plus ``/health``, ``/schema``,
``/metadata``. What memenv adds (its O(1) ``clone()`` and its JSON ``get_state()``):

* ``POST /memenv/sessions/{episode_id}/fork`` snapshots the live session ``episode_id`` (O(1) in bank size) and
  answers a ``fork_id``; any number of new sessions then start from it with ``reset(fork_id=...)`` and continue
  exactly as an in-process ``env.clone()`` would (a local group: m rerollouts of one session).
* ``GET /memenv/sessions/{episode_id}/state`` is the session's :class:`memenv.state.EnvState` (bank included), and
  ``reset(state=...)`` restores one (checked whole first, as ``MemoryEnv.set_state`` does).
* ``GET /memenv/info``: the env id, its arguments and whether gold is served.

Everything a client sends is untrusted: actions are validated by :class:`engines.openenv_models.MemoryAction` and
again by ``MemoryEnv.step``; a bad request gets an error naming the problem (HTTP 4xx, or a WebSocket error
message) and the session goes on. The server binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import argparse
import re
import threading
import uuid
import weakref
from collections import OrderedDict
from typing import Any

from engines import require

require("openenv.core", "openenv")

from fastapi import FastAPI, HTTPException, Request  # noqa: E402
from fastapi.responses import JSONResponse  # noqa: E402
from openenv.core.env_server.http_server import create_app  # noqa: E402
from openenv.core.env_server.interfaces import Environment  # noqa: E402
from openenv.core.env_server.types import EnvironmentMetadata  # noqa: E402

from engines.openenv_models import MemoryAction, MemoryObservation, MemoryState  # noqa: E402
from memenv.views import view_text  # noqa: E402
from memenv.wrappers import fork  # noqa: E402

EPISODE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
RESET_KEYS = ("options", "fork_id", "state")


class SessionRegistry:
    """The live sessions by episode id (weakly held: a closed WebSocket frees its env) and the fork snapshots by
    fork id (the oldest dropped past ``max_snapshots``). Thread-safe: OpenEnv runs each session in its own thread."""

    def __init__(self, max_snapshots: int = 1024) -> None:
        self._live: weakref.WeakValueDictionary[str, MemoryEnvironment] = weakref.WeakValueDictionary()
        self._snapshots: OrderedDict[str, Any] = OrderedDict()
        self._max_snapshots = max_snapshots
        self._lock = threading.Lock()

    def claim(self, episode_id: str, owner: "MemoryEnvironment") -> None:
        with self._lock:
            holder = self._live.get(episode_id)
            if holder is not None and holder is not owner:
                raise ValueError(f"episode_id {episode_id!r} is in use by another session; pick another or omit it")
            self._live[episode_id] = owner

    def release(self, episode_id: str | None, owner: "MemoryEnvironment") -> None:
        with self._lock:
            if episode_id is not None and self._live.get(episode_id) is owner:
                del self._live[episode_id]

    def live(self, episode_id: str) -> "MemoryEnvironment":
        with self._lock:
            owner = self._live.get(episode_id)
        if owner is None:
            raise LookupError(f"no live session has episode_id {episode_id!r} (reset a session first; a closed "
                              "session is gone)")
        return owner

    def save(self, env: Any) -> str:
        fork_id = uuid.uuid4().hex
        with self._lock:
            self._snapshots[fork_id] = env
            while len(self._snapshots) > self._max_snapshots:
                self._snapshots.popitem(last=False)
        return fork_id

    def restore(self, fork_id: Any) -> Any:
        """A fresh fork of snapshot ``fork_id`` (a snapshot seeds any number of sessions)."""
        with self._lock:
            snapshot = self._snapshots.get(fork_id) if isinstance(fork_id, str) else None
        if snapshot is None:
            raise LookupError(f"unknown fork_id {str(fork_id)[:64]!r}: POST /memenv/sessions/<episode_id>/fork "
                              f"answers one (the {self._max_snapshots} newest are kept)")
        return fork(snapshot)


def observation_of(view: Any, info: dict[str, Any], reward: float | None, done: bool) -> MemoryObservation:
    """The wire observation of one in-process ``(view, info, reward, done)``."""
    metrics = info.get("metrics")
    return MemoryObservation(
        role=view.role, session=view.session, text=view_text(view), view=view, error=info.get("error"),
        invalid_ops=int(info.get("invalid_ops", 0)), session_end=bool(info.get("session_end", False)),
        metrics={k: v for k, v in metrics.items() if k != "qa"} if metrics else None,
        session_rewards=info.get("session_rewards"), compression_penalty=info.get("compression_penalty"),
        gold=info.get("gold"), reward=reward, done=done)


class MemoryEnvironment(Environment[MemoryAction, MemoryObservation, MemoryState]):
    """One client's session: a memenv env (``gymnasium.make`` with its wrappers) behind OpenEnv's interface."""

    SUPPORTS_CONCURRENT_SESSIONS = True

    def __init__(self, env_id: str, env_kwargs: dict[str, Any], registry: SessionRegistry) -> None:
        from memenv.registration import is_privileged_env
        from memr2.commands import make_env

        super().__init__()
        self.env_id, self.env_kwargs, self.registry = env_id, dict(env_kwargs), registry
        self.privileged = is_privileged_env(env_id, self.env_kwargs)
        self._fresh = lambda: make_env(env_id, self.env_kwargs)
        self._env = self._fresh()
        self._lock = threading.RLock()
        self._episode_id: str | None = None
        self._seed: int | None = None
        self._started = False

    # -- OpenEnv interface ------------------------------------------------------------------------------------
    def reset(self, seed: int | None = None, episode_id: str | None = None, **kwargs: Any) -> MemoryObservation:
        """A new episode (``seed``, ``options``), or the continuation of a fork (``fork_id``) or of a saved
        state (``state``); ``episode_id`` names the session for the fork / state endpoints (a new one if omitted)."""
        unknown = sorted(set(kwargs) - set(RESET_KEYS))
        if unknown:
            raise ValueError(f"unknown reset argument(s) {unknown}; reset takes seed, episode_id, {', '.join(RESET_KEYS)}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise ValueError(f"seed must be a non-negative integer or null, got {seed!r:.40}")
        if episode_id is not None and not (isinstance(episode_id, str) and EPISODE_ID.fullmatch(episode_id)):
            raise ValueError("episode_id must be 1-128 characters of A-Z a-z 0-9 . _ : -")
        starts = [key for key in RESET_KEYS[1:] if kwargs.get(key) is not None]
        if len(starts) > 1 or (starts and (seed is not None or kwargs.get("options"))):
            raise ValueError("give one of: seed/options (a new episode), fork_id, state")
        options = kwargs.get("options")
        if options is not None and not isinstance(options, dict):
            raise ValueError(f"options must be an object, got {type(options).__name__}")
        with self._lock:
            if "fork_id" in starts:
                env = self.registry.restore(kwargs["fork_id"])
            elif "state" in starts:
                env = self._fresh()  # restored on a new env: a bad state leaves this session as it was
                env.reset(seed=0)  # the wrappers' reset (order enforcing); set_state then replaces the episode
                env.unwrapped.set_state(kwargs["state"])
            else:
                env = self._env
                env.reset(seed=seed, options=options)
            new_id = episode_id or uuid.uuid4().hex
            self.registry.claim(new_id, self)
            if new_id != self._episode_id:
                self.registry.release(self._episode_id, self)
            self._env, self._episode_id, self._seed, self._started = env, new_id, seed, True
            return self._current()

    def step(self, action: MemoryAction, timeout_s: float | None = None, **kwargs: Any) -> MemoryObservation:
        if not isinstance(action, MemoryAction):
            raise ValueError(f"expected a MemoryAction, got {type(action).__name__}")
        with self._lock:
            if not self._started:
                raise RuntimeError("call reset() before step()")
            if self._env.unwrapped.position.terminated:
                raise RuntimeError("the episode has terminated; call reset() to start a new one")
            _, reward, terminated, truncated, info = self._env.step(action.payload())
            return observation_of(info["view"], info, float(reward), bool(terminated or truncated))

    @property
    def state(self) -> MemoryState:
        core = self._env.unwrapped
        base = {"episode_id": self._episode_id, "env_id": self.env_id, "privileged": self.privileged,
                "seed": self._seed}
        if not self._started or core.conversation is None:
            return MemoryState(**base)
        position = core.position
        return MemoryState(**base, step_count=core._steps, conversation_id=core.conversation.conversation_id,
                           session=position.session + 1, chunk=position.chunk, role=position.role,
                           terminated=position.terminated, bank_entries=len(core.bank), bank_tokens=core.bank.tokens,
                           invalid_actions=core.invalid_actions)

    def get_metadata(self) -> EnvironmentMetadata:
        from memenv.registration import describe_envs

        return EnvironmentMetadata(name=self.env_id, description=describe_envs().get(self.env_id, self.env_id),
                                   version="memory-r2")

    def close(self) -> None:
        self.registry.release(self._episode_id, self)

    # -- memenv's additions -----------------------------------------------------------------------------------
    def fork(self) -> Any:
        """An independent copy of the session's env (``memenv.fork``: O(1) in bank size)."""
        with self._lock:
            return fork(self._env)

    def full_state(self) -> dict[str, Any]:
        with self._lock:
            return self._env.unwrapped.get_state().model_dump(mode="json")

    def _current(self) -> MemoryObservation:
        """The observation at the env's current position (after a reset, a fork or a restored state)."""
        core = self._env.unwrapped
        view = core._view()
        return observation_of(view, core._info(view), None, core.position.terminated)


def build_app(env_id: str, env_kwargs: dict[str, Any] | None = None, *, max_concurrent_envs: int = 64,
              max_snapshots: int = 1024) -> FastAPI:
    """The FastAPI app: OpenEnv's routes for ``env_id`` (made with ``env_kwargs``) and memenv's fork / state
    routes. The env is built once here, so that a bad id or argument fails now, not at the first client."""
    from memr2.commands import make_env

    env_kwargs = dict(env_kwargs or {})
    make_env(env_id, env_kwargs).close()
    registry = SessionRegistry(max_snapshots)
    app = create_app(lambda: MemoryEnvironment(env_id, env_kwargs, registry), MemoryAction, MemoryObservation,
                     env_name=env_id, max_concurrent_envs=max_concurrent_envs)
    app.state.memenv_registry = registry

    def session(episode_id: str) -> MemoryEnvironment:
        try:
            return registry.live(episode_id)
        except LookupError as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from None

    @app.post("/memenv/sessions/{episode_id}/fork", tags=["memenv"])
    def fork_session(episode_id: str) -> dict[str, Any]:
        """Snapshot a live session; ``reset(fork_id=...)`` starts a session from the snapshot."""
        owner = session(episode_id)
        env = owner.fork()
        position = env.unwrapped.position
        return {"fork_id": registry.save(env), "episode_id": episode_id, "session": position.session + 1,
                "chunk": position.chunk, "role": position.role, "terminated": position.terminated}

    @app.get("/memenv/sessions/{episode_id}/state", tags=["memenv"])
    def session_state(episode_id: str) -> dict[str, Any]:
        """The live session's full, restorable state (``memenv.state.EnvState`` as JSON)."""
        return session(episode_id).full_state()

    @app.get("/memenv/info", tags=["memenv"])
    def info() -> dict[str, Any]:
        from memenv.registration import is_privileged_env

        return {"env_id": env_id, "env_kwargs": env_kwargs, "privileged": is_privileged_env(env_id, env_kwargs)}

    async def client_error(request: Request, exc: Exception) -> JSONResponse:
        """A ValueError / LookupError / RuntimeError from the env is the client's mistake: 400 / 404 / 409."""
        code = 404 if isinstance(exc, LookupError) else 409 if isinstance(exc, RuntimeError) else 400
        return JSONResponse(status_code=code, content={"detail": str(exc)[:2000]})

    for kind in (ValueError, LookupError, RuntimeError):
        app.add_exception_handler(kind, client_error)
    return app


def main(argv: list[str] | None = None) -> None:
    """``python -m engines.openenv_server``: serve one env id over OpenEnv (uvicorn)."""
    from memenv.registration import privileged_kwargs
    from memr2.commands import json_object
    from memr2.runtime import limit_threads

    parser = argparse.ArgumentParser(prog="python -m engines.openenv_server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="MemoryR2/Synthetic-v1", help="registered env id")
    parser.add_argument("--env-kwargs", default=None, help="JSON object of env arguments")
    parser.add_argument("--max-sessions", type=int, default=None, help="sessions per conversation (env max_sessions)")
    parser.add_argument("--privileged", action="store_true", help="serve gold actions (for oracles; never for training)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: this machine only)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--max-concurrent-envs", type=int, default=64, help="WebSocket sessions at once")
    parser.add_argument("--max-snapshots", type=int, default=1024, help="fork snapshots kept (oldest dropped)")
    args = parser.parse_args(argv)
    env_kwargs = json_object(args.env_kwargs, "--env-kwargs")
    if args.max_sessions is not None:
        env_kwargs["max_sessions"] = args.max_sessions
    if args.privileged:
        env_kwargs = {**privileged_kwargs(args.env), **env_kwargs}
    limit_threads(1)
    app = build_app(args.env, env_kwargs, max_concurrent_envs=args.max_concurrent_envs,
                    max_snapshots=args.max_snapshots)
    import uvicorn

    uvicorn.run(app, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
