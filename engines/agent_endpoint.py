"""A memory-r2 scripted agent served as an OpenAI-compatible chat endpoint, to check an engine's plumbing.

    python -m engines.agent_endpoint --agent store-all --port 8010     # then point the engine at :8010/v1

The endpoint reads the last user message as a memenv view (its canonical JSON: the env's ``observation["text"]``;
run the engine's env with ``view_format="json"``), lets the agent act on it, and answers the action as JSON text,
which the env parses as it parses any model's output. So an engine's evaluation of the endpoint must reproduce
``memr2 eval --agent <same agent>`` episode for episode: any difference is the engine's plumbing. Non-streaming and
streaming (server-sent events) chat completions are both served. Privileged agents (the oracles) cannot be served:
their gold is not in the view, by design.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from typing import Any

from engines import require

require("fastapi", "openenv")

from fastapi import FastAPI, HTTPException, Request  # noqa: E402
from fastapi.responses import JSONResponse, StreamingResponse  # noqa: E402

from memenv.views import parse_view  # noqa: E402


def action_text(action: Any) -> str:
    """An agent's action as the JSON text a model would write (``{"facts": ...}`` / ``{"operations": ...}``)."""
    if isinstance(action, str):
        return action
    data = action if isinstance(action, dict) else action.model_dump(mode="json")
    return json.dumps({k: v for k, v in data.items() if k != "role"})


def last_user_text(messages: Any) -> str:
    """The text of the last user message (string content, or the text parts of a list)."""
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"] if isinstance(messages, list) else []
    if not users:
        raise ValueError("the request has no user message")
    content = users[-1].get("content")
    if isinstance(content, list):
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    if not isinstance(content, str):
        raise ValueError("the last user message has no text")
    return content


def build_app(agent_name: str, agent_kwargs: dict[str, Any] | None = None) -> FastAPI:
    """The endpoint serving ``agent_name`` (a registered memory-r2 agent that does not need gold)."""
    from memr2.commands import make_agent

    agent = make_agent(agent_name, dict(agent_kwargs or {}))
    if getattr(agent, "privileged", False):
        raise ValueError(f"agent {agent_name!r} plays from gold, which no view carries; serve a non-privileged agent")
    app = FastAPI(title=f"memory-r2 agent endpoint: {agent_name}")
    app.state.requests = 0

    def answer(body: dict[str, Any]) -> str:
        text = last_user_text(body.get("messages"))
        try:
            view = parse_view(text)
        except ValueError as exc:
            raise ValueError("the last user message is not a memenv view's JSON (run the env with "
                             f"view_format='json'): {str(exc)[:200]}") from None
        return action_text(agent.act({"text": text}, {"role": view.role, "session": view.session, "view": view}))

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": agent_name, "object": "model", "owned_by": "memory-r2"}]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("the request body must be a JSON object")
            content = answer(body)
        except ValueError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None
        app.state.requests += 1
        ident, created, model = f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), str(body.get("model", agent_name))
        usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        if not body.get("stream"):
            return JSONResponse({"id": ident, "object": "chat.completion", "created": created, "model": model,
                                 "choices": [{"index": 0, "finish_reason": "stop",
                                              "message": {"role": "assistant", "content": content}}],
                                 "usage": usage})

        def chunk(delta: dict[str, Any], finish: str | None, **extra: Any) -> str:
            data = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
            return f"data: {json.dumps(data)}\n\n"

        def events():
            yield chunk({"role": "assistant", "content": content}, None)
            yield chunk({}, "stop")
            if (body.get("stream_options") or {}).get("include_usage"):
                yield f"data: {json.dumps({'id': ident, 'object': 'chat.completion.chunk', 'created': created, 'model': model, 'choices': [], 'usage': usage})}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m engines.agent_endpoint", description=__doc__.split("\n\n")[0])
    parser.add_argument("--agent", default="store-all", help="a registered agent that does not need gold")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8010)
    args = parser.parse_args(argv)
    import uvicorn

    uvicorn.run(build_app(args.agent), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
