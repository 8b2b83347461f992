"""Secret seeds (memr2/secret_seeds.py), ``memr2 verify-reveal`` and the verified / self-reported marking of results
and leaderboard rows."""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
from pathlib import Path

import pytest

from memr2.cli import main
from memr2.leaderboard import load_results, render_markdown
from memr2.results import read_result, record_checksum, validate_result, write_result

REPO = Path(__file__).resolve().parents[1]
SECRET = b"the maintainer's secret, revealed later"


def hand_seeds(secret: bytes, protocol: str, count: int) -> list[int]:
    """The documented derivation, written out: key = HMAC-SHA256(secret, protocol), seed i = first 8 bytes of
    HMAC-SHA256(key, "seed i") as a big-endian integer, shifted right by one."""
    key = hmac.new(secret, protocol.encode(), hashlib.sha256).digest()
    return [int.from_bytes(hmac.new(key, f"seed {i}".encode(), hashlib.sha256).digest()[:8], "big") >> 1
            for i in range(count)]


def secret_run(tmp_path: Path, protocol: str, name: str, secret: bytes = SECRET, agent: str = "store-all") -> Path:
    (tmp_path / "secret").write_bytes(secret + b"\n")  # surrounding whitespace is not part of the secret
    status = main(["eval", "--protocol", protocol, "--agent", agent, "--seed-secret-file", str(tmp_path / "secret"),
                   "--output-dir", str(tmp_path), "--run-name", name, "--no-progress"])
    assert status == 0
    return tmp_path / f"{name}.json"


def test_secret_seeds_are_the_documented_hmac_and_the_result_commits_to_the_secret(tmp_path, capsys):
    result = read_result(secret_run(tmp_path, "synthetic-v1-8", "a"))
    assert result.seeds == hand_seeds(SECRET, "synthetic-v1-8", 5) and result.seeds != list(range(100000, 100005))
    assert result.seed_commitment == hashlib.sha256(SECRET).hexdigest()
    assert result.mode == "self-reported"  # an in-process agent is never verified, secret or not
    assert [e.conversation_id for e in result.episodes] != [f"synthetic-{s}" for s in range(100000, 100005)]
    again = read_result(secret_run(tmp_path, "synthetic-v1-8", "b"))
    assert again.seeds == result.seeds and again.metrics == result.metrics  # same secret, same episodes
    other = read_result(secret_run(tmp_path, "synthetic-v1-16", "c"))
    assert other.seeds == hand_seeds(SECRET, "synthetic-v1-16", 5) and other.seeds != result.seeds


def test_verify_reveal_accepts_the_secret_and_catches_a_wrong_one_or_other_episodes(tmp_path, capsys):
    synthetic = secret_run(tmp_path, "synthetic-v1-8", "synthetic")
    locomo = secret_run(tmp_path, "locomo-dev", "locomo")
    played = [e.conversation_id for e in read_result(locomo).episodes]
    assert sorted(played) == ["conv-26", "conv-30", "conv-41"]
    (tmp_path / "wrong").write_bytes(b"not the secret of these runs")
    assert main(["verify-reveal", str(synthetic), str(locomo), "--secret-file", str(tmp_path / "secret")]) == 0
    assert capsys.readouterr().out.count(": ok (commitment, seeds and order match the secret)") == 2
    assert main(["verify-reveal", str(synthetic), "--secret-file", str(tmp_path / "wrong")]) == 1
    assert "not the secret of this run" in capsys.readouterr().out

    def tamper(path: Path, change) -> Path:
        data = json.loads(path.read_text())
        change(data)
        data["record_sha256"] = record_checksum(data)  # a consistent file: the checksum is no signature
        out = path.with_name(f"tampered-{path.name}")
        out.write_text(json.dumps(data))
        return out

    other_seeds = tamper(synthetic, lambda d: d.update(seeds=list(range(100000, 100005))))
    reordered = tamper(locomo, lambda d: d["episodes"].reverse())
    for path, message in ((other_seeds, "are not the secret's"), (reordered, "were played in the order")):
        assert main(["verify-reveal", str(path), "--secret-file", str(tmp_path / "secret")]) == 1
        assert message in capsys.readouterr().out
    public = tmp_path / "public"
    assert main(["eval", "--protocol", "synthetic-v1-8", "--agent", "store-all", "--output-dir", str(public),
                 "--run-name", "p", "--no-progress"]) == 0
    assert main(["verify-reveal", str(public / "p.json"), "--secret-file", str(tmp_path / "secret")]) == 1
    assert "no seed_commitment" in capsys.readouterr().out


def _verified(tmp_path: Path, **update) -> dict:
    data = json.loads(secret_run(tmp_path, "synthetic-v1-8", "v").read_text())
    data.update(mode="verified", agent="python agent.py | evil\n| forged | row", **update)
    data["record_sha256"] = record_checksum(data)
    return data


def test_verified_rows_are_marked_and_everything_else_is_self_reported(tmp_path):
    verified = validate_result(_verified(tmp_path))
    public = tmp_path / "public"
    main(["eval", "--protocol", "synthetic-v1-8", "--agent", "store-all", "--output-dir", str(public), "--run-name",
          "p", "--no-progress"])
    boards = tmp_path / "board"
    write_result(verified, boards)
    write_result(read_result(public / "p.json"), boards)
    table = render_markdown(load_results(boards))
    rows = [line for line in table.splitlines() if line.startswith("| python") or line.startswith("| store-all")]
    assert len(rows) == 2, table
    mine, theirs = sorted(rows)  # "| python ..." before "| store-all ..."
    commitment = hashlib.sha256(SECRET).hexdigest()
    assert mine.startswith(rf"| python agent.py \| evil \| forged \| row | no | verified (secret {commitment[:12]}) |")
    assert "5 (secret seeds)" in mine and str(verified.seeds[0]) not in mine
    assert theirs.startswith("| store-all | no | self-reported |") and "seeds 100000-100004" in theirs


def test_a_verified_claim_needs_a_commitment_and_the_commitment_is_hex(tmp_path):
    with pytest.raises(ValueError, match="verified but the result has no seed_commitment"):
        validate_result(_verified(tmp_path, seed_commitment=None))
    with pytest.raises(ValueError, match="seed_commitment"):
        validate_result(_verified(tmp_path, seed_commitment="<!-- results:end --> " + "a" * 40))


def test_committed_results_still_load_and_render_as_self_reported():
    results = load_results(REPO / "leaderboards" / "results")
    evals = [r for r in results if r.kind == "eval"]
    assert evals and all(r.mode is None and r.seed_commitment is None for r in results)
    rows = [line for line in render_markdown(results).splitlines() if "| self-reported |" in line]
    assert len(rows) >= len(evals) and "| verified" not in render_markdown(results)
