"""MemoryBank: persistence (old versions never change), ids, token counts, index maintenance, state round-trip."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memenv.bank import BankState, MemoryBank, UnknownMemoryError
from memenv.retrieval import bm25_scores
from memenv.text import terms


def test_operations_return_new_banks_and_leave_old_ones_untouched():
    empty = MemoryBank()
    one, entry = empty.add("Alice lives in Paris", speaker="Alice", dia_ids=["D1:1", "D1:1"], session=1)
    two = one.update("m1", "Alice lives in Rome", dia_ids=["D2:3"], session=2)
    three = two.delete("m1")
    assert (len(empty), len(one), len(two), len(three)) == (0, 1, 1, 0)
    assert one.get("m1").content == "Alice lives in Paris"
    assert two.get("m1").content == "Alice lives in Rome"
    assert entry.dia_ids == ("D1:1",)
    assert two.get("m1").dia_ids == ("D1:1", "D2:3")
    assert one.postings("pari") is not None and two.postings("pari") is None
    assert two.postings("rome") is not None and one.postings("rome") is None


def test_ids_are_sequential_and_never_reused():
    bank = MemoryBank()
    for text in ["a b", "c d", "e f"]:
        bank, _ = bank.add(text)
    bank = bank.delete("m3")
    bank, entry = bank.add("g h")
    assert entry.memory_id == "m4"
    assert [e.memory_id for e in bank] == ["m1", "m2", "m4"]


def test_unknown_ids_raise_a_named_error():
    bank, _ = MemoryBank().add("x y")
    with pytest.raises(UnknownMemoryError, match="m7"):
        bank.update("m7", "z")
    with pytest.raises(UnknownMemoryError):
        bank.delete("m7")


def test_token_count_tracks_content_whitespace_tokens():
    bank, _ = MemoryBank().add("one two three")
    bank, _ = bank.add("four five")
    assert bank.tokens == 5
    assert bank.update("m1", "one").tokens == 3
    assert bank.delete("m2").tokens == 3


ops = st.lists(
    st.tuples(st.sampled_from(["add", "update", "delete"]), st.integers(1, 6), st.text("abc xyz", min_size=1, max_size=12)),
    max_size=25,
)


def _apply(bank, op, target, text):
    if not text.strip():
        return bank
    memory_id = f"m{target}"
    if op == "add":
        return bank.add(text)[0]
    if memory_id not in bank:
        return bank
    return bank.update(memory_id, text) if op == "update" else bank.delete(memory_id)


@settings(max_examples=60, deadline=None)
@given(ops)
def test_incremental_index_equals_index_rebuilt_from_scratch(sequence):
    bank = MemoryBank()
    for op in sequence:
        bank = _apply(bank, *op)
    rebuilt = MemoryBank.from_state(BankState.model_validate_json(bank.to_state().model_dump_json()))
    assert rebuilt == bank
    assert rebuilt.tokens == bank.tokens and rebuilt.num_terms == bank.num_terms
    for query in ["abc", "xyz", "abc xyz", "a"]:
        assert bm25_scores(rebuilt, query) == pytest.approx(bm25_scores(bank, query))
    assert bank.num_terms == sum(len(terms(f"{e.speaker or ''} {e.content}")) for e in bank)
