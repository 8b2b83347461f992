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

:func:`parse_action` never raises: on any string it returns an action or a :class:`ParseError`, in time linear
in the length of the text (every pattern is free of backtracking, and at most :data:`MAX_JSON_STARTS` places are
tried as the start of a JSON object).

**Limits** (so that one output cannot stall an episode or push the observation out of its space): only the first
:data:`MAX_ACTION_CHARS` characters of a text are read (``MemoryEnv.step`` reports the cut in ``info["error"]``
with the invalid-action penalty); an action holds at most :data:`MAX_ACTION_ITEMS` facts or operations; a fact or
content is at most :data:`MAX_TEXT_CHARS` characters *as escaped in the ASCII observation* (a non-ASCII character
counts 6, one outside the Basic Multilingual Plane 12), a speaker :data:`MAX_SPEAKER_CHARS`, an id
:data:`MAX_ID_CHARS`; text must be valid Unicode (a lone surrogate such as the JSON escape ``\ud800`` is refused,
since the bank could not be saved as JSON). An action breaking a limit is invalid, like any other.
"""

from __future__ import annotations

import itertools
import functools
import json
import re
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

Role = Literal["extractor", "manager"]
ROLES: tuple[Role, Role] = ("extractor", "manager")

MAX_ACTION_CHARS = 1 << 14
"""Characters of an action text that are read; the rest is ignored (and reported by ``MemoryEnv.step``)."""
MAX_ACTION_ITEMS = 256
"""Facts per extractor action, operations per manager action (Mem0Like writes ~70 sentence facts per session)."""
MAX_TEXT_CHARS = 1_000
"""Length of one fact or memory content as escaped in the observation's ASCII JSON."""
MAX_SPEAKER_CHARS = 50
MAX_ID_CHARS = 32
"""Length of a memory id or a dialogue id."""
MAX_DIA_IDS = 32
"""Evidence turn ids per fact or operation."""
MAX_JSON_STARTS = 8
"""Places in a text tried as the start of a JSON action (fenced blocks, then ``{`` followed by a key or ``}``)."""


@functools.lru_cache(maxsize=1 << 13)
def _checked_content(value: str) -> tuple[str, str | None]:
    """``(stripped value, None)``, or ``("", why it is refused)``; memoised, as agents re-send the same texts."""
    value = value.strip()
    if not value:
        return "", "must not be empty"
    shown = len(json.dumps(value, ensure_ascii=True)) - 2
    if shown > MAX_TEXT_CHARS:
        return "", f"is {shown} characters as shown in the observation; at most {MAX_TEXT_CHARS} are allowed"
    return value, None


def _content(value: str) -> str:
    value, error = _checked_content(value)
    if error is not None:
        raise ValueError(error)
    return value


# Every text field has a length constraint, which makes pydantic read it as Unicode and refuse lone surrogates
# ("unable to parse raw data as a unicode string"); tests/test_actions.py checks that for each field. The raw
# length check runs before the escaped one, so a huge string is refused before it is escaped.
Content = Annotated[str, Field(max_length=MAX_TEXT_CHARS), AfterValidator(_content)]
Speaker = Annotated[str, Field(max_length=MAX_SPEAKER_CHARS)]
Identifier = Annotated[str, Field(max_length=MAX_ID_CHARS)]
DiaIds = Annotated[tuple[Identifier, ...], Field(max_length=MAX_DIA_IDS)]


class _Action(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Fact(_Action):
    """One extracted fact, optionally with its speaker and evidence turn ids."""

    speaker: Speaker | None = None
    fact: Content
    dia_ids: DiaIds = ()


class ExtractAction(_Action):
    """The extractor's action: the facts worth remembering from the current chunk."""

    role: Literal["extractor"] = "extractor"
    facts: Annotated[tuple[Fact, ...], Field(max_length=MAX_ACTION_ITEMS)] = ()


class AddOp(_Action):
    op: Literal["ADD"] = "ADD"
    content: Content
    speaker: Speaker | None = None
    dia_ids: DiaIds = ()


class UpdateOp(_Action):
    op: Literal["UPDATE"] = "UPDATE"
    memory_id: Identifier
    content: Content
    dia_ids: DiaIds = ()


class DeleteOp(_Action):
    op: Literal["DELETE"] = "DELETE"
    memory_id: Identifier


class NoopOp(_Action):
    op: Literal["NOOP"] = "NOOP"
    memory_id: Identifier | None = None


Operation = Annotated[Union[AddOp, UpdateOp, DeleteOp, NoopOp], Field(discriminator="op")]


class ManageAction(_Action):
    """The manager's action: operations on the memory bank, applied in order."""

    role: Literal["manager"] = "manager"
    operations: Annotated[tuple[Operation, ...], Field(max_length=MAX_ACTION_ITEMS)] = ()


class ParseError(BaseModel):
    """Why a text could not be read as an action of ``role``."""

    model_config = ConfigDict(frozen=True)

    role: str
    message: str
    text: str = ""


Action = Union[ExtractAction, ManageAction]
_ACTION_ADAPTER: TypeAdapter = TypeAdapter(Annotated[Action, Field(discriminator="role")])

# -- JSON ------------------------------------------------------------------------------------------------------
# Possessive quantifiers (``*+``) never give back what they matched, so no pattern here can backtrack.
_FENCE = re.compile(r"```(?:json|JSON)?+\s*+(.*?)```", re.DOTALL)
_OBJECT_START = re.compile(r"\{\s*+[\"'}]")  # single quotes too, to say why they fail


def _json_candidates(text: str) -> tuple[list[Any], str | None]:
    """JSON actions found in ``text`` (fenced blocks, then the first object after any prose), and why the
    first brace that looked like JSON did not decode (e.g. single-quoted keys), if it did not.

    At most :data:`MAX_JSON_STARTS` places are tried: a failed decode costs time linear in its position (the
    error message counts lines), so trying every ``{`` of a text would be quadratic."""
    found: list[Any] = []
    problem = None
    for block in itertools.islice(_FENCE.finditer(text), MAX_JSON_STARTS):
        try:
            found.append(json.loads(block.group(1)))
        except (ValueError, RecursionError) as exc:
            problem = problem or f"invalid JSON in fenced block: {exc}"
    stripped = text.lstrip()
    starts = [len(text) - len(stripped)] if stripped.startswith("[") else []
    starts += [m.start() for m in itertools.islice(_OBJECT_START.finditer(text), MAX_JSON_STARTS)]
    decoder = json.JSONDecoder()
    for start in starts[:MAX_JSON_STARTS]:
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


def _check_count(items: Any) -> Any:
    """Refuse an over-long list before validating its items (validating 100k facts would take long)."""
    if isinstance(items, (list, tuple)) and len(items) > MAX_ACTION_ITEMS:
        raise ValueError(f"{len(items)} items; at most {MAX_ACTION_ITEMS} facts or operations per action")
    return items


def _from_json(role: Role, value: Any) -> Action:
    if role == "extractor":
        facts = _check_count(value.get("facts") if isinstance(value, dict) else value)
        if isinstance(facts, list):
            facts = [{"fact": f} if isinstance(f, str) else f for f in facts]
        return ExtractAction.model_validate({"facts": facts})
    ops = value
    if isinstance(value, dict):
        ops = value.get("operations", value.get("memory"))
    if isinstance(_check_count(ops), list):
        ops = [_normalise_op(op) for op in ops]
    return ManageAction.model_validate({"operations": ops})


# -- lines -----------------------------------------------------------------------------------------------------
# Each pattern is matched against a stripped line, with possessive quantifiers: linear time on any line.
_DIA_LIST = re.compile(r"(?:\s*+D\d++:\d++\s*+[,;]?+)++")
_DIA_ID = re.compile(r"D\d+:\d+")
_BULLET = re.compile(r"(?:[-*\u2022]|\d++[.)])\s++(.+)")
_SPEAKER = re.compile(r"([A-Z][\w .'-]{0,30}?):\s++(.+)")
_ADD = re.compile(r"[-*]?+\s*+ADD\b\s*+:?+\s*+(.+)", re.IGNORECASE)
_UPDATE = re.compile(r"[-*]?+\s*+UPDATE\s++\[?+(\w++)\]?+\s*+:\s*+(.+)", re.IGNORECASE)
_DELETE = re.compile(r"[-*]?+\s*+DELETE\s++\[?+(\w++)\]?+\s*+\.?+", re.IGNORECASE)
_NOOP = re.compile(r"[-*]?+\s*+NOOP\b", re.IGNORECASE)


def _split_dia_ids(text: str) -> tuple[str, tuple[str, ...]]:
    """``"text [D1:3, D1:4]"`` -> ``("text", ("D1:3", "D1:4"))``; text without such a trailing list is unchanged."""
    if not text.endswith("]"):
        return text, ()
    start = text.rfind("[")
    inner = text[start + 1 : -1]
    if start < 0 or not _DIA_LIST.fullmatch(inner):
        return text, ()
    return text[:start].strip(), tuple(_DIA_ID.findall(inner))


def _from_lines(role: Role, text: str) -> Action | None:
    items: list[dict[str, Any]] = []
    for line in text.splitlines():
        line = line.strip()
        if role == "extractor":
            bullet = _BULLET.fullmatch(line)
            if not bullet:
                continue
            body, dia_ids = _split_dia_ids(bullet.group(1))
            speaker_match = _SPEAKER.fullmatch(body)
            speaker, body = (speaker_match.group(1), speaker_match.group(2)) if speaker_match else (None, body)
            if body.strip():
                items.append({"speaker": speaker, "fact": body, "dia_ids": dia_ids})
                _check_count(items)
            continue
        if m := _UPDATE.fullmatch(line):
            body, dia_ids = _split_dia_ids(m.group(2))
            items.append({"op": "UPDATE", "memory_id": m.group(1), "content": body, "dia_ids": dia_ids})
        elif m := _DELETE.fullmatch(line):
            items.append({"op": "DELETE", "memory_id": m.group(1)})
        elif m := _ADD.fullmatch(line):
            body, dia_ids = _split_dia_ids(m.group(1))
            items.append({"op": "ADD", "content": body, "dia_ids": dia_ids})
        elif _NOOP.match(line):
            items.append({"op": "NOOP"})
        _check_count(items)  # stop reading at the first item too many
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
    """Parse an LLM's output for ``role`` ("extractor" or "manager"). Never raises; linear time.

    Only the first :data:`MAX_ACTION_CHARS` characters are read (see :func:`truncation_note`).

    >>> parse_action("manager", "ADD: Alice moved to Rome\\nDELETE m3")
    ManageAction(role='manager', operations=(AddOp(op='ADD', content='Alice moved to Rome', speaker=None, dia_ids=()), DeleteOp(op='DELETE', memory_id='m3')))
    >>> parse_action("extractor", "nothing here").message
    'no JSON action and no line in the extractor format (- <fact>)'
    """
    if role not in ROLES:
        return ParseError(role=str(role), message=f"unknown role {role!r}; expected one of {ROLES}")
    if not isinstance(text, str):
        return ParseError(role=role, message=f"expected text, got {type(text).__name__}")
    text = text[:MAX_ACTION_CHARS]
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
    except ValueError as exc:  # a pydantic ValidationError, or too many items
        reason = _first_error(exc) if isinstance(exc, ValidationError) else str(exc)
        return ParseError(role=role, message=f"invalid line action: {reason}", text=text)
    if action is not None:
        return action
    if error:
        return ParseError(role=role, message=error, text=text)
    fmt = "- <fact>" if role == "extractor" else "ADD: <text> | UPDATE <id>: <text> | DELETE <id> | NOOP"
    return ParseError(role=role, message=f"no JSON action and no line in the {role} format ({fmt})", text=text)


def coerce_action(role: str, action: Any) -> Action | ParseError:
    """Accept what ``MemoryEnv.step`` accepts: text, an action object, or a plain dict. Never raises.

    An action object is dumped and validated again like a dict: one built with pydantic's ``model_construct``
    (or changed after it was built) skips validation, and would otherwise bring any number of operations, any text
    length or a lone surrogate into the bank.
    A :class:`ParseError` of ``role`` is returned as it is: an agent that reads its own output with the view
    (the compact codes of :mod:`memenv.compact`) hands the env its error, which the env penalises and reports.
    """
    if isinstance(action, str):
        return parse_action(role, action)
    if isinstance(action, ParseError):  # the agent's own text: revalidated and cut like any other
        if action.role != role:
            return ParseError(role=role, message=f"a {str(action.role)!r:.40} error was given in the {role} phase")
        return ParseError(role=role, message=str(action.message)[:300])
    if isinstance(action, (ExtractAction, ManageAction)):
        try:
            action = action.model_dump(warnings=False)
            if action.get("role") != role:
                return ParseError(role=role, message=f"a {str(action.get('role'))[:40]} action was given in the {role} phase")
        except Exception as exc:  # noqa: BLE001 - an object built without validation can hold anything
            return ParseError(role=role, message=f"invalid action object: {type(exc).__name__}: {exc}"[:300])
    if isinstance(action, dict):
        if "role" in action and not (isinstance(action["role"], str) and action["role"] == role):
            return ParseError(role=role, message=f"a {action['role']!r:.40} action was given in the {role} phase")
        try:
            if "role" not in action:
                return _from_json(role, action)
            _check_count(action.get("facts" if role == "extractor" else "operations"))
            return _ACTION_ADAPTER.validate_python(action)
        except ValidationError as exc:
            return ParseError(role=role, message=f"invalid action: {_first_error(exc)}")
        except (TypeError, ValueError, AttributeError) as exc:
            return ParseError(role=role, message=f"invalid action: {exc}")
    return ParseError(role=role, message=f"cannot read an action from {type(action).__name__}")


def truncation_note(action: Any) -> str | None:
    """What ``MemoryEnv.step`` adds to ``info["error"]`` when ``action`` is a text longer than
    :data:`MAX_ACTION_CHARS` (only its head is read, and the step gets the invalid-action penalty); else None."""
    if isinstance(action, str) and len(action) > MAX_ACTION_CHARS:
        return f"the action is {len(action)} characters; only the first {MAX_ACTION_CHARS} were read"
    return None
