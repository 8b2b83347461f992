"""The typed wire format of memenv as an OpenEnv environment: one Action, one Observation, one State.

Built from memenv's own models: an action is what ``MemoryEnv.step`` takes (the text an LLM wrote, or an
:class:`~memenv.actions.ExtractAction` / :class:`~memenv.actions.ManageAction`), and an observation carries the
typed view (:mod:`memenv.views`) next to its canonical JSON text. The server revalidates everything a client sends
(pydantic here, then ``MemoryEnv.step`` again), so a client is untrusted.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from engines import require

require("openenv.core", "openenv")

from openenv.core.env_server.types import Action, Observation, State  # noqa: E402

from memenv.actions import MAX_ACTION_CHARS, ExtractAction, ManageAction  # noqa: E402
from memenv.views import ExtractorView, ManagerView  # noqa: E402

MAX_REQUEST_CHARS = 8 * MAX_ACTION_CHARS
"""Longest action text a client may send. ``MemoryEnv.step`` reads the first ``MAX_ACTION_CHARS`` of a text and
penalises the rest as it does in-process; past this bound the request itself is refused (so that one client cannot
make the server hold megabytes)."""

StructuredAction = Annotated[Union[ExtractAction, ManageAction], Field(discriminator="role")]
View = Annotated[Union[ExtractorView, ManagerView], Field(discriminator="role")]


class MemoryAction(Action):
    """One step: ``text`` (an LLM's raw output, parsed by the env as in-process: JSON or line format) or ``action``
    (a structured action of the role whose turn it is). Exactly one of the two."""

    text: str | None = Field(default=None, max_length=MAX_REQUEST_CHARS, description="the agent's raw output")
    action: StructuredAction | None = Field(default=None, description="a structured action (memenv.actions)")

    @model_validator(mode="after")
    def _one_of(self) -> "MemoryAction":
        if (self.text is None) == (self.action is None):
            # PydanticCustomError, not ValueError: OpenEnv sends ``errors()`` as JSON, and a ValueError in them cannot
            # be serialised (the WebSocket session would close instead of answering the error)
            raise PydanticCustomError("one_of", "give exactly one of 'text' (the agent's output) or 'action' (a "
                                      "structured action)")
        return self

    def payload(self) -> str | ExtractAction | ManageAction:
        """What ``MemoryEnv.step`` gets."""
        return self.text if self.text is not None else self.action


class MemoryObservation(Observation):
    """What the acting role sees (``view``, and ``text``: its canonical JSON, the in-process ``observation["text"]``),
    what the last step did (``error``, ``invalid_ops``, ``session_end``) and, at the end, the episode's ``metrics``,
    ``session_rewards`` and ``compression_penalty``. ``gold`` (the ideal action) only from a server started with
    ``--privileged``."""

    role: Literal["extractor", "manager"]
    session: int = Field(ge=1)
    text: str
    view: View
    error: str | None = None
    invalid_ops: int = 0
    session_end: bool = False
    metrics: dict[str, Any] | None = None
    session_rewards: list[float] | None = None
    compression_penalty: float | None = None
    gold: dict[str, Any] | None = None


class MemoryState(State):
    """Where a session is (OpenEnv's ``state``): the env, the episode's seed and conversation, the position
    (1-based session), the bank's size and the invalid actions so far. The full, restorable state (bank included)
    is ``GET /memenv/sessions/{episode_id}/state`` (:class:`memenv.state.EnvState`)."""

    env_id: str
    privileged: bool = False
    seed: int | None = None
    conversation_id: str | None = None
    session: int = 0
    chunk: int = 0
    role: Literal["extractor", "manager"] = "extractor"
    terminated: bool = False
    bank_entries: int = 0
    bank_tokens: int = 0
    invalid_actions: int = 0
