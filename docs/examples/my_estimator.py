"""A third-party estimator for ``memr2 train --estimator docs/examples/my_estimator.py:make_estimator``.

GRPO's terminal-score global rows plus LoGo's local rows: does the local signal help when the global rows carry
no per-session credit at all? Built from the library's own row builders; any ``rows(batch) -> list[Row]`` works.
"""

from algorithms.estimators import Estimator, grpo_rows, local_rows


def make_estimator() -> Estimator:
    return Estimator("grpo+local", lambda batch: grpo_rows(batch) + local_rows(batch), needs_local=True)
