"""Checkpoints round-trip exactly, and an interrupted + resumed run ends where an uninterrupted one does."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from algorithms import checkpoint as ckpt
from algorithms.config import TrainerConfig
from algorithms.trainer import Trainer


def small_config(**kw):
    base = dict(curriculum=[2, 3], iterations=3, eval_every=2, num_generations=2, local_num_generations=2,
                conversations_per_iteration=1, eval_seeds=[500], seed=4, num_iterations=2, beta=0.05)
    return TrainerConfig(**{**base, **kw})


def params(trainer):
    return {k: v.clone() for k, v in trainer.policy.model.state_dict().items()}


def test_checkpoint_roundtrip(tmp_path):
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    gen, rng = torch.Generator().manual_seed(1), np.random.default_rng(1)
    state = ckpt.TrainerState(stage=1, iteration=2, global_step=5, curve=[{"iteration": 0, "score": 0.1}])
    ckpt.save_checkpoint(tmp_path / "c", model=model, optimizer=opt, torch_generators={"g": gen},
                         numpy_generators={"r": rng}, config={"a": 1}, trainer_state=state)
    expected_draws = (torch.rand(3, generator=gen), rng.random(3))
    model2 = torch.nn.Linear(3, 2)
    opt2 = torch.optim.AdamW(model2.parameters(), lr=0.1)
    gen2, rng2 = torch.Generator(), np.random.default_rng(0)
    loaded = ckpt.load_checkpoint(tmp_path / "c", model=model2, optimizer=opt2)
    ckpt.load_rng(tmp_path / "c", 0, {"g": gen2}, {"r": rng2})
    assert loaded == state and ckpt.read_config(tmp_path / "c") == {"a": 1}
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), model2.state_dict().values()))
    s1, s2 = opt.state_dict(), opt2.state_dict()
    assert json.loads(json.dumps(s1["param_groups"])) == json.loads(json.dumps(s2["param_groups"]))
    assert all(torch.equal(s1["state"][i]["exp_avg_sq"], s2["state"][i]["exp_avg_sq"]) for i in s1["state"])
    assert torch.equal(torch.rand(3, generator=gen2), expected_draws[0])
    assert np.array_equal(rng2.random(3), expected_draws[1])
    assert not list(tmp_path.glob("*.tmp")), "no temporary directory left behind"


EMBEDDING = dict(feature_similarity="embedding", feature_factored=True, feature_similarity_prior=20.0)


@pytest.mark.parametrize("policy", [{}, EMBEDDING], ids=["lexical", "embedding"])
def test_interrupted_run_resumes_to_identical_parameters(tmp_path, monkeypatch, policy):
    """With embeddings too: the resumed process starts with an empty embedding cache (and here no persistent
    store), so this fails if a text's vector depends on what else was embedded before it (6a013e2's did)."""
    monkeypatch.setenv("MEMR2_EMBEDDING_STORE", "off")
    full = Trainer(small_config(**policy), tmp_path / "full")
    full_final = full.train()
    # interrupted after 4 global iterations (stage 1, mid-stage; last checkpoint at iteration 3, the stage-0 end)
    first = Trainer(small_config(**policy), tmp_path / "cut")
    assert first.train(stop_after=4) is None
    resumed = Trainer(small_config(**policy), tmp_path / "cut")
    resumed.resume(tmp_path / "cut")
    assert resumed.state.global_step == 3 and resumed.state.stage == 0
    resumed_final = resumed.train()
    a, b = params(full), params(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed_final == full_final
    assert resumed.state.curve == full.state.curve
    iterations = [json.loads(line)["iteration"] for line in (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()]
    assert iterations == list(range(1, 7)), "no metrics line lost or repeated by the interruption"
    # the warm start changed something: stage 1 started from stage 0's best, not from scratch
    assert (tmp_path / "full" / "checkpoints" / "stage0-best" / "model.safetensors").exists()
    assert not all(torch.equal(a[k], params(Trainer(small_config(**policy)))[k]) for k in a)


def test_a_run_resumed_in_a_later_stage_keeps_the_kl_reference_it_had(tmp_path):
    """With load_best_model_at_end False a stage hands on its last weights, and (beta > 0) they are the next stage's
    KL reference; a run interrupted in stage 1 must read that reference back, not the stage's best checkpoint."""
    # stage 0 validates at 2 and 4 (at this rate its best is the first), stage 1 at 6
    config = small_config(load_best_model_at_end=False, iterations=4, learning_rate=0.3)
    full = Trainer(config, tmp_path / "full")
    full.train()
    saved = tmp_path / "full" / "checkpoints"
    best, last = (load_file(saved / name / "model.safetensors") for name in ("stage0-best", "stage0-last"))
    assert not all(torch.equal(best[k], last[k]) for k in best), "stage 0's best and last weights must differ here"
    first = Trainer(config, tmp_path / "cut")
    assert first.train(stop_after=7) is None
    resumed = Trainer(config, tmp_path / "cut")
    resumed.resume(tmp_path / "cut")
    assert resumed.state.stage == 1 and resumed.state.global_step == 6
    resumed.train()
    a, b = params(full), params(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)

