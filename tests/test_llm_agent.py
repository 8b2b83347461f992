"""LLMAgent with the tiny backend: a full 8-session Synthetic-v0 episode, records, recomputed log-probs, prompts."""

from __future__ import annotations

import gymnasium as gym
import pytest
import torch

import memenv  # noqa: F401  (registers the env ids)
from agents.llm import LLMAgent, make_llm_agent
from agents.llm.agent import ActionRecord
from agents.llm.hf import TransformersBackend
from agents.llm.loading import load_model
from agents.llm.prompts import EXAMPLES, FORMATS, build_messages, render_action, user_message
from agents.registry import make_agent
from memenv.actions import ExtractAction, ManageAction, ParseError, parse_action
from memenv.views import parse_view


@pytest.fixture(scope="module")
def backend():
    return TransformersBackend(*load_model("tiny", seed=0))


def test_full_synthetic_episode_every_action_valid_or_penalized_and_logprobs_recompute(backend):
    env = gym.make("MemoryR2/Synthetic-v0", max_sessions=8)
    agent = LLMAgent(backend, temperature=1.0, max_new_tokens=24, seed=0)
    penalty = env.unwrapped.invalid_action_penalty
    observation, info = env.reset(seed=0)
    terminated, steps, sessions = False, 0, set()
    while not terminated:
        text = agent.act(observation, info)
        role = info["role"]
        sessions.add(info["session"])
        observation, reward, terminated, _, info = env.step(text)
        parsed = parse_action(role, text)
        if isinstance(parsed, ParseError):
            assert info["error"] and reward <= penalty + 1.0 + 1e-9
            assert agent.records[-1].parse_error == parsed.message
        else:
            assert agent.records[-1].parse_error is None
        steps += 1
    assert sessions == set(range(1, 9)) and steps == 16 and "metrics" in info
    assert [r.role for r in agent.records] == ["extractor", "manager"] * 8
    assert sum(s.actions for s in agent.stats.values()) == 16
    recorded, mask = agent.recorded_logprobs(agent.records)
    recomputed, mask2 = agent.logprobs(agent.records, batch_size=4)
    assert recomputed.requires_grad and torch.equal(mask, mask2)
    assert recorded.shape == recomputed.shape == (16, max(len(r.completion_ids) for r in agent.records))
    assert float(((recomputed.detach() - recorded).abs() * mask).max()) < 1e-4


def test_same_seed_same_actions_and_act_batch_serves_mixed_roles(backend):
    env = gym.make("MemoryR2/Synthetic-v0", max_sessions=2)
    obs_e, info_e = env.reset(seed=0)
    obs_m, _, _, _, info_m = env.step("- Ann: Ann likes tea.")
    runs = []
    for _ in range(2):
        agent = LLMAgent(backend, temperature=1.0, max_new_tokens=8, seed=11)
        runs.append(agent.act_batch([obs_e, obs_m, obs_e], [info_e, info_m, info_e]))
        assert [r.role for r in agent.records] == ["extractor", "manager", "extractor"]
    assert runs[0] == runs[1] and len(runs[0]) == 3
    agent.reset()
    assert agent.records == []


def test_agent_reads_the_view_from_observation_text_when_info_lacks_it(backend):
    env = gym.make("MemoryR2/Synthetic-v0", max_sessions=2)
    observation, info = env.reset(seed=0)
    agent = LLMAgent(backend, max_new_tokens=4)
    assert agent.prompt_ids(info["view"]) == agent.prompt_ids(parse_view(observation))
    agent.act(observation, {})
    assert agent.records[-1].prompt_ids == agent.prompt_ids(info["view"])


def test_logprobs_give_gradients_that_teach_a_completion(backend):
    """A few gradient steps on the recomputed log-probs raise the likelihood of a target answer."""
    model, tokenizer, name = load_model("tiny", seed=5)
    agent = LLMAgent(TransformersBackend(model, tokenizer, name), few_shot=False)
    prompt = agent.prompt_ids(EXAMPLES["manager"][0][0])
    target = tokenizer("NOOP<|im_end|>", add_special_tokens=False)["input_ids"]
    record = ActionRecord("manager", 1, 0, prompt, target, [0.0] * len(target), "NOOP", 1.0, True)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-2)
    losses = []
    for _ in range(6):
        logprobs, mask = agent.logprobs([record])
        loss = -(logprobs * mask).sum() / mask.sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("role", ["extractor", "manager"])
def test_few_shot_turns_precede_the_view_and_parse_to_their_actions(role, fmt):
    view = EXAMPLES[role][0][0].model_copy(update={"session": 5})
    messages = build_messages(view, fmt)
    shots = len(EXAMPLES[role])
    assert [m["role"] for m in messages] == ["system"] + ["user", "assistant"] * shots + ["user"]
    assert ("JSON" in messages[0]["content"]) == (fmt == "json")
    assert messages[-1]["content"] == user_message(view) and "Session 5 of 8" in messages[-1]["content"]
    for (example_view, items), answer in zip(EXAMPLES[role], messages[2::2]):
        assert answer["content"] == render_action(role, items, fmt)
        parsed = parse_action(role, answer["content"])
        expected = ExtractAction(facts=items) if role == "extractor" else ManageAction(operations=items)
        assert parsed == expected
    assert [m["role"] for m in build_messages(view, fmt, few_shot=False)] == ["system", "user"]


def test_manager_message_shows_memory_ids_related_ids_and_evidence():
    text = user_message(EXAMPLES["manager"][1][0])
    assert "m1 (Ana, 2 April 2023): Ana lives in Porto." in text
    assert "1. Ana: Ana moved to Lisbon around 3 May 2023. [D2:1] (related: m1)" in text
    assert "2. Ben: Ben is learning the cello. [D2:2] (related: none)" in text
    assert "Existing memories:\n(none yet" in user_message(EXAMPLES["manager"][0][0])
    assert "[D2:2] Ben: Congrats!" in user_message(EXAMPLES["extractor"][0][0])


def test_registry_builds_the_llm_agent_and_rejects_bad_settings():
    agent = make_agent("llm", model="tiny", max_new_tokens=4, temperature=0.0)
    assert isinstance(agent, LLMAgent) and agent.name.startswith("llm:tiny")
    with pytest.raises(ValueError, match="fmt"):
        make_llm_agent("tiny", fmt="yaml")
    with pytest.raises(ValueError, match="temperature"):
        make_llm_agent("tiny", temperature=-1.0)
