"""Leaderboard tables and plots, generated from run-result files (never typed by hand).

:func:`load_results` reads every ``*.json`` result and :func:`render_markdown` renders one table of eval runs per
protocol (overall score, per-category means by name, evidence metrics, memory size; rows of one table are
comparable), one table per environment of runs without a protocol (not comparable with each other), and one table
of training runs (initial vs final validation score). ``plot_curves`` draws the training curves with matplotlib.
docs/leaderboard.md says how to add a row. Eval runs scored by an LLM judge get a
J table (one row per judge rubric, with judge model and prompt hash, J per category, agreement with F1).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

from memr2.results import JudgeProbe, RunResult, read_probe, read_result
from memr2.runtime import commit_exists
from memr2.results import is_privileged as privileged_run
from memr2.stats import format_ci

START, END = "<!-- results:start -->", "<!-- results:end -->"


def load_results(results_dir: str | os.PathLike[str]) -> list[RunResult]:
    """Every result file in ``results_dir``, checked by :func:`memr2.results.read_result` (finite numbers, fractions
    in [0, 1], its checksum, a known privileged agent marked privileged), sorted by environment then name; a file
    that fails is an error naming it. A study's own log (``timing.json``) in the folder is not a result."""
    from memr2.study import TIMING_FILE

    results = []
    for path in sorted(Path(results_dir).glob("*.json")):
        if path.name == TIMING_FILE:
            continue
        try:
            results.append(read_result(path))
        except ValueError as exc:
            raise ValueError(f"{path}: not a valid run result: {exc}") from exc
    return sorted(results, key=lambda r: (r.env_id, r.kind, r.run_name))


class Markup(str):
    """A table cell this module built as markdown (a formatted number, bold, a code span around a checked name):
    :func:`table_row` keeps it as it is. Every other cell is text and goes through :func:`cell`."""


CELL_ESCAPES = {"\\": "\\\\", "|": "\\|", "`": "\\`", "[": "\\[", "]": "\\]", "&": "&amp;", "<": "&lt;", ">": "&gt;"}


def cell(text: object) -> Markup:
    """``text`` (from a result file, so from anyone) as one markdown table cell or heading that shows that text
    and nothing else: line breaks and other control characters become spaces; ``\\ | ` [ ]`` are backslash-escaped
    (no cell break, code span or link); ``& < >`` become entities (no HTML, no ``<!-- ... -->`` marker).

    >>> print(cell("a|b\\n<!-- results:end --> [x](y)"))
    a\\|b &lt;!-- results:end --&gt; \\[x\\](y)
    """
    text = "".join(" " if ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 or ch in "\u2028\u2029" else ch for ch in str(text))
    return Markup("".join(CELL_ESCAPES.get(ch, ch) for ch in text))


def code_cell(name: str) -> Markup:
    """``name`` as a code span when it is a plain identifier or spec (letters, digits, ``_ . : / + -``), else as
    escaped text (a code span cannot escape its own backticks).

    >>> code_cell("logo-sum"), code_cell("a`b")
    ('`logo-sum`', 'a\\\\`b')
    """
    return Markup(f"`{name}`") if re.fullmatch(r"[\w.:/+-]+", name) else cell(name)


def table_row(cells: Sequence[str]) -> str:
    """One markdown table row; every cell that is not :class:`Markup` is escaped by :func:`cell`."""
    return "| " + " | ".join(c if isinstance(c, Markup) else cell(c) for c in cells) + " |"


def table_header(names: Sequence[str]) -> list[str]:
    """A markdown table's header row and its separator; the names are this code's own (a name from a result
    file, such as a category, must be passed through :func:`cell`)."""
    return [table_row([Markup(n) for n in names]), "|" + "---|" * len(names)]


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _scripted_label(result: RunResult) -> str:
    """The scripted role of a training row: ``"-"``, ``"<role> (privileged)"`` (played from gold by the restricted
    oracle, as every run before ``scripted_agent`` existed) or ``"<role> (<agent>)"`` (a non-privileged scripted
    agent such as ``reference``)."""
    config = result.config or {}
    role, agent = config.get("scripted_role"), config.get("scripted_agent")
    if not role:
        return "-"
    return f"{role} ({agent})" if agent and not is_privileged(result) else f"{role} (privileged)"


def is_privileged(result: RunResult) -> bool:
    """Whether the run could read privileged information (gold actions or observations): the file says so, or its
    env kwargs or agent do (:func:`memr2.results.is_privileged`; older result files predate the ``privileged``
    field, and a file's ``false`` never hides an oracle)."""
    return bool(result.privileged) or privileged_run(result.agent, result.env_id, result.env_kwargs)


def commit_label(commit: str | None) -> str:
    """A result's commit, abbreviated to 7 characters, with ``?`` appended when this repository has no such commit
    (a typo, an unpushed branch or a made-up value): ``-`` when none was recorded."""
    if not commit:
        return "-"
    return commit[:7] + ("" if commit_exists(commit) else "?")


def _agent_label(result: RunResult) -> str:
    """The row's name: ``display_name`` if the run set one, else the agent (and its model)."""
    if result.display_name:
        return result.display_name
    return f"{result.agent} ({result.model})" if result.model else result.agent


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
    return ", ".join(parts) or "-"


def eval_table(results: Sequence[RunResult]) -> str:
    """A markdown table of eval runs, shortest horizon first, then best score; privileged runs are marked."""
    categories = sorted({name for r in results for name in r.metrics.per_category})
    header = ["agent", "privileged", "mode", "env kwargs", "scorer", "episodes", "score", "return", *categories,
              "evidence recall", "M-Fail", "entries", "tokens", "invalid", "wall s", "commit"]
    lines = table_header([*header[:8], *map(cell, categories), *header[8 + len(categories):]])
    for r in sorted(results, key=lambda r: (r.env_kwargs.get("max_sessions") or 0, -r.metrics.score, r.run_name)):
        per_category = [
            f"{_fmt(r.metrics.per_category[c].mean)} ({r.metrics.per_category[c].count})"
            if c in r.metrics.per_category else "-"
            for c in categories
        ]
        kwargs = _kwargs_label({k: v for k, v in r.env_kwargs.items() if k not in ("privileged", "observation_gold")})
        seeds = "secret seeds" if r.seed_commitment else f"seeds {_seed_range(r.seeds)}"
        episodes = f"{len(r.episodes) or len(r.seeds)} ({seeds})"
        returns = [e.total_reward for e in r.episodes]
        row = [_agent_label(r), "yes" if is_privileged(r) else "no", mode_label(r), kwargs, r.scorer, episodes, Markup(f"**{_fmt(r.metrics.score)}**"),
               _fmt(sum(returns) / len(returns)) if returns else "-", *per_category,
               _fmt(r.metrics.evidence_recall), _fmt(r.metrics.m_fail), str(r.memory.entries), str(r.memory.tokens),
               str(r.invalid_actions), f"{r.wall_time_s:.1f}", commit_label(r.commit)]
        lines.append(table_row(row))
    return "\n".join(lines)


def mode_label(result: RunResult) -> str:
    """``verified (secret <sha256 prefix>)`` for a run of the untrusted-agent mode on secret seeds, else
    ``self-reported`` (every in-process run, and every file written before the ``mode`` field existed)."""
    if result.mode == "verified" and result.seed_commitment:
        return f"verified (secret {result.seed_commitment[:12]})"
    return "self-reported"


def _seed_range(seeds: Sequence[int]) -> str:
    if not seeds:
        return "-"
    if list(seeds) == list(range(seeds[0], seeds[0] + len(seeds))) and len(seeds) > 1:
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(map(str, seeds))


def _config_key(result: RunResult) -> str:
    """Runs that differ only in their training seed share a key (one row of mean +- CI)."""
    from algorithms.config import TrainerConfig

    config = {k: v for k, v in {**TrainerConfig.defaults(), **(result.config or {})}.items() if k != "seed"}
    return json.dumps([result.env_id, result.estimator, result.agent, config], sort_keys=True, default=str)


def train_summary(result: RunResult) -> dict:
    """The training summary a ``memr2 train`` result carries (``train``: iterations, env steps, returns)."""
    return getattr(result, "train", None) or {}


def load_probes(folder: str | os.PathLike[str]) -> list[JudgeProbe]:
    """The judge probes (``benchmarks/judge_probe.py --out``) in ``folder`` (none if it does not exist); a file
    that fails validation is an error naming it."""
    probes = []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            probes.append(read_probe(path))
        except ValueError as exc:
            raise ValueError(f"{path}: not a valid judge probe: {exc}") from exc
    return probes


def _judge_key(model: str) -> tuple[str, str]:
    """A judge as (model name, decoding settings), without the server it was reached at: ``smollm2@http://h:1/v1|
    greedy|128`` -> ``("smollm2", "greedy|128")`` (the same model probed through another port is the same judge)."""
    name, _, rest = model.partition("@")
    return name, rest.partition("|")[2]


def leniency_cell(probes: Sequence[JudgeProbe], model: str, sha256: str) -> str:
    """``gold / vague / specific / injected`` counts of CORRECT verdicts in the probe of this judge and rubric
    text (gold: accepted, the control; the others: fooled), or "-". A judge that accepts no gold answer is not
    fooled either, so both are shown."""
    for probe in probes:
        if _judge_key(probe.judge) != _judge_key(model):
            continue
        row = next((r for r in probe.rubrics.values() if r.prompt_sha256 == sha256), None)
        if row is not None:
            kinds = (row.gold, row.vague, row.specific, row.injected)
            return " / ".join("-" if k is None else f"{k.correct}/{k.tried}" for k in kinds)
    return "-"


def judge_table(results: Sequence[RunResult], probes: Sequence[JudgeProbe] = ()) -> str | None:
    """A markdown table of J for judged eval runs: one row per (run, rubric), with the judge's leniency from a
    probe of the same model and rubric text where there is one; None if no run was judged."""
    judged = [r for r in results if r.metrics.judge and r.metrics.judge.rubrics]
    if not judged:
        return None
    categories = sorted({c for r in judged for j in r.metrics.judge.rubrics.values() for c in j.per_category})
    header = ["agent", "judge model", "rubric", "prompt sha256", "J", *categories, "agree with F1>=0.5",
              "probe: gold accepted / fooled by vague / specific / injected", "commit"]
    lines = table_header([*header[:5], *map(cell, categories), *header[5 + len(categories):]])
    for r in sorted(judged, key=lambda r: r.run_name):
        for name, j in r.metrics.judge.rubrics.items():
            per_category = [
                f"{_fmt(j.per_category[c].mean)} ({j.per_category[c].count})" if c in j.per_category else "-"
                for c in categories
            ]
            f1 = next((a for pair, a in r.metrics.judge.agreement.items() if pair.startswith(f"{name}~f1")), None)
            row = [_agent_label(r), j.model, name, j.prompt_sha256[:12], Markup(f"**{_fmt(j.score)}**"), *per_category,
                   _fmt(f1.agree if f1 else None), leniency_cell(probes, j.model, j.prompt_sha256), commit_label(r.commit)]
            lines.append(table_row(row))
    return "\n".join(lines)


def train_table(results: Sequence[RunResult]) -> str:
    """A markdown table of training runs, one row per configuration: runs that differ only in their training seed
    are pooled into mean [95 % bootstrap CI] over seeds. "validation" is the score on the seeds used to choose the
    checkpoint; "test" the chosen policy on test seeds never used for choosing, with its return (score minus
    penalties) next to it."""
    header = ["env", "horizon", "estimator", "policy", "scripted role", "training seeds", "env steps", "initial score",
              "validation score", "test score", "test return", "wall s", "commit"]
    lines = table_header(header)
    groups: dict[str, list[RunResult]] = {}
    for r in results:
        groups.setdefault(_config_key(r), []).append(r)
    for runs in groups.values():
        runs = sorted(runs, key=lambda r: (r.config or {}).get("seed", 0))
        first = runs[0]
        seeds = [(r.config or {}).get("seed", 0) for r in runs]
        tested = [r for r in runs if r.test_metrics is not None]
        steps = [r.curve[-1].env_steps for r in runs if r.curve]
        row = [
            first.env_id, str(first.env_kwargs.get("max_sessions", "-")), first.estimator or "-", _agent_label(first),
            _scripted_label(first),
            f"{len(runs)} ({_seed_range(seeds)})", str(round(sum(steps) / len(steps))) if steps else "-",
            ci_cell([r.initial_metrics.score for r in runs if r.initial_metrics]) if any(r.initial_metrics for r in runs) else "-",
            ci_cell([r.metrics.score for r in runs]),
            Markup(f"**{ci_cell([r.test_metrics.score for r in tested])}**") if tested else "-",
            ci_cell([train_summary(r)["test_return"] for r in tested]) if tested and all("test_return" in train_summary(r) for r in tested) else "-",
            f"{sum(r.wall_time_s for r in runs) / len(runs):.0f}", ",".join(sorted({commit_label(r.commit) for r in runs})),
        ]
        lines.append(table_row(row))
    return "\n".join(lines)


def gold_notes(results: Sequence[RunResult]) -> str:
    """Lines under a protocol's table: the errata overlay its rows applied, and the ceilings under the original
    golds (memr2/ceiling_report.py) its rows recorded ("" when none did)."""
    from memr2.ceiling_report import ceiling_line

    lines = []
    errata = next((r.errata for r in sorted(results, key=lambda r: r.run_name) if getattr(r, "errata", None)), None)
    if errata:
        lines.append(f"Golds corrected by errata {code_cell(str(errata['name']))} (sha256 {cell(str(errata['sha256'])[:12])}): "
                     f"{cell(errata['golds_changed'])} golds and {cell(errata['evidence_changed'])} evidence lists changed.")
    ceiling = next((r.ceiling for r in sorted(results, key=lambda r: r.run_name) if getattr(r, "ceiling", None)), None)
    for metric in (ceiling or {}).get("metrics", {}):
        meaning = ("not a bound: the recall reader sees ten memories, not one answer" if metric == "recall" else
                   "a score above it is credit for wrong golds")
        lines.append(f"{cell(ceiling_line(ceiling, metric))} ({meaning}; docs/leaderboard.md).")
    return "".join(f"\n\n{line}" for line in lines)


def ci_cell(values: Sequence[float]) -> Markup:
    """:func:`memr2.stats.format_ci` of numbers as a cell (its brackets are this code's, not a link)."""
    return Markup(format_ci(values))


def _protocol_heading(name: str) -> str:
    from memr2.protocols import PROTOCOLS

    protocol = PROTOCOLS.get(name)
    if protocol is None:
        return f"### Protocol {cell(name)} (no longer defined in this version)"
    return f"### Protocol `{name}`: {protocol.summary()}\n\n{protocol.description}"


def render_markdown(results: Sequence[RunResult], plot_name: str | None = None, probes: Sequence[JudgeProbe] = ()) -> str:
    """All tables (and a link to the curves plot) as one markdown fragment; ``probes`` (judge probes) put each
    judge's leniency beside its J."""
    if not results:
        return "_No result files yet: run `memr2 eval` or `memr2 train` and copy the JSON into leaderboards/results/._"
    note = ("Per-category cells are mean (questions); memory is summed over episodes. Mode: *verified* rows ran "
            "the agent in its own process on secret seeds (`memr2 eval --untrusted-agent`); *self-reported* rows are "
            "as honest as whoever ran them (docs/reliability.md).")
    evals = [r for r in results if r.kind == "eval"]
    parts = []
    judge_note = ("J is the fraction of answers the judge labels CORRECT under each rubric (see "
                  "memenv/scoring/judging.py); cells are J (questions). \"probe\": in `benchmarks/judge_probe.py` "
                  "(leaderboards/judges/), how many gold answers the same judge model accepted under the same "
                  "rubric text, and how many wrong answers of each kind fooled it; \"-\" where it was not probed.")
    for name in sorted({r.protocol for r in evals if r.protocol}):
        subset = [r for r in evals if r.protocol == name]
        parts.append(f"{_protocol_heading(name)} {note}\n\n{eval_table(subset)}{gold_notes(subset)}")
    for env_id in sorted({r.env_id for r in evals if not r.protocol}):
        subset = [r for r in evals if not r.protocol and r.env_id == env_id]
        parts.append(f"### {cell(env_id)}: runs without a protocol\n\nEach row has its own settings (see env kwargs); they "
                     f"are not comparable with each other or with the protocol tables. {note}\n\n{eval_table(subset)}")
    for env_id in sorted({r.env_id for r in evals}):
        judged = judge_table([r for r in evals if r.env_id == env_id], probes)
        if judged:
            parts.append(f"#### {cell(env_id)}: LLM judge (J)\n\n{judge_note}\n\n{judged}")
    trained = [r for r in results if r.kind == "train"]
    if trained:
        parts.append(f"### Training runs\n\n{train_table(trained)}")
        if plot_name:
            parts.append(f"![validation curves]({plot_name})")
    return "\n\n".join(parts)


def plot_mean_curve(ax, runs: Sequence[RunResult], **style):
    """The mean validation score of ``runs`` against their mean env steps, over the validations they all reached,
    with a 95 % bootstrap band where there are several runs; returns the line."""
    from memr2.stats import bootstrap_ci

    length = min(len(r.curve) for r in runs)
    steps = [sum(r.curve[i].env_steps for r in runs) / len(runs) for i in range(length)]
    bands = [bootstrap_ci([r.curve[i].score for r in runs]) for i in range(length)]
    line, = ax.plot(steps, [b[0] for b in bands], marker="o", **style)
    if len(runs) > 1:
        ax.fill_between(steps, [b[1] for b in bands], [b[2] for b in bands], color=line.get_color(), alpha=0.2)
    return line


def plot_curves(results: Sequence[RunResult], path: str | os.PathLike[str]) -> Path | None:
    """Validation score vs environment steps, one line per training configuration: the mean over its training
    seeds with a 95 % bootstrap band where there are several. None if no run has a curve."""
    runs = [r for r in results if r.kind == "train" and r.curve]
    if not runs:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups: dict[str, list[RunResult]] = {}
    for r in runs:
        groups.setdefault(_config_key(r), []).append(r)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for members in groups.values():
        first = members[0]
        scripted = (first.config or {}).get("scripted_role")
        label = (f"{first.env_id.split('/')[-1]} {first.estimator}" + (f" (scripted {scripted})" if scripted else "")
                 + f", {len(members)} seed{'s' if len(members) > 1 else ''}")
        plot_mean_curve(ax, members, markersize=3, label=label)
    ax.set_xlabel("environment steps (local rerollouts included)")
    ax.set_ylabel("validation score")
    ax.set_title("memory-r2 training curves (mean, 95% bootstrap band over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def splice(text: str, fragment: str, start: str = START, end: str = END) -> str:
    """``text`` with the part between the ``start`` and ``end`` markers replaced by ``fragment``."""
    if start not in text or end not in text:
        raise ValueError(f"the file has no {start} ... {end} markers to fill")
    if start in fragment or end in fragment:
        raise ValueError(f"the generated text holds a {start} or {end} marker (text from a result file not escaped)")
    head, rest = text.split(start, 1)
    body, tail = rest.split(end, 1)
    indent = body[len(body.rstrip(" ")) :]  # an indented end marker (inside a docstring) keeps its indentation
    return f"{head}{start}\n{fragment}\n{indent}{end}{tail}"
