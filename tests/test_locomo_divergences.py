"""How LoCoMo-v0 settles each divergence from the official evaluation (memenv/data/locomo/PROTOCOL.md, last part)."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest

import memenv  # noqa: F401
from memenv.bank import MemoryBank
from memenv.data.locomo import DEV_PATH, load_locomo
from memenv.data.schema import QA
from memenv.scoring.base import summarize
from memenv.scoring.llm import LLMScorer
from memenv.scoring.metrics import bleu1
from memenv.scoring.recall import RecallScorer
from memr2.cli import main
from memr2.results import read_result


@pytest.fixture(autouse=True)
def dev_subset(monkeypatch):
    monkeypatch.delenv("MEMR2_LOCOMO_PATH", raising=False)


def test_date_prefix_reader_option_decides_temporal_credit():
    bank, _ = MemoryBank().add("Caroline went to the support group", speaker="Caroline", dia_ids=("D1:3",),
                               session=1, date="1:56 pm on 8 May, 2023")
    question = QA(question="When did Caroline go to the support group?", answer="8 May 2023", category="temporal",
                  category_id=2, evidence=("D1:3",), session=1)
    (with_dates,) = RecallScorer().score([question], bank)
    (without,) = RecallScorer(date_prefix=False).score([question], bank)
    assert with_dates.score == 1.0 and without.score == 0.0  # the prefix alone carried the answer
    assert with_dates.evidence_recall == without.evidence_recall == 1.0  # retrieval is the same
    topic = question.model_copy(update={"answer": "support group", "category": "single-hop"})
    assert RecallScorer(date_prefix=False).score([topic], bank)[0].score == 1.0  # content is still read


def test_questions_without_evidence_count_as_fully_recalled_as_in_the_official_code():
    bank, _ = MemoryBank().add("Alice lives in Rome", speaker="Alice", dia_ids=("D1:1",), session=1)
    with_evidence = QA(question="Where does Alice live?", answer="Rome", category="single-hop", evidence=("D9:9",),
                       session=1)
    without = with_evidence.model_copy(update={"evidence": ()})
    records = RecallScorer().score([with_evidence, without], bank)
    assert [r.evidence_recall for r in records] == [0.0, 1.0]
    assert summarize(records)["evidence_recall"] == 0.5  # both questions are in the mean


def test_dedupe_keeps_a_question_asked_both_as_answerable_and_adversarial():
    """A deliberate choice: the two items are different tasks (answer vs abstain) and the official code scores
    both; ``dedupe`` only drops the same task twice. By default adversarial items are excluded, so one remains."""
    question = "what did gina receive from a dance contest?"
    conversations, _ = load_locomo(DEV_PATH, dedupe=True)
    conv30 = next(c for c in conversations if c.conversation_id == "conv-30")
    twins = [q for q in conv30.questions if " ".join(q.question.lower().split()) == question]
    assert sorted(q.category for q in twins) == ["adversarial", "single-hop"]
    env = gym.make("MemoryR2/LoCoMo-v0", dedupe=True).unwrapped
    kept = [q for c in env.conversations for q in c.questions if q.question.lower() == question]
    assert [q.category for q in kept] == ["single-hop"]


class FixedAnswerer:
    name = "fixed"

    def answer(self, prompts: list[str]) -> list[str]:
        return ["Sweden"] * len(prompts)


def test_llm_scorer_bleu1_uses_the_same_open_domain_gold_as_f1(tmp_path):
    bank, _ = MemoryBank().add("Caroline moved from Sweden", speaker="Caroline", dia_ids=("D1:1",), session=1)
    gold = "Sweden; she mentions moving from her home country"
    question = QA(question="Where did Caroline move from?", answer=gold, category="open-domain", category_id=3,
                  evidence=("D1:1",), session=1)
    (record,) = LLMScorer(FixedAnswerer(), cache_dir=False).score([question], bank)
    assert record.details["f1"] == 1.0 and record.details["bleu1"] == 1.0
    assert bleu1("Sweden", gold) < 0.01  # what the full gold would have given


def test_both_leaderboard_variants_run_through_memr2_eval(tmp_path):
    for protocol in ("locomo-dev", "locomo-dev-no-dates"):
        assert main(["eval", "--protocol", protocol, "--agent", "store-all", "--output-dir", str(tmp_path),
                     "--run-name", protocol, "--no-progress"]) == 0
    dates, no_dates = (read_result(tmp_path / f"{name}.json") for name in ("locomo-dev", "locomo-dev-no-dates"))
    assert no_dates.env_kwargs["scorer_kwargs"] == {"date_prefix": False} and "scorer_kwargs" not in dates.env_kwargs
    temporal = [r.metrics.per_category["temporal"] for r in (dates, no_dates)]
    assert temporal[0].count == temporal[1].count == 90
    assert temporal[1].mean < temporal[0].mean - 0.3  # most temporal credit came from the prefix
    assert dates.metrics.evidence_recall == no_dates.metrics.evidence_recall  # same retrieval, other reader
    assert json.loads((tmp_path / "locomo-dev.json").read_text())["protocol"] == "locomo-dev"
