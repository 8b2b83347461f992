"""MemoryBank.transaction: many operations, one new bank -- equal to applying them one by one, index included.

The transaction is what ``MemoryEnv._manage`` uses for a manager step; these tests hold it to the op-by-op
semantics (each operation sees the earlier ones; a failing one changes nothing), to an inverted index built from
scratch by hand, and to persistence (the bank it started from, and other transactions from it, never change).
"""

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memenv.actions import ManageAction
from memenv.bank import MemoryBank, UnknownMemoryError
from memenv.env import EnvState
from memenv.envs.synthetic import SyntheticEnv
from memenv.retrieval import bm25_search
from memenv.text import terms

WORDS = ["alice", "bob", "paris", "rome", "guitar", "lives", "plays", "the", "in"]
text = st.lists(st.sampled_from(WORDS), min_size=1, max_size=6).map(" ".join)
operation = st.one_of(
    st.tuples(st.just("add"), text, st.sampled_from([None, "Alice", "Bob"])),
    st.tuples(st.just("update"), st.integers(1, 12), text),
    st.tuples(st.just("delete"), st.integers(1, 12)),
)
# A run of manager steps: each inner list is one step's operations (one transaction).
steps = st.lists(st.lists(operation, max_size=8), max_size=6)
QUERIES = ["alice paris", "bob guitar", "lives in rome", "plays", "the", "nothing matches"]


def apply_one(target, op):
    """Apply ``op`` to a bank (returns the new bank) or a transaction (returns it); unknown ids raise."""
    kind, *args = op
    if kind == "add":
        content, speaker = args
        result = target.add(content, speaker=speaker, session=1)
        return result[0] if isinstance(result, tuple) else target
    if kind == "update":
        result = target.update(f"m{args[0]}", args[1], dia_ids=["D1:1"], session=2)
    else:
        result = target.delete(f"m{args[0]}")
    return result if isinstance(result, MemoryBank) else target


def apply_all(target, operations):
    """Apply ``operations`` to a bank (returns the last new bank) or a transaction (returns it), skipping the
    ones that name unknown ids (as the env does)."""
    for op in operations:
        try:
            target = apply_one(target, op)
        except UnknownMemoryError:
            pass
    return target


def in_transaction(bank, operations):
    return apply_all(bank.transaction(), operations).commit()


def index_from_scratch(bank):
    """The inverted index the bank should hold, computed here from its entries without the bank's code."""
    index = {}
    for entry in bank:
        doc_terms = terms(f"{entry.speaker or ''} {entry.content}")
        for term, tf in Counter(doc_terms).items():
            index.setdefault(term, {})[entry.memory_id] = (tf, len(doc_terms))
    return index


# Every term any generated entry can have (contents use WORDS, speakers are Alice or Bob).
ALL_TERMS = sorted({term for word in [*WORDS, "Alice", "Bob"] for term in terms(word)})


@settings(max_examples=80, deadline=None)
@given(steps)
def test_transactions_equal_op_by_op_and_the_index_rebuilt_from_scratch(run):
    batched = sequential = MemoryBank()
    for operations in run:
        batched = in_transaction(batched, operations)
        sequential = apply_all(sequential, operations)
    assert batched == sequential and list(batched) == list(sequential)
    counters = lambda bank: (bank.tokens, bank.num_terms, bank.next_id)  # noqa: E731
    assert counters(batched) == counters(sequential)
    expected = index_from_scratch(batched)
    for term in ALL_TERMS:
        postings = batched.postings(term)
        assert (dict(postings) if postings is not None else None) == expected.get(term)
    assert batched.num_terms == sum(len(terms(f"{entry.speaker or ''} {entry.content}")) for entry in batched)
    assert batched.tokens == sum(len(entry.content.split()) for entry in batched)
    for query in QUERIES:
        assert bm25_search(batched, query, k=20) == bm25_search(sequential, query, k=20)


@settings(max_examples=60, deadline=None)
@given(
    prefix=st.lists(operation, max_size=10),
    first=st.lists(operation, max_size=8),
    second=st.lists(operation, max_size=8),
)
def test_a_transaction_never_changes_its_bank_or_another_transaction(prefix, first, second):
    base = apply_all(MemoryBank(), prefix)
    snapshot = (base.to_state(), {term: base.postings(term) for term in ALL_TERMS})
    one, two = base.transaction(), base.transaction()  # both open at once
    after_one = apply_all(one, first).commit()
    after_two = apply_all(two, second).commit()
    assert (base.to_state(), {term: base.postings(term) for term in ALL_TERMS}) == snapshot
    assert after_one == apply_all(base, first) and after_two == apply_all(base, second)
    assert index_from_scratch(after_one) == {t: dict(p) for t in ALL_TERMS if (p := after_one.postings(t)) is not None}


def test_operations_in_a_transaction_see_the_earlier_ones():
    bank, _ = MemoryBank().add("Alice lives in Paris", speaker="Alice")
    transaction = bank.transaction()
    added = transaction.add("Bob plays the guitar", speaker="Bob")
    updated = transaction.update(added.memory_id, "Bob plays the drums", dia_ids=["D2:1"])
    transaction.delete("m1")
    with pytest.raises(UnknownMemoryError, match="m1"):
        transaction.update("m1", "gone")
    assert ("m1" in transaction, len(transaction), transaction.get("m2")) == (False, 1, updated)
    new = transaction.commit()
    assert [entry.content for entry in new] == ["Bob plays the drums"] and new.next_id == 3
    assert new.postings("guitar") is None and set(new.postings("drum")) == {"m2"} and new.postings("pari") is None
    assert [entry.content for entry in bank] == ["Alice lives in Paris"]


def test_a_failed_operation_leaves_the_transaction_as_it_was():
    bank, _ = MemoryBank().add("Alice lives in Paris")
    transaction = bank.transaction()
    transaction.add("Bob plays the guitar")
    with pytest.raises(ValueError, match="empty"):
        transaction.update("m1", "   ")
    with pytest.raises(UnknownMemoryError):
        transaction.delete("m9")
    with pytest.raises(ValueError):  # pydantic: content must not be empty
        transaction.add("")
    assert transaction.commit() == bank.add("Bob plays the guitar")[0]


def test_a_committed_transaction_refuses_further_use():
    transaction = MemoryBank().transaction()
    transaction.add("Alice lives in Paris")
    transaction.commit()
    for use in (lambda: transaction.add("x"), lambda: transaction.delete("m1"), transaction.commit):
        with pytest.raises(RuntimeError, match="already committed"):
            use()


memory_id = st.integers(1, 14).map("m{}".format)
manager_op = st.one_of(
    st.fixed_dictionaries({"op": st.just("ADD"), "content": text}),
    st.fixed_dictionaries({"op": st.just("UPDATE"), "memory_id": memory_id, "content": text}),
    st.fixed_dictionaries({"op": st.just("DELETE"), "memory_id": memory_id}),
    st.fixed_dictionaries({"op": st.just("NOOP"), "memory_id": memory_id}),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(manager_op, min_size=1, max_size=12))
def test_a_manager_step_applies_its_operations_as_op_by_op_would(operations):
    env = SyntheticEnv(max_sessions=2, privileged=True)
    _, info = env.reset(seed=3)
    _, _, _, _, info = env.step(info["gold"])
    _, _, _, _, info = env.step(info["gold"])  # a bank with the first session's memories
    _, _, _, _, info = env.step(info["gold"])  # now at session 2's manager step
    before, state = env.bank, env.get_state()
    _, _, _, _, info = env.step(ManageAction.model_validate({"operations": operations}))
    expected, failures = before, 0
    where = {"session": 2, "date": state.conversation.sessions[1].date_time, "step": state.steps}
    for op in operations:
        try:
            if op["op"] == "ADD":
                expected = expected.add(op["content"], **where)[0]
            elif op["op"] == "UPDATE":
                expected = expected.update(op["memory_id"], op["content"], **where)
            elif op["op"] == "DELETE":
                expected = expected.delete(op["memory_id"])
            else:
                expected.get(op["memory_id"])
        except UnknownMemoryError:
            failures += 1
    summary = lambda bank: [(entry.memory_id, entry.content, entry.session) for entry in bank]  # noqa: E731
    assert summary(env.bank) == summary(expected)
    assert env.bank.tokens == expected.tokens
    assert info["invalid_ops"] == failures
    assert EnvState.model_validate_json(state.model_dump_json()).bank.entries == list(before)  # the old bank is intact


def test_a_transaction_that_changes_nothing_returns_the_same_bank():
    bank, _ = MemoryBank().add("Alice lives in Paris")
    transaction = bank.transaction()
    transaction.get("m1")
    with pytest.raises(UnknownMemoryError):
        transaction.delete("m5")
    assert transaction.commit() is bank


def test_ids_keep_counting_after_a_round_trip_of_a_bank_emptied_by_deletes():
    bank, _ = MemoryBank().add("Alice lives in Paris")
    emptied = bank.delete("m1")
    restored = MemoryBank.from_state(emptied.to_state())
    assert restored == emptied and restored.next_id == 2
    assert restored.add("Bob plays the guitar")[1].memory_id == "m2"
