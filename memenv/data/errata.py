"""Errata overlays for LoCoMo: corrected gold answers and evidence ids, applied on load (``errata="audit-v1"``).

An overlay is a versioned JSON file in ``memenv/data/locomo/`` (``errata-<name>.json``), validated by
:class:`Errata`. ``audit-v1`` transcribes the independent audit ``dial481/locomo-audit`` (CC BY-NC 4.0; see
``memenv/data/locomo/README.md``): 99 score-corrupting errors get the audit's ``correct_answer`` as their gold
(and its evidence ids where they differ), 57 citation-only errors keep their gold and get the audit's evidence ids
(so evidence recall and M-Fail count the right turns). The audit's corrected answers are its own text, verbatim;
some are explanatory sentences rather than short answers (``Correction.answer``).

An overlay applies only to the data it was built from: it names the sha256 of every conversation it corrects
(:func:`conversation_sha256`, the canonical JSON of the file's sample object), and a file holding any other or
any modified conversation is refused with :class:`ErrataError`. The official ``locomo10.json`` and the embedded
dev subset (3 of its conversations, byte for byte) both match; nothing else does.

>>> errata = load_errata("audit-v1")
>>> errata.name, len(errata.corrections), errata.data_sha256[:12]
('audit-v1', 156, '79fa87e90f04')
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from memenv.data.schema import QA, Conversation, DataError

ERRATA_DIR = Path(__file__).with_name("locomo")
ERRATA_NAMES = ("audit-v1",)
"""The packaged overlays (``memenv/data/locomo/errata-<name>.json``)."""


class ErrataError(DataError):
    """An overlay does not apply to the data it was asked to correct (another file, a modified conversation)."""


class Correction(BaseModel):
    """One corrected question, keyed by its conversation and its 0-based index in the file's ``qa`` list."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source_id: str = Field(description="the audit's question id, e.g. locomo_0_qa1 (for its reasoning)")
    conversation: str = Field(description="the sample_id, e.g. conv-26")
    index: int = Field(ge=0, description="0-based position in the sample's qa list")
    category: int = Field(ge=1, le=5, description="LoCoMo JSON category id")
    error_type: str
    question: str
    old_answer: str = Field(description="the file's gold answer (str, stripped), checked before correcting")
    answer: str | None = Field(None, description="the corrected gold; None keeps the file's (citation-only)")
    old_evidence: list[str] = Field(description="the file's evidence field, as written there")
    evidence: list[str] | None = Field(None, description="the corrected evidence dia_ids; None keeps the file's")

    @model_validator(mode="after")
    def _changes_something(self) -> "Correction":
        if self.answer is None and self.evidence is None:
            raise ValueError(f"correction {self.source_id} changes neither the answer nor the evidence")
        return self


class Errata(BaseModel):
    """A versioned overlay: where it comes from, the data it applies to, and its corrections."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str
    license: str
    attribution: str
    source: dict[str, str] = Field(description="repository, commit, file and the file's sha256 it was built from")
    data_sha256: str = Field(description="sha256 of the locomo10.json the overlay was built against")
    conversations: dict[str, str] = Field(description="sample_id -> conversation_sha256 of every sample it covers")
    corrections: list[Correction]

    @model_validator(mode="after")
    def _consistent(self) -> "Errata":
        seen: set[tuple[str, int]] = set()
        for c in self.corrections:
            if c.conversation not in self.conversations:
                raise ValueError(f"correction {c.source_id} names conversation {c.conversation!r}, "
                                 "which is not in conversations")
            if (c.conversation, c.index) in seen:
                raise ValueError(f"two corrections for {c.conversation} qa[{c.index}]")
            seen.add((c.conversation, c.index))
        return self


class QuestionChange(BaseModel):
    """One field of one question that an overlay changed."""

    conversation: str
    index: int
    category: str
    field: str = Field(description="'answer' or 'evidence'")
    old: Any
    new: Any


class ErrataReport(BaseModel):
    """What applying an overlay changed: the overlay's name and sha256 and every changed (question, field)."""

    name: str
    sha256: str = Field(description="sha256 of the overlay file")
    golds_changed: int = 0
    evidence_changed: int = 0
    changes: list[QuestionChange] = Field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The fields a run result records (no per-question list)."""
        return self.model_dump(exclude={"changes"})


def conversation_sha256(sample: Any) -> str:
    """sha256 of a sample object's canonical JSON (sorted keys, no spaces, UTF-8): independent of the file's
    formatting and of the other samples in it.

    >>> conversation_sha256({"b": 1, "a": "é"}) == conversation_sha256(json.loads('{ "a":"\\\\u00e9", "b":1 }'))
    True
    """
    text = json.dumps(sample, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def errata_path(name: str) -> Path:
    """The packaged overlay file of ``name``."""
    if name not in ERRATA_NAMES:
        raise ValueError(f"unknown errata {name!r}; choose one of {list(ERRATA_NAMES)} (or None for the file as is)")
    return ERRATA_DIR / f"errata-{name}.json"


def load_errata(name: str) -> Errata:
    """The packaged overlay ``name``, validated."""
    return Errata.model_validate_json(errata_path(name).read_bytes())


def resolve_errata(errata: str | Errata) -> tuple[Errata, str]:
    """The overlay and its sha256: a packaged name (the sha256 of its file, what a result records) or an
    :class:`Errata` (the sha256 of its JSON)."""
    if isinstance(errata, Errata):
        return errata, hashlib.sha256(errata.model_dump_json().encode("utf-8")).hexdigest()
    data = errata_path(errata).read_bytes()
    return Errata.model_validate_json(data), hashlib.sha256(data).hexdigest()


def check_applies(errata: Errata, hashes: dict[str, str], path: str) -> None:
    """Refuse (:class:`ErrataError`) unless every sample of the file is one the overlay names, unmodified."""
    for sample_id, digest in hashes.items():
        expected = errata.conversations.get(sample_id)
        if expected is None:
            raise ErrataError(
                f"{path}: errata {errata.name} does not name conversation {sample_id!r}; it applies only to the "
                f"official locomo10.json (sha256 {errata.data_sha256[:12]}...) and subsets of its conversations. "
                "Load this file without errata"
            )
        if digest != expected:
            raise ErrataError(
                f"{path}: conversation {sample_id!r} differs from the one errata {errata.name} was built for "
                f"(canonical sha256 {digest[:12]}... vs {expected[:12]}...); use the official locomo10.json "
                "(`memr2 data locomo`) or load without errata"
            )


def apply_errata(
    conversations: Sequence[Conversation], hashes: dict[str, str], errata: Errata, *, path: str = "<data>",
    sha256: str = "",
) -> tuple[tuple[Conversation, ...], ErrataReport]:
    """The conversations with the overlay's corrections, and what changed.

    ``hashes`` maps each sample_id to its :func:`conversation_sha256` (``LoadReport.conversation_sha256``);
    questions are matched by ``QA.meta["index"]`` (their position in the file). A changed evidence list moves the
    question to the session of its latest evidence turn, as the loader does.

    Raises:
        ErrataError: the file holds a conversation the overlay does not name or a modified one, or a corrected
            question's text / gold differs from the overlay's record of it.
    """
    check_applies(errata, hashes, path)
    by_key = {(c.conversation, c.index): c for c in errata.corrections}
    report = ErrataReport(name=errata.name, sha256=sha256)
    fixed = []
    for conversation in conversations:
        session_of = {t.dia_id: s.index for s in conversation.sessions for t in s.turns}
        questions = []
        for qa in conversation.questions:
            correction = by_key.get((conversation.conversation_id, qa.meta.get("index", -1)))
            if correction is not None:
                qa = _corrected(qa, correction, session_of, len(conversation.sessions), report, path)
            questions.append(qa)
        fixed.append(conversation.model_copy(update={"questions": tuple(questions)}))
    return tuple(fixed), report


def _corrected(
    qa: QA, c: Correction, session_of: dict[str, int], sessions: int, report: ErrataReport, path: str
) -> QA:
    if qa.question != c.question.strip() or qa.answer != c.old_answer:
        raise ErrataError(f"{path}: {c.conversation} qa[{c.index}] is {qa.question!r} / {qa.answer!r}, but errata "
                          f"{report.name} corrects {c.question!r} / {c.old_answer!r}")
    update: dict[str, Any] = {}
    if c.answer is not None and c.answer != qa.answer:
        update["answer"] = c.answer
        report.golds_changed += 1
        report.changes.append(QuestionChange(conversation=c.conversation, index=c.index, category=qa.category,
                                             field="answer", old=qa.answer, new=c.answer))
    if c.evidence is not None and tuple(c.evidence) != qa.evidence:
        unknown = [e for e in c.evidence if e not in session_of]
        if unknown:
            raise ErrataError(f"{path}: errata {report.name} cites {unknown} for {c.conversation} qa[{c.index}], "
                              "which are not turns of the conversation")
        update["evidence"] = tuple(c.evidence)
        update["session"] = max((session_of[e] for e in c.evidence), default=sessions)
        report.evidence_changed += 1
        report.changes.append(QuestionChange(conversation=c.conversation, index=c.index, category=qa.category,
                                             field="evidence", old=list(qa.evidence), new=list(c.evidence)))
    return qa.model_copy(update=update) if update else qa


CITATION_ONLY = "WRONG_CITATION"


def build_audit_errata(
    errors: list[dict[str, Any]], samples: list[dict[str, Any]], *, commit: str, errors_sha256: str,
    data_sha256: str, name: str = "audit-v1",
) -> Errata:
    """The overlay of the locomo-audit's ``errors.json`` (``errors``) against ``locomo10.json`` (``samples``).

    Each error's ``question_id`` ``locomo_<sample position>_qa<qa index>`` (both 0-based) names the question;
    its text, category, gold and cited evidence must match the file. ``WRONG_CITATION`` errors (citation-only in
    the audit) keep the file's gold and correct the evidence; every other error type replaces the gold with the
    audit's ``correct_answer`` and the evidence with ``correct_evidence`` where it differs.
    """
    corrections = []
    for error in errors:
        _, position, qa_index = error["question_id"].replace("_qa", "_").split("_")
        sample = samples[int(position)]
        item = sample["qa"][int(qa_index)]
        old_answer = "" if item.get("answer") is None else str(item["answer"]).strip()
        if (item["question"], item["category"], item.get("evidence")) != (
                error["question"], error["category"], error["cited_evidence"]) or old_answer != str(
                error["golden_answer"]).strip():
            raise ValueError(f"audit error {error['question_id']} does not match {sample['sample_id']} qa[{qa_index}]")
        citation_only = error["error_type"] == CITATION_ONLY
        new_evidence = list(error["correct_evidence"])
        corrections.append(Correction(
            source_id=error["question_id"], conversation=sample["sample_id"], index=int(qa_index),
            category=item["category"], error_type=error["error_type"], question=item["question"],
            old_answer=old_answer, answer=None if citation_only else str(error["correct_answer"]).strip(),
            old_evidence=list(error["cited_evidence"]),
            evidence=None if new_evidence == list(error["cited_evidence"]) else new_evidence,
        ))
    return Errata(
        name=name,
        description="Corrections of the LoCoMo audit dial481/locomo-audit (errors.json): score-corrupting errors "
        "get the audit's correct_answer as gold (verbatim) and its evidence where it differs; citation-only errors "
        "(WRONG_CITATION) keep the gold and get the audit's evidence ids.",
        license="CC BY-NC 4.0",
        attribution="LoCoMo audit by dial481 (https://github.com/dial481/locomo-audit), CC BY-NC 4.0, on LoCoMo by "
        "Maharana, Lee, Tulyakov, Bansal, Barbieri and Fang (ACL 2024), CC BY-NC 4.0.",
        source={"repository": "https://github.com/dial481/locomo-audit", "commit": commit, "file": "errors.json",
                "file_sha256": errors_sha256},
        data_sha256=data_sha256,
        conversations={s["sample_id"]: conversation_sha256(s) for s in samples},
        corrections=corrections,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m memenv.data.errata ERRORS_JSON LOCOMO10_JSON COMMIT OUT``: rebuild an audit overlay file."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("errors", help="errors.json of dial481/locomo-audit")
    parser.add_argument("locomo", help="the official locomo10.json")
    parser.add_argument("commit", help="the locomo-audit commit errors.json was taken from")
    parser.add_argument("out", help="overlay file to write, e.g. memenv/data/locomo/errata-audit-v1.json")
    args = parser.parse_args(argv)
    errors_bytes, data_bytes = Path(args.errors).read_bytes(), Path(args.locomo).read_bytes()
    errata = build_audit_errata(
        json.loads(errors_bytes), json.loads(data_bytes), commit=args.commit,
        errors_sha256=hashlib.sha256(errors_bytes).hexdigest(), data_sha256=hashlib.sha256(data_bytes).hexdigest(),
    )
    Path(args.out).write_text(errata.model_dump_json(indent=1, exclude_none=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: {len(errata.corrections)} corrections")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
