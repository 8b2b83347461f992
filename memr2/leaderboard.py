"""Leaderboard tables and plots, generated from run-result files (never typed by hand).

:func:`load_results` reads every ``*.json`` result and :func:`render_markdown` renders one table of eval runs per
protocol (overall score, per-category means by name, evidence metrics, memory size; rows of one table are
comparable), one table per environment of runs without a protocol (not comparable with each other), and one table
of training runs (initial vs final validation score). ``plot_curves`` draws the training curves with matplotlib.
docs/leaderboard.md says how to add a row.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from memr2.results import RunResult, read_result

START, END = "<!-- results:start -->", "<!-- results:end -->"


def load_results(results_dir: str | os.PathLike[str]) -> list[RunResult]:
    """Every result file in ``results_dir``, sorted by environment then name; a corrupt file is an error naming it."""
    results = []
    for path in sorted(Path(results_dir).glob("*.json")):
        try:
            results.append(read_result(path))
        except ValueError as exc:
            raise ValueError(f"{path}: not a valid run result: {exc}") from exc
    return sorted(results, key=lambda r: (r.env_id, r.kind, r.run_name))


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _agent_label(result: RunResult) -> str:
    """The row's name: ``display_name`` if the run set one, else the agent (and its model)."""
    if result.display_name:
        return result.display_name
    return f"{result.agent} ({result.model})" if result.model else result.agent


def eval_table(results: Sequence[RunResult]) -> str:
    """A markdown table of eval runs, best score first; privileged runs (gold information) are marked."""
    categories = sorted({name for r in results for name in r.metrics.per_category})
    header = ["agent", "privileged", "env kwargs", "scorer", "score", *categories, "evidence recall", "M-Fail",
              "entries", "tokens", "invalid", "wall s", "commit"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in sorted(results, key=lambda r: -r.metrics.score):
        per_category = [
            f"{_fmt(r.metrics.per_category[c].mean)} ({r.metrics.per_category[c].count})"
            if c in r.metrics.per_category else "-"
            for c in categories
        ]
        kwargs = ", ".join(f"{k}={v}" for k, v in sorted(r.env_kwargs.items()) if k != "scorer") or "-"
        row = [_agent_label(r), "yes" if r.privileged else "no", kwargs, r.scorer, f"**{_fmt(r.metrics.score)}**",
               *per_category, _fmt(r.metrics.evidence_recall), _fmt(r.metrics.m_fail), str(r.memory.entries),
               str(r.memory.tokens), str(r.invalid_actions), f"{r.wall_time_s:.1f}", (r.commit or "-")[:7]]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def train_table(results: Sequence[RunResult]) -> str:
    """A markdown table of training runs: validation score before the first update and at the end."""
    header = ["env", "estimator", "policy", "initial score", "final score", "best score", "iterations", "wall s",
              "commit"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in results:
        best = max((p.score for p in r.curve), default=None)
        iterations = r.curve[-1].iteration if r.curve else 0
        row = [r.env_id, r.estimator or "-", _agent_label(r),
               _fmt(r.initial_metrics.score if r.initial_metrics else None), f"**{_fmt(r.metrics.score)}**",
               _fmt(best), str(iterations), f"{r.wall_time_s:.1f}", (r.commit or "-")[:7]]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _protocol_heading(name: str) -> str:
    from memr2.protocols import PROTOCOLS

    protocol = PROTOCOLS.get(name)
    if protocol is None:
        return f"### Protocol `{name}` (no longer defined in this version)"
    return f"### Protocol `{name}`: {protocol.summary()}\n\n{protocol.description}"


def render_markdown(results: Sequence[RunResult], plot_name: str | None = None) -> str:
    """All tables (and a link to the curves plot) as one markdown fragment."""
    if not results:
        return "_No result files yet: run `memr2 eval` or `memr2 train` and copy the JSON into leaderboards/results/._"
    note = "Per-category cells are mean (questions); memory is summed over episodes."
    evals = [r for r in results if r.kind == "eval"]
    parts = []
    for name in sorted({r.protocol for r in evals if r.protocol}):
        subset = [r for r in evals if r.protocol == name]
        parts.append(f"{_protocol_heading(name)} {note}\n\n{eval_table(subset)}")
    for env_id in sorted({r.env_id for r in evals if not r.protocol}):
        subset = [r for r in evals if not r.protocol and r.env_id == env_id]
        parts.append(f"### {env_id}: runs without a protocol\n\nEach row has its own settings (see env kwargs); they "
                     f"are not comparable with each other or with the protocol tables. {note}\n\n{eval_table(subset)}")
    trained = [r for r in results if r.kind == "train"]
    if trained:
        parts.append(f"### Training runs\n\n{train_table(trained)}")
        if plot_name:
            parts.append(f"![validation curves]({plot_name})")
    return "\n\n".join(parts)


def plot_curves(results: Sequence[RunResult], path: str | os.PathLike[str]) -> Path | None:
    """Validation score vs environment steps for every training run with a curve; None if there is none."""
    runs = [r for r in results if r.kind == "train" and r.curve]
    if not runs:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for r in runs:
        ax.plot([p.env_steps for p in r.curve], [p.score for p in r.curve], marker="o",
                label=f"{r.env_id.split('/')[-1]} {r.estimator} ({r.agent})")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("validation score")
    ax.set_title("memory-r2 training curves")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def splice(text: str, fragment: str) -> str:
    """``text`` with the part between the results markers replaced by ``fragment``."""
    if START not in text or END not in text:
        raise ValueError(f"the README has no {START} ... {END} markers to fill")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{fragment}\n{END}{tail}"
