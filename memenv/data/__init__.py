"""Datasets: the shared conversation schema, the LoCoMo loader and the Synthetic world generator."""

from memenv.data.schema import QA, Conversation, DataError, Session, Turn

__all__ = ["QA", "Conversation", "DataError", "Session", "Turn"]
