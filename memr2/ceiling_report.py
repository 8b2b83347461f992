"""Errata and ceilings in run results: what ``memr2 eval`` records about LoCoMo's gold answers.

* ``errata``: a run whose env applied an errata overlay records its name, sha256 and how many golds and evidence
  lists it changed in the loaded file (``RunResult.errata``).
* ``ceiling``: a run on the original golds of a file the overlay covers records, per category, the best score
  reachable with the audited answers under the run's own metric (:mod:`memenv.scoring.ceilings`), over exactly
  the questions it scored: ``recall`` for the recall scorer, ``f1`` and ``bleu1`` for the llm scorer, plus
  ``J <rubric>`` when it has a judge (the corrected questions are judged; others count as CORRECT). A score
  above its ceiling is credit for wrong golds. ``memr2 eval`` prints it under the results table and the
  leaderboard under the protocol's table.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from memr2.results import RunResult

CEILING_ERRATA = "audit-v1"
SCORER_METRICS = {"recall": ["recall"], "llm": ["f1", "bleu1"]}
"""The ceiling metrics recorded for each built-in scorer (a judge adds J per rubric)."""


def errata_block(env: Any) -> dict[str, Any] | None:
    """The applied overlay's name, sha256 and counts, or None."""
    report = getattr(env.unwrapped, "report", None)
    errata = getattr(report, "errata", None)
    return errata.summary() if errata is not None else None


def ceiling_block(env: Any, records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Ceilings of the scored questions under the run's metric(s), or None: the env has no LoCoMo report, already
    applied an overlay, or holds a conversation the overlay does not cover."""
    from memenv.data.errata import ErrataError, apply_errata, resolve_errata
    from memenv.scoring.ceilings import ceiling_pairs, judged_ceilings, pair_ceilings

    core = env.unwrapped
    report = getattr(core, "report", None)
    if report is None or getattr(report, "errata", None) is not None or not report.conversation_sha256:
        return None
    overlay, digest = resolve_errata(CEILING_ERRATA)
    try:
        audited, _ = apply_errata(core.conversations, report.conversation_sha256, overlay, path=report.path)
    except ErrataError:
        return None
    scored = Counter((r["conversation_id"], r["question"], r["answer"]) for r in records)
    pairs = []
    for qa, answer in ceiling_pairs(core.conversations, audited):
        key = (qa.meta.get("sample_id"), qa.question, qa.answer)
        if scored[key] > 0:
            scored[key] -= 1
            pairs.append((qa, answer))
    scorer = core.scorer
    metrics = SCORER_METRICS.get(scorer.name)
    if metrics is None:  # a custom scorer: its metric is unknown
        return None
    tables = pair_ceilings(pairs, metrics)
    if callable(getattr(scorer, "judge_triples", None)) and getattr(scorer, "judge", None) is not None:
        tables.update(judged_ceilings(pairs, scorer.judge_triples))
    return {"errata": CEILING_ERRATA, "errata_sha256": digest,
            "metrics": {name: table.model_dump() for name, table in tables.items()}}


def ceiling_line(ceiling: dict[str, Any], metric: str) -> str:
    """One line: a metric's overall ceiling and its per-category ceilings.

    >>> ceiling_line({"errata": "audit-v1", "metrics": {"recall": {"overall": {"mean": 0.5, "count": 2, "changed": 1},
    ...               "per_category": {"temporal": {"mean": 0.5, "count": 2, "changed": 1}}}}}, "recall")
    'ceiling (recall, original golds, answers of errata audit-v1): overall 0.500; temporal 0.500 (1/2 golds wrong)'
    """
    table = ceiling["metrics"][metric]
    parts = [f"{name} {p['mean']:.3f} ({p['changed']}/{p['count']} golds wrong)"
             for name, p in table["per_category"].items()]
    return (f"ceiling ({metric}, original golds, answers of errata {ceiling['errata']}): "
            f"overall {table['overall']['mean']:.3f}; " + ", ".join(parts))


def print_ceilings(result: RunResult) -> None:
    """The ceiling lines of a run (nothing for a run without one), and the errata line of an audited run."""
    errata = getattr(result, "errata", None)
    if errata:
        print(f"errata {errata['name']} [{errata['sha256'][:12]}] changed {errata['golds_changed']} golds and "
              f"{errata['evidence_changed']} evidence lists of the loaded file")
    ceiling = getattr(result, "ceiling", None)
    for metric in (ceiling or {}).get("metrics", {}):
        print(ceiling_line(ceiling, metric))
