"""J in run results: the ``metrics.judge`` block of ``memr2 eval`` and its printed table (J per category for each
judge rubric side by side, then the agreement between rubrics and with F1)."""

from __future__ import annotations

from typing import Any

from memr2.results import JudgeMetrics, RunResult


def judge_block(records: list[dict[str, Any]], scorer: Any) -> JudgeMetrics | None:
    """J per rubric and agreement, when ``scorer`` has a judge (None otherwise)."""
    protocols = scorer.judge_protocols() if callable(getattr(scorer, "judge_protocols", None)) else []
    if not protocols:
        return None
    from memenv.scoring.judging import judge_metrics

    return JudgeMetrics.model_validate(judge_metrics(records, protocols))


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def print_judge(result: RunResult) -> None:
    """The J table (rows: categories; columns: one J per rubric) and the agreement lines, if the run was judged."""
    judge = result.metrics.judge
    if judge is None or not judge.rubrics:
        return
    from rich.console import Console
    from rich.table import Table

    rubrics = list(judge.rubrics.values())
    table = Table(title=f"J (LLM judge {rubrics[0].model})")
    table.add_column("category")
    for rubric in rubrics:
        table.add_column(f"J {rubric.rubric} [{rubric.prompt_sha256[:8]}]", justify="right")
    table.add_column("count", justify="right")
    for category in sorted({c for r in rubrics for c in r.per_category}):
        cells = [_fmt(r.per_category[category].mean) if category in r.per_category else "-" for r in rubrics]
        count = next((r.per_category[category].count for r in rubrics if category in r.per_category), 0)
        table.add_row(category, *cells, str(count))
    table.add_row("[bold]overall[/bold]", *[f"[bold]{_fmt(r.score)}[/bold]" for r in rubrics], str(rubrics[0].count))
    console = Console()
    console.print(table)
    for pair, stats in judge.agreement.items():
        console.print(f"agreement {pair}: {_fmt(stats.agree)} (kappa {_fmt(stats.kappa)}, n={stats.count})")
