"""The decision-value probe: does the env reward the right memory operation, one decision at a time?

Start from the *always-ADD* policy (keep exactly the fact turns, ADD every fact -- where v0's learners ended) and
replay an episode. At every manager decision about a fact, fork the env (``clone``) and swap that one decision:

* ``correct-update``: UPDATE a shown memory that speaks for the fact's key (gold target) instead of ADD;
* ``correct-delete``: DELETE that memory, then ADD the fact (the stale value goes, the new one is stored);
* ``wrong-update``: UPDATE a shown memory that holds another key's final value (its latest, never changed
  again) instead of ADD;
* ``spurious-delete``: DELETE such a memory, then ADD the fact;
* reported, not judged: the same two on a memory whose key changes in a later session (``-changing``: under
  always-ADD that memory is doomed to conflict with the later value, so losing it can even help) and on a memory
  holding an outdated value (``-stale``: removing it is a clean-up, not a mistake).

The rest of the session (for the session reward) and of the episode (for the terminal return) is played by
always-ADD again, and each swap reports its change against the unswapped episode. A testbed for credit assignment
needs correct swaps to raise both on average and wrong ones to lower them: that is what makes a local rerollout
of one session informative. Needs a Synthetic env built with ``privileged=True`` (gold targets).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from agents.restricted_oracle import ADD, RestrictedOracle, manager_operations, related_slots
from memenv.data.synthetic import ATTRIBUTE_BY_NAME
from memenv.scoring.rule import memory_claims
from memenv.views import ManagerView

SWAP_KINDS = (
    "correct-update", "correct-delete", "wrong-update", "spurious-delete",
    "wrong-update-changing", "spurious-delete-changing", "wrong-update-stale", "spurious-delete-stale",
)


@dataclass
class SwapResult:
    """One swapped decision and what it changed."""

    kind: str
    seed: int
    session: int
    session_delta: float  # session reward (score on questions seen so far - compression penalty) at the session end
    return_delta: float  # terminal return (final score - compression penalty)


def always_add(info: dict[str, Any], num_slots: int) -> Any:
    """The always-ADD action for ``info``: the restricted oracle's extractor, and ADD for every fact."""
    view = info["view"]
    if view.role == "extractor":
        return RestrictedOracle(num_slots).act({}, info)
    return manager_operations(view, [ADD] * len(view.facts), num_slots)


def _finish(env: Any, info: dict[str, Any], num_slots: int, first_action: Any) -> tuple[float, float]:
    """Step ``first_action`` then always-ADD to the end; (session reward at this session's end, final return)."""
    action, session_reward = first_action, None
    while True:
        _, reward, terminated, _, info = env.step(action)
        if info["session_end"] and session_reward is None:
            session_reward = env.unwrapped.session_reward()
        if terminated:
            return session_reward, reward
        action = always_add(info, num_slots)


def _values(env: Any, session_index: int) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], str]]:
    """Each key's latest value told up to the end of the chunk being managed (in session ``session_index``,
    0-based), and its final value (privileged: the world's record)."""
    core = env.unwrapped
    session = core.conversation.sessions[session_index]
    last = core.current_turns[-1].dia_id if core.current_turns else None
    end = next((i + 1 for i, turn in enumerate(session.turns) if turn.dia_id == last), 0)
    told = {turn.dia_id for s in core.conversation.sessions[:session_index] for turn in s.turns}
    told |= {turn.dia_id for turn in session.turns[:end]}
    latest, final = {}, {}
    for fact in core.conversation.meta["facts"]:
        key = (fact["entity"], fact["attribute"])
        final[key] = fact["value"]
        if fact["dia_id"] in told:
            latest[key] = fact["value"]
    return latest, final


def memory_status(entry: Any, latest: dict[tuple[str, str], str], final: dict[tuple[str, str], str]) -> str:
    """What a memory holds: ``"final"`` (some key's latest value, which stays its value to the end),
    ``"changing"`` (a key's latest value that a later session changes), ``"stale"`` (an outdated value of a key)
    or ``"unrelated"``."""
    status = "unrelated"
    for (entity, attribute), value in latest.items():
        if entity.lower() not in entry.content.lower():
            continue
        attr = ATTRIBUTE_BY_NAME[attribute]
        claims = memory_claims([entry], entity, [attr.keyword], attr.values)
        if claims.entries:
            if claims.current == {value}:
                return "final" if final[(entity, attribute)] == value else "changing"
            status = "stale"
    return status


def _swaps(env: Any, view: ManagerView, gold: list[dict[str, Any]], num_slots: int) -> Iterable[tuple[str, list[int]]]:
    """``(kind, choices)`` for every one-decision swap of this manager view (:data:`SWAP_KINDS`)."""
    by_turn = {fact["dia_id"]: fact for fact in gold}
    latest, final = _values(env, view.session - 1)
    for i, fact in enumerate(view.facts):
        truth = next((by_turn[d] for d in fact.dia_ids if d in by_turn), None)
        if truth is None:
            continue
        for slot, memory_id in enumerate(related_slots(fact, view, num_slots)):
            if memory_id in truth["memories"]:
                names = ("correct-update", "correct-delete")
            else:
                status = memory_status(env.unwrapped.bank.get(memory_id), latest, final)
                if status == "unrelated":
                    continue
                suffix = "" if status == "final" else f"-{status}"
                names = (f"wrong-update{suffix}", f"spurious-delete{suffix}")
            for name, option in zip(names, (2 + slot, 2 + num_slots + slot)):
                choices = [ADD] * len(view.facts)
                choices[i] = option
                yield name, choices


def probe(env: Any, seeds: Iterable[int], *, num_slots: int = 5) -> list[SwapResult]:
    """Every one-decision swap of the always-ADD episodes on ``seeds`` (``env`` needs ``privileged=True``)."""
    results = []
    for seed in seeds:
        _, info = env.reset(seed=int(seed))
        base_session, base_return, states = {}, None, []
        action = always_add(info, num_slots)
        while True:  # the unswapped episode, remembering each manager step's env and info
            if info["role"] == "manager":
                states.append((env.unwrapped.clone(), info))
            _, reward, terminated, _, info_next = env.step(action)
            if info_next["session_end"]:
                base_session[info["session"]] = env.unwrapped.session_reward()
            info = info_next
            if terminated:
                base_return = reward
                break
            action = always_add(info, num_slots)
        for snapshot, manager_info in states:
            for kind, choices in _swaps(snapshot, manager_info["view"], manager_info["gold_facts"], num_slots):
                fork = snapshot.clone()
                swapped = manager_operations(manager_info["view"], choices, num_slots, delete_keeps_fact=True)
                session_reward, final = _finish(fork, manager_info, num_slots, swapped)
                session = manager_info["session"]
                results.append(SwapResult(kind, int(seed), session, session_reward - base_session[session],
                                          final - base_return))
    return results


def summarize_probe(results: list[SwapResult]) -> dict[str, dict[str, float]]:
    """Per swap kind: ``count``, mean ``session_delta`` and ``return_delta``, and the fraction of swaps that
    raised (``frac_up``) or lowered (``frac_down``) the terminal return."""
    out = {}
    for kind in SWAP_KINDS:
        rows = [r for r in results if r.kind == kind]
        if not rows:
            continue
        n = len(rows)
        out[kind] = {
            "count": n,
            "session_delta": sum(r.session_delta for r in rows) / n,
            "return_delta": sum(r.return_delta for r in rows) / n,
            "frac_up": sum(r.return_delta > 1e-12 for r in rows) / n,
            "frac_down": sum(r.return_delta < -1e-12 for r in rows) / n,
        }
    return out
