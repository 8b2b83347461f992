"""The FeaturePolicy's action set, and the ``restricted-oracle``: the best play of that action set, from gold.

The :class:`~algorithms.policies.feature.FeaturePolicy` (and this agent) can only

* **extract** by keeping or dropping each turn of the chunk verbatim, and
* **manage** each fact by one of ``ADD``, ``NOOP``, ``UPDATE <j>`` or ``DELETE <j>`` of one of the fact's first
  ``num_slots`` related memories shown in the view. An UPDATE writes the fact and keeps the memory's current
  statement as one past clause (:func:`updated_content`); what DELETE does with the fact is a policy option
  (dropped, or added after the delete: :func:`manager_operations`).

``RestrictedOracle`` plays that action set with privileged knowledge (``info["gold_facts"]``, opt-in on
Synthetic envs via ``privileged=True``): keep exactly the fact turns, UPDATE the shown memory that speaks for the
fact's key (the newest one if several), else ADD. Its score is a scripted lower bound of the optimum of the action
set, not a ceiling: the non-privileged :mod:`agents.reference` agent reads the same keys from the views and also
deletes stale duplicates, and scores as high (higher at 32 sessions).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from memenv.actions import DeleteOp, ExtractAction, Fact, ManageAction, NoopOp
from memenv.compact import add_op, current_statement, update_op, updated_content  # noqa: F401  (re-exported)
from memenv.bank import id_number
from memenv.views import ExtractorView, FactView, ManagerView

ADD, NOOP = 0, 1


def related_slots(fact: FactView, view: ManagerView, num_slots: int) -> list[str]:
    """The memory ids a fact's ``UPDATE <j>`` / ``DELETE <j>`` options point at: its first ``num_slots`` related
    memories that the view shows."""
    shown = {m.memory_id for m in view.memories}
    return [m for m in fact.related if m in shown][:num_slots]


def manager_operations(
    view: ManagerView, choices: Sequence[int], num_slots: int, *, delete_keeps_fact: bool = False
) -> ManageAction:
    """The operations for one option per fact of a manager view: ``0`` ADD, ``1`` NOOP, ``2 + j`` UPDATE slot j,
    ``2 + num_slots + j`` DELETE slot j (and, with ``delete_keeps_fact``, ADD the fact after it: "replace")."""
    ops: list[Any] = []
    deleted: set[str] = set()
    contents = {m.memory_id: m.content for m in view.memories}
    for fact, choice in zip(view.facts, choices):
        add = add_op(fact)
        if choice == ADD:
            ops.append(add)
            continue
        if choice == NOOP:
            ops.append(NoopOp())
            continue
        target = related_slots(fact, view, num_slots)[(choice - 2) % num_slots]
        if target in deleted:  # already gone in this step: nothing left to change
            ops.append(add if delete_keeps_fact else NoopOp())
        elif choice - 2 < num_slots:
            ops.append(update_op(fact, target, contents[target]))
        else:
            deleted.add(target)
            ops.append(DeleteOp(memory_id=target))
            if delete_keeps_fact:
                ops.append(add)
    return ManageAction(operations=tuple(ops))


class RestrictedOracle:
    """The FeaturePolicy's action set played from gold (see the module docstring). Needs ``privileged=True``.

    ``num_slots`` must match the policy's (the env's ``retrieval_k`` bounds what is shown anyway).
    """

    privileged = True

    def __init__(self, num_slots: int = 5) -> None:
        self.num_slots = num_slots

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> ExtractAction | ManageAction:
        gold = info.get("gold_facts")
        if gold is None:
            raise ValueError(
                "restricted-oracle needs info['gold_facts']: make a Synthetic env with privileged=True "
                "(memr2 eval does that for this agent)"
            )
        view = info["view"]
        by_turn = {fact["dia_id"]: fact for fact in gold}
        if isinstance(view, ExtractorView):
            kept = [t for t in view.turns if t.dia_id in by_turn]
            return ExtractAction(facts=tuple(Fact(speaker=t.speaker, fact=t.text, dia_ids=(t.dia_id,)) for t in kept))
        choices = []
        for fact in view.facts:
            truth = next((by_turn[d] for d in fact.dia_ids if d in by_turn), None)
            slots = related_slots(fact, view, self.num_slots)
            targets = [j for j, memory_id in enumerate(slots) if truth and memory_id in truth["memories"]]
            if truth is None:
                choices.append(NOOP)
            elif targets:
                choices.append(2 + max(targets, key=lambda j: id_number(slots[j])))
            else:
                choices.append(ADD)
        return manager_operations(view, choices, self.num_slots)
