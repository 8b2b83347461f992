"""Errata overlays (memenv/data/errata.py): applied only to the data they name, the changed-question report,
evidence corrections in evidence recall, the audited protocols, and ceilings (memenv/scoring/ceilings.py)."""

from __future__ import annotations

import json

import pytest

from memenv.bank import MemoryBank
from memenv.data.errata import ErrataError, build_audit_errata, load_errata
from memenv.data.locomo import DEV_PATH, load_locomo
from memenv.data.schema import QA
from memenv.scoring.ceilings import ceiling_pairs, judged_ceilings, pair_ceilings
from memenv.scoring.recall import RecallScorer


@pytest.fixture(autouse=True)
def dev_subset(monkeypatch):
    monkeypatch.delenv("MEMR2_LOCOMO_PATH", raising=False)


def tiny_sample(sample_id: str = "conv-x") -> dict:
    """A two-session LoCoMo sample with three questions (single-hop, multi-hop, temporal)."""
    return {
        "sample_id": sample_id,
        "conversation": {
            "speaker_a": "Ann", "speaker_b": "Bo",
            "session_1_date_time": "1:00 pm on 1 May, 2023",
            "session_1": [{"speaker": "Ann", "dia_id": "D1:1", "text": "I bought a blue car."},
                          {"speaker": "Bo", "dia_id": "D1:2", "text": "I went to Paris and Oslo."}],
            "session_2_date_time": "1:00 pm on 9 May, 2023",
            "session_2": [{"speaker": "Ann", "dia_id": "D2:1", "text": "The car is fast."}],
        },
        "qa": [
            {"question": "What car did Ann buy?", "answer": "red car", "evidence": ["D1:2"], "category": 4},
            {"question": "Where did Bo go?", "answer": "Paris, Rome", "evidence": ["D1:2"], "category": 1},
            {"question": "When did Ann buy a car?", "answer": "1 May 2023", "evidence": ["D1:1"], "category": 2},
        ],
    }


def audit_errors() -> list[dict]:
    """The audit's format: a wrong gold with wrong evidence, a wrong gold, and a citation-only error."""
    common = {"reasoning": "-"}
    return [
        {**common, "question_id": "locomo_0_qa0", "question": "What car did Ann buy?", "golden_answer": "red car",
         "category": 4, "error_type": "HALLUCINATION", "cited_evidence": ["D1:2"],
         "correct_evidence": ["D1:1", "D2:1"], "correct_answer": "blue car"},
        {**common, "question_id": "locomo_0_qa1", "question": "Where did Bo go?", "golden_answer": "Paris, Rome",
         "category": 1, "error_type": "HALLUCINATION", "cited_evidence": ["D1:2"], "correct_evidence": ["D1:2"],
         "correct_answer": "Paris, Oslo"},
        {**common, "question_id": "locomo_0_qa2", "question": "When did Ann buy a car?", "golden_answer": "1 May 2023",
         "category": 2, "error_type": "WRONG_CITATION", "cited_evidence": ["D1:1"], "correct_evidence": ["D1:2"],
         "correct_answer": "1 May 2023 (answer is correct, citation is wrong)"},
    ]


@pytest.fixture
def tiny(tmp_path):
    """(path of a one-sample LoCoMo file, the overlay built for it)."""
    sample = tiny_sample()
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps([sample], indent=2), encoding="utf-8")
    errata = build_audit_errata(audit_errors(), [sample], commit="c" * 40, errors_sha256="e", data_sha256="d")
    return path, errata


def test_the_overlay_reports_every_changed_question_and_keeps_citation_only_golds(tiny):
    path, errata = tiny
    conversations, report = load_locomo(path, errata=errata)
    changes = [(c.conversation, c.index, c.field, c.old, c.new) for c in report.errata.changes]
    assert changes == [
        ("conv-x", 0, "answer", "red car", "blue car"),
        ("conv-x", 0, "evidence", ["D1:2"], ["D1:1", "D2:1"]),
        ("conv-x", 1, "answer", "Paris, Rome", "Paris, Oslo"),
        ("conv-x", 2, "evidence", ["D1:1"], ["D1:2"]),
    ]
    assert (report.errata.golds_changed, report.errata.evidence_changed) == (2, 2)
    questions = conversations[0].questions
    assert [q.answer for q in questions] == ["blue car", "Paris, Oslo", "1 May 2023"]  # citation-only: gold kept
    assert questions[0].session == 2  # its latest corrected evidence turn is in session 2


def test_an_overlay_never_applies_to_a_file_it_does_not_name(tiny, tmp_path):
    path, errata = tiny
    renamed = tiny_sample("conv-y")
    other = tmp_path / "other.json"
    other.write_text(json.dumps([renamed]), encoding="utf-8")
    with pytest.raises(ErrataError, match="does not name conversation 'conv-y'.*Load this file without errata"):
        load_locomo(other, errata=errata)
    edited = tiny_sample()
    edited["conversation"]["session_2"][0]["text"] = "The car is slow."
    other.write_text(json.dumps([edited]), encoding="utf-8")
    with pytest.raises(ErrataError, match="'conv-x' differs from the one errata audit-v1 was built for"):
        load_locomo(other, errata=errata)
    assert load_locomo(other)[1].errata is None  # without errata the file loads as it is


def test_the_packaged_overlay_applies_to_the_dev_subset_in_any_formatting_and_to_nothing_else(tmp_path):
    errata = load_errata("audit-v1")
    assert (errata.license, errata.source["commit"]) == ("CC BY-NC 4.0", "9493fb4b4af4256ed17a18e8fd0b3cfdeec29539")
    assert sum(c.answer is not None for c in errata.corrections) == 99
    assert sum(c.error_type == "WRONG_CITATION" for c in errata.corrections) == 57
    _, report = load_locomo(DEV_PATH, errata="audit-v1")
    assert (report.errata.golds_changed, report.errata.evidence_changed) == (24, 32)
    samples = json.loads(DEV_PATH.read_text(encoding="utf-8"))
    compact = tmp_path / "compact.json"
    compact.write_text(json.dumps(samples[:1]), encoding="utf-8")  # other bytes, the same conversation
    assert load_locomo(compact, errata="audit-v1")[1].errata.golds_changed == 15
    samples[0]["qa"][0]["answer"] = "2021"
    compact.write_text(json.dumps(samples[:1]), encoding="utf-8")
    with pytest.raises(ErrataError, match="'conv-26' differs"):
        load_locomo(compact, errata="audit-v1")
    with pytest.raises(ValueError, match="unknown errata 'audit-v9'"):
        load_locomo(DEV_PATH, errata="audit-v9")


def test_an_evidence_correction_changes_evidence_recall_as_computed_by_hand(tiny):
    path, errata = tiny
    original, _ = load_locomo(path)
    audited, _ = load_locomo(path, errata=errata)
    bank, _ = MemoryBank().add("Ann bought a blue car", dia_ids=["D1:1"])  # holds D1:1 only
    scorer = RecallScorer(top_k=10)
    before = scorer.score(original[0].questions, bank)
    after = scorer.score(audited[0].questions, bank)
    # q0: evidence D1:2 -> D1:1, D2:1 (one of two retrieved); q2: D1:1 -> D1:2 (none retrieved)
    assert [r.evidence_recall for r in before] == [0.0, 0.0, 1.0]
    assert [r.evidence_recall for r in after] == [0.5, 0.0, 0.0]
    assert [r.evidence_missing for r in after] == [1, 1, 1]


def test_ceilings_match_hand_computed_numbers(tiny):
    path, errata = tiny
    original, _ = load_locomo(path)
    audited, _ = load_locomo(path, errata=errata)
    pairs = ceiling_pairs(original, audited)
    assert [(qa.answer, answer) for qa, answer in pairs] == [
        ("red car", "blue car"), ("Paris, Rome", "Paris, Oslo"), ("1 May 2023", "1 May 2023")]
    table = pair_ceilings(pairs)
    # single-hop "blue car" vs gold "red car": F1 = BLEU-1 (equal lengths, no brevity penalty) = recall = 1/2.
    # multi-hop "Paris, Oslo" vs "Paris, Rome": F1 = mean(best part F1) = (1 + 0) / 2; BLEU-1 on "paris oslo" vs
    # "paris rome" = 1/2; recall 1/2. temporal: the gold itself, 1.
    for metric in ("f1", "bleu1", "recall"):
        per = {name: (p.mean, p.count, p.changed) for name, p in table[metric].per_category.items()}
        assert per == {"multi-hop": (0.5, 1, 1), "single-hop": (0.5, 1, 1), "temporal": (1.0, 1, 0)}, metric
        assert table[metric].overall.mean == pytest.approx(2 / 3)
    asked = []

    def judge(triples):
        asked.extend(triples)
        return {"strict-v1": [0.0, 1.0]}  # rejects "blue car", accepts "Paris, Oslo"

    j = judged_ceilings(pairs, judge)["J strict-v1"]
    assert asked == [("What car did Ann buy?", "red car", "blue car"),
                     ("Where did Bo go?", "Paris, Rome", "Paris, Oslo")]
    assert ({n: p.mean for n, p in j.per_category.items()}, j.overall.mean) == (
        {"multi-hop": 1.0, "single-hop": 0.0, "temporal": 1.0}, pytest.approx(2 / 3))


def test_an_open_domain_gold_given_as_answer_reaches_one():
    from memenv.scoring.ceilings import question_score

    qa = QA(question="q", answer="National park; she likes the outdoors", category="open-domain", category_id=3,
            session=1)
    assert question_score("f1", qa, qa.answer) == question_score("bleu1", qa, qa.answer) == 1.0


def test_the_audited_protocols_resolve_to_the_packaged_overlay_and_pinned_files():
    import hashlib

    from memenv.data.errata import errata_path
    from memr2.protocols import AUDIT_V1_SHA256, LOCOMO10_SHA256, LOCOMO_DEV_SHA256, get_protocol

    dev, full = get_protocol("locomo-dev-audited"), get_protocol("locomo10-audited")
    assert (dev.env_kwargs, dev.data_sha256, dev.scorer) == ({"errata": "audit-v1"}, LOCOMO_DEV_SHA256, "recall")
    assert (full.env_kwargs, full.data_sha256) == ({"errata": "audit-v1"}, LOCOMO10_SHA256)
    assert dev.errata_sha256 == full.errata_sha256 == AUDIT_V1_SHA256
    assert hashlib.sha256(errata_path("audit-v1").read_bytes()).hexdigest() == AUDIT_V1_SHA256
    assert get_protocol("locomo-dev").env_kwargs == {}  # the published protocol is unchanged


def test_an_audited_run_records_the_overlay_and_an_original_run_its_ceiling(tmp_path, capsys):
    from memr2.cli import main
    from memr2.protocols import AUDIT_V1_SHA256
    from memr2.results import read_result

    for protocol in ("locomo-dev-audited", "locomo-dev"):
        assert main(["eval", "--protocol", protocol, "--agent", "no-memory", "--output-dir", str(tmp_path),
                     "--run-name", protocol, "--no-progress"]) == 0
    audited, original = read_result(tmp_path / "locomo-dev-audited.json"), read_result(tmp_path / "locomo-dev.json")
    assert audited.env_kwargs == {"errata": "audit-v1", "scorer": "recall"}
    assert audited.errata == {"name": "audit-v1", "sha256": AUDIT_V1_SHA256, "golds_changed": 24,
                              "evidence_changed": 32}
    assert getattr(audited, "ceiling", None) is None and getattr(original, "errata", None) is None
    recall = original.ceiling["metrics"]["recall"]
    assert (recall["overall"]["count"], recall["overall"]["changed"]) == (385, 24)
    out = capsys.readouterr().out
    assert "errata audit-v1 [e7243934ff2e] changed 24 golds" in out and "ceiling (recall, original golds" in out
    from memr2.leaderboard import render_markdown

    table = render_markdown([audited, original])
    assert "Golds corrected by errata `audit-v1` (sha256 e7243934ff2e): 24 golds and 32 evidence lists" in table
    assert "ceiling (recall, original golds, answers of errata audit-v1): overall 0.979" in table


def test_errata_is_fixed_by_a_protocol_and_an_audited_protocol_refuses_another_file(tmp_path, capsys):
    from memr2.cli import main

    assert main(["eval", "--protocol", "locomo-dev", "--agent", "no-memory", "--env-kwargs",
                 '{"errata": "audit-v1"}', "--output-dir", str(tmp_path)]) == 2
    assert "--env-kwargs ['errata'] would change what --protocol locomo-dev measures" in capsys.readouterr().err
    assert main(["eval", "--protocol", "locomo10-audited", "--agent", "no-memory", "--data-path", str(DEV_PATH),
                 "--output-dir", str(tmp_path)]) == 2
    assert "--protocol locomo10-audited needs the LoCoMo file with sha256 79fa87e90f04" in capsys.readouterr().err


class _Fake:
    """A text model (answerer or judge) that gives one fixed reply to every prompt and keeps the prompts."""

    def __init__(self, name: str, reply: str) -> None:
        self.name, self.reply, self.prompts = name, reply, []

    def answer(self, prompts: list[str]) -> list[str]:
        self.prompts += prompts
        return [self.reply] * len(prompts)


def test_a_run_judged_by_an_llm_records_j_ceilings_over_the_questions_it_scored():
    import gymnasium as gym

    from memr2.ceiling_report import ceiling_block

    judge = _Fake("fake-judge", '{"label": "WRONG"}')
    env = gym.make("MemoryR2/LoCoMo-v0", data_path=str(DEV_PATH), scorer="llm", scorer_kwargs={
        "answerer": _Fake("fake", "Not mentioned"), "judge": judge, "judge_rubrics": ["strict"], "cache_dir": False})
    conversation = next(c for c in env.unwrapped.conversations if c.conversation_id == "conv-30")
    records = [{"conversation_id": "conv-30", "question": q.question, "answer": q.answer}
               for q in conversation.questions]
    block = ceiling_block(env, records)
    assert set(block["metrics"]) == {"f1", "bleu1", "J strict-v2"}
    j = block["metrics"]["J strict-v2"]["overall"]
    # conv-30's 4 corrected golds are judged (all WRONG here); its other questions count as CORRECT
    assert (j["count"], j["changed"], len(judge.prompts)) == (len(conversation.questions), 4, 4)
    assert j["mean"] == pytest.approx(1 - 4 / len(conversation.questions))


def test_memr2_data_errata_prints_changes_per_conversation_and_category_and_the_ceilings(capsys):
    from memr2.cli import main

    assert main(["data", "errata", "--data-path", str(DEV_PATH)]) == 0
    out = capsys.readouterr().out
    assert "24 golds and 32 evidence lists changed" in out
    assert "conv-30             1 / 2             0 / 0             3 / 3             0 / 0" in out
    assert "ceiling recall: overall 0.9788 (24/385)" in out
    assert "if the judge rejects every corrected gold it is 0.9377" in out  # 1 - 24/385


def test_doctests():
    import doctest

    from memenv.data import errata
    from memenv.scoring import ceilings
    from memr2 import ceiling_report

    for module in (errata, ceilings, ceiling_report):
        assert doctest.testmod(module).failed == 0, module.__name__
