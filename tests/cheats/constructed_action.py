"""Cheat (c) of issue 19: actions built with pydantic's ``model_construct`` skip validation -- the manager keeps the
whole dialogue in one memory (locomo-dev 0.875 at 6a013e2, store-all 0.680). The extractor is store-all's.

``--agent tests/cheats/constructed_action.py:make_agent`` runs it in process (where ``step`` now revalidates
action objects); as a script it is served over the untrusted-agent wire protocol (``agents.remote.serve``),
where only the action's JSON crosses.
"""

from __future__ import annotations

from typing import Any

from agents.baselines import StoreAll
from memenv.actions import AddOp, ManageAction, UpdateOp


class WholeDialogue:
    """One memory, rewritten at every manager step to hold every fact seen so far."""

    def __init__(self) -> None:
        self.store_all, self.text = StoreAll(), ""

    def reset(self) -> None:
        self.text = ""

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> Any:
        view = info["view"]
        if view.role == "extractor":
            return self.store_all.act(observation, info)
        self.text += " ".join(f"{f.speaker}: {f.fact}" for f in view.facts) + " "
        if view.bank_size == 0:
            op = AddOp.model_construct(op="ADD", content=self.text, speaker=None, dia_ids=())
        else:  # the bank's first memory is m1
            op = UpdateOp.model_construct(op="UPDATE", memory_id="m1", content=self.text, dia_ids=())
        return ManageAction.model_construct(role="manager", operations=(op,))


def make_agent() -> WholeDialogue:
    return WholeDialogue()


if __name__ == "__main__":
    from agents.remote import serve

    raise SystemExit(serve(make_agent()))
