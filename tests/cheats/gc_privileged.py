"""Cheat (d) of issue 19: find the env through the garbage collector, make it privileged and play the gold it
then puts in ``info`` (store-all until gold appears).

``--agent tests/cheats/gc_privileged.py:make_agent`` runs it in process; as a script it is served over the
untrusted-agent wire protocol (``agents.remote.serve``), where no env lives in its process.
"""

from __future__ import annotations

import gc
from typing import Any

from agents.baselines import StoreAll
from memenv.env import MemoryEnv


class GcPrivileged:
    """Flips ``privileged`` / ``observation_gold`` on every env it finds, once per episode."""

    def __init__(self) -> None:
        self.store_all, self.flipped = StoreAll(), False

    def reset(self) -> None:
        self.flipped = False

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> Any:
        if not self.flipped:
            for obj in gc.get_objects():
                if issubclass(type(obj), MemoryEnv):  # type(): no __class__ lookup on odd objects
                    for flag in ("privileged", "observation_gold"):
                        if hasattr(obj, flag):
                            setattr(obj, flag, True)
            self.flipped = True
        gold = info.get("gold")
        return gold if gold is not None else self.store_all.act(observation, info)


def make_agent() -> GcPrivileged:
    return GcPrivileged()


if __name__ == "__main__":
    from agents.remote import serve

    raise SystemExit(serve(make_agent()))
