"""Scoring: LoCoMo metrics and the QA scorers that play the frozen answer agent."""

from memenv.scoring.base import QARecord, QAScorer, make_scorer, summarize

__all__ = ["QARecord", "QAScorer", "make_scorer", "summarize"]
