"""Agent output can neither crash nor stall a step (issue 14, defects 1-3; issue 13, item 7).

Each test names the defect it pins down. Timing is never asserted; the hang guard only fails when parsing does
not finish at all within a minute (the old parser needed hours on the same inputs).
"""

import json
import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memenv.actions import (
    MAX_ACTION_CHARS,
    MAX_ACTION_ITEMS,
    MAX_DIA_IDS,
    AddOp,
    ExtractAction,
    Fact,
    ManageAction,
    ParseError,
    UpdateOp,
    coerce_action,
    parse_action,
)
from memenv.data.schema import Conversation, Session, Turn
from memenv.env import MAX_OBS_CHARS
from memenv.envs.conversations import ConversationsEnv
from memenv.testing import adversarial_actions

PENALTY = -0.25


def test_adversarial_texts_parse_without_hanging():
    """Defect 1: the dialogue-id pattern backtracked exponentially, whitespace runs and brace floods were
    quadratic. Run in a child process so that a regression fails the test instead of hanging the suite."""
    script = (
        "from memenv.actions import coerce_action\n"
        "from memenv.testing import adversarial_actions\n"
        "for role in ('extractor', 'manager'):\n"
        "    for name, action in adversarial_actions(role).items():\n"
        "        coerce_action(role, action)\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr


# The dialogue-id pattern before issue 14: exact on short inputs (its backtracking only explodes on long ones),
# so it is the reference the linear parser must agree with.
_OLD_DIA = re.compile(r"\s*\[((?:\s*D\d+:\d+\s*[,;]?)+)\]\s*$")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["D1:2", "D12:3", " ", ",", ";", "[", "]", "x", "D", ":", "1"]), max_size=10))
def test_dia_id_lists_are_read_as_the_old_pattern_read_them(pieces):
    body = "ADD: Ann lives in Oslo " + "".join(pieces)
    action = parse_action("manager", body)
    old = _OLD_DIA.search(body[5:].strip())
    if isinstance(action, ParseError):  # only an empty content is refused
        assert old and not body[5:].strip()[: old.start()].strip()
        return
    expected = tuple(re.findall(r"D\d+:\d+", old.group(1))) if old else ()
    assert action.operations[0].dia_ids == expected


def test_a_long_dia_id_list_is_read_whole():
    ids = [f"D3:{i}" for i in range(MAX_DIA_IDS)]
    action = parse_action("extractor", f"- Bo: Bo moved to Rome. [{', '.join(ids)}]")
    assert action.facts == (Fact(speaker="Bo", fact="Bo moved to Rome.", dia_ids=tuple(ids)),)


def test_an_unclosed_dia_id_list_stays_in_the_text():
    text = "ADD: Caroline went to a group [" + " ".join(f"D1:{i}" for i in range(40)) + " ok"
    assert parse_action("manager", text).operations[0].content == text[5:]


@pytest.mark.parametrize("role, field", [("extractor", "text"), ("extractor", "speaker"), ("extractor", "dia_ids"),
                                         ("manager", "text"), ("manager", "speaker"), ("manager", "dia_ids"),
                                         ("manager", "memory_id")])
def test_lone_surrogates_are_refused_in_every_field(role, field):
    """Defect 2: a lone surrogate reached the bank (ValidationError mid-step, or an unsavable state)."""
    bad = "a\ud800b"
    if role == "extractor":
        item = {"fact": bad if field == "text" else "x", "speaker": bad if field == "speaker" else None,
                "dia_ids": [bad] if field == "dia_ids" else []}
        action = {"facts": [item]}
    else:
        item = {"op": "UPDATE", "memory_id": bad if field == "memory_id" else "m1",
                "content": bad if field == "text" else "x", "dia_ids": [bad] if field == "dia_ids" else []}
        action = {"operations": [item] + ([{"op": "ADD", "content": "x", "speaker": bad}] if field == "speaker" else [])}
    for given_as in (action, json.dumps(action)):
        result = coerce_action(role, given_as)
        assert isinstance(result, ParseError) and "unicode" in result.message


def _conversation(num_turns: int = 2) -> Conversation:
    turns = tuple(Turn(speaker="Alice", dia_id=f"D1:{i + 1}", text=f"Alice said thing {i}.") for i in range(num_turns))
    return Conversation(conversation_id="c", speakers=("Alice", "Bob"),
                        sessions=(Session(index=1, date_time="1 May 2023", turns=turns),))


def _env_in_manager_phase(**kwargs) -> ConversationsEnv:
    env = ConversationsEnv([_conversation()], chunks_per_session=4, invalid_action_penalty=PENALTY, **kwargs)
    env.reset(seed=0)
    env.step("- Alice lives in Oslo.")
    env.step("ADD: Alice lives in Oslo.\nADD: Bob plays the guitar.")
    env.step("- Alice moved to Rome.")
    assert env.role == "manager" and len(env.bank) == 2
    return env


@pytest.mark.parametrize("action", [
    '{"operations":[{"op":"ADD","content":"\\ud800"}]}',
    '{"operations":[{"op":"UPDATE","memory_id":"m1","content":"\\ud800 x"}]}',
    "UPDATE m1: Alice \ud800 moved",
    {"operations": [{"op": "ADD", "content": "ok"}, {"op": "ADD", "content": "\udfff"}]},
])
def test_a_lone_surrogate_is_an_invalid_action_and_the_state_stays_savable(action):
    """Defect 2: ``step`` raised from ``bank.add``; the UPDATE form stored it and ``get_state`` could not be dumped."""
    env = _env_in_manager_phase()
    bank = env.bank
    _, reward, _, _, info = env.step(action)
    assert "unicode" in info["error"] and reward == PENALTY
    assert env.bank == bank
    assert json.loads(env.get_state().model_dump_json())["bank"]["next_id"] == 3


def test_an_over_long_text_is_cut_reported_and_penalised():
    """Defect 3: MAX_ACTION_CHARS was declared but not enforced (1.2 MB of lines took 36 s and 298 MB)."""
    env = ConversationsEnv([_conversation()], chunks_per_session=2, invalid_action_penalty=PENALTY)
    env.reset(seed=0)
    filler = "- " + "filler words here " * 40 + "\n"
    text = "- Alice lives in Oslo.\n" + filler * (3 * MAX_ACTION_CHARS // len(filler))
    _, reward, _, _, info = env.step(text)
    assert f"only the first {MAX_ACTION_CHARS} were read" in info["error"] and reward == PENALTY
    read = parse_action("extractor", text[:MAX_ACTION_CHARS])
    assert [f.fact for f in env.pending_facts] == [f.fact for f in read.facts]
    assert env.pending_facts[0].fact == "Alice lives in Oslo." and len(read.facts) < text.count("\n")


@pytest.mark.parametrize("role", ["extractor", "manager"])
def test_too_many_items_are_refused_and_the_observation_stays_in_its_space(role):
    """Defect 3: 100k facts gave a 7.3 M-character observation, outside the observation space."""
    env = _env_in_manager_phase()
    if role == "extractor":
        env.step("NOOP")
    action = adversarial_actions(role)["dict_too_many_items"]
    obs, reward, _, _, info = env.step(action)
    assert f"at most {MAX_ACTION_ITEMS}" in info["error"] and reward == PENALTY
    assert env.observation_space.contains(obs) and env.pending_facts == ()


def test_the_largest_valid_actions_keep_the_manager_observation_in_its_space():
    """The limits bound the manager view: MAX_ACTION_ITEMS facts of the longest escaped text, each retrieving
    retrieval_k (5) distinct memories of the longest escaped content and speaker."""
    k, wide = 5, "\U0001f600"  # outside the BMP: 12 characters once escaped
    rounds = k
    env = ConversationsEnv([_conversation()], chunks_per_session=rounds + 1, retrieval_k=k)
    env.reset(seed=0)
    speaker = wide * 50
    for r in range(rounds):
        env.step(ExtractAction())
        ops = [AddOp(content=f"q{r * MAX_ACTION_ITEMS + i} " + wide * 82, speaker=speaker)
               for i in range(MAX_ACTION_ITEMS)]
        env.step(ManageAction(operations=tuple(ops)))
    assert len(env.bank) == k * MAX_ACTION_ITEMS
    facts = [Fact(fact=" ".join(f"q{k * i + j}" for j in range(k)) + " " + wide * 80, speaker=speaker)
             for i in range(MAX_ACTION_ITEMS)]
    obs, _, _, _, info = env.step(ExtractAction(facts=tuple(facts)))
    assert len(info["view"].memories) == k * MAX_ACTION_ITEMS
    assert len(obs["text"]) <= MAX_OBS_CHARS and env.observation_space.contains(obs)


def test_a_dict_action_of_the_other_role_is_invalid():
    """Issue 13, item 7: in the manager phase ``{"role": "extractor", ...}`` ran the extractor again, silently."""
    env = _env_in_manager_phase()
    bank = env.bank
    _, reward, _, _, info = env.step({"role": "extractor", "facts": []})
    assert "'extractor' action was given in the manager phase" in info["error"] and reward == PENALTY
    assert env.bank == bank and env.role == "extractor" and env.invalid_actions == 1
    assert isinstance(coerce_action("extractor", {"role": ["manager"], "facts": []}), ParseError)
    assert coerce_action("manager", {"role": "manager", "operations": [{"op": "UPDATE", "memory_id": "m1",
                                                                        "content": "x"}]}).operations == (
        UpdateOp(memory_id="m1", content="x"),)
