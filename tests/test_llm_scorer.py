"""LLMScorer: per-speaker retrieval, LoCoMo metrics, judge, on-disk answer cache -- with small scripted answerers."""

from __future__ import annotations

import re

import gymnasium as gym
import pytest

import memenv  # noqa: F401
from memenv.bank import MemoryBank
from memenv.data.schema import QA
from memenv.scoring.base import make_scorer, summarize
from memenv.scoring.llm import LLMScorer, format_context, judge_verdict, retrieve_per_speaker


class ReadingAnswerer:
    """Answers with the last word of the first retrieved memory, or abstains -- a reader of the prompt."""

    name = "reader-v1"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def answer(self, prompts: list[str]) -> list[str]:
        self.calls.append(list(prompts))
        replies = []
        for prompt in prompts:
            match = re.search(r"^- .*?(\w+)\.?$", prompt, flags=re.MULTILINE)
            replies.append(match.group(1) if match else "Not mentioned")
        return replies


class StrictJudge:
    """CORRECT when the generated answer contains the gold answer."""

    name = "strict-judge"

    def answer(self, prompts: list[str]) -> list[str]:
        out = []
        for prompt in prompts:
            gold = re.findall(r"Gold answer: (.*)", prompt)[-1].lower()  # the last: rubrics may show an example
            quoted = re.findall(r"<answer>(.*)</answer>", prompt) or re.findall(r"Generated answer: (.*)", prompt)
            generated = quoted[-1].lower()  # v2 rubrics quote it between tags, v1 after "Generated answer:"
            out.append("CORRECT" if gold in generated else "WRONG")
        return out


def bank_of(*items: tuple[str, str]) -> MemoryBank:
    bank = MemoryBank()
    for speaker, content in items:
        bank, _ = bank.add(content, speaker=speaker, dia_ids=("D1:1",), date="1 May 2023")
    return bank


QUESTION = QA(question="Which city does Alice live in?", answer="Rome", category="single-hop", category_id=4,
              evidence=("D1:1",), session=1)


def test_answers_from_memory_and_scores_with_locomo_f1(tmp_path):
    scorer = LLMScorer(ReadingAnswerer(), cache_dir=tmp_path)
    (hit,) = scorer.score([QUESTION], bank_of(("Alice", "Alice lives in the city of Rome.")))
    (miss,) = scorer.score([QUESTION], MemoryBank())
    assert hit.prediction == "Rome" and hit.score == 1.0 and hit.details["bleu1"] == 1.0
    assert hit.evidence_recall == 1.0 and hit.retrieved == ["m1"]
    assert miss.prediction == "Not mentioned" and miss.score == 0.0 and miss.evidence_missing == 1
    assert summarize([hit, miss])["score"] == 0.5


def test_adversarial_questions_reward_abstention(tmp_path):
    adversarial = QA(question="What is Bob's boat called?", answer="", category="adversarial", category_id=5, session=1)
    (record,) = LLMScorer(ReadingAnswerer(), cache_dir=False).score([adversarial], MemoryBank())
    assert record.score == 1.0


def test_retrieval_is_top_k_per_speaker():
    bank = bank_of(*[("Alice", f"Alice city note {i}") for i in range(4)], *[("Bob", f"Bob city note {i}") for i in range(3)])
    groups = retrieve_per_speaker(bank, "city note", top_k=2)
    assert sorted(groups) == ["Alice", "Bob"] and [len(g) for g in groups.values()] == [2, 2]
    context = format_context(groups)
    assert context.index("Memories of Alice:") < context.index("Memories of Bob:")
    assert "- [1 May 2023] Alice: Alice city note" in context


def test_answers_are_cached_on_disk_by_model_and_context(tmp_path):
    bank = bank_of(("Alice", "Alice lives in Rome."))
    first = ReadingAnswerer()
    LLMScorer(first, cache_dir=tmp_path).score([QUESTION, QUESTION], bank)
    assert [len(c) for c in first.calls] == [1]  # the same prompt is asked once
    second = ReadingAnswerer()
    again = LLMScorer(second, cache_dir=tmp_path).score([QUESTION], bank)
    assert second.calls == [] and again[0].prediction == "Rome"  # a new process reads the file
    LLMScorer(second, cache_dir=tmp_path).score([QUESTION], bank_of(("Alice", "Alice lives in Oslo.")))
    assert len(second.calls) == 1  # new retrieved context, new answer
    renamed = ReadingAnswerer()
    renamed.name = "reader-v2"
    LLMScorer(renamed, cache_dir=tmp_path).score([QUESTION], bank)
    assert len(renamed.calls) == 1  # another model does not reuse reader-v1's answers


def test_judge_adds_j_and_can_be_the_score(tmp_path):
    bank = bank_of(("Alice", "Alice lives in Rome."))
    (record,) = LLMScorer(ReadingAnswerer(), judge=StrictJudge(), metric="judge", cache_dir=tmp_path).score([QUESTION], bank)
    assert record.details["judge"] == 1.0 and record.score == 1.0
    (wrong,) = LLMScorer(ReadingAnswerer(), judge=StrictJudge(), cache_dir=tmp_path).score([QUESTION], MemoryBank())
    assert wrong.details["judge"] == 0.0
    assert (judge_verdict("CORRECT"), judge_verdict("WRONG.")) == (1.0, 0.0)


def test_bad_configuration_is_explained():
    with pytest.raises(ValueError, match="needs an answerer"):
        LLMScorer()
    with pytest.raises(ValueError, match="needs a judge"):
        LLMScorer(ReadingAnswerer(), metric="judge")
    with pytest.raises(TypeError, match="answerer"):
        LLMScorer(object())


def test_env_uses_llm_scorer_by_name_with_a_tiny_backend_answerer(tmp_path):
    pytest.importorskip("torch")
    env = gym.make(
        "MemoryR2/Synthetic-v0",
        max_sessions=1,
        scorer="llm",
        scorer_kwargs={
            "answerer": "agents.llm.answerer:make_answerer",
            "answerer_kwargs": {"model": "tiny", "max_new_tokens": 4},
            "cache_dir": str(tmp_path),
        },
    )
    env.reset(seed=0)
    env.step({"facts": [{"fact": "Ann likes tea", "speaker": "Ann"}]})
    _, _, terminated, _, info = env.step({"operations": [{"op": "ADD", "content": "Ann likes tea"}]})
    assert terminated and info["qa"] and all(isinstance(r["prediction"], str) for r in info["qa"])
    assert 0.0 <= info["metrics"]["score"] <= 1.0
    assert isinstance(make_scorer("llm", answerer=ReadingAnswerer(), cache_dir=False), LLMScorer)
    assert list(tmp_path.glob("*.jsonl"))


class CountingJudge(StrictJudge):
    """StrictJudge that remembers every prompt it was asked."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def answer(self, prompts: list[str]) -> list[str]:
        self.prompts += prompts
        return super().answer(prompts)


def test_each_rubric_gives_its_own_verdict_and_cache(tmp_path):
    from memenv.scoring.judging import load_rubric

    bank = bank_of(("Alice", "Alice lives in Rome."))
    judge = CountingJudge()
    scorer = LLMScorer(ReadingAnswerer(), judge=judge, judge_rubrics=["mem0", "strict"], cache_dir=tmp_path)
    (record,) = scorer.score([QUESTION], bank)
    assert record.details["judges"] == {"mem0-v2": 1.0, "strict-v2": 1.0} and record.details["judge"] == 1.0
    assert [p.startswith("\nYour task is to label") for p in judge.prompts] == [True, False]  # Mem0's text first
    assert [p["prompt_sha256"] for p in scorer.judge_protocols()] == [load_rubric(n).sha256 for n in ("mem0", "strict")]
    assert {p["model"] for p in scorer.judge_protocols()} == {"strict-judge"}
    again = LLMScorer(ReadingAnswerer(), judge=judge, judge_rubrics=["strict-v2"], cache_dir=tmp_path)
    again.score([QUESTION], bank)
    assert len(judge.prompts) == 2  # same judge, rubric and hash: served from the on-disk cache
    with pytest.raises(ValueError, match="unknown judge rubric 'lenient'"):
        LLMScorer(ReadingAnswerer(), judge=judge, judge_rubrics=["lenient"])


def test_judge_metrics_per_category_and_agreement_by_hand():
    from memenv.scoring.judging import judge_metrics

    rows = [("temporal", 1.0, 1.0, 0.9), ("temporal", 1.0, 0.0, 0.2), ("single-hop", 0.0, 0.0, 0.0),
            ("single-hop", 1.0, 1.0, 0.6)]
    records = [{"category": c, "details": {"f1": f1, "judges": {"mem0-v1": a, "strict-v1": b}}} for c, a, b, f1 in rows]
    records.append({"category": "temporal", "details": {"f1": 1.0}})  # not judged: left out of J
    protocols = [{"model": "j", "rubric": r, "prompt_sha256": "x"} for r in ("mem0-v1", "strict-v1")]
    out = judge_metrics(records, protocols)
    mem0, strict = out["rubrics"]["mem0-v1"], out["rubrics"]["strict-v1"]
    assert (mem0["score"], mem0["count"], strict["score"]) == (0.75, 4, 0.5)
    assert mem0["per_category"] == {"single-hop": {"mean": 0.5, "count": 2}, "temporal": {"mean": 1.0, "count": 2}}
    pair = out["agreement"]["mem0-v1~strict-v1"]
    # agree on 3 of 4; p(mem0)=0.75, p(strict)=0.5 -> chance 0.5 -> kappa (0.75 - 0.5) / 0.5
    assert (pair["agree"], pair["kappa"]) == (0.75, 0.5)
    assert out["agreement"]["strict-v1~f1>=0.5"]["agree"] == 1.0  # strict matches F1 >= 0.5 exactly here
