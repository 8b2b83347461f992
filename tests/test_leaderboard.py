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
    assert "| 0.250 | 0.625 | - |" in train_row  # initial, validation, no test seeds


def test_training_runs_differing_only_in_seed_pool_into_mean_and_bootstrap_ci(tmp_path):
    from memr2.stats import bootstrap_ci

    for seed, test_score in ((0, 0.5), (1, 0.7), (2, 0.9)):
        result = _result("feature", 0.6, kind="train", estimator="logo", initial_metrics=Metrics(score=0.0),
                         curve=[CurvePoint(iteration=5, env_steps=100, score=0.6)], test_metrics=Metrics(score=test_score),
                         config={"seed": seed, "lr": 0.01}, train={"test_return": test_score - 0.1})
        write_result(result.model_copy(update={"run_name": f"run{seed}"}), tmp_path)
    other = _result("feature", 0.2, kind="train", estimator="grpo", config={"seed": 0, "lr": 0.01})
    write_result(other.model_copy(update={"run_name": "grpo0"}), tmp_path)
    markdown = render_markdown(load_results(tmp_path))
    logo = [line for line in markdown.splitlines() if "| logo |" in line]
    assert len(logo) == 1 and "| 3 (0-2) |" in logo[0]
    mean, low, high = bootstrap_ci([0.5, 0.7, 0.9])
    assert f"**{mean:.3f} [{low:.3f}, {high:.3f}]**" in logo[0] and low < mean < high
    assert sum("| grpo |" in line for line in markdown.splitlines()) == 1


def test_cli_writes_tables_plot_and_readme_section(tmp_path):
    results = tmp_path / "results"
    write_result(_result("oracle", 0.5, kind="train", estimator="grpo", curve=[CurvePoint(iteration=1, env_steps=8, score=0.5)]), results)
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{START}\nstale\n{END}\noutro\n")
    out = tmp_path / "board" / "README.md"
    assert main(["leaderboard", "--results", str(results), "--out", str(out), "--readme", str(readme), "--study", ""]) == 0
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


def test_committed_leaderboard_regenerates_byte_for_byte(tmp_path, monkeypatch):
    import shutil
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    shutil.copytree(repo / "leaderboards" / "results", tmp_path / "leaderboards" / "results")
    shutil.copytree(repo / "leaderboards" / "judges", tmp_path / "leaderboards" / "judges")  # probes beside J
    shutil.copytree(repo / "configs", tmp_path / "configs")  # the study config and the trainer config it names
    generated = ("README.md", "leaderboards/README.md", "memenv/envs/synthetic.py", "leaderboards/study.md")
    stale = {"leaderboards/README.md": lambda text: "stale, to be regenerated\n" + text.split(START)[0],
             "leaderboards/study.md": lambda text: "stale\n"}
    for name in generated:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        text = (repo / name).read_text()
        (tmp_path / name).write_text(stale.get(name, lambda t: t)(text))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("memr2.workspace.checkout_root", lambda: tmp_path)  # checkout mode: the defaults regenerate
    assert main(["leaderboard"]) == 0
    for name in generated:
        assert (tmp_path / name).read_bytes() == (repo / name).read_bytes(), name


def test_rows_are_grouped_by_protocol_with_display_names_and_privilege_marked(tmp_path):
    write_result(_result("my_agent.py:make", 0.7, protocol="synthetic-v0-32", display_name="KeepStatements"), tmp_path)
    write_result(_result("oracle", 1.0, protocol="synthetic-v0-32", privileged=True), tmp_path)
    write_result(_result("store-all", 0.9, env_kwargs={"max_sessions": 8}), tmp_path)  # no protocol
    markdown = render_markdown(load_results(tmp_path))
    protocol_part, ad_hoc = markdown.split("runs without a protocol")
    assert protocol_part.startswith("### Protocol `synthetic-v0-32`: MemoryR2/Synthetic-v0: 5 episodes from seed 100000")
    assert "| KeepStatements | no |" in protocol_part and "| oracle | yes |" in protocol_part
    assert "store-all" not in protocol_part and "| store-all | no | self-reported | max_sessions=8 |" in ad_hoc


def test_judged_runs_get_a_j_table_with_model_rubric_and_hash(tmp_path):
    judge = {
        "rubrics": {
            name: {"model": "judge-m|greedy", "rubric": name, "prompt_sha256": sha * 64, "score": score, "count": 4,
                   "per_category": {"current": {"mean": score, "count": 4}}}
            for name, sha, score in (("mem0-v1", "a", 0.75), ("strict-v1", "b", 0.25))
        },
        "agreement": {"mem0-v1~strict-v1": {"count": 4, "agree": 0.5, "kappa": 0.0},
                      "mem0-v1~f1>=0.5": {"count": 4, "agree": 0.625, "kappa": 0.2}},
    }
    judged = _result("llm", 0.3)
    judged.metrics = Metrics(score=0.3, count=4, judge=judge)
    judged.env_kwargs = {"max_questions": 4, "scorer_kwargs": {
        "answerer": "agents.llm.openai_backend:make_openai_answerer", "answerer_kwargs": {"model": "ans-m", "base_url": "u"},
        "judge": "agents.llm.openai_backend:make_openai_answerer", "judge_kwargs": {"model": "judge-m"}, "top_k": 3}}
    write_result(judged, tmp_path)
    write_result(_result("store-all", 0.5), tmp_path)
    markdown = render_markdown(load_results(tmp_path))
    assert "| llm | no | self-reported | max_questions=4, answerer=ans-m, judge=judge-m, top_k=3 | rule |" in markdown
    rows = [line for line in markdown.splitlines() if line.startswith("| llm | judge-m\\|greedy |")]  # | escaped
    assert len(rows) == 2
    assert "mem0-v1 | aaaaaaaaaaaa | **0.750** | 0.750 (4) | 0.625" in rows[0]
    assert "strict-v1 | bbbbbbbbbbbb | **0.250**" in rows[1] and rows[1].split(" | ")[-2] == "-"
    assert "LLM judge (J)" in markdown and "| store-all | judge-m" not in markdown


def test_a_result_file_never_writes_into_source_code(tmp_path, monkeypatch):
    """Issue 19 (critical): `memr2 leaderboard` spliced display_name into memenv/envs/synthetic.py's docstring, so a
    contributed result named ``evil\"\"\"; <code>; \"\"\"`` ran its code at the next ``import memenv.envs.synthetic``.
    Run with its default options from a checkout-like folder, it must leave every ``.py`` file as it was."""
    import shutil
    from pathlib import Path

    import memenv.envs.synthetic

    evil = 'evil"""; __import__("os").system("touch PWNED"); """'
    monkeypatch.chdir(tmp_path)
    source = Path("memenv/envs/synthetic.py")
    source.parent.mkdir(parents=True)
    shutil.copy(memenv.envs.synthetic.__file__, source)
    before = source.read_bytes()
    for protocol in ("synthetic-v1-8", "synthetic-v1-16", "synthetic-v1-32"):
        result = _result("store-all", 0.5, protocol=protocol, display_name=evil)
        write_result(result.model_copy(update={"run_name": f"evil-{protocol}"}), "leaderboards/results")
    Path("README.md").write_text(f"{START}\n{END}\n")
    monkeypatch.setattr("memr2.workspace.checkout_root", lambda: tmp_path)  # checkout mode: README.md is spliced
    assert main(["leaderboard", "--study", ""]) == 0
    assert "| evil" in Path("README.md").read_text()
    assert source.read_bytes() == before
    assert not any(evil in path.read_text() for path in tmp_path.rglob("*.py"))


def test_a_study_results_folder_can_be_a_leaderboards_results(tmp_path):
    """`memr2 leaderboard --results <a study's results_dir>` failed on the study runner's timing.json."""
    write_result(_result("store-all", 0.5), tmp_path)
    (tmp_path / "timing.json").write_text('[{"wall_s": 1.0}]')
    assert [r.agent for r in load_results(tmp_path)] == ["store-all"]


def test_a_judges_leniency_from_its_probe_shows_beside_its_j(tmp_path):
    """Issue 22: the leaderboard shows each judge's leniency (benchmarks/judge_probe.py) next to its J."""
    from memr2.leaderboard import judge_table, load_probes
    from memr2.results import JudgeMetrics, RubricJ

    sha = "ab" * 32
    judge = JudgeMetrics(rubrics={"mem0-v2": RubricJ(model="smol@http://127.0.0.1:1/v1|greedy|128", rubric="mem0",
                                                     prompt_sha256=sha, score=0.5, count=4)})
    run = _result("store-all", 0.5).model_copy(update={"metrics": Metrics(score=0.5, judge=judge)})
    probe = {"judge": "smol@http://127.0.0.1:9/v1|greedy|128", "rubrics": {"mem0-v2": {
        "prompt_sha256": sha, "gold": [4, 4], "vague": [3, 4], "specific": [1, 4], "injected": [0, 4],
        "instruction": [0, 4]}}}
    (tmp_path / "smol.json").write_text(json.dumps(probe))
    row = judge_table([run], load_probes(tmp_path)).splitlines()[-1]
    assert "| 4/4 / 3/4 / 1/4 / 0/4 |" in row  # the same model on another port is the same judge
    assert "| - |" in judge_table([run], []).splitlines()[-1]
    probe["rubrics"]["mem0-v2"]["vague"] = [5, 4]  # more CORRECT than tried: refused, naming the file
    (tmp_path / "smol.json").write_text(json.dumps(probe))
    with pytest.raises(ValueError, match="smol.json"):
        load_probes(tmp_path)
