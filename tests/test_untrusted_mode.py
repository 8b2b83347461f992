"""The untrusted-agent mode (memr2/untrusted.py, agents/remote.py): the wire round trip, every way a reply can fail
(each an invalid action, never a crash or a stall), what the agent's process gets (views only: no repository, no
secret, no question), and the agent being stopped after repeated failures.

Misbehaving agents are small standard-library scripts (``AGENT`` below, one behaviour per argument), run with
``python -S`` so that they start fast and cannot import memory-r2.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

import gymnasium as gym
import pytest

from memenv.views import parse_view

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("untrusted_cheats", REPO / "benchmarks" / "untrusted_cheats.py")
bench = sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)
run_eval = bench.run_eval

SMALL = ["--env", "MemoryR2/Synthetic-v1", "--max-sessions", "4", "--episodes", "1", "--seed", "3"]  # 8 steps

AGENT = r'''
import json, os, sys, time

behaviour, dump = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
if dump:
    with open(dump + ".env.json", "w") as f:
        json.dump({"environ": dict(os.environ), "cwd": os.getcwd(), "path": sys.path}, f)

def store_all(view):
    if view["role"] == "extractor":
        return {"facts": [{"speaker": t["speaker"], "fact": t["text"], "dia_ids": [t["dia_id"]]}
                          for t in view.get("turns", [])]}
    return {"operations": [{"op": "ADD", "content": f"{f['speaker']}: {f['fact']}", "dia_ids": f["dia_ids"]}
                           for f in view.get("facts", [])] or [{"op": "NOOP"}]}

GARBAGE = {0: b"not json", 1: b'{"id": 1}', 2: b'{"id": 2, "action": 42}', 3: b"[" * 100000,
           4: b'{"id": 99, "action": "NOOP"}', 5: b'{"id": 5, "action": "NOOP", "extra": 1}', 6: b"\xff\xfe"}

for line in sys.stdin:
    if dump:
        with open(dump + ".lines", "a") as f:
            f.write(line)
    request = json.loads(line)
    rid, reply = request["id"], None
    if behaviour == "silent":
        continue
    if behaviour == "late-first" and rid == 0:
        time.sleep(2.0)
    if behaviour == "garbage" and rid in GARBAGE:
        reply = GARBAGE[rid]
    if behaviour == "oversize" and rid == 0:
        reply = b'{"id": 0, "action": "' + b"x" * (2 << 20) + b'"}'
    if reply is None:
        reply = json.dumps({"id": rid, "action": store_all(request["view"])}).encode()
    sys.stdout.buffer.write(reply + b"\n")
    sys.stdout.buffer.flush()
    if behaviour == "crash" and rid == 0:
        sys.stderr.write("boom: the agent fell over\n")
        sys.exit(3)
'''


@pytest.fixture
def agent_script(tmp_path: Path) -> Path:
    path = tmp_path / "agent.py"
    path.write_text(AGENT)
    return path


def misbehaving(script: Path, behaviour: str, *extra: str) -> list[str]:
    return ["--untrusted-agent", f"{sys.executable} -S {script} {behaviour} {' '.join(extra)}"]


def trajectory(tmp_path: Path, flags: list[str], name: str = "run"):
    """Run eval with ``flags`` and its trajectories; (result, one record per step)."""
    steps = tmp_path / f"{name}.jsonl"
    result = run_eval([*flags, "--save-trajectories", str(steps)], tmp_path / name)
    return result, [json.loads(line) for line in steps.read_text().splitlines()]


def test_store_all_over_the_wire_scores_exactly_as_in_process(tmp_path):
    local = run_eval([*SMALL, "--episodes", "2", "--agent", "store-all"], tmp_path / "local")
    remote = run_eval([*SMALL, "--episodes", "2", "--untrusted-agent", f"{sys.executable} -m agents.remote store-all",
                       "--agent-env", f"PYTHONPATH={REPO}"], tmp_path / "remote")
    assert remote.metrics == local.metrics and remote.records == local.records
    assert remote.memory == local.memory and remote.invalid_actions == local.invalid_actions == 0
    drop = {"wall_time_s"}
    assert [e.model_dump(exclude=drop) for e in remote.episodes] == [e.model_dump(exclude=drop) for e in local.episodes]
    assert remote.mode == "self-reported" and remote.seed_commitment is None  # no secret: not verified
    assert remote.agent == f"{sys.executable} -m agents.remote store-all"


def test_a_late_reply_is_an_invalid_action_and_the_next_step_reads_the_right_reply(tmp_path, agent_script):
    started = time.monotonic()
    result, steps = trajectory(tmp_path, [*SMALL, *misbehaving(agent_script, "late-first"),
                                          "--agent-step-timeout", "1.5"])
    assert time.monotonic() - started < 20
    assert result.invalid_actions == 1
    assert "no reply within 1.5 s" in steps[0]["error"] and steps[0]["reward"] == pytest.approx(-0.1)
    assert all(step["error"] is None for step in steps[1:])  # the late reply to step 0 was skipped, not read as step 1's


def test_garbage_replies_are_invalid_actions_with_a_reason_each(tmp_path, agent_script):
    result, steps = trajectory(tmp_path, [*SMALL, *misbehaving(agent_script, "garbage"), "--agent-max-failures", "100"])
    errors = [step["error"] or "" for step in steps]
    assert result.invalid_actions == 7 and all(e.startswith("untrusted agent: ") for e in errors[:7])
    assert "action: Field required" in errors[1] and "action" in errors[2]
    assert "request 99, which was not sent" in errors[4] and "extra" in errors[5]
    assert errors[7] == ""  # a good reply after seven bad ones is read


def test_an_oversize_reply_is_refused_and_skipped_to_its_end(tmp_path, agent_script):
    result, steps = trajectory(tmp_path, [*SMALL, *misbehaving(agent_script, "oversize")])
    assert result.invalid_actions == 1 and "longer than 1048576 bytes" in steps[0]["error"]
    assert all(step["error"] is None for step in steps[1:])


def test_a_crashed_agent_makes_the_rest_of_the_run_invalid_actions(tmp_path, agent_script):
    result, steps = trajectory(tmp_path, [*SMALL, *misbehaving(agent_script, "crash")])
    assert steps[0]["error"] is None
    assert "exited (status 3)" in steps[1]["error"] and "boom: the agent fell over" in steps[1]["error"]
    assert all("given up" in step["error"] for step in steps[2:])
    assert result.invalid_actions == len(steps) - 1 == 7


def test_a_silent_agent_is_given_up_after_its_failures_and_killed(agent_script):
    from memr2.untrusted import RemoteAgent

    env = gym.make("MemoryR2/Synthetic-v1", max_sessions=4)
    observation, info = env.reset(seed=3)
    agent = RemoteAgent([sys.executable, "-S", str(agent_script), "silent"], step_timeout=0.3, max_failures=2)
    try:
        errors, started = [], time.monotonic()
        for _ in range(8):
            observation, _, terminated, _, info = env.step(agent.act(observation, info))
            errors.append(info.get("error", ""))
        assert time.monotonic() - started < 5  # two timeouts, then no more waiting
        assert all("no reply within 0.3 s" in e for e in errors[:2])
        assert all("given up (2 failed replies in a row" in e for e in errors[2:]) and terminated
        assert agent.process.process.poll() is not None  # the process was killed when it was given up
        assert env.unwrapped.invalid_actions == 8
        assert agent.summary().startswith("failed replies: 2 x no reply within 0.3 s; given up")
    finally:
        agent.close()


def test_the_agent_gets_views_only_no_repository_no_secret_no_question(tmp_path, agent_script, monkeypatch):
    secret = b"a secret of the maintainer, 32+ bytes long"
    (tmp_path / "secret").write_bytes(secret)
    monkeypatch.setenv("MEMR2_SEED_SECRET_FILE", str(tmp_path / "secret"))  # the variable, not the flag
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    dump = tmp_path / "dump"
    result = run_eval(["--protocol", "locomo-dev", *misbehaving(agent_script, "dump", str(dump))], tmp_path / "run")
    assert result.mode == "verified" and result.seed_commitment == hashlib.sha256(secret).hexdigest()

    seen = json.loads((dump.parent / "dump.env.json").read_text())
    allowed = {"PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "HOME", "TMPDIR", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"}
    assert set(seen["environ"]) <= allowed, set(seen["environ"]) - allowed
    cwd = Path(seen["cwd"])
    assert cwd.name.startswith("memr2-agent-") and seen["environ"]["HOME"] == str(cwd) and not cwd.exists()
    assert REPO not in (cwd, *cwd.parents)
    assert not [p for p in seen["path"] if p and (REPO == Path(p) or REPO in Path(p).parents)]

    lines = (dump.parent / "dump.lines").read_text().splitlines()
    requests = [json.loads(line) for line in lines]
    assert [r["id"] for r in requests] == list(range(sum(e.steps for e in result.episodes)))
    assert all(set(r) == {"id", "episode", "view"} and parse_view(json.dumps(r["view"])) for r in requests)
    assert sorted({r["episode"] for r in requests}) == [0, 1, 2]
    questions = {record["question"] for record in result.records}
    text = "\n".join(lines)
    assert len(questions) > 300 and not [q for q in questions if q in text]
    assert secret.decode() not in text and secret.decode() not in json.dumps(seen)


def test_bad_flags_are_one_line_errors(tmp_path, capsys):
    from memr2.cli import main

    out = ["--output-dir", str(tmp_path)]
    (tmp_path / "secret").write_text("0123456789abcdef0123")
    (tmp_path / "short").write_text("0123456789")
    cases = {
        ("--agent", "store-all", "--untrusted-agent", "x"): "give one of --agent",
        ("--untrusted-agent", "no-such-program-here"): "program 'no-such-program-here' not found",
        ("--untrusted-agent", "python 'unclosed"): "No closing quotation",
        ("--untrusted-agent", "python", "--model", "tiny"): "--model configure an in-process --agent",
        ("--agent", "store-all", "--seed-secret-file", str(tmp_path / "secret")): "add --protocol",
        ("--agent", "store-all", "--seed-secret-file", str(tmp_path / "short")): "at least 16 bytes, it has 10",
        ("--agent", "store-all", "--seed-secret-file", str(tmp_path / "none")): "cannot read it",
        ("--untrusted-agent", "python", "--agent-step-timeout", "inf"): "--agent-step-timeout must be a number",
        ("--untrusted-agent", "python", "--agent-max-failures", "0"): "--agent-max-failures must be >= 1",
    }
    for flags, message in cases.items():
        assert main(["eval", *SMALL, *flags, *out]) == 2
        assert message in capsys.readouterr().err
