"""Shared fixtures: one torch thread for the whole run, and a tiny hand-written two-session conversation."""

import importlib.util

import pytest

from memenv.data.schema import QA, Conversation, Session, Turn


@pytest.fixture
def tiny_conversation() -> Conversation:
    return Conversation(
        conversation_id="tiny",
        speakers=("Alice", "Bob"),
        sessions=(
            Session(
                index=1,
                date_time="1:00 pm on 1 May, 2023",
                turns=(
                    Turn(speaker="Alice", dia_id="D1:1", text="I live in Oslo now."),
                    Turn(speaker="Bob", dia_id="D1:2", text="Nice, I play the guitar."),
                ),
            ),
            Session(
                index=2,
                date_time="2:00 pm on 2 June, 2023",
                turns=(Turn(speaker="Alice", dia_id="D2:1", text="I moved to Rome last week."),),
            ),
        ),
        questions=(
            QA(question="What does Bob play?", answer="guitar", category="single-hop", evidence=("D1:2",), session=1),
            QA(question="Where does Alice live?", answer="Rome", category="single-hop", evidence=("D2:1",), session=2),
        ),
    )


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """The test models are too small to gain from threads; on a busy 2-core machine, spinning torch threads slow
    them ~10x. Restored afterwards. (memenv's own tests do not need torch, so it is imported only if installed.)"""
    if importlib.util.find_spec("torch") is None:
        yield
        return
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def http_server():
    """A real HTTP server on 127.0.0.1 (pytest-httpserver), threaded so concurrent requests overlap; tests register
    handlers on it and clear them when done."""
    from pytest_httpserver import HTTPServer

    server = HTTPServer(host="127.0.0.1", threaded=True)
    server.start()
    yield server
    server.stop()
