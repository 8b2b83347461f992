"""Actions of the two roles and :func:`parse_action`, which turns what an LLM wrote into one.

Two text formats are accepted (docs/design.md):

* **JSON**, as Memory-R2's prompts ask: ``{"facts": [{"speaker", "fact", "dia_ids"}]}`` for the extractor and
  ``{"operations": [{"op": "ADD", "content": ...}, {"op": "UPDATE", "memory_id": ..., "content": ...},
  {"op": "DELETE", "memory_id": ...}, {"op": "NOOP"}]}`` for the manager -- bare, in a fenced block, or after
  prose. Mem0-style ``{"memory": [{"id", "text", "event"}]}`` is accepted too.
* **Lines**, which small models follow far better. Extractor: ``- <fact>`` with an optional ``Speaker:`` prefix.
  Manager: ``ADD: <text>``, ``UPDATE <id>: <text>``, ``DELETE <id>``, ``NOOP``. Either may end with
  ``[D1:3, D1:4]`` to name evidence turns. Lines that match no pattern are ignored (small models chatter);
  if no line matches, the result is a :class:`ParseError`.

:func:`parse_action` never raises: on any string it returns an action or a :class:`ParseError`.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

Role = Literal["extractor", "manager"]
ROLES: tuple[Role, Role] = ("extractor", "manager")


def _strip(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    return value


class _Action(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Fact(_Action):
    """One extracted fact, optionally with its speaker and evidence turn ids."""

    speaker: str | None = None
    fact: str
    dia_ids: tuple[str, ...] = ()

    _check_fact = field_validator("fact")(_strip)


class ExtractAction(_Action):
    """The extractor's action: the facts worth remembering from the current chunk."""

    role: Literal["extractor"] = "extractor"
    facts: tuple[Fact, ...] = ()


class AddOp(_Action):
    op: Literal["ADD"] = "ADD"
    content: str
    speaker: str | None = None
    dia_ids: tuple[str, ...] = ()

    _check_content = field_validator("content")(_strip)


class UpdateOp(_Action):
    op: Literal["UPDATE"] = "UPDATE"
    memory_id: str
    content: str
    dia_ids: tuple[str, ...] = ()

    _check_content = field_validator("content")(_strip)


class DeleteOp(_Action):
    op: Literal["DELETE"] = "DELETE"
    memory_id: str


class NoopOp(_Action):
    op: Literal["NOOP"] = "NOOP"
    memory_id: str | None = None


Operation = Annotated[Union[AddOp, UpdateOp, DeleteOp, NoopOp], Field(discriminator="op")]


class ManageAction(_Action):
    """The manager's action: operations on the memory bank, applied in order."""

    role: Literal["manager"] = "manager"
    operations: tuple[Operation, ...] = ()


class ParseError(BaseModel):
    """Why a text could not be read as an action of ``role``."""

    model_config = ConfigDict(frozen=True)

    role: str
    message: str
    text: str = ""


Action = Union[ExtractAction, ManageAction]
_ACTION_ADAPTER: TypeAdapter = TypeAdapter(Annotated[Action, Field(discriminator="role")])

# -- JSON ------------------------------------------------------------------------------------------------------
_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)


def _json_candidates(text: str) -> tuple[list[Any], str | None]:
    """JSON actions found in ``text`` (fenced blocks, then the first object after any prose), and why the
    first brace that looked like JSON did not decode (e.g. single-quoted keys), if it did not."""
    found: list[Any] = []
    problem = None
    for block in _FENCE.findall(text):
        try:
            found.append(json.loads(block))
        except (ValueError, RecursionError) as exc:
            problem = problem or f"invalid JSON in fenced block: {exc}"
    stripped = text.lstrip()
    starts = [len(text) - len(stripped)] if stripped.startswith("[") else []
    starts += [m.start() for m in re.finditer(r"\{", text)]
    decoder = json.JSONDecoder()
    for start in starts:
        try:
            value, _ = decoder.raw_decode(text, start)
        except (ValueError, RecursionError) as exc:
            problem = problem or f"invalid JSON: {exc}"
            continue
        found.append(value)
        break
    return found, problem


def _normalise_op(item: Any) -> Any:
    """Accept Mem0/Memory-R1 spellings: ``event`` for ``op``, ``id`` for ``memory_id``, ``text`` for ``content``."""
    if not isinstance(item, dict):
        return item
    item = dict(item)
    if "event" in item and "op" not in item:
        item["op"] = item.pop("event")
    if "id" in item and "memory_id" not in item:
        item["memory_id"] = item.pop("id")
    if "text" in item and "content" not in item:
        item["content"] = item.pop("text")
    for key in ("old_memory", "old_content", "reason"):
        item.pop(key, None)
    if isinstance(item.get("op"), str):
        item["op"] = item["op"].upper()
        if item["op"] == "NONE":  # Mem0's spelling of "no change"
            item["op"] = "NOOP"
    if item.get("memory_id") is not None:
        item["memory_id"] = str(item["memory_id"])
    if item.get("op") == "ADD":
        item.pop("memory_id", None)
    if item.get("op") in ("DELETE", "NOOP"):  # Mem0 repeats the memory text on every event
        for key in ("content", "speaker", "dia_ids"):
            item.pop(key, None)
    return item


def _from_json(role: Role, value: Any) -> Action:
    if role == "extractor":
        facts = value.get("facts") if isinstance(value, dict) else value
        if isinstance(facts, list):
            facts = [{"fact": f} if isinstance(f, str) else f for f in facts]
        return ExtractAction.model_validate({"facts": facts})
    ops = value
    if isinstance(value, dict):
        ops = value.get("operations", value.get("memory"))
    if isinstance(ops, list):
        ops = [_normalise_op(op) for op in ops]
    return ManageAction.model_validate({"operations": ops})


# -- lines -----------------------------------------------------------------------------------------------------
_DIA = re.compile(r"\s*\[((?:\s*D\d+:\d+\s*[,;]?)+)\]\s*$")
_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+(.*\S)\s*$")
_SPEAKER = re.compile(r"^([A-Z][\w .'-]{0,30}?):\s+(.+)$")
_ADD = re.compile(r"^\s*[-*]?\s*ADD\b\s*:?\s*(.*\S)\s*$", re.IGNORECASE)
_UPDATE = re.compile(r"^\s*[-*]?\s*UPDATE\s+\[?(\w+)\]?\s*:\s*(.*\S)\s*$", re.IGNORECASE)
_DELETE = re.compile(r"^\s*[-*]?\s*DELETE\s+\[?(\w+)\]?\s*\.?\s*$", re.IGNORECASE)
_NOOP = re.compile(r"^\s*[-*]?\s*NOOP\b.*$", re.IGNORECASE)


def _split_dia_ids(text: str) -> tuple[str, tuple[str, ...]]:
    match = _DIA.search(text)
    if not match:
        return text, ()
    ids = tuple(re.findall(r"D\d+:\d+", match.group(1)))
    return text[: match.start()].strip(), ids


def _from_lines(role: Role, text: str) -> Action | None:
    items: list[dict[str, Any]] = []
    for line in text.splitlines():
        if role == "extractor":
            bullet = _BULLET.match(line)
            if not bullet:
                continue
            body, dia_ids = _split_dia_ids(bullet.group(1))
            speaker_match = _SPEAKER.match(body)
            speaker, body = (speaker_match.group(1), speaker_match.group(2)) if speaker_match else (None, body)
            if body.strip():
                items.append({"speaker": speaker, "fact": body, "dia_ids": dia_ids})
            continue
        if m := _UPDATE.match(line):
            body, dia_ids = _split_dia_ids(m.group(2))
            items.append({"op": "UPDATE", "memory_id": m.group(1), "content": body, "dia_ids": dia_ids})
        elif m := _DELETE.match(line):
            items.append({"op": "DELETE", "memory_id": m.group(1)})
        elif m := _ADD.match(line):
            body, dia_ids = _split_dia_ids(m.group(1))
            items.append({"op": "ADD", "content": body, "dia_ids": dia_ids})
        elif _NOOP.match(line):
            items.append({"op": "NOOP"})
    if not items:
        return None
    if role == "extractor":
        return ExtractAction.model_validate({"facts": items})
    return ManageAction.model_validate({"operations": items})


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "action"
    return f"{where}: {err['msg']}"


def parse_action(role: str, text: Any) -> Action | ParseError:
    """Parse an LLM's output for ``role`` ("extractor" or "manager"). Never raises.

    >>> parse_action("manager", "ADD: Alice moved to Rome\\nDELETE m3")
    ManageAction(role='manager', operations=(AddOp(op='ADD', content='Alice moved to Rome', speaker=None, dia_ids=()), DeleteOp(op='DELETE', memory_id='m3')))
    >>> parse_action("extractor", "nothing here").message
    'no JSON action and no line in the extractor format (- <fact>)'
    """
    if role not in ROLES:
        return ParseError(role=str(role), message=f"unknown role {role!r}; expected one of {ROLES}")
    if not isinstance(text, str):
        return ParseError(role=role, message=f"expected text, got {type(text).__name__}")
    candidates, error = _json_candidates(text)
    error = f"{error} (JSON needs double-quoted keys and strings)" if error else None
    for candidate in candidates:
        try:
            return _from_json(role, candidate)
        except ValidationError as exc:
            error = f"invalid JSON action: {_first_error(exc)}"
        except (TypeError, ValueError, AttributeError) as exc:
            error = f"invalid JSON action: {exc}"
    try:
        action = _from_lines(role, text)
    except ValidationError as exc:
        return ParseError(role=role, message=f"invalid line action: {_first_error(exc)}", text=text)
    if action is not None:
        return action
    if error:
        return ParseError(role=role, message=error, text=text)
    fmt = "- <fact>" if role == "extractor" else "ADD: <text> | UPDATE <id>: <text> | DELETE <id> | NOOP"
    return ParseError(role=role, message=f"no JSON action and no line in the {role} format ({fmt})", text=text)


def coerce_action(role: str, action: Any) -> Action | ParseError:
    """Accept what ``MemoryEnv.step`` accepts: text, an action object, or a plain dict. Never raises."""
    if isinstance(action, str):
        return parse_action(role, action)
    if isinstance(action, (ExtractAction, ManageAction)):
        if action.role != role:
            return ParseError(role=role, message=f"a {action.role} action was given in the {role} phase")
        return action
    if isinstance(action, dict):
        try:
            return _from_json(role, action) if "role" not in action else _ACTION_ADAPTER.validate_python(action)
        except ValidationError as exc:
            return ParseError(role=role, message=f"invalid action: {_first_error(exc)}")
        except (TypeError, ValueError, AttributeError) as exc:
            return ParseError(role=role, message=f"invalid action: {exc}")
    return ParseError(role=role, message=f"cannot read an action from {type(action).__name__}")
