"""Where ``memr2 leaderboard`` and ``memr2 study`` may write, and where the committed baseline rows are.

Two modes (docs/leaderboard.md, "Outside the checkout"):

* **Checkout mode**: the current directory is the memory-r2 checkout this package was imported from. The
  defaults then regenerate the repository's generated files (``leaderboards/README.md``, the results and study
  sections of ``README.md``, ``leaderboards/study.md``).
* **Local mode**: anywhere else (a user's own folder). Nothing is written outside ``--out`` (and a study's own
  ``results_dir`` / ``runs_dir``) unless a flag names the file: no README is spliced, no study report is
  regenerated unless ``--study`` is given.

The committed baseline rows (the reference agents' eval result files of ``leaderboards/results/``) are found by
:func:`baseline_dir`: ``$MEMR2_BASELINES`` if set, else the ``leaderboards/results`` folder next to the installed
package (an editable install, ``make install``, or a checkout on ``PYTHONPATH``).
"""

from __future__ import annotations

import os
from pathlib import Path

from memr2.results import RunResult

BASELINES_ENV = "MEMR2_BASELINES"
DEFAULT_STUDY = "configs/study-v2.yaml"


def checkout_root() -> Path | None:
    """The memory-r2 checkout the ``memr2`` package was imported from (the folder holding ``pyproject.toml``,
    ``memr2/`` and ``leaderboards/``), or None for an installed copy outside a checkout."""
    root = Path(__file__).resolve().parents[1]
    if (root / "pyproject.toml").is_file() and (root / "leaderboards").is_dir():
        return root
    return None


def in_checkout(cwd: str | os.PathLike[str] | None = None) -> bool:
    """Whether ``cwd`` (default: the current directory) is that checkout's root: checkout mode."""
    root = checkout_root()
    return root is not None and Path(cwd or Path.cwd()).resolve() == root


def baseline_dir() -> Path:
    """The folder of the committed baseline result files: ``$MEMR2_BASELINES``, else the checkout's
    ``leaderboards/results``; a ``FileNotFoundError`` saying how to point at one when neither exists."""
    configured = os.environ.get(BASELINES_ENV)
    if configured:
        folder = Path(configured)
        if not folder.is_dir():
            raise FileNotFoundError(f"${BASELINES_ENV}={configured} is not a folder of result files")
        return folder
    root = checkout_root()
    if root is not None and (root / "leaderboards" / "results").is_dir():
        return root / "leaderboards" / "results"
    raise FileNotFoundError(
        "no baseline result files: this memr2 is not installed from a checkout; set "
        f"${BASELINES_ENV} to a checkout's leaderboards/results folder (git clone the repository)")


def load_baselines() -> list[RunResult]:
    """The committed baseline rows: eval results of the built-in reference agents (no trained or LLM runs)."""
    from agents.registry import AGENTS
    from memr2.leaderboard import load_results

    return [r for r in load_results(baseline_dir()) if r.kind == "eval" and r.agent in AGENTS and r.agent != "llm"]


def merge_results(own: list[RunResult], baselines: list[RunResult]) -> list[RunResult]:
    """``own`` plus the baselines whose run name ``own`` does not already have (own files win), sorted as
    :func:`memr2.leaderboard.load_results` sorts."""
    names = {r.run_name for r in own}
    merged = own + [r for r in baselines if r.run_name not in names]
    return sorted(merged, key=lambda r: (r.env_id, r.kind, r.run_name))
