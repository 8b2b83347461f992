"""The rule scorer: exact on canonical memories, hurt by stale conflicting values, zero without memory."""

import pytest

from memenv.bank import MemoryBank
from memenv.data.schema import QA
from memenv.scoring.base import make_scorer, summarize
from memenv.scoring.rule import RuleScorer, claims_about

META = {"entity": "Maya", "attribute": "city", "keywords": ["city"], "values": ["Porto", "Lisbon", "Oslo"]}


def question(category: str, answer: str, **meta) -> QA:
    return QA(question="q?", answer=answer, category=category, evidence=("D1:1", "D2:1"), session=2,
              meta={**META, **meta})


def bank_of(*contents: str, dia_ids=()) -> MemoryBank:
    bank = MemoryBank()
    for content in contents:
        bank, _ = bank.add(content, dia_ids=dia_ids)
    return bank


CURRENT = question("current", "Oslo")
HISTORY = question("history", "Lisbon", pivot="Oslo")


def test_registry_builds_the_rule_scorer():
    assert isinstance(make_scorer("rule"), RuleScorer) and make_scorer("rule").name == "rule"


@pytest.mark.parametrize(
    "contents, current, history",
    [
        ((), 0.0, 0.0),  # no memory
        (("Maya's city is Oslo. Maya's previous city was Lisbon.",), 1.0, 1.0),  # the ideal memory
        (("Maya's city is Oslo.",), 1.0, 0.0),  # current only: history unanswerable
        (("Maya's city is Oslo.", "Maya's city is Lisbon."), 0.5, 1.0),  # one stale value
        (("Maya moved to Porto.", "Maya moved to Lisbon.", "Maya moved to Oslo."), 1 / 3, 0.5),  # store-all
        (("Maya's city is Lisbon.",), 0.0, 1.0),  # stale only
        (("Omar's city is Oslo.", "Omar's previous city was Lisbon."), 0.0, 0.0),  # someone else's key
        (("Maya's previous city was Lisbon.",), 0.0, 1.0),
        (("Maya lives in Oslo now, she previously lived in Lisbon.",), 1.0, 1.0),  # clauses, free wording
        (("Maya's city is Oslo (before that Lisbon).",), 1.0, 1.0),
    ],
)
def test_scores_follow_the_claims(contents, current, history):
    records = RuleScorer().score([CURRENT, HISTORY], bank_of(*contents))
    assert [r.score for r in records] == pytest.approx([current, history])


def test_retraction_is_a_claim_of_none():
    retracted = question("retracted", "none", keywords=["car"], values=["Volvo", "none"], attribute="car")
    gone = RuleScorer().score([retracted], bank_of("Maya's car is none. Maya's previous car was Volvo."))[0]
    assert gone.score == 1.0 and gone.prediction == "none"
    stale = RuleScorer().score([retracted], bank_of("Maya drives a Volvo.", "Maya doesn't have a car anymore."))
    assert stale[0].score == 0.5
    sold = RuleScorer().score([retracted], bank_of("Maya sold her Volvo and no longer has a car."))
    assert sold[0].score == 1.0
    forgot = RuleScorer().score([retracted], bank_of("Maya drives a Volvo."))
    assert forgot[0].score == 0.0


def test_claims_need_the_entity_in_the_same_sentence():
    (entry,) = bank_of("Omar drives a Volvo. Maya is great.")
    assert not claims_about([entry], "Maya", ["car"], ["Volvo"]).current
    (entry,) = bank_of("Mayan ruins in Oslo.")
    assert not claims_about([entry], "Maya", ["city"], ["Oslo"]).current


def test_records_carry_evidence_and_retrieved_ids():
    bank = bank_of("Maya's city is Oslo.", dia_ids=("D2:1",))
    bank, _ = bank.add("Sam likes tea.", dia_ids=("D1:1",))
    (record,) = RuleScorer().score([CURRENT], bank)
    assert record.retrieved == ["m1"] and record.evidence_recall == 0.5
    assert record.evidence_needed == 2 and record.evidence_missing == 0
    summary = summarize(RuleScorer().score([CURRENT, HISTORY], bank))
    assert summary["per_category"] == {"current": {"mean": 1.0, "count": 1}, "history": {"mean": 0.0, "count": 1}}


def test_questions_without_synthetic_meta_are_a_clear_error():
    plain = QA(question="Where?", answer="Rome", category="single-hop", session=1)
    with pytest.raises(ValueError, match="Synthetic-v0"):
        RuleScorer().score([plain], MemoryBank())
