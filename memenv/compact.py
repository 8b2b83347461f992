"""The compact manager format: one short code per fact, the memory text filled from the fact.

A manager that writes whole memories spends most of its tokens copying the fact it was shown. In the compact
format it writes only a decision per fact, in the order of the view's facts, and the text is filled in as the
FeaturePolicy fills it (:mod:`agents.restricted_oracle`):

* ``A`` -- ADD the fact (its speaker and evidence turns as the view shows them);
* ``N`` -- NOOP;
* ``U<k>`` -- UPDATE memory ``m<k>``: the fact, then the memory's current statement as one past clause
  (:func:`updated_content`);
* ``D<k>`` -- DELETE memory ``m<k>``;
* ``R<k>`` -- replace memory ``m<k>``: DELETE it and ADD the fact (the FeaturePolicy's ``delete_keeps_fact``).

Codes are separated by spaces, commas or new lines (``A U3 N``), case-insensitive, and ``U m3`` / ``Um3`` also
read as ``U3``. ``k`` must name a memory the view shows. The codes need the view to become an action, so they
are parsed by the agent that wrote them (:func:`parse_compact`), which hands the env the
:class:`~memenv.actions.ManageAction` -- or the :class:`~memenv.actions.ParseError`, which the env penalises and
reports in ``info["error"]`` like any unreadable action. :func:`render_compact` is the inverse: the codes of an
action in this set (e.g. a teacher's, for supervised fine-tuning).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from memenv.actions import MAX_ACTION_CHARS, AddOp, DeleteOp, ManageAction, NoopOp, ParseError, UpdateOp
from memenv.views import FactView, ManagerView

CODES = "A | N | U<k> | D<k> | R<k>"
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")
_CLAUSE_BREAK = re.compile(r"\s*(?:[,:;()!?.]|\b(?:and|but|while)\b)\s*", re.I)
_SEPARATOR = re.compile(r"[\s,;]+")
_CODE = re.compile(r"([AN])|([UDR])\s*+M?+(\d{1,9})", re.IGNORECASE)
_TOKEN = re.compile(r"[UDR]\s++M?+\d{1,9}|[^\s,;]++", re.IGNORECASE)  # "U m3" is one code
_MEMORY_ID = re.compile(r"m(\d+)")


def current_statement(memory: str) -> str:
    """A memory's first sentence: what it currently states (an UPDATE puts the new fact first).

    >>> current_statement("Maya moved to Oslo! Previously Maya lives in Lisbon.")
    'Maya moved to Oslo!'
    """
    return _SENTENCE_END.split(memory.strip(), 1)[0]


def updated_content(fact: str, memory: str) -> str:
    """What an UPDATE of ``memory`` by ``fact`` writes: the fact, then the memory's first (current) statement
    as a single past clause, so the old value reads as history and older ones are dropped.

    >>> updated_content("Maya moved to Oslo!", "Oh, Maya lives in Lisbon and loves it. Maya previously lived in Porto.")
    'Maya moved to Oslo! Previously Oh Maya lives in Lisbon loves it.'
    """
    clause = " ".join(part for part in _CLAUSE_BREAK.split(current_statement(memory)) if part)
    return f"{fact} Previously {clause}." if clause else fact


def add_op(fact: FactView) -> AddOp:
    """The ADD of a fact as shown (text, speaker, evidence turns)."""
    return AddOp(content=fact.fact, speaker=fact.speaker, dia_ids=fact.dia_ids)


def update_op(fact: FactView, memory_id: str, memory_content: str) -> UpdateOp:
    """The UPDATE of ``memory_id`` by ``fact`` (text from :func:`updated_content`)."""
    return UpdateOp(memory_id=memory_id, content=updated_content(fact.fact, memory_content), dia_ids=fact.dia_ids)


def _codes(text: str) -> list[str]:
    return [t for t in _TOKEN.findall(text[:MAX_ACTION_CHARS].strip()) if t]


def parse_compact(view: ManagerView, text: Any) -> ManageAction | ParseError:
    """The action that ``text`` (one code per fact of ``view``, see the module docstring) stands for, or a
    :class:`ParseError` that says which code is wrong and why. Never raises.

    >>> from memenv.views import MemoryView
    >>> view = ManagerView(session=2, num_sessions=2, chunk=0, num_chunks=1, date=None, speakers=("Ann",),
    ...     facts=(FactView(index=0, speaker="Ann", fact="Ann lives in Oslo.", dia_ids=("D2:1",), related=("m1",)),
    ...            FactView(index=1, fact="Ann likes tea.")),
    ...     memories=(MemoryView(memory_id="m1", content="Ann lives in Rome.", session=1),), bank_size=1)
    >>> [op.op for op in parse_compact(view, "U1 A").operations]
    ['UPDATE', 'ADD']
    >>> parse_compact(view, "U2 A").message
    'code 1 (U2): m2 is not among the memories shown (m1); use A | N | U<k> | D<k> | R<k> with k a shown id'
    """
    if not isinstance(text, str):
        return ParseError(role="manager", message=f"expected compact codes as text, got {type(text).__name__}")
    codes = _codes(text)
    if not view.facts and codes in ([], ["N"], ["n"]):
        return ManageAction()
    if len(codes) != len(view.facts):
        return ParseError(
            role="manager", text=text[:MAX_ACTION_CHARS],
            message=f"{len(codes)} codes for {len(view.facts)} facts: write one code per fact, in order ({CODES})",
        )
    contents = {m.memory_id: m.content for m in view.memories}
    ops: list[Any] = []
    deleted: set[str] = set()
    for i, (code, fact) in enumerate(zip(codes, view.facts)):
        where = f"code {i + 1} ({code})"
        match = _CODE.fullmatch(code)
        if match is None:
            return ParseError(role="manager", text=text, message=f"{where}: not a code; use {CODES}")
        if match.group(1):
            ops.append(add_op(fact) if match.group(1).upper() == "A" else NoopOp())
            continue
        kind, memory_id = match.group(2).upper(), f"m{int(match.group(3))}"
        if memory_id not in contents:
            shown = ", ".join(contents) or "none"
            return ParseError(
                role="manager", text=text,
                message=f"{where}: {memory_id} is not among the memories shown ({shown}); use {CODES} with k a shown id",
            )
        if memory_id in deleted:
            return ParseError(role="manager", text=text, message=f"{where}: {memory_id} was deleted by an earlier code")
        try:
            if kind == "U":
                ops.append(update_op(fact, memory_id, contents[memory_id]))
                continue
            deleted.add(memory_id)
            ops.append(DeleteOp(memory_id=memory_id))
            if kind == "R":
                ops.append(add_op(fact))
        except ValidationError as exc:  # e.g. a merged memory over the length limit
            return ParseError(role="manager", text=text, message=f"{where}: {exc.errors()[0]['msg']}")
    return ManageAction(operations=tuple(ops))


def render_compact(view: ManagerView, action: ManageAction) -> str:
    """The codes of ``action`` for ``view``: the inverse of :func:`parse_compact`. ``ValueError`` when the action
    is not in the compact set (e.g. an ADD whose text is not its fact's, one operation too few or too many).

    >>> from memenv.views import MemoryView
    >>> view = ManagerView(session=1, num_sessions=1, chunk=0, num_chunks=1, date=None, speakers=("Ann",),
    ...     facts=(FactView(index=0, fact="Ann likes tea."),), memories=(), bank_size=0)
    >>> render_compact(view, ManageAction(operations=(AddOp(content="Ann likes tea."),)))
    'A'
    """
    ops = list(action.operations)
    codes = []
    for fact in view.facts:
        if not ops:
            raise ValueError(f"fact {fact.index + 1} has no operation: the action is not one code per fact")
        op = ops.pop(0)
        if isinstance(op, AddOp) and op.content == fact.fact:
            codes.append("A")
        elif isinstance(op, NoopOp):
            codes.append("N")
        elif isinstance(op, UpdateOp) and _MEMORY_ID.fullmatch(op.memory_id):
            codes.append(f"U{op.memory_id[1:]}")
        elif isinstance(op, DeleteOp) and _MEMORY_ID.fullmatch(op.memory_id):
            replaces = bool(ops) and isinstance(ops[0], AddOp) and ops[0].content == fact.fact
            if replaces:
                ops.pop(0)
            codes.append(f"{'R' if replaces else 'D'}{op.memory_id[1:]}")
        else:
            raise ValueError(f"fact {fact.index + 1}: {op.op} {op.model_dump_json()} has no compact code ({CODES})")
    if ops:
        raise ValueError(f"{len(ops)} operation(s) left after one code per fact: not in the compact set")
    if not view.facts:
        return "N"
    rendered = " ".join(codes)
    if parse_compact(view, rendered) != action:  # e.g. an UPDATE whose text is not the filled one
        raise ValueError(f"{rendered!r} does not stand for the action (its memory texts are not the filled ones)")
    return rendered
