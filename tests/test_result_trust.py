"""Issue 19, item 2: result files come from anyone. They are checked on load (finite numbers, fractions in [0, 1], a
checksum, oracles marked privileged) and everything the leaderboard writes from them is escaped, so a file can
neither forge a row, inject HTML or links, nor grow the README at each regeneration. Each test fails at 6a013e2."""

import json
import subprocess
from pathlib import Path

import pytest

from memr2.cli import main
from memr2.leaderboard import END, START, load_results, render_markdown
from memr2.results import CHECKSUM_KEY, MemoryStats, Metrics, RunResult, read_result, write_result


def _result(agent="store-all", score=0.5, run_name="run", **extra) -> RunResult:
    return RunResult(
        kind="eval", run_name=run_name, env_id="MemoryR2/Synthetic-v0", agent=agent, scorer="rule", seeds=[0],
        metrics=Metrics(score=score, count=4, per_category={"current": {"mean": score, "count": 4}}),
        memory=MemoryStats(entries=3, tokens=12), invalid_actions=0, wall_time_s=1.0, version="0.1.0", **extra,
    )


def _forge(folder: Path, name: str, edit) -> Path:
    """A hand-written result file (no checksum, as a contributor could send): ``edit`` changes the parsed JSON."""
    data = json.loads(_result().model_dump_json())
    edit(data)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(data))  # json.dumps writes NaN / Infinity literals, which json.loads accepts
    return path


def _rows(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("| ") and "---" not in line]


def test_a_label_cannot_forge_a_row_inject_html_or_links(tmp_path):
    forged = "me | no | - | rule | 5 | **1.000** |\n| forged-winner | no"
    write_result(_result(display_name=forged, run_name="a"), tmp_path)
    write_result(_result(display_name='<img src=x onerror="alert(1)"> <!-- results:end -->', run_name="b"), tmp_path)
    write_result(_result(display_name="[click me](https://evil.example) `code` \\", run_name="c"), tmp_path)
    write_result(_result(env_kwargs={"note": "x|y\n### injected heading"}, run_name="d"), tmp_path)
    markdown = render_markdown(load_results(tmp_path))
    rows = _rows(markdown)
    assert len(rows) == 5  # header + 4 runs, no forged row
    assert not any(line.startswith("| forged-winner") for line in markdown.splitlines())
    assert "### injected" not in markdown.replace("x\\|y ### injected", "")
    assert "<img" not in markdown and "<!--" not in markdown and "&lt;img" in markdown
    assert "[click me](" not in markdown and "\\[click me\\](https://evil.example) \\`code\\` \\\\" in markdown
    assert all(row.count(" | ") == rows[0].count(" | ") for row in rows)  # as many cells as the header


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["metrics"].update(score=7.5), r"metrics.score = 7.5 is not in \[0, 1\]"),
    (lambda d: d["metrics"]["per_category"]["current"].update(mean=-0.5), "per_category.current.mean"),
    (lambda d: d["metrics"].update(score=float("nan")), "metrics.score is not a finite number"),
    (lambda d: d.update(wall_time_s=float("inf")), "wall_time_s is not a finite number"),
    (lambda d: d.update(train={"test_return": "1e9"}), "train.test_return"),
])
def test_out_of_range_or_non_finite_numbers_are_refused_naming_the_file(tmp_path, edit, message):
    _forge(tmp_path, "hostile", edit)
    with pytest.raises(ValueError, match=message) as caught:
        load_results(tmp_path)
    assert "hostile.json" in str(caught.value)


def test_a_made_up_commit_is_marked_and_a_real_one_is_not(tmp_path):
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).parent).stdout.strip()
    write_result(_result(commit="0123456789abcdef0123456789abcdef01234567", display_name="fake", run_name="a"), tmp_path)
    write_result(_result(commit=head, display_name="real", run_name="b"), tmp_path)
    write_result(_result(commit="--help", display_name="option", run_name="c"), tmp_path)
    rows = {row.split(" | ")[0][2:]: row for row in _rows(render_markdown(load_results(tmp_path)))}
    assert rows["fake"].endswith("| 0123456? |")
    assert rows["real"].endswith(f"| {head[:7]} |")
    assert rows["option"].endswith("| --help? |")


@pytest.mark.parametrize("agent", ["oracle", "restricted-oracle"])
def test_an_oracle_is_privileged_whatever_its_file_says(tmp_path, agent):
    _forge(tmp_path, "oracle", lambda d: d.update(agent=agent, privileged=False))
    (result,) = load_results(tmp_path)
    assert result.privileged
    assert f"| {agent} | yes |" in render_markdown([result])


def test_write_result_signs_the_record_and_an_edit_is_refused(tmp_path):
    path = write_result(_result(score=0.25), tmp_path)
    data = json.loads(path.read_text())
    assert len(data[CHECKSUM_KEY]) == 64
    assert read_result(path).metrics.score == 0.25
    data["metrics"]["score"] = 0.99
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="record_sha256 does not match"):
        load_results(tmp_path)


def test_a_marker_in_a_name_does_not_grow_the_readme(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = f"evil {END}\n\n| fake | row |\n{START}"
    write_result(_result(display_name=name), "leaderboards/results")
    Path("README.md").write_text(f"intro\n{START}\n{END}\noutro\n")
    assert main(["leaderboard", "--study", ""]) == 0
    once = Path("README.md").read_bytes()
    assert main(["leaderboard", "--study", ""]) == 0
    assert Path("README.md").read_bytes() == once
    assert once.count(END.encode()) == 1 and once.count(START.encode()) == 1
