"""all-MiniLM-L6-v2 embeddings: a text's vector depends on that text alone, and the persistent store returns those
exact bits (so caching, batching, thread count and resuming cannot change a training run)."""

import pytest
import torch

from agents.embedding import SentenceEmbedder
from agents.embedding_store import EmbeddingStore, fingerprint

TEXTS = [
    "Maya just moved to Lisbon!",
    "Oh, your old roommate Hana is learning the cello.",
    "So, my gym buddy Bruno is obsessed with origami now.",
    "By the way, your coworker Lena has a steady job as a journalist.",
    "Guess what, my coworker Kofi packed everything up and relocated to Tucson.",
    "Fun update: your cousin Rosa drives a Kia.",
    "How was your weekend?",
    "Maya works as a nurse.",
]


@pytest.fixture
def no_store(monkeypatch):
    monkeypatch.setenv("MEMR2_EMBEDDING_STORE", "off")


def test_a_vector_does_not_depend_on_what_it_is_embedded_with_nor_on_the_thread_count(no_store):
    together = SentenceEmbedder().embed(TEXTS)
    one_by_one = SentenceEmbedder()
    alone = torch.stack([one_by_one.embed([text])[0] for text in TEXTS])
    assert torch.equal(together, alone)
    reversed_order = SentenceEmbedder().embed(TEXTS[::-1]).flip(0)
    assert torch.equal(together, reversed_order)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert torch.equal(SentenceEmbedder().embed(TEXTS), together)
        assert torch.get_num_threads() == 2  # the caller's setting is restored
    finally:
        torch.set_num_threads(before)


def test_vectors_match_sentence_transformers_pooling_of_the_transformers_model(no_store):
    from transformers import AutoModel, AutoTokenizer

    embedder = SentenceEmbedder()
    ours = embedder.embed(TEXTS)
    tokenizer, model = AutoTokenizer.from_pretrained(embedder.path), AutoModel.from_pretrained(embedder.path).eval()
    batch = tokenizer(TEXTS, padding=True, truncation=True, max_length=64, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    reference = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    assert torch.allclose(ours, reference, atol=1e-5)
    assert not torch.allclose(ours[0], ours[1], atol=1e-2)  # distinct texts, distinct vectors


def test_the_store_returns_the_computed_bits_without_loading_the_model(tmp_path):
    cold = SentenceEmbedder(store=tmp_path)
    computed = cold.embed(TEXTS[:5])
    assert cold._encoder is not None and len(cold.store) == 5
    warm = SentenceEmbedder(store=tmp_path)
    assert torch.equal(warm.embed(TEXTS[:5]), computed)
    assert warm._encoder is None, "every text was stored: the model is never loaded"
    mixed = warm.embed(TEXTS)  # three new texts: computed, then stored
    assert torch.equal(mixed[:5], computed) and len(warm.store) == len(TEXTS)
    assert torch.equal(mixed, SentenceEmbedder(store=False).embed(TEXTS))


def test_a_stored_vector_of_the_wrong_size_is_recomputed_not_returned(tmp_path):
    store = EmbeddingStore(tmp_path / "s.sqlite", dim=4)
    store.put({"a": torch.arange(4.0), "b": torch.arange(4.0)})
    store._db.execute("UPDATE vectors SET vector = ? WHERE text = 'b'", (b"\x00" * 8,))
    found = store.get(["a", "b", "c"])
    assert list(found) == ["a"] and torch.equal(found["a"], torch.arange(4.0))


def test_the_store_fingerprint_covers_encoder_version_files_and_length(tmp_path):
    model = tmp_path / "model.bin"
    model.write_bytes(b"weights")
    base = fingerprint("v1", [model], 64)
    assert base == fingerprint("v1", [model], 64)
    assert base != fingerprint("v2", [model], 64)
    assert base != fingerprint("v1", [model], 32)
    model.write_bytes(b"other weights")
    assert base != fingerprint("v1", [model], 64)
