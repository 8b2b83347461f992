"""LoCoMo answer metrics: normalisation, token F1 with per-category rules, BLEU-1, exact match, evidence metrics.

The rules follow the LoCoMo evaluation code (Maharana et al., ACL 2024, ``task_eval/evaluation.py``) as restated
in ``PROTOCOL.md``:

* normalisation: drop commas, lower-case, strip ASCII punctuation, drop the words ``a an the and``, collapse
  whitespace; token metrics then Porter-stem every token (NLTK's ``PorterStemmer``);
* categories 2, 3, 4 (temporal, open-domain, single-hop): one token F1; category 3 keeps the gold text before
  the first ``;``;
* category 1 (multi-hop): prediction and gold are split on commas, each gold part takes its best F1 over the
  predicted parts, and the parts are averaged;
* category 5 (adversarial): 1 when the prediction says "no information available" or "not mentioned", else 0.

>>> locomo_f1("Paris, Rome", "Rome, Paris, Oslo", 1)
0.6666666666666666
>>> locomo_f1("Not mentioned in the conversation", "", 5)
1.0
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Iterable

from memenv.text import stem

_PUNCTUATION = frozenset(string.punctuation)
_DROPPED_WORDS = re.compile(r"\b(a|an|the|and)\b")
_ABSTENTIONS = ("no information available", "not mentioned")


def normalize_answer(text: object) -> str:
    """LoCoMo answer normalisation without stemming.

    >>> normalize_answer("The cat, and a Dog!")
    'cat dog'
    """
    text = str(text).replace(",", "").lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    return " ".join(_DROPPED_WORDS.sub(" ", text).split())


def answer_tokens(text: object) -> list[str]:
    """Normalised, Porter-stemmed tokens: the unit of every token metric.

    >>> answer_tokens("Running races")
    ['run', 'race']
    """
    return [stem(w) for w in normalize_answer(text).split()]


def _gold_text(gold: object) -> str:
    return str(gold).strip()


def f1_score(pred: object, gold: object) -> float:
    """Token F1 of the multiset overlap of stemmed tokens; 0.0 when nothing overlaps.

    >>> round(f1_score("a red car", "the red bus"), 3)
    0.5
    """
    pred_tokens = answer_tokens(pred)
    gold_tokens = answer_tokens(_gold_text(gold))
    same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def multi_answer_f1(pred: object, gold: object) -> float:
    """Category-1 F1: mean over comma-separated gold parts of the best F1 against any predicted part."""
    pred_parts = [p.strip() for p in str(pred).split(",")]
    gold_parts = [g.strip() for g in _gold_text(gold).split(",")]
    return sum(max(f1_score(p, g) for p in pred_parts) for g in gold_parts) / len(gold_parts)


def is_abstention(pred: object) -> bool:
    """Whether a prediction declines to answer, as category 5 (adversarial) requires."""
    lowered = str(pred).lower()
    return any(phrase in lowered for phrase in _ABSTENTIONS)


def category_gold(gold: object, category_id: int) -> str:
    """The gold text a LoCoMo category is scored against: open-domain (3) keeps the text before the first ``;``.

    >>> category_gold("Sweden; she moved from there", 3), category_gold(" 2022 ", 2)
    ('Sweden', '2022')
    """
    text = _gold_text(gold)
    return text.split(";")[0].strip() if category_id == 3 else text


def locomo_f1(pred: object, gold: object, category_id: int) -> float:
    """The LoCoMo QA score of one prediction under its category's rule (see the module docstring).

    Raises:
        ValueError: for a category id outside 1..5.
    """
    if category_id == 5:
        return 1.0 if is_abstention(pred) else 0.0
    gold_text = category_gold(gold, category_id)
    if category_id == 1:
        return float(multi_answer_f1(pred, gold_text))
    if category_id in (2, 3, 4):
        return f1_score(pred, gold_text)
    raise ValueError(f"unknown LoCoMo category id {category_id!r}; expected 1..5")


def bleu1(pred: object, gold: object) -> float:
    """BLEU-1: clipped unigram precision times the brevity penalty, on stemmed normalised tokens.

    >>> round(bleu1("red car", "the red car is fast"), 4)
    0.3679
    """
    pred_tokens = answer_tokens(pred)
    gold_tokens = answer_tokens(_gold_text(gold))
    if not pred_tokens or not gold_tokens:
        return 0.0
    clipped = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    precision = clipped / len(pred_tokens)
    c, r = len(pred_tokens), len(gold_tokens)
    brevity = 1.0 if c > r else math.exp(1 - r / c)
    return precision * brevity


def exact_match(pred: object, gold: object) -> float:
    """LoCoMo exact match: the normalised (unstemmed) token *sets* are equal.

    >>> exact_match("The Paris", "paris")
    1.0
    """
    return float(set(normalize_answer(pred).split()) == set(normalize_answer(_gold_text(gold)).split()))


def evidence_recall(evidence: Iterable[str], retrieved_dia_ids: Iterable[str]) -> float:
    """Fraction of a question's evidence dia_ids found among the retrieved entries' dia_ids.

    A question without evidence counts as fully recalled (1.0), as in LoCoMo's evaluation code.

    >>> evidence_recall(["D1:2", "D3:4"], {"D1:2", "D2:1"})
    0.5
    """
    needed = set(evidence)
    if not needed:
        return 1.0
    return len(needed & set(retrieved_dia_ids)) / len(needed)


def m_fail(evidence: Iterable[str], bank_dia_ids: Iterable[str]) -> float:
    """Memory failure (Memory-R2's M-Fail) of one question: share of its evidence dia_ids absent from the bank.

    A question without evidence has nothing to miss (0.0). Pool several questions with :func:`pooled_m_fail`.

    >>> m_fail(["D1:2", "D3:4"], {"D1:2"})
    0.5
    """
    needed = set(evidence)
    if not needed:
        return 0.0
    return len(needed - set(bank_dia_ids)) / len(needed)


def pooled_m_fail(evidences: Iterable[Iterable[str]], bank_dia_ids: Iterable[str]) -> float:
    """M-Fail over many questions: missing evidence ids / needed evidence ids, counted per question.

    >>> pooled_m_fail([["D1:1"], ["D1:1", "D2:2", "D2:3"]], {"D1:1"})
    0.5
    """
    present = set(bank_dia_ids)
    needed = missing = 0
    for evidence in evidences:
        ids = set(evidence)
        needed += len(ids)
        missing += len(ids - present)
    return missing / needed if needed else 0.0
