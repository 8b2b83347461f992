"""`memr2 study`: a tiny grid through the real CLI (subprocess workers), skip and resume, and the report."""

import json
from pathlib import Path

import pytest
import yaml

from memr2.cli import main
from memr2.results import write_result
from memr2.study import StudyConfig, plan
from memr2.study_report import load_study, render_study, steps_to_reach

TRAINER = {"env_id": "MemoryR2/Synthetic-v1", "policy": "feature", "num_generations": 2, "local_num_generations": 2,
           "local_prob": 1.0, "conversations_per_iteration": 1, "eval_seeds": [100000, 100001],
           "test_seeds": [200000, 200001]}


def write_study(tmp_path: Path, **overrides) -> Path:
    (tmp_path / "trainer.yaml").write_text(yaml.safe_dump({"trainer": TRAINER}))
    study = {"name": "tiny", "trainer_config": "trainer.yaml", "estimators": ["grpo", "logo-sum"],
             "horizons": [2], "seeds": [0, 1], "env_steps": 40, "eval_every": {1: 2, 2: 2},
             "curricula": [{"estimator": "logo", "curriculum": [1, 2]}], "references": ["restricted-oracle"],
             "paired": [["logo-sum", "grpo"]], "results_dir": str(tmp_path / "results"), "runs_dir": str(tmp_path / "runs"),
             **overrides}
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump({"study": study}))
    return path


def test_plan_gives_every_cell_the_same_budget_and_splits_it_over_a_curriculum(tmp_path):
    study = StudyConfig.from_file(write_study(tmp_path))
    cells = {c.name: c.argv for c in plan(study)}
    train = {n: a for n, a in cells.items() if a[0] == "train"}
    assert len(train) == (2 + 1) * 2 and len(cells) - len(train) == 2 * 2  # references: 2 horizons x 2 splits
    budget = {n: int(a[a.index("--env-steps-per-stage") + 1]) for n, a in train.items()}
    assert budget["tiny__h2__grpo__seed0"] == budget["tiny__h2__logo-sum__seed1"] == 40
    assert budget["tiny__h1-2__logo__seed0"] == 20  # two stages share the 40 steps


def test_bad_study_configs_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="eval_every has no interval for horizon"):
        StudyConfig.from_file(write_study(tmp_path, eval_every={2: 1}))
    with pytest.raises(ValueError, match="env_step"):
        StudyConfig.from_file(write_study(tmp_path, env_step=3))


def test_study_runs_skips_finished_cells_resumes_and_reports(tmp_path, capsys, monkeypatch):
    """Run from a user's empty folder (issue 21 item 6): the cells and the report land in the study's own results
    and runs folders, and nothing else is written."""
    user = tmp_path / "user"
    user.mkdir()
    monkeypatch.chdir(user)
    path = write_study(tmp_path, results_dir="results", runs_dir="runs", curricula=[])  # curricula: the next test
    study = StudyConfig.from_file(path)
    assert main(["study", "--config", str(path), "--workers", "2", "--no-progress", "--allow-dirty"]) == 0
    written = {p.relative_to(user).parts[0] for p in user.rglob("*")}
    assert written == {"results", "runs"}, written
    assert "Headline: test score" in (user / "results" / "study.md").read_text()
    assert (user / "results" / "study_curves.png").stat().st_size > 1000
    results = load_study(study)
    assert set(results) == {c.name for c in plan(study)}
    for name, result in results.items():
        if result.kind == "train":  # the budget ends every cell (one iteration may overshoot it)
            assert result.train["env_steps"] >= 40 and result.test_metrics is not None
            assert result.estimator == name.split("__")[2]
    # a finished cell is skipped; a killed one resumes from its checkpoint
    victim = "tiny__h2__grpo__seed1"
    (Path(study.results_dir) / f"{victim}.json").unlink()
    capsys.readouterr()
    assert main(["study", "--config", str(path), "--dry-run"]) == 0
    todo = [line for line in capsys.readouterr().out.splitlines() if line.startswith("todo")]
    assert len(todo) == 1 and victim in todo[0] and "--resume" in todo[0]
    assert main(["study", "--config", str(path), "--workers", "1", "--no-progress", "--no-report", "--allow-dirty"]) == 0
    timing = json.loads((Path(study.results_dir) / "timing.json").read_text())
    assert [t["cells_run"] for t in timing] == [len(results), 1]
    before = (Path(study.results_dir) / "timing.json").read_bytes()  # nothing left to run: the file is not touched
    assert main(["study", "--config", str(path), "--workers", "1", "--no-progress", "--no-report", "--allow-dirty"]) == 0
    assert (Path(study.results_dir) / "timing.json").read_bytes() == before
    report = render_study(study, load_study(study))
    assert "| `logo-sum` at 2 | `grpo` at 2 | 2 |" in report
    assert "40 environment steps" in report and "2 invocation(s)" in report
    # --verify reruns finished cells from the plan and compares every field but timing and provenance: the
    # untouched cell reproduces, the forged one drifts
    forged = load_study(study)[victim]
    forged.test_metrics.score += 0.25
    write_result(forged, study.results_dir)
    capsys.readouterr()
    assert main(["study", "--config", str(path), "--verify", "2", "--only", "__h2__grpo__"]) == 1
    out = capsys.readouterr().out
    assert "2 cell(s) rerun, 1 reproduced, 1 drifted" in out, out
    assert "reproduced tiny__h2__grpo__seed0" in out and f"DRIFT {victim}" in out


def test_the_report_pairs_a_curriculum_with_its_estimator_at_the_final_horizon_when_the_grid_has_one(tmp_path):
    from memr2.results import Metrics, MemoryStats, RunResult

    def result(score):
        return RunResult(kind="train", env_id="e", agent="a", scorer="rule", metrics=Metrics(score=score),
                         memory=MemoryStats(entries=0, tokens=0), invalid_actions=0, wall_time_s=0, version="0",
                         test_metrics=Metrics(score=score))

    for estimators, curriculum_row in ((["grpo", "logo-sum"], False), (["grpo", "logo-sum", "logo"], True)):
        study = StudyConfig.from_file(write_study(tmp_path, estimators=estimators))
        results = {c.name: result(0.5 + 0.01 * i) for i, c in enumerate(plan(study)) if c.kind == "train"}
        report = render_study(study, results)
        assert "| `logo-sum` at 2 | `grpo` at 2 | 2 |" in report
        assert ("| `logo` at 1 -> 2 | `logo` at 2 | 2 |" in report) is curriculum_row


def test_a_study_refuses_uncommitted_code_and_restarts_a_cell_killed_before_its_first_checkpoint(tmp_path, monkeypatch):
    import memr2.runtime
    from memr2.cli import build_parser
    from memr2.commands.study import run
    from memr2.study import command

    path = write_study(tmp_path)
    study = StudyConfig.from_file(path)
    monkeypatch.setattr(memr2.runtime, "git_state", lambda: ("a" * 40, True))
    with pytest.raises(ValueError, match="differ from commit"):
        run(build_parser().parse_args(["study", "--config", str(path), "--no-progress"]))
    cell = next(c for c in plan(study) if c.kind == "train")
    assert "--overwrite" not in command(study, cell) and "--resume" not in command(study, cell)
    (Path(study.runs_dir) / cell.name).mkdir(parents=True)  # killed before its first checkpoint
    assert "--overwrite" in command(study, cell)


def test_a_study_starts_no_cell_once_the_checkout_changed_under_it(tmp_path, monkeypatch, capsys):
    """Each cell records the code as it is when it starts: an edit made while a study ran left its later cells marked
    dirty (or on other code) beside clean earlier ones. A clean study now starts no cell once the tree changed."""
    import memr2.runtime
    from memr2.study import run_study

    study = StudyConfig.from_file(write_study(tmp_path, curricula=[]))
    start = ("a" * 40, False)
    monkeypatch.setattr(memr2.runtime, "git_state", lambda path=None: ("a" * 40, True))  # an edit after the start
    assert run_study(study, workers=1, only="__ref-", progress=False, tree=start) == 2
    out = capsys.readouterr().out
    assert out.count("NOT RUN tiny__ref-restricted-oracle__h2__") == 2 and "changed since the study started from aaaaaaa" in out
    assert not list(Path(study.results_dir).glob("tiny__*.json"))
    monkeypatch.setattr(memr2.runtime, "git_state", lambda path=None: start)  # the same tree: the cells run
    assert run_study(study, workers=1, only="__ref-", progress=False, tree=start) == 0
    assert len(list(Path(study.results_dir).glob("tiny__ref-*.json"))) == 2


def test_steps_to_reach_is_the_first_validation_at_or_above_the_target(tmp_path):
    from memr2.results import CurvePoint, RunResult

    result = RunResult.model_construct(curve=[CurvePoint(iteration=i, env_steps=100 * i, score=s)
                                              for i, s in enumerate([0.2, 0.5, 0.4, 0.9])])
    assert steps_to_reach(result, 0.45) == 100 and steps_to_reach(result, 0.9) == 300
    assert steps_to_reach(result, 0.95) is None


@pytest.mark.parametrize("name", ["study-synthetic-v1.yaml", "study-demo.yaml", "study-v2-pilot.yaml", "study-v2-sweep.yaml",
                                  "study-v2.yaml", "study-llm-manager-v2.yaml", "study-llm-manager-v3.yaml"])
def test_committed_study_configs_load_and_plan(name, tmp_path, monkeypatch):
    root = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(tmp_path)  # the trainer config is read from the study YAML's folder, whatever the cwd
    study = StudyConfig.from_file(root / "configs" / name)
    cells = plan(study)
    assert len({c.name for c in cells}) == len(cells)  # one result file per cell
    trained = [c for c in cells if c.kind == "train"]
    rates = max(len(study.learning_rates), 1)
    assert len(trained) == (len(study.estimators) * len(study.horizons) * rates + len(study.curricula)) * len(study.seeds)


def test_an_estimator_given_as_a_file_spec_gets_a_file_safe_cell_name(tmp_path):
    study = StudyConfig.from_file(write_study(tmp_path, estimators=["docs/examples/my_estimator.py:make_estimator"],
                                              paired=[]))
    name = next(c.name for c in plan(study) if c.kind == "train")
    assert name == "tiny__h2__docs-examples-my_estimator.py-make_estimator__seed0"


def test_grpo_local_cells_get_a_file_safe_name_and_the_built_in_estimator(tmp_path):
    study = StudyConfig.from_file(write_study(tmp_path, estimators=["grpo", "grpo+local"], paired=[["grpo+local", "grpo"]]))
    train = {c.name: c.argv for c in plan(study) if c.kind == "train"}
    argv = train["tiny__h2__grpo-local__seed0"]  # '+' is slugged to '-' in the name ...
    assert argv[argv.index("--estimator") + 1] == "grpo+local"  # ... and passed through unchanged


def test_a_learning_rate_sweep_plans_each_rate_and_reports_validation_only(tmp_path):
    from memr2.results import Metrics, MemoryStats, RunResult
    from memr2.study_report import sweep_table

    study = StudyConfig.from_file(write_study(tmp_path, learning_rates=[0.01, 0.03], curricula=[], seeds=[0, 1]))
    train = {c.name: c.argv for c in plan(study) if c.kind == "train"}
    assert len(train) == 2 * 2 * 2  # estimators x rates x seeds
    argv = train["tiny__h2__grpo__lr0.03__seed1"]
    assert argv[argv.index("--learning-rate") + 1] == "0.03"
    scores = {(0.01, 0): 0.2, (0.01, 1): 0.4, (0.03, 0): 0.5, (0.03, 1): 0.3}  # means 0.3 and 0.4: 0.03 wins
    results = {}
    for (rate, seed), score in scores.items():
        name = f"tiny__h2__grpo__lr{rate:g}__seed{seed}"
        results[name] = RunResult(kind="train", env_id="e", agent="a", scorer="rule", metrics=Metrics(score=score),
                                  memory=MemoryStats(entries=0, tokens=0), invalid_actions=0, wall_time_s=0, version="0",
                                  test_metrics=Metrics(score=1.0 - score))  # the test score must not be read
    row = next(line for line in sweep_table(study, results).splitlines() if "`grpo`" in line)
    assert "**0.400 [" in row and row.split(" | ")[-2] == "0.03"
    with pytest.raises(ValueError, match="not both"):
        StudyConfig.from_file(write_study(tmp_path, learning_rates=[0.01], learning_rate={"grpo": 0.01}))
    with pytest.raises(ValueError, match="does not train"):
        StudyConfig.from_file(write_study(tmp_path, learning_rate={"logo-typo": 0.01}))
    chosen = StudyConfig.from_file(write_study(tmp_path, learning_rate={"grpo": 0.003, "logo-sum": {2: 0.03}}))
    argv = {c.name: c.argv for c in plan(chosen)}
    assert argv["tiny__h2__grpo__seed0"][argv["tiny__h2__grpo__seed0"].index("--learning-rate") + 1] == "0.003"
    assert argv["tiny__h2__logo-sum__seed0"][argv["tiny__h2__logo-sum__seed0"].index("--learning-rate") + 1] == "0.03"
    assert "--learning-rate" not in argv["tiny__h1-2__logo__seed0"]  # not listed: the trainer config's rate


def test_the_floor_table_says_whether_trained_policies_beat_the_scripted_agent(tmp_path):
    from memr2.results import Metrics, MemoryStats, RunResult
    from memr2.study import reference_cell_name
    from memr2.study_report import floor_table

    study = StudyConfig.from_file(write_study(tmp_path, references=["reference"], floor="reference", curricula=[],
                                              seeds=list(range(6))))

    def result(score, kind="train"):
        return RunResult(kind=kind, env_id="e", agent="a", scorer="rule", metrics=Metrics(score=score),
                         memory=MemoryStats(entries=0, tokens=0), invalid_actions=0, wall_time_s=0, version="0",
                         test_metrics=Metrics(score=score) if kind == "train" else None)

    results = {reference_cell_name(study, "reference", 2, "test"): result(0.5, "eval")}
    for seed in range(6):
        results[f"tiny__h2__grpo__seed{seed}"] = result(0.7 + 0.01 * seed)  # above the floor on every seed
        results[f"tiny__h2__logo-sum__seed{seed}"] = result(0.45 + 0.02 * (seed % 2))  # below it
    rows = {line.split(" | ")[1]: line for line in floor_table(study, results).splitlines() if "`" in line}
    # one-sided exact sign-flip p = 1/64 for six positive margins; Holm over 2 rows -> 2/64
    assert "| 0.031 | **yes** |" in rows["`grpo`"] and "+0.225" in rows["`grpo`"]
    assert rows["`logo-sum`"].endswith("| no |")
    with pytest.raises(ValueError, match="floor"):
        StudyConfig.from_file(write_study(tmp_path, references=["store-all"], floor="reference"))


def test_starts_are_evaluated_on_the_test_seeds_and_training_is_measured_from_them(tmp_path):
    from memr2.results import Metrics, MemoryStats, RunResult
    from memr2.study import start_cell_name
    from memr2.study_report import render_study, start_table

    starts = [{"label": "warm-start", "model": "runs/sft/x", "agent_kwargs": {"temperature": 0}}]
    study = StudyConfig.from_file(write_study(tmp_path, curricula=[], seeds=[0, 1, 2], starts=starts))
    cells = {c.name: c for c in plan(study)}
    argv = cells[start_cell_name(study, "warm-start", 2)].argv
    assert argv[:5] == ["eval", "--env", "MemoryR2/Synthetic-v1", "--agent", "llm"]
    assert argv[argv.index("--model") + 1] == "runs/sft/x" and json.loads(argv[argv.index("--agent-kwargs") + 1]) == {"temperature": 0}
    assert json.loads(argv[argv.index("--env-kwargs") + 1])["max_sessions"] == 2 and "--episodes" in argv

    def result(score, kind="train"):
        return RunResult(kind=kind, env_id="e", agent="a", scorer="rule", metrics=Metrics(score=score),
                         memory=MemoryStats(entries=0, tokens=0), invalid_actions=0, wall_time_s=0, version="0",
                         test_metrics=Metrics(score=score) if kind == "train" else None)

    results = {start_cell_name(study, "warm-start", 2): result(0.4, "eval")}
    for seed, (a, b) in enumerate([(0.7, 0.3), (0.75, 0.4), (0.8, 0.2)]):
        results[f"tiny__h2__grpo__seed{seed}"] = result(a)
        results[f"tiny__h2__logo-sum__seed{seed}"] = result(b)
    table = start_table(study, results)
    rows = {line.split(" | ")[3]: line for line in table.splitlines() if "`warm-start`" in line}
    assert "97.50% t CI" in table  # 95 % Bonferroni-corrected over the 2 estimators
    # grpo gains 0.3, 0.35, 0.4: mean 0.35, s = 0.05, t_{.9875,2} = 6.205 -> +-0.179: above the start, though the
    # one-sided sign-flip p of 3 seeds is 1/8 (Holm x 3 rows: 0.375)
    assert "+0.350 [+0.171, +0.529]" in rows["`grpo`"] and "| 0.375 | **yes** |" in rows["`grpo`"]
    # logo-sum gains -0.1, 0, -0.2: mean -0.1, s = 0.1 -> [-0.458, +0.258]
    assert "-0.100 [-0.458, +0.258]" in rows["`logo-sum`"] and rows["`logo-sum`"].endswith("| no |")
    # pooled: the six gains, mean 0.125, s = 0.2564, t_{.9875,5} = 3.163 -> +-0.331
    assert "+0.125 [-0.206, +0.456]" in rows["all 2 (pooled)"] and rows["all 2 (pooled)"].endswith("| no |")
    assert "Trained against where training started" in render_study(study, results)
    with pytest.raises(ValueError):
        StudyConfig.from_file(write_study(tmp_path, starts=[{"label": "x", "unknown": 1}]))


def test_a_budget_per_horizon_is_given_to_every_estimator_at_that_horizon(tmp_path):
    study = StudyConfig.from_file(write_study(tmp_path, horizons=[1, 2], env_steps={1: 30, 2: 60},
                                              curricula=[{"estimator": "logo", "curriculum": [1, 2]}]))
    budget = {c.name: int(c.argv[c.argv.index("--env-steps-per-stage") + 1]) for c in plan(study) if c.kind == "train"}
    assert budget["tiny__h1__grpo__seed0"] == budget["tiny__h1__logo-sum__seed1"] == 30
    assert budget["tiny__h2__grpo__seed0"] == 60 and budget["tiny__h1-2__logo__seed0"] == 30  # 60 over 2 stages
    assert study.budget_text() == "30 / 60 environment steps at 1 / 2 sessions"
    with pytest.raises(ValueError, match="no budget for horizon 2"):
        plan(StudyConfig.from_file(write_study(tmp_path, env_steps={1: 30})))


def test_in_the_checkout_another_studys_report_does_not_replace_the_leaderboards(tmp_path, monkeypatch):
    """`memr2 study --config <another study>` without --out once rewrote leaderboards/study.md and README.md with
    that study's report; it now goes to leaderboards/<name>/ and the leaderboard's own files stay as they were."""
    import argparse

    from memr2 import workspace
    from memr2.commands.study import write_report

    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "leaderboards").mkdir()
    (tmp_path / "leaderboards" / "study.md").write_text("the leaderboard's study")
    monkeypatch.setattr(workspace, "checkout_root", lambda: tmp_path)
    monkeypatch.chdir(tmp_path)
    path = write_study(tmp_path)
    args = argparse.Namespace(config=str(path), out=None, baselines=False)
    write_report(args, StudyConfig.from_file(path))
    assert (tmp_path / "leaderboards" / "study.md").read_text() == "the leaderboard's study"
    assert "tiny" in (tmp_path / "leaderboards" / "tiny" / "study.md").read_text()
    assert sorted(p.name for p in (tmp_path / "leaderboards").iterdir()) == ["study.md", "tiny"]
