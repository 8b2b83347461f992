"""Issue 19, item 3 (c): action objects built with pydantic's ``model_construct`` skip validation. ``step`` must put
them through the same limits as a parsed action: a clear invalid-action penalty, never an exception out of
``step``, the bank unchanged and the observation inside its space. Each case passed unchecked at 6a013e2."""

import pytest

from memenv.actions import MAX_ACTION_ITEMS, MAX_TEXT_CHARS, AddOp, ExtractAction, Fact, ManageAction
from memenv.data.schema import Conversation, Session, Turn
from memenv.envs.conversations import ConversationsEnv

PENALTY = -0.25


def _env_in_manager_phase() -> ConversationsEnv:
    turns = tuple(Turn(speaker="Alice", dia_id=f"D1:{i + 1}", text=f"Alice said thing {i}.") for i in range(2))
    conversation = Conversation(conversation_id="c", speakers=("Alice", "Bob"),
                                sessions=(Session(index=1, date_time="1 May 2023", turns=turns),))
    env = ConversationsEnv([conversation], chunks_per_session=4, invalid_action_penalty=PENALTY)
    env.reset(seed=0)
    env.step("- Alice lives in Oslo.")
    assert env.role == "manager"
    return env


def _unchecked_ops(ops) -> ManageAction:
    return ManageAction.model_construct(role="manager", operations=tuple(ops))


CASES = {
    "5001 ops": (lambda: _unchecked_ops(AddOp.model_construct(op="ADD", content=f"fact {i}", speaker=None, dia_ids=())
                                        for i in range(5001)), f"at most {MAX_ACTION_ITEMS}"),
    "5 MB fact": (lambda: _unchecked_ops([AddOp.model_construct(op="ADD", content="x" * 5_000_000, speaker=None,
                                                                dia_ids=())]), "at most"),
    "lone surrogate": (lambda: _unchecked_ops([AddOp.model_construct(op="ADD", content="a\ud800b", speaker=None,
                                                                     dia_ids=())]), "unicode"),
    "one huge memory": (lambda: _unchecked_ops([AddOp.model_construct(
        op="ADD", content=" ".join(f"Alice said thing {i}." for i in range(20_000)), speaker=None, dia_ids=())]),
        f"at most {MAX_TEXT_CHARS}"),
    "not an op": (lambda: _unchecked_ops(["ADD: sneaky"]), "invalid action"),
    "extractor object": (lambda: ExtractAction.model_construct(role="extractor", facts=()), "phase"),
    "role relabelled": (lambda: ExtractAction.model_construct(role="manager", facts=()), "invalid action: manager.facts"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_unvalidated_action_object_gets_the_limits_of_a_parsed_one(case):
    build, message = CASES[case]
    env = _env_in_manager_phase()
    bank = env.bank
    obs, reward, _, _, info = env.step(build())
    assert message in info["error"] and reward == PENALTY and env.invalid_actions == 1
    assert env.bank == bank and env.observation_space.contains(obs)


def test_a_valid_action_object_still_plays():
    env = _env_in_manager_phase()
    _, reward, _, _, info = env.step(ManageAction(operations=(AddOp(content="Alice lives in Oslo."),)))
    assert "error" not in info and reward == 0.0 and len(env.bank) == 1
    env.step(ExtractAction(facts=(Fact(fact="Bob plays the guitar."),)))
    assert env.pending_facts[0].fact == "Bob plays the guitar."
