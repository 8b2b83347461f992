"""Every prompt the LLM agent uses: two role system prompts, how a view becomes a user message, and short
few-shot examples per role given as prior chat turns (small models copy formats far better from a previous
assistant turn than from instructions).

Two output formats (both read by :func:`memenv.actions.parse_action`):

* ``"lines"`` (default, for small models): extractor ``- Speaker: fact [D1:2]``; manager ``ADD: text [D1:2]``,
  ``UPDATE m3: text``, ``DELETE m3``, ``NOOP``.
* ``"json"`` (Memory-R2's format): ``{"facts": [...]}`` and ``{"operations": [...]}``.

The manager may instead answer in the compact format (``action_format="compact"``, :mod:`memenv.compact`): one
code per fact (``A``, ``U3``, ``R2``, ``D2``, ``N``), the memory text filled from the fact; the extractor keeps its
format. Two prompt styles: ``"fewshot"`` (the task explained, few-shot exchanges as prior turns) and ``"terse"``
(a short system prompt, no examples, and a shorter view: no dates or evidence ids on the manager's side).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from memenv.actions import ExtractAction, ManageAction
from memenv.compact import render_compact
from memenv.views import ExtractorView, FactView, ManagerView, MemoryView, Turn

OutputFormat = Literal["lines", "json"]
FORMATS: tuple[str, ...] = ("lines", "json")
ActionFormat = Literal["line", "compact"]
ACTION_FORMATS: tuple[str, ...] = ("line", "compact")
PromptStyle = Literal["fewshot", "terse"]
PROMPT_STYLES: tuple[str, ...] = ("fewshot", "terse")

_EXTRACTOR_TASK = (
    "You are the fact extractor of a long-term memory system. You read one part of a conversation and write "
    "down the facts worth remembering to answer questions later: personal details, events, plans, preferences, "
    "names, places and dates. Write each fact as a short standalone sentence that names the person; turn "
    "relative dates ('yesterday', 'last week') into dates using the session date. Skip greetings and small talk. "
    "Write only the list."
)
_MANAGER_TASK = (
    "You are the memory manager of a long-term memory system. You get new facts and the existing memories "
    "related to them, each with its id. For every fact choose one operation: ADD a new memory when the fact is "
    "new; UPDATE a memory when the fact changes it or adds detail (write the merged memory); DELETE a memory "
    "that the fact shows is no longer true; NOOP when the fact is already remembered. Use only the memory ids "
    "shown. When there are no existing memories, every new fact is an ADD."
)
_FORMAT_RULES = {
    ("extractor", "lines"): "Answer with one fact per line, as: - Speaker: fact [dialogue id]",
    ("extractor", "json"): 'Answer with JSON only: {"facts": [{"speaker": ..., "fact": ..., "dia_ids": [...]}]}',
    ("manager", "lines"): (
        "Answer with one operation per line: ADD: <memory> | UPDATE <id>: <memory> | DELETE <id> | NOOP"
    ),
    ("manager", "json"): (
        'Answer with JSON only: {"operations": [{"op": "ADD", "content": ...}, '
        '{"op": "UPDATE", "memory_id": ..., "content": ...}, {"op": "DELETE", "memory_id": ...}, {"op": "NOOP"}]}'
    ),
}


_COMPACT_TASK = (
    "You are the memory manager of a long-term memory system. You get new facts and the existing memories "
    "related to them, each with its id. For each new fact, in order, write one code: A to add the fact as a new "
    "memory; U<k> to update memory m<k> with it (the fact becomes what m<k> states, the old value its history); "
    "R<k> to delete memory m<k> and add the fact; D<k> to delete memory m<k>; N to do nothing (already remembered "
    "or not worth keeping). Use only the memory ids shown."
)
_COMPACT_RULE = "Answer with the codes only, one per fact, separated by spaces, e.g.: A U3 N"
_TERSE = {
    ("extractor", "lines"): (
        "Fact extractor. List the facts worth remembering (names, places, jobs, plans, preferences, dates), "
        "one per line: - Speaker: fact [dialogue id]. Skip small talk."
    ),
    ("extractor", "json"): (
        'Fact extractor. List the facts worth remembering (names, places, jobs, plans, preferences, dates) as '
        'JSON only: {"facts": [{"speaker": ..., "fact": ..., "dia_ids": [...]}]}. Skip small talk.'
    ),
    ("manager", "lines"): (
        "Memory manager. For each new fact write one line: ADD: <memory> | UPDATE <id>: <merged memory> | "
        "DELETE <id> | NOOP. Use only the memory ids shown."
    ),
    ("manager", "json"): (
        'Memory manager. For each new fact one operation, as JSON only: {"operations": [{"op": "ADD", "content": '
        '...}, {"op": "UPDATE", "memory_id": ..., "content": ...}, {"op": "DELETE", "memory_id": ...}, '
        '{"op": "NOOP"}]}. Use only the memory ids shown.'
    ),
    ("manager", "compact"): (
        "Memory manager. One code per new fact, in order: A (add it), U<k> (update memory m<k> with it), R<k> "
        "(replace m<k> by it), D<k> (delete m<k>), N (nothing). Answer with the codes only, e.g.: A U3 N"
    ),
}


def _check_options(fmt: str, action_format: str, style: str) -> None:
    if fmt not in FORMATS or action_format not in ACTION_FORMATS or style not in PROMPT_STYLES:
        raise ValueError(
            f"fmt={fmt!r}, action_format={action_format!r}, prompt style={style!r}: choose fmt from {FORMATS}, "
            f"action_format from {ACTION_FORMATS} and the style from {PROMPT_STYLES}"
        )


def system_prompt(
    role: str, fmt: OutputFormat = "lines", *, action_format: ActionFormat = "line", style: PromptStyle = "fewshot"
) -> str:
    """The system prompt of ``role`` ("extractor" | "manager") for output format ``fmt`` (the manager answers in
    compact codes instead when ``action_format="compact"``), in prompt ``style``."""
    if (role, fmt) not in _FORMAT_RULES:
        raise ValueError(f"unknown role/format {role!r}/{fmt!r}; roles: extractor, manager; formats: {FORMATS}")
    _check_options(fmt, action_format, style)
    compact = role == "manager" and action_format == "compact"
    if style == "terse":
        return _TERSE[(role, "compact" if compact else fmt)]
    if compact:
        return f"{_COMPACT_TASK}\n\n{_COMPACT_RULE}"
    return f"{_EXTRACTOR_TASK if role == 'extractor' else _MANAGER_TASK}\n\n{_FORMAT_RULES[(role, fmt)]}"


def _header(view: ExtractorView | ManagerView) -> str:
    speakers = ", ".join(view.speakers)
    date = view.date or "unknown"
    return f"Session {view.session} of {view.num_sessions} (date: {date}). Speakers: {speakers}."


def _terse_user_message(view: ExtractorView | ManagerView) -> str:
    if isinstance(view, ExtractorView):
        lines = [f"[{t.dia_id}] {t.speaker}: {t.text}" for t in view.turns]
        return f"Date: {view.date or 'unknown'}\n" + ("\n".join(lines) or "(no turns)")
    memories = [f"{m.memory_id}: {m.content}" for m in view.memories]
    facts = [
        f"{f.index + 1}. {f.speaker + ': ' if f.speaker else ''}{f.fact} (related: {', '.join(f.related) or 'none'})"
        for f in view.facts
    ]
    return "Memories:\n" + ("\n".join(memories) or "(none)") + "\nNew facts:\n" + ("\n".join(facts) or "(none)")


def user_message(view: ExtractorView | ManagerView, style: PromptStyle = "fewshot") -> str:
    """The user turn for one env view (``info["view"]``); ``style="terse"`` leaves out the session header, the
    memories' speakers and dates and the facts' evidence ids."""
    if style == "terse":
        return _terse_user_message(view)
    if isinstance(view, ExtractorView):
        lines = [f"[{t.dia_id}] {t.speaker}: {t.text}" for t in view.turns]
        return f"{_header(view)}\nConversation:\n" + ("\n".join(lines) or "(no turns)")
    memories = [
        f"{m.memory_id} ({m.speaker or 'unknown'}, {m.date or 'session ' + str(m.session)}): {m.content}"
        for m in view.memories
    ]
    facts = []
    for f in view.facts:
        who = f"{f.speaker}: " if f.speaker else ""
        evidence = f" [{', '.join(f.dia_ids)}]" if f.dia_ids else ""
        related = ", ".join(f.related) or "none"
        facts.append(f"{f.index + 1}. {who}{f.fact}{evidence} (related: {related})")
    return (
        f"{_header(view)}\nExisting memories:\n"
        + ("\n".join(memories) or "(none yet: every new fact is an ADD)")
        + "\nNew facts:\n"
        + ("\n".join(facts) or "(none)")
    )


# -- few-shot examples: views as the env builds them, and the actions they should produce -------------------------
def _example_header(session: int, date: str) -> dict[str, Any]:
    return {"session": session, "num_sessions": 8, "chunk": 0, "num_chunks": 1, "date": date, "speakers": ("Ana", "Ben")}


def _fact(index: int, speaker: str, fact: str, dia_id: str, related: tuple[str, ...]) -> FactView:
    return FactView(index=index, speaker=speaker, fact=fact, dia_ids=(dia_id,), related=related)


def _memory(memory_id: str, speaker: str, content: str) -> MemoryView:
    return MemoryView(memory_id=memory_id, content=content, speaker=speaker, session=1, date="2 April 2023")


# (view, action items) per role; the manager sees an empty bank first (ADD only), then UPDATE / ADD / NOOP.
EXAMPLES: dict[str, list[tuple[ExtractorView | ManagerView, list[dict[str, Any]]]]] = {
    "extractor": [
        (
            ExtractorView(
                **_example_header(2, "10 May 2023"),
                turns=(
                    Turn(speaker="Ana", dia_id="D2:1", text="Hi Ben! I finally moved to Lisbon last week."),
                    Turn(speaker="Ben", dia_id="D2:2", text="Congrats! I started learning the cello."),
                ),
            ),
            [
                {"speaker": "Ana", "fact": "Ana moved to Lisbon around 3 May 2023.", "dia_ids": ["D2:1"]},
                {"speaker": "Ben", "fact": "Ben started learning the cello.", "dia_ids": ["D2:2"]},
            ],
        )
    ],
    "manager": [
        (
            ManagerView(
                **_example_header(1, "2 April 2023"),
                facts=(
                    _fact(0, "Ana", "Ana lives in Porto.", "D1:2", ()),
                    _fact(1, "Ben", "Ben has a dog named Rex.", "D1:3", ()),
                ),
                memories=(),
                bank_size=0,
            ),
            [
                {"op": "ADD", "content": "Ana lives in Porto.", "dia_ids": ["D1:2"]},
                {"op": "ADD", "content": "Ben has a dog named Rex.", "dia_ids": ["D1:3"]},
            ],
        ),
        (
            ManagerView(
                **_example_header(2, "10 May 2023"),
                facts=(
                    _fact(0, "Ana", "Ana moved to Lisbon around 3 May 2023.", "D2:1", ("m1",)),
                    _fact(1, "Ben", "Ben is learning the cello.", "D2:2", ()),
                    _fact(2, "Ben", "Ben has a dog.", "D2:4", ("m2",)),
                ),
                memories=(
                    _memory("m1", "Ana", "Ana lives in Porto."),
                    _memory("m2", "Ben", "Ben has a dog named Rex."),
                ),
                bank_size=2,
            ),
            [
                {
                    "op": "UPDATE",
                    "memory_id": "m1",
                    "content": "Ana lives in Lisbon (moved from Porto around 3 May 2023).",
                    "dia_ids": ["D2:1"],
                },
                {"op": "ADD", "content": "Ben is learning the cello.", "dia_ids": ["D2:2"]},
                {"op": "NOOP"},
            ],
        ),
    ],
}


# The manager examples' answers in compact codes (memenv.compact): both facts new; then UPDATE m1, ADD, NOOP.
COMPACT_EXAMPLES: tuple[str, ...] = ("A A", "U1 A N")


def render_action(role: str, items: list[dict[str, Any]], fmt: OutputFormat = "lines") -> str:
    """Action items written in ``fmt``, as the model should write them (and as ``parse_action`` reads them).

    >>> render_action("manager", [{"op": "UPDATE", "memory_id": "m1", "content": "Ana is 30.", "dia_ids": ["D2:1"]}])
    'UPDATE m1: Ana is 30. [D2:1]'
    """
    if fmt == "json":
        return json.dumps({"facts" if role == "extractor" else "operations": items})
    lines = []
    for item in items:
        evidence = f" [{', '.join(item['dia_ids'])}]" if item.get("dia_ids") else ""
        if role == "extractor":
            who = f"{item['speaker']}: " if item.get("speaker") else ""
            lines.append(f"- {who}{item['fact']}{evidence}")
        elif item["op"] == "ADD":
            lines.append(f"ADD: {item['content']}{evidence}")
        elif item["op"] == "UPDATE":
            lines.append(f"UPDATE {item['memory_id']}: {item['content']}{evidence}")
        elif item["op"] == "DELETE":
            lines.append(f"DELETE {item['memory_id']}")
        else:
            lines.append("NOOP")
    return "\n".join(lines)


def build_messages(
    view: ExtractorView | ManagerView,
    fmt: OutputFormat = "lines",
    few_shot: bool = True,
    *,
    action_format: ActionFormat = "line",
    style: PromptStyle = "fewshot",
) -> list[dict[str, str]]:
    """Chat messages for ``view``: system prompt, the role's few-shot exchanges (``few_shot`` and the
    ``"fewshot"`` style only), then the view.

    >>> [m["role"] for m in build_messages(EXAMPLES["extractor"][0][0])]
    ['system', 'user', 'assistant', 'user']
    >>> [m["role"] for m in build_messages(EXAMPLES["manager"][0][0], action_format="compact", style="terse")]
    ['system', 'user']
    """
    role = view.role
    messages = [{"role": "system", "content": system_prompt(role, fmt, action_format=action_format, style=style)}]
    compact = role == "manager" and action_format == "compact"
    if few_shot and style == "fewshot":
        for k, (example_view, items) in enumerate(EXAMPLES[role]):
            answer = COMPACT_EXAMPLES[k] if compact else render_action(role, items, fmt)
            messages.append({"role": "user", "content": user_message(example_view)})
            messages.append({"role": "assistant", "content": answer})
    messages.append({"role": "user", "content": user_message(view, style)})
    return messages



def render_target(
    view: ExtractorView | ManagerView,
    action: ExtractAction | ManageAction,
    fmt: OutputFormat = "lines",
    action_format: ActionFormat = "line",
) -> str:
    """What the agent should write for ``view`` to play ``action`` (e.g. a teacher's, for supervised
    fine-tuning): compact codes for the manager with ``action_format="compact"`` (``ValueError`` when the action
    has none), else ``action`` rendered in ``fmt``."""
    _check_options(fmt, action_format, "fewshot")
    if view.role == "manager" and action_format == "compact":
        return render_compact(view, action)
    if view.role == "extractor":
        items = [f.model_dump(mode="json") for f in action.facts]
    else:
        items = [op.model_dump(mode="json") for op in action.operations]
    if not items and fmt == "lines":  # nothing to write: the forms of "nothing" that parse
        return '{"facts": []}' if view.role == "extractor" else "NOOP"
    return render_action(view.role, items, fmt)
