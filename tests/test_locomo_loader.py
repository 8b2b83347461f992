"""LoCoMo loader: exact dev-subset counts, PROTOCOL.md checklist tolerances, and clear errors on broken files."""

from __future__ import annotations

import copy
import doctest
import json
from pathlib import Path

import pytest

from memenv.data import locomo
from memenv.data.locomo import DEV_PATH, dataset_counts, load_locomo, normalize_evidence, session_datetime
from memenv.data.schema import DataError


@pytest.fixture(autouse=True)
def dev_subset(monkeypatch):
    """Tests use the embedded dev subset even where the user set MEMR2_LOCOMO_PATH."""
    monkeypatch.delenv("MEMR2_LOCOMO_PATH", raising=False)


@pytest.fixture(scope="module")
def raw() -> list[dict]:
    return json.loads(DEV_PATH.read_text())


def write(tmp_path: Path, data, name: str = "locomo.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_doctests():
    assert doctest.testmod(locomo).failed == 0


def test_dev_subset_exact_counts():
    conversations, report = load_locomo(DEV_PATH)
    counts = dataset_counts(conversations)
    assert counts["conversations"] == 3
    assert counts["sessions"] == 70
    assert counts["turns"] == 1451
    assert counts["questions"] == 497
    assert counts["per_category"] == {
        "multi-hop": 74,
        "temporal": 90,
        "open-domain": 21,
        "single-hop": 200,
        "adversarial": 112,
    }
    assert [c.conversation_id for c in conversations] == ["conv-26", "conv-30", "conv-41"]
    assert (report.sessions, report.turns, report.questions) == (70, 1451, 497)
    # conv-26 has date_time keys for sessions 20-35 without sessions; one evidence string joins two ids
    assert report.orphan_date_times == 16
    assert report.repaired_evidence == 1 and report.dropped_evidence == 0
    assert report.int_answers == 6


def test_dev_subset_details(raw):
    conversations, _ = load_locomo(DEV_PATH)
    conv26 = conversations[0]
    assert conv26.speakers == ("Caroline", "Melanie")
    assert [s.index for s in conv26.sessions] == list(range(1, 20))
    assert session_datetime(conv26.sessions[0]).strftime("%Y-%m-%d %H:%M") == "2023-05-08 13:56"
    # image captions are part of the text the speaker shared
    turn = next(t for t in conv26.sessions[0].turns if t.dia_id == "D1:5")
    assert turn.text.endswith("[shared a photo of a dog walking past a wall with a painting of a woman]")
    # the joined evidence "D8:6; D9:17" is split, and the question sits in session 9
    joined = next(q for q in conv26.questions if q.evidence == ("D8:6", "D9:17"))
    assert joined.session == 9
    # every question is attached to the session of its latest evidence turn
    for conv in conversations:
        for q in conv.questions:
            if q.evidence:
                assert q.session == max(int(e[1:].split(":")[0]) for e in q.evidence)
            else:
                assert q.session == len(conv.sessions)
    # int answers are stringified, adversarial items keep their adversarial answer
    assert any(q.answer == "2022" for q in conv26.questions)
    adversarial = [q for c in conversations for q in c.questions if q.category == "adversarial"]
    assert all(q.adversarial_answer for q in adversarial) and all(q.category_id == 5 for q in adversarial)
    # observations become per-session gold facts with validated dia_ids
    facts = conv26.meta["observations"]["1"]
    assert {"speaker": "Caroline", "fact": facts[0]["fact"], "dia_ids": ["D1:3"]} == facts[0]


def test_truncated_json_raises_data_error(tmp_path):
    text = DEV_PATH.read_text()
    path = write(tmp_path, text[: len(text) // 2])
    with pytest.raises(DataError, match="not valid JSON") as info:
        load_locomo(path)
    assert str(path) in str(info.value)


def test_missing_conversation_names_file_sample_and_field(tmp_path, raw):
    data = copy.deepcopy(raw[:2])
    del data[1]["conversation"]
    path = write(tmp_path, data)
    with pytest.raises(DataError) as info:
        load_locomo(path)
    message = str(info.value)
    assert str(path) in message and "conv-30" in message and "'conversation'" in message


def test_non_list_session_raises(tmp_path, raw):
    data = copy.deepcopy(raw[:1])
    data[0]["conversation"]["session_3"] = {"oops": "a dict"}
    with pytest.raises(DataError, match=r"conv-26.*conversation\.session_3.*must be a list"):
        load_locomo(write(tmp_path, data))


def test_wrong_type_and_missing_answer_raise(tmp_path, raw):
    data = copy.deepcopy(raw[:1])
    data[0]["conversation"]["session_1"][0]["text"] = 17
    with pytest.raises(DataError, match=r"conv-26.*session_1\[0\]\.text"):
        load_locomo(write(tmp_path, data, "a.json"))
    data = copy.deepcopy(raw[:1])
    del data[0]["qa"][0]["answer"]
    with pytest.raises(DataError, match=r"conv-26.*qa\[0\]\.answer"):
        load_locomo(write(tmp_path, data, "b.json"))
    with pytest.raises(DataError, match="cannot read"):
        load_locomo(tmp_path / "absent.json")


def test_odd_evidence_is_repaired_or_counted(tmp_path, raw):
    data = copy.deepcopy(raw[:1])
    qa = data[0]["qa"]
    qa[0]["evidence"] = ["D01:03,D2:1", " D3:2. ", "D:3:2", "d2:1"]  # zero padding, joins, stray characters
    qa[1]["evidence"] = ["D1:999", "banana", "D99:1"]  # past the end of a session, garbage, no such session
    qa[2]["evidence"] = "D2:4 D2:5"  # a plain string instead of a list
    conversations, report = load_locomo(write(tmp_path, data))
    questions = conversations[0].questions
    assert questions[0].evidence == ("D1:3", "D2:1", "D3:2") and questions[0].session == 3
    assert questions[1].evidence == () and questions[1].session == 19
    assert questions[2].evidence == ("D2:4", "D2:5")
    assert report.dropped_evidence == 3
    assert report.repaired_evidence >= 3
    assert any("D1:999" in note for note in report.notes)


def test_tolerated_irregularities(tmp_path, raw):
    data = copy.deepcopy(raw[:1])
    conv = data[0]["conversation"]
    conv["session_40_date_time"] = "1:00 pm on 1 January, 2024"  # a date without a session
    conv["session_2_date_time"] = "sometime"  # unparseable date: kept, counted
    conv["unknown_key"] = [1, 2, 3]
    data[0]["extra_top_level"] = {"x": 1}
    data[0]["conversation"]["session_1"][0]["blip_caption"] = "a photo of a cat"  # caption without img_url
    data[0]["qa"][0]["answer"] = "  padded  "
    data[0]["qa"].append(copy.deepcopy(data[0]["qa"][0]))  # a duplicate item
    conversations, report = load_locomo(write(tmp_path, data, "a.json"))
    conv26 = conversations[0]
    assert report.orphan_date_times == 17 and report.unparsed_dates == 1
    assert conv26.sessions[1].date_time == "sometime" and session_datetime(conv26.sessions[1]) is None
    assert conv26.sessions[0].turns[0].text.endswith("[shared a photo of a cat]")
    assert conv26.questions[0].answer == "padded"
    assert report.duplicate_questions == 1 and len(conv26.questions) == 200
    deduped, report = load_locomo(write(tmp_path, data, "b.json"), dedupe=True)
    assert len(deduped[0].questions) == 199 and report.dropped_duplicates == 1


def test_session_numbers_with_gaps_are_renumbered(tmp_path, raw):
    data = copy.deepcopy(raw[:1])
    conv = data[0]["conversation"]
    del conv["session_2"]
    conversations, _ = load_locomo(write(tmp_path, data))
    sessions = conversations[0].sessions
    assert [s.index for s in sessions] == list(range(1, 19))
    assert sessions[1].turns[0].dia_id == "D3:1"
    q = next(q for q in conversations[0].questions if q.evidence and q.evidence[-1].startswith("D3:"))
    assert q.session == 2


def test_normalize_evidence_observation_shapes():
    ids = {"D1:1": "D1:1", "D1:2": "D1:2"}
    assert normalize_evidence("D1:1, D1:2", ids)[0] == ["D1:1", "D1:2"]
    assert normalize_evidence(["D1:1"], ids) == (["D1:1"], 0, False)
    assert normalize_evidence([], ids) == ([], 0, False)


def test_env_var_selects_file(tmp_path, raw, monkeypatch):
    path = write(tmp_path, raw[1:2])
    monkeypatch.setenv("MEMR2_LOCOMO_PATH", str(path))
    conversations, report = load_locomo()
    assert [c.conversation_id for c in conversations] == ["conv-30"]
    assert report.path == str(path.resolve())
