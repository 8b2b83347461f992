"""A third-party estimator for ``memr2 train --estimator docs/examples/my_estimator.py:make_estimator``.

LoGo's rows with local rows for the manager only: is the extractor's local signal worth its rerollouts? Built
from the library's own row builders; any ``rows(batch) -> list[Row]`` works.
"""

from algorithms.estimators import Estimator, global_rows, local_rows


def make_estimator() -> Estimator:
    def rows(batch):
        return global_rows(batch) + [row for row in local_rows(batch) if row.role == "manager"]

    return Estimator("logo-manager-local", rows, needs_local=True)
