"""Scripted reference agents: ``NoMemory`` (the floor), ``StoreAll`` (keep every turn) and ``Oracle`` (gold).

Each satisfies :class:`agents.base.MemoryAgent`: ``act(observation, info)`` reads the structured view from
``info["view"]`` (a :mod:`memenv.views` model; rebuilt from the observation's JSON text when ``info`` lacks it) and returns an action object or dict.
"""

from __future__ import annotations

from typing import Any

from memenv.actions import AddOp, ExtractAction, Fact, ManageAction, NoopOp
from memenv.views import ExtractorView, view_of


class NoMemory:
    """Remembers nothing: no facts, NOOP. Every memory benchmark's floor (Synthetic-v0 scores 0).

    >>> NoMemory().act({"text": '{"role": "manager", "session": 1, "num_sessions": 1, "chunk": 0, "num_chunks": 1, '
    ...                         '"date": null, "speakers": [], "bank_size": 0}'}, {}).operations
    (NoopOp(op='NOOP', memory_id=None),)
    """

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> ExtractAction | ManageAction:
        if view_of(observation, info).role == "extractor":
            return ExtractAction()
        return ManageAction(operations=(NoopOp(),))


class StoreAll:
    """Keeps every turn verbatim: the extractor lists each turn, the manager ADDs it as ``"speaker: text"``.

    Nothing is ever updated or deleted, so stale values stay next to current ones and the bank grows with the
    dialogue (the compression penalty applies).

    >>> from memenv.views import Turn
    >>> view = ExtractorView(session=1, num_sessions=1, chunk=0, num_chunks=1, date=None, speakers=("Ann",),
    ...                      turns=(Turn(speaker="Ann", dia_id="D1:1", text="Hi!"),))
    >>> StoreAll().act({}, {"view": view}).facts[0]
    Fact(speaker='Ann', fact='Hi!', dia_ids=('D1:1',))
    """

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> ExtractAction | ManageAction:
        view = view_of(observation, info)
        if isinstance(view, ExtractorView):
            return ExtractAction(
                facts=tuple(Fact(speaker=t.speaker, fact=t.text, dia_ids=(t.dia_id,)) for t in view.turns)
            )
        operations = tuple(
            AddOp(content=f"{f.speaker}: {f.fact}" if f.speaker else f.fact, dia_ids=f.dia_ids) for f in view.facts
        )
        return ManageAction(operations=operations or (NoopOp(),))


class Oracle:
    """Plays the env's gold action (``info["gold"]``): the ideal facts and the ideal operations on the bank.

    Gold is privileged and opt-in: Synthetic envs give it with ``privileged=True``, LoCoMo-v0 (its annotated
    observations) with ``observation_gold=True``; ``memr2 eval`` / ``play`` set that flag for agents whose
    ``privileged`` attribute is true. Without gold ``act`` raises.
    """

    privileged = True

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
        gold = info.get("gold")
        if gold is None:
            raise ValueError(
                "the oracle agent needs info['gold'], which this environment does not provide; "
                "make the env with privileged=True (Synthetic) or observation_gold=True (LoCoMo)"
            )
        return gold
