"""Corrupt LoCoMo files give one clear DataError naming the file (issue 14, defect 5)."""

import json
import re

import pytest

from memenv.data.locomo import load_locomo
from memenv.data.schema import DataError


def _sample(sample_id: str) -> dict:
    return {"sample_id": sample_id, "qa": [],
            "conversation": {"speaker_a": "A", "speaker_b": "B", "session_1_date_time": "1 May 2023",
                             "session_1": [{"speaker": "A", "dia_id": "D1:1", "text": "hi"}]}}


@pytest.mark.parametrize("content, message", [
    ("[" * 200_000 + "]" * 200_000, "nested too deeply"),
    ("x" * 100_000, "does not start with '['"),
    (json.dumps([_sample("c1"), _sample("c1")]), "'c1' appears more than once"),
])
def test_corrupt_files_name_the_file(tmp_path, content, message):
    path = tmp_path / "locomo.json"
    path.write_text(content)
    with pytest.raises(DataError, match=re.escape(message)) as caught:
        load_locomo(path)
    assert str(path) in str(caught.value)


def test_a_directory_is_a_clear_data_error(tmp_path):
    with pytest.raises(DataError, match="cannot read") as caught:
        load_locomo(tmp_path)
    assert str(tmp_path) in str(caught.value)


def test_a_valid_file_still_loads(tmp_path):
    path = tmp_path / "locomo.json"
    path.write_text("\ufeff" + json.dumps([_sample("c1"), _sample("c2")]), encoding="utf-8")
    conversations, _ = load_locomo(path)
    assert [c.conversation_id for c in conversations] == ["c1", "c2"]


def test_a_huge_file_is_refused_by_its_size_before_it_is_read(tmp_path, monkeypatch):
    import memenv.data.locomo as locomo

    path = tmp_path / "huge.json"
    with path.open("wb") as handle:  # a sparse 200 MB file that starts like a LoCoMo list
        handle.write(b"[" + b" " * 10)
        handle.truncate(200 * 2**20)
    opened = []
    monkeypatch.setattr(locomo, "open", lambda *a, **k: opened.append(a) or open(*a, **k), raising=False)
    with pytest.raises(locomo.DataError, match="200 MB is over the 64 MB limit.*MEMR2_LOCOMO_MAX_BYTES"):
        locomo.load_locomo(path)
    assert not opened  # refused from its size alone
