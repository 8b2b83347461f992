"""Run an ASGI app (the OpenEnv server, the agent endpoint) on a free loopback port in a background thread: for
tests, benchmarks and notebooks that want a server and its client in one process."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def serve_in_thread(app: Any, timeout_s: float = 30.0) -> Iterator[str]:
    """``app`` served by uvicorn on 127.0.0.1 (a free port) for the block's duration; yields ``http://127.0.0.1:PORT``.
    Raises ``RuntimeError`` when the server does not start within ``timeout_s``."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the server on port {port} did not start within {timeout_s:g} s")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=timeout_s)
