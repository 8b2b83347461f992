"""Leaderboard tables and plots, generated from run-result files (never typed by hand).

``build_leaderboard(results_dir)`` reads every ``*.json`` result, and renders markdown: one table of eval runs per
environment (overall score, per-category means by name, evidence metrics, memory size) and one table of training
runs (initial vs final validation score); eval runs scored by an LLM judge get a J table (one row per judge
rubric, with judge model and prompt hash, J per category, agreement with F1). ``plot_curves`` draws the training
curves with matplotlib.
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
    return f"{result.agent} ({result.model})" if result.model else result.agent


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell."""
    return text.replace("|", "\\|")


def _kwargs_label(env_kwargs: dict) -> str:
    """Env kwargs in a cell; an LLM scorer's answerer and judge factories are shown by model name only.

    >>> _kwargs_label({"max_sessions": 2, "scorer_kwargs": {"answerer": "a:f", "answerer_kwargs": {"model": "m"},
    ...                "top_k": 3}})
    'max_sessions=2, answerer=m, top_k=3'
    """
    parts = []
    for key, value in sorted(env_kwargs.items()):
        if key == "scorer":
            continue
        if key == "scorer_kwargs" and isinstance(value, dict):
            for name, item in sorted(value.items()):
                if name in ("answerer", "judge"):
                    model = (value.get(f"{name}_kwargs") or {}).get("model")
                    parts.append(f"{name}={model or item}")
                elif name not in ("answerer_kwargs", "judge_kwargs", "judge_rubrics"):
                    parts.append(f"{name}={item}")
            continue
        parts.append(f"{key}={value}")
    return _cell(", ".join(parts)) or "-"


def eval_table(results: Sequence[RunResult]) -> str:
    """A markdown table of eval runs of one environment, best score first."""
    categories = sorted({name for r in results for name in r.metrics.per_category})
    header = ["agent", "env kwargs", "scorer", "score", *categories, "evidence recall", "M-Fail", "entries", "tokens", "invalid",
              "wall s", "commit"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in sorted(results, key=lambda r: -r.metrics.score):
        per_category = [
            f"{_fmt(r.metrics.per_category[c].mean)} ({r.metrics.per_category[c].count})"
            if c in r.metrics.per_category else "-"
            for c in categories
        ]
        kwargs = _kwargs_label(r.env_kwargs)
        row = [_agent_label(r), kwargs, r.scorer, f"**{_fmt(r.metrics.score)}**", *per_category,
               _fmt(r.metrics.evidence_recall), _fmt(r.metrics.m_fail), str(r.memory.entries), str(r.memory.tokens),
               str(r.invalid_actions), f"{r.wall_time_s:.1f}", (r.commit or "-")[:7]]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def judge_table(results: Sequence[RunResult]) -> str | None:
    """A markdown table of J for judged eval runs: one row per (run, rubric); None if no run was judged."""
    judged = [r for r in results if r.metrics.judge and r.metrics.judge.rubrics]
    if not judged:
        return None
    categories = sorted({c for r in judged for j in r.metrics.judge.rubrics.values() for c in j.per_category})
    header = ["agent", "judge model", "rubric", "prompt sha256", "J", *categories, "agree with F1>=0.5", "commit"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in sorted(judged, key=lambda r: r.run_name):
        for name, j in r.metrics.judge.rubrics.items():
            per_category = [
                f"{_fmt(j.per_category[c].mean)} ({j.per_category[c].count})" if c in j.per_category else "-"
                for c in categories
            ]
            f1 = next((a for pair, a in r.metrics.judge.agreement.items() if pair.startswith(f"{name}~f1")), None)
            row = [_agent_label(r), _cell(j.model), name, j.prompt_sha256[:12], f"**{_fmt(j.score)}**", *per_category,
                   _fmt(f1.agree if f1 else None), (r.commit or "-")[:7]]
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


def render_markdown(results: Sequence[RunResult], plot_name: str | None = None) -> str:
    """All tables (and a link to the curves plot) as one markdown fragment."""
    if not results:
        return "_No result files yet: run `memr2 eval` or `memr2 train` and copy the JSON into leaderboards/results/._"
    parts = []
    for env_id in sorted({r.env_id for r in results if r.kind == "eval"}):
        subset = [r for r in results if r.kind == "eval" and r.env_id == env_id]
        parts.append(f"### {env_id} (eval)\n\nPer-category cells are mean (questions); memory is summed over "
                     f"episodes.\n\n{eval_table(subset)}")
        judged = judge_table(subset)
        if judged:
            parts.append(f"#### {env_id}: LLM judge (J)\n\nJ is the fraction of answers the judge labels CORRECT "
                         f"under each rubric (see memenv/scoring/judging.py); cells are J (questions).\n\n{judged}")
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
