"""Loader for the official LoCoMo file (``locomo10.json``, Maharana et al., ACL 2024) and its embedded dev subset.

The file is irregular; ``PROTOCOL.md``'s checklist is handled point by point:

1. sessions are the ``session_<N>`` keys, sorted numerically; a ``session_<N>_date_time`` without its session
   is ignored (counted); dates parse with ``%I:%M %p on %d %B, %Y`` (unparseable dates are kept and counted);
2. ``answer`` may be an int or carry whitespace (stringified, stripped); category 5 may lack it;
3. malformed evidence (ids joined by ``;``/``,``/spaces, stray characters, zero padding, ids past the end of a
   session) is split, validated against the conversation's turns, normalised, kept when valid and counted;
4. image turns: the ``blip_caption`` is appended to the text as something the speaker shared;
5. observation evidence may be a string, a list or a comma-joined string;
6. duplicate questions are kept by default (``dedupe=True`` drops repeats of the same question and answer);
7. speakers are only meaningful inside their sample, so every conversation keeps its ``sample_id``;
8. unknown keys are ignored; a missing required field, a wrong type (e.g. a ``session_<N>`` that is not a
   list, a non-string turn text) or bad JSON raises :class:`DataError` naming the file, the sample and the field.

Each question is attached to the session of its latest valid evidence turn (the last session if it has none).

``errata="audit-v1"`` applies an errata overlay (:mod:`memenv.data.errata`) after loading: corrected gold answers
and evidence ids from the LoCoMo audit, only on the official file or the dev subset (any other file is refused);
``report.errata`` lists every (conversation, question index, field, old, new) it changed.

>>> conversations, report = load_locomo()
>>> len(conversations), report.questions
(3, 497)
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from memenv.data.errata import Errata, ErrataReport, apply_errata, conversation_sha256, resolve_errata
from memenv.data.schema import QA, Conversation, DataError, Session, Turn

DEV_PATH = Path(__file__).with_name("locomo") / "locomo_dev.json"
"""The embedded 3-conversation dev subset (CC BY-NC 4.0; see the README beside it)."""

ENV_VAR = "MEMR2_LOCOMO_PATH"
CATEGORY_NAMES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
DATE_FORMAT = "%I:%M %p on %d %B, %Y"

_SESSION_KEY = re.compile(r"session_(\d+)")
_DATE_KEY = re.compile(r"session_(\d+)_date_time")
_DIA_ID = re.compile(r"D:?0*(\d+):0*(\d+)", re.IGNORECASE)  # tolerates "d1:3", "D:11:26", "D30:05"
_EVIDENCE_SPLIT = re.compile(r"[;,\s]+")
_STRAY = re.compile(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$")


class LoadReport(BaseModel):
    """What a load found and tolerated; the counts are over all samples of the file."""

    path: str
    samples: int = 0
    sessions: int = 0
    turns: int = 0
    questions: int = 0
    per_category: dict[str, int] = Field(default_factory=dict)
    orphan_date_times: int = Field(0, description="session_<N>_date_time keys without a session_<N>")
    unparsed_dates: int = 0
    image_captions: int = 0
    int_answers: int = 0
    missing_answers: int = Field(0, description="adversarial items without an 'answer' field")
    repaired_evidence: int = Field(0, description="evidence strings that needed splitting or cleaning")
    dropped_evidence: int = Field(0, description="evidence ids that are malformed or point to no turn")
    questions_without_evidence: int = 0
    duplicate_questions: int = 0
    dropped_duplicates: int = 0
    notes: list[str] = Field(default_factory=list, description="one line per tolerated problem (first 50)")
    conversation_sha256: dict[str, str] = Field(
        default_factory=dict, description="sample_id -> sha256 of the sample's canonical JSON (what errata check)")
    errata: ErrataReport | None = Field(None, description="the overlay applied on load and what it changed")

    def note(self, message: str) -> None:
        """Record one tolerated problem (only the first 50 are kept)."""
        if len(self.notes) < 50:
            self.notes.append(message)


class _RawTurn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    speaker: str
    dia_id: str
    text: str
    blip_caption: str | None = None


class _RawQA(BaseModel):
    model_config = ConfigDict(extra="ignore")

    question: str
    answer: str | int | float | None = None
    adversarial_answer: str | int | float | None = None
    evidence: list[Any] | str = Field(default_factory=list)
    category: int


class _RawSample(BaseModel):
    model_config = ConfigDict(extra="ignore")

    sample_id: str
    conversation: dict[str, Any]
    qa: list[dict[str, Any]]
    observation: dict[str, Any] | None = None


MAX_BYTES_VAR = "MEMR2_LOCOMO_MAX_BYTES"
MAX_FILE_BYTES = int(os.environ.get(MAX_BYTES_VAR, 64 * 2**20))


def default_path(data_path: str | os.PathLike[str] | None = None) -> Path:
    """``data_path`` if given, else ``$MEMR2_LOCOMO_PATH`` if set, else the embedded dev subset."""
    chosen = data_path or os.environ.get(ENV_VAR) or DEV_PATH
    return Path(chosen).expanduser()


def load_locomo(
    data_path: str | os.PathLike[str] | None = None, *, dedupe: bool = False, errata: str | Errata | None = None
) -> tuple[tuple[Conversation, ...], LoadReport]:
    """Load a LoCoMo-format file into :class:`Conversation` s plus a :class:`LoadReport`.

    Args:
        data_path: the file; defaults to ``$MEMR2_LOCOMO_PATH`` or the embedded dev subset.
        dedupe: drop repeated questions with the same text and answer (default keeps them, as published counts do).
        errata: an errata overlay applied after loading: ``"audit-v1"`` (the LoCoMo audit's corrected golds and
            evidence, :mod:`memenv.data.errata`) or an :class:`~memenv.data.errata.Errata`; None loads the file as
            is. ``report.errata`` lists what it changed.

    Raises:
        DataError: bad JSON, a missing required field or a wrong type (the message names file, sample and field),
            or a file over ``MAX_FILE_BYTES`` (64 MB unless ``$MEMR2_LOCOMO_MAX_BYTES`` says otherwise).
        ErrataError: ``errata`` does not apply to this file (a conversation it does not name, or a modified one).
    """
    path = default_path(data_path).resolve()
    try:
        stat = path.stat()
    except OSError as exc:
        raise DataError(f"{path}: cannot read LoCoMo file ({exc.strerror})") from exc
    if stat.st_size > MAX_FILE_BYTES:  # refused before reading: parsing holds the whole file in memory, twice
        raise DataError(
            f"{path}: {stat.st_size / 2**20:.0f} MB is over the {MAX_FILE_BYTES // 2**20} MB limit of a LoCoMo file "
            f"(the full locomo10.json is a few MB); set {MAX_BYTES_VAR} to raise the limit for a larger data set"
        )
    conversations, report = _load_cached(str(path), stat.st_mtime_ns, stat.st_size, dedupe)
    report = report.model_copy(deep=True)
    if errata is not None:
        overlay, digest = resolve_errata(errata)
        conversations, report.errata = apply_errata(
            conversations, report.conversation_sha256, overlay, path=str(path), sha256=digest)
    return conversations, report


@lru_cache(maxsize=8)
def _load_cached(path: str, _mtime_ns: int, _size: int, dedupe: bool) -> tuple[tuple[Conversation, ...], LoadReport]:
    try:
        with open(path, "rb") as file:  # look before reading it all: a huge garbage file is refused cheaply
            head = file.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
            if head and not head.startswith(b"["):
                raise DataError(f"{path}: field '<root>' must be a list of samples (the file does not start with '[')")
            text = (head + file.read()).decode("utf-8")
        raw = json.loads(text)
    except OSError as exc:  # a directory, a permission problem, ...
        raise DataError(f"{path}: cannot read LoCoMo file ({exc.strerror or exc})") from exc
    except RecursionError:
        raise DataError(f"{path}: not valid JSON (nested too deeply)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(raw, list):
        raise DataError(f"{path}: field '<root>' must be a list of samples, got {type(raw).__name__}")
    report = LoadReport(path=path)
    report.conversation_sha256 = {
        str(item.get("sample_id", f"#{i}")) if isinstance(item, dict) else f"#{i}": conversation_sha256(item)
        for i, item in enumerate(raw)
    }
    conversations = tuple(_parse_sample(path, i, item, report, dedupe) for i, item in enumerate(raw))
    seen: set[str] = set()
    for conversation in conversations:
        if conversation.conversation_id in seen:
            raise DataError(f"{path}: field 'sample_id': {conversation.conversation_id!r} appears more than once")
        seen.add(conversation.conversation_id)
    report.samples = len(conversations)
    return conversations, report


def _error(path: str, sample: str, exc: ValidationError, prefix: str = "") -> DataError:
    first = exc.errors()[0]
    field = prefix + ".".join(str(p) for p in first["loc"])
    return DataError(f"{path}: sample {sample}: field '{field}': {first['msg']}")


def _parse_sample(path: str, index: int, item: Any, report: LoadReport, dedupe: bool) -> Conversation:
    name = item.get("sample_id", f"#{index}") if isinstance(item, dict) else f"#{index}"
    try:
        sample = _RawSample.model_validate(item)
    except ValidationError as exc:
        raise _error(path, name, exc) from None
    conv = sample.conversation
    speakers = []
    for key in ("speaker_a", "speaker_b"):
        if not isinstance(conv.get(key), str):
            raise DataError(f"{path}: sample {name}: field 'conversation.{key}' is missing or not a string")
        speakers.append(conv[key])
    sessions, positions = _parse_sessions(path, name, conv, report)
    if not sessions:
        raise DataError(f"{path}: sample {name}: field 'conversation' has no session_<N> lists")
    turn_ids = {_canonical(t.dia_id) or t.dia_id: t.dia_id for s in sessions for t in s.turns}
    questions = _parse_questions(path, name, sample.qa, turn_ids, positions, len(sessions), report, dedupe)
    observations = _parse_observations(sample.observation or {}, turn_ids, positions, report, name)
    return Conversation(
        conversation_id=sample.sample_id,
        speakers=tuple(speakers),
        sessions=sessions,
        questions=questions,
        meta={"dataset": "locomo", "source": Path(path).name, "observations": observations},
    )


def _parse_sessions(
    path: str, name: str, conv: dict[str, Any], report: LoadReport
) -> tuple[tuple[Session, ...], dict[int, int]]:
    """Sessions in numeric order, indexed 1..S, and the map from the file's session number to that index."""
    numbers = sorted(int(m.group(1)) for key in conv if (m := _SESSION_KEY.fullmatch(key)))
    dated = {int(m.group(1)) for key in conv if (m := _DATE_KEY.fullmatch(key))}
    report.orphan_date_times += len(dated - set(numbers))
    sessions = []
    for position, number in enumerate(numbers, start=1):
        field = f"conversation.session_{number}"
        value = conv[f"session_{number}"]
        if not isinstance(value, list):
            kind = type(value).__name__
            raise DataError(f"{path}: sample {name}: field '{field}' must be a list of turns, got {kind}")
        turns = []
        for k, raw_turn in enumerate(value):
            try:
                turn = _RawTurn.model_validate(raw_turn)
            except ValidationError as exc:
                raise _error(path, name, exc, prefix=f"{field}[{k}].") from None
            text = turn.text.strip()
            if turn.blip_caption:
                report.image_captions += 1
                text = f"{text} [shared {turn.blip_caption.strip()}]".strip()
            turns.append(Turn(speaker=turn.speaker, dia_id=turn.dia_id, text=text))
        date_time = conv.get(f"session_{number}_date_time")
        if date_time is not None and not isinstance(date_time, str):
            raise DataError(f"{path}: sample {name}: field '{field}_date_time' must be a string")
        if date_time is not None and _parse_date(date_time) is None:
            report.unparsed_dates += 1
            report.note(f"{name}: unparsed date {date_time!r} in {field}_date_time")
        sessions.append(Session(index=position, date_time=date_time, turns=tuple(turns)))
        report.sessions += 1
        report.turns += len(turns)
    return tuple(sessions), {number: position for position, number in enumerate(numbers, start=1)}


def _parse_date(text: str) -> datetime | None:
    try:
        return datetime.strptime(text.strip(), DATE_FORMAT)
    except ValueError:
        return None


def session_datetime(session: Session) -> datetime | None:
    """The session's date parsed with LoCoMo's format, or None when absent or unparseable."""
    return _parse_date(session.date_time) if session.date_time else None


def _canonical(piece: str) -> str | None:
    match = _DIA_ID.fullmatch(piece)
    return f"D{int(match.group(1))}:{int(match.group(2))}" if match else None


def normalize_evidence(raw: Any, turn_ids: dict[str, str]) -> tuple[list[str], int, bool]:
    """Split and validate raw evidence against a conversation's turn ids.

    Returns ``(valid ids in order without repeats, number of dropped pieces, whether any cleaning was needed)``.

    >>> normalize_evidence(["D1:3; D02:1", "D9:9", "x"], {"D1:3": "D1:3", "D2:1": "D2:1"})
    (['D1:3', 'D2:1'], 2, True)
    """
    entries = raw if isinstance(raw, list) else [raw]
    valid: list[str] = []
    dropped, repaired = 0, False
    for entry in entries:
        pieces = [p for p in _EVIDENCE_SPLIT.split(str(entry)) if p]
        repaired |= not isinstance(entry, str) or len(pieces) != 1 or pieces[0] != entry
        for piece in pieces:
            cleaned = _STRAY.sub("", piece)
            canonical = _canonical(cleaned)
            repaired |= cleaned != piece or (canonical is not None and canonical != cleaned)
            if canonical is None or canonical not in turn_ids:
                dropped += 1
            elif turn_ids[canonical] not in valid:
                valid.append(turn_ids[canonical])
    return valid, dropped, repaired


def _parse_questions(
    path: str,
    name: str,
    items: list[dict[str, Any]],
    turn_ids: dict[str, str],
    positions: dict[int, int],
    num_sessions: int,
    report: LoadReport,
    dedupe: bool,
) -> tuple[QA, ...]:
    questions: list[QA] = []
    seen: set[tuple[str, str]] = set()
    for k, item in enumerate(items):
        try:
            raw = _RawQA.model_validate(item)
        except ValidationError as exc:
            raise _error(path, name, exc, prefix=f"qa[{k}].") from None
        if raw.category not in CATEGORY_NAMES:
            raise DataError(f"{path}: sample {name}: field 'qa[{k}].category' must be 1..5, got {raw.category}")
        if raw.answer is None and raw.category != 5:
            raise DataError(f"{path}: sample {name}: field 'qa[{k}].answer' is missing (category {raw.category})")
        report.int_answers += not isinstance(raw.answer, (str, type(None)))
        report.missing_answers += raw.answer is None
        answer = "" if raw.answer is None else str(raw.answer).strip()
        evidence, dropped, repaired = normalize_evidence(raw.evidence, turn_ids)
        if dropped or repaired:
            report.note(f"{name}: qa[{k}] evidence {raw.evidence!r} -> {evidence}")
        report.dropped_evidence += dropped
        report.repaired_evidence += repaired
        if not evidence:
            report.questions_without_evidence += 1
        key = (" ".join(raw.question.lower().split()), answer.lower())
        if key in seen:
            report.duplicate_questions += 1
            if dedupe:
                report.dropped_duplicates += 1
                continue
        seen.add(key)
        category = CATEGORY_NAMES[raw.category]
        report.questions += 1
        report.per_category[category] = report.per_category.get(category, 0) + 1
        questions.append(
            QA(
                question=raw.question.strip(),
                answer=answer,
                category=category,
                category_id=raw.category,
                evidence=tuple(evidence),
                session=max((_session_of(e, positions) for e in evidence), default=num_sessions),
                adversarial_answer=None if raw.adversarial_answer is None else str(raw.adversarial_answer).strip(),
                meta={"sample_id": name, "index": k},
            )
        )
    return tuple(questions)


def _session_of(dia_id: str, positions: dict[int, int]) -> int:
    """The 1-based session index holding a validated dia_id (file session numbers may have gaps)."""
    match = _DIA_ID.fullmatch(dia_id)
    number = int(match.group(1)) if match else 0
    return positions.get(number, max(positions.values()))


def _parse_observations(
    observation: dict[str, Any], turn_ids: dict[str, str], positions: dict[int, int], report: LoadReport, name: str
) -> dict[str, list[dict[str, Any]]]:
    """Per-session gold facts ``{"<session index>": [{"speaker", "fact", "dia_ids"}]}`` (string keys, so a
    conversation survives a JSON round trip unchanged) from the ``observation`` field."""
    facts: dict[str, list[dict[str, Any]]] = {}
    for key, per_speaker in observation.items():
        match = re.fullmatch(r"session_(\d+)_observation", key)
        if not match or int(match.group(1)) not in positions or not isinstance(per_speaker, dict):
            continue
        for speaker, items in per_speaker.items():
            for entry in items if isinstance(items, list) else []:
                if not isinstance(entry, list) or not entry:
                    report.note(f"{name}: {key}.{speaker}: skipped malformed observation {entry!r}")
                    continue
                ids, _, _ = normalize_evidence(entry[1] if len(entry) > 1 else [], turn_ids)
                facts.setdefault(str(positions[int(match.group(1))]), []).append(
                    {"speaker": speaker, "fact": str(entry[0]), "dia_ids": ids}
                )
    return facts


def dataset_counts(conversations: tuple[Conversation, ...]) -> dict[str, Any]:
    """Counts used to check a load against published numbers (sessions, turns, questions per category)."""
    return {
        "conversations": len(conversations),
        "sessions": sum(len(c.sessions) for c in conversations),
        "turns": sum(len(s.turns) for c in conversations for s in c.sessions),
        "questions": sum(len(c.questions) for c in conversations),
        "per_category": dict(Counter(q.category for c in conversations for q in c.questions)),
    }
