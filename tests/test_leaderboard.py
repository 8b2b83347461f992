"""The leaderboard is generated from result files: numbers in the tables come from the JSON, bad files are named."""

import json

import pytest

from memr2.cli import main
from memr2.leaderboard import END, START, load_results, render_markdown, splice
from memr2.results import CurvePoint, MemoryStats, Metrics, RunResult, write_result


def _result(agent, score, kind="eval", **extra):
    return RunResult(
        kind=kind, run_name=f"{agent}-{kind}", env_id="MemoryR2/Synthetic-v0", agent=agent, scorer="rule",
        seeds=[0], metrics=Metrics(score=score, count=4, per_category={"current": {"mean": score, "count": 4}}),
        memory=MemoryStats(entries=3, tokens=12), invalid_actions=0, wall_time_s=1.0, version="0.1.0", **extra,
    )


def test_tables_carry_the_numbers_of_the_files(tmp_path):
    write_result(_result("oracle", 0.9876), tmp_path)
    write_result(_result("no-memory", 0.0), tmp_path)
    curve = [CurvePoint(iteration=0, env_steps=0, score=0.25), CurvePoint(iteration=5, env_steps=640, score=0.625)]
    write_result(_result("feature", 0.625, kind="train", estimator="logo",
                         initial_metrics=Metrics(score=0.25), curve=curve), tmp_path)
    markdown = render_markdown(load_results(tmp_path), "curves.png")
    oracle_row = next(line for line in markdown.splitlines() if line.startswith("| oracle"))
    assert "**0.988**" in oracle_row and "0.988 (4)" in oracle_row
    assert markdown.index("| oracle") < markdown.index("| no-memory")  # best first
    train_row = next(line for line in markdown.splitlines() if "| logo |" in line)
    assert "0.250" in train_row and "**0.625**" in train_row


def test_cli_writes_tables_plot_and_readme_section(tmp_path):
    results = tmp_path / "results"
    write_result(_result("oracle", 0.5, kind="train", estimator="grpo", curve=[CurvePoint(iteration=1, env_steps=8, score=0.5)]), results)
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{START}\nstale\n{END}\noutro\n")
    out = tmp_path / "board" / "README.md"
    assert main(["leaderboard", "--results", str(results), "--out", str(out), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert "stale" not in text and "| grpo |" in text and text.startswith("intro") and text.endswith("outro\n")
    assert (out.parent / "curves.png").stat().st_size > 1000


def test_corrupt_result_file_is_named(tmp_path):
    (tmp_path / "bad.json").write_text(json.dumps({"kind": "eval"}))
    with pytest.raises(ValueError, match="bad.json"):
        load_results(tmp_path)


def test_splice_needs_markers():
    with pytest.raises(ValueError, match="markers"):
        splice("no markers here", "x")


def test_rows_are_grouped_by_protocol_with_display_names_and_privilege_marked(tmp_path):
    write_result(_result("my_agent.py:make", 0.7, protocol="synthetic-v0-32", display_name="KeepStatements"), tmp_path)
    write_result(_result("oracle", 1.0, protocol="synthetic-v0-32", privileged=True), tmp_path)
    write_result(_result("store-all", 0.9, env_kwargs={"max_sessions": 8}), tmp_path)  # no protocol
    markdown = render_markdown(load_results(tmp_path))
    protocol_part, ad_hoc = markdown.split("runs without a protocol")
    assert protocol_part.startswith("### Protocol `synthetic-v0-32`: MemoryR2/Synthetic-v0: 5 episodes from seed 100000")
    assert "| KeepStatements | no |" in protocol_part and "| oracle | yes |" in protocol_part
    assert "store-all" not in protocol_part and "| store-all | no | max_sessions=8 |" in ad_hoc
