"""Synthetic-v0's procedural world: people whose attributes are introduced, updated and retracted over sessions.

Two speakers chat about people they know ("My cousin Maya just moved to Lisbon!"), mixed with chit-chat. Each
fact turn names one entity and states one attribute value; the world keeps the gold record of every change in
``Conversation.meta["facts"]`` (entity, attribute, value, kind ``introduce | update | retract``, dia_id, ...).

Canonical texts, shared by the Oracle and the rule scorer (:mod:`memenv.scoring.rule`):

* a fact: ``"<Entity>'s <attribute> is <value>."`` (``value`` is ``"none"`` after a retraction);
* an ideal memory after a change: that sentence plus ``" <Entity>'s previous <attribute> was <old>."``.

Questions (``QA.category``): ``current`` (the latest value), ``retracted`` (answer ``"none"``) and ``history``
(the value before the latest one). ``QA.meta`` holds ``entity``, ``attribute``, ``keywords`` and ``values``
(the key's values in order), which is all the rule scorer needs. The generator is pure: same config and seed,
same conversation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from memenv.data.schema import QA, Conversation, Session, Turn

NONE = "none"
CATEGORY_IDS = {"current": 1, "history": 2, "retracted": 3}


@dataclass(frozen=True)
class Attribute:
    """One kind of fact about a person, with the phrasings used to state, change and ask about it."""

    name: str
    keyword: str
    values: tuple[str, ...]
    introduce: tuple[str, ...]
    update: tuple[str, ...]
    retract: tuple[str, ...]
    question: str
    cues: tuple[str, ...] = ()  # words a reader links to the attribute (its templates' verbs and nouns)


# Templates: ``{e}`` is the person, ``{v}`` the value, ``{a}`` "a"/"an". Fact turns never use the rule scorer's
# past markers (previous, before, anymore, ...) except retractions, which name no value (tests check this).
ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("city", "city", ("Lisbon", "Porto", "Oslo", "Nairobi", "Montreal", "Kyoto", "Denver", "Seville",
              "Krakow", "Auckland", "Dublin", "Tucson"),
              ("{e} lives in {v} these days.", "{e} is living in {v} now, in a tiny flat.", "{e} settled in {v}."),
              ("{e} just moved to {v}!", "{e} packed everything up and relocated to {v}.",
               "{e} has a new address in {v}."),
              (), "Which city does {e} live in?",
              cues=('city', 'lives', 'living', 'settled', 'moved', 'relocated', 'address', 'flat')),
    Attribute("job", "job", ("nurse", "architect", "baker", "pilot", "librarian", "electrician", "dentist",
              "florist", "journalist", "carpenter", "pharmacist", "translator"),
              ("{e} works as {a} {v}.", "{e} has a steady job as {a} {v}."),
              ("{e} switched careers and is {a} {v} now.", "{e} just started working as {a} {v}."),
              ("{e} doesn't have a job anymore.", "{e} quit and has no job anymore, just resting."),
              "What is {e}'s job?",
              cues=('job', 'works', 'working', 'careers', 'started', 'quit')),
    Attribute("car", "car", ("Toyota", "Volvo", "Subaru", "Fiat", "Tesla", "Honda", "Mazda", "Skoda", "Peugeot",
              "Jeep", "Kia", "Renault"),
              ("{e} drives {a} {v}.", "{e} got {a} {v} and drives it everywhere."),
              ("{e} now drives {a} {v}.", "{e} bought {a} {v} this month."),
              ("{e} sold the car and doesn't have a car anymore.", "{e} no longer owns a car, bikes everywhere."),
              "What car does {e} drive?",
              cues=('car', 'drives', 'bought', 'sold', 'owns')),
    Attribute("pet", "pet", ("beagle", "parrot", "hamster", "tortoise", "goldfish", "ferret", "rabbit", "iguana",
              "dachshund", "cockatiel", "chinchilla", "greyhound"),
              ("{e} has {a} {v} as a pet.", "{e} adopted {a} {v}."),
              ("{e} has a new pet, {a} {v}.", "{e} just brought home {a} {v}."),
              ("{e} doesn't have a pet anymore.", "{e} has no pet anymore, the house is quiet."),
              "What pet does {e} have?",
              cues=('pet', 'adopted', 'brought', 'home')),
    Attribute("hobby", "hobby", ("pottery", "chess", "kayaking", "birdwatching", "fencing", "archery", "knitting",
              "surfing", "calligraphy", "bouldering", "origami", "beekeeping"),
              ("{e} is really into {v}.", "{e} spends every weekend on {v}."),
              ("{e} picked up {v} as a new hobby.", "{e} is obsessed with {v} now."),
              ("{e} doesn't have a hobby anymore.", "{e} has no time for a hobby anymore."),
              "What is {e}'s hobby?",
              cues=('hobby', 'into', 'weekend', 'picked', 'obsessed')),
    Attribute("instrument", "instrument", ("cello", "banjo", "ukulele", "trumpet", "harp", "oboe", "accordion",
              "saxophone", "violin", "drums", "flute", "clarinet"),
              ("{e} plays the {v}.", "{e} is learning the {v}."),
              ("{e} switched to the {v}.", "{e} took up the {v} and loves it."),
              ("{e} doesn't play an instrument anymore.",),
              "Which instrument does {e} play?",
              cues=('instrument', 'plays', 'learning', 'switched', 'took')),
    Attribute("favorite food", "food", ("ramen", "paella", "pierogi", "tacos", "falafel", "lasagna", "pho",
              "risotto", "biryani", "goulash", "ceviche", "dumplings"),
              ("{e} loves {v} more than any other food.", "{e} says {v} is the best food ever."),
              ("{e} has a new favorite food: {v}.", "{e} can't stop eating {v}, a new favorite food."),
              (), "What is {e}'s favorite food?",
              cues=('food', 'loves', 'eating', 'favorite', 'best')),
)
ATTRIBUTE_BY_NAME = {a.name: a for a in ATTRIBUTES}

PEOPLE = ("Maya", "Omar", "Priya", "Lena", "Tomas", "Ingrid", "Kofi", "Rosa", "Yuki", "Dmitri", "Nadia", "Felix",
          "Aisha", "Mateo", "Hana", "Bruno")
SPEAKERS = ("Jordan", "Sam", "Riley", "Casey", "Morgan", "Avery", "Quinn", "Drew")
RELATIONS = ("cousin", "neighbour", "coworker", "old roommate", "friend from college", "gym buddy", "bandmate")
OPENERS = ("", "Oh, ", "By the way, ", "Guess what, ", "So, ", "Fun update: ")
REPLIES = ("No way, really?", "That's great to hear!", "Huh, I had no idea.", "Good for them, honestly.",
           "Wow, that's a big change.", "Oh nice, thanks for telling me.", "Interesting, how is that going?",
           "Ha, that sounds about right.")
CHITCHAT = ("Did you watch the match on Sunday?", "I finally fixed the leaky kitchen tap.",
            "The weather has been so grey all week.", "I'm reading a great mystery novel right now.",
            "Work has been hectic, so many meetings.", "I tried a new coffee place downtown.",
            "My phone battery keeps dying on me.", "We should plan a picnic when it's sunny.",
            "I've been going to bed way too late.", "Have you seen any good films lately?",
            "The traffic this morning was unbelievable.", "I repainted the hallway a pale green.",
            "My plants are finally growing again.", "I signed up for a half marathon, wish me luck.",
            "The new season of that baking show is out.", "I can't believe how fast this month went.",
            "I made soup from scratch yesterday.", "Our internet was down for two days.",
            "Honestly I just need a long nap.", "Let's catch up properly next weekend.")


class SyntheticConfig(BaseModel):
    """The world's knobs (validated at the boundary)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_sessions: int = Field(8, ge=1, le=64, description="sessions per conversation (the horizon: 8 / 16 / 32)")
    facts_per_session: int = Field(4, ge=1, le=12, description="attribute changes told per session")
    update_rate: float = Field(0.3, ge=0.0, le=1.0, description="probability a change updates a known value")
    retract_rate: float = Field(0.1, ge=0.0, le=1.0, description="probability a change retracts a known value")
    distractor_rate: float = Field(0.5, ge=0.0, lt=1.0, description="fraction of turns that are chit-chat")
    num_entities: int = Field(8, ge=1, le=len(PEOPLE), description="people the speakers talk about")
    num_attributes: int = Field(
        len(ATTRIBUTES), ge=1, le=len(ATTRIBUTES), description="attributes per person (the first n of ATTRIBUTES)"
    )
    question_evidence: Literal["latest", "chain"] = Field(
        "latest",
        description="a question's evidence: the turns of its key's latest change ('latest', v0) or of every "
        "change of its key ('chain', v1: a stale value left anywhere in the key's history breaks the answer)",
    )

    @model_validator(mode="after")
    def _rates(self) -> "SyntheticConfig":
        if self.update_rate + self.retract_rate > 1.0:
            raise ValueError("update_rate + retract_rate must be <= 1 (the rest are introductions)")
        return self


def canonical_fact(entity: str, attribute: str, value: str) -> str:
    """``"Maya's city is Lisbon."``"""
    return f"{entity}'s {attribute} is {value}."


def ideal_content(entity: str, attribute: str, value: str, previous: str | None = None) -> str:
    """The memory an ideal manager keeps for a key: its value and, after a change, the one before it."""
    text = canonical_fact(entity, attribute, value)
    return f"{text} {entity}'s previous {attribute} was {previous}." if previous else text


def _article(word: str) -> str:
    return "an" if word[0].lower() in "aeiou" else "a"


def _pick(rng: np.random.Generator, items: list | tuple) -> Any:
    return items[int(rng.integers(len(items)))]


def _date_text(moment: dt.datetime) -> str:
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d} {'am' if moment.hour < 12 else 'pm'} on {moment.day} {moment:%B}, {moment.year}"


def _choose_change(rng, cfg, chains, keys, touched) -> tuple[str, tuple[str, str]] | None:
    """(kind, key) of the next change, or None when the world has nothing left to change."""
    live = [k for k in keys if k in chains and chains[k][-1]["value"] != NONE and k not in touched]
    updatable = [k for k in live if len(ATTRIBUTE_BY_NAME[k[1]].values) > len(chains[k])]
    retractable = [k for k in live if ATTRIBUTE_BY_NAME[k[1]].retract]
    fresh = [k for k in keys if k not in chains and k not in touched]
    draw = rng.random()
    if draw < cfg.retract_rate and retractable:
        return "retract", _pick(rng, retractable)
    if draw < cfg.retract_rate + cfg.update_rate and updatable:
        return "update", _pick(rng, updatable)
    if fresh:
        return "introduce", _pick(rng, fresh)
    return ("update", _pick(rng, updatable)) if updatable else None


def generate(config: SyntheticConfig | None = None, seed: int | np.random.Generator = 0, **knobs: Any) -> Conversation:
    """A conversation of ``config.max_sessions`` sessions with its questions; pure given ``config`` and ``seed``.

    ``seed`` is an int or a generator (one int is drawn from it); ``knobs`` are :class:`SyntheticConfig` fields.

    >>> conv = generate(seed=3, max_sessions=2, facts_per_session=2)
    >>> len(conv.sessions), conv.questions[0].category, conv.meta["facts"][0]["kind"]
    (2, 'current', 'introduce')
    """
    cfg = config if config is not None else SyntheticConfig(**knobs)
    if isinstance(seed, np.random.Generator):
        seed = int(seed.integers(2**31))
    rng = np.random.default_rng(seed)
    speakers = tuple(str(s) for s in rng.choice(SPEAKERS, size=2, replace=False))
    people = [str(p) for p in rng.choice(PEOPLE, size=cfg.num_entities, replace=False)]
    relation = {p: (_pick(rng, RELATIONS), speakers[int(rng.integers(2))]) for p in people}
    keys = [(p, a.name) for p in people for a in ATTRIBUTES[: cfg.num_attributes]]
    chains: dict[tuple[str, str], list[dict[str, Any]]] = {}
    facts: list[dict[str, Any]] = []
    moment = dt.datetime(2022, 1, 3, 9, 0) + dt.timedelta(days=int(rng.integers(0, 600)))
    sessions = []
    for index in range(1, cfg.max_sessions + 1):
        moment += dt.timedelta(days=int(rng.integers(2, 15)), minutes=int(rng.integers(0, 600)))
        touched: set[tuple[str, str]] = set()
        changes = []
        for _ in range(cfg.facts_per_session):
            change = _choose_change(rng, cfg, chains, keys, touched)
            if change is None:
                break
            touched.add(change[1])
            changes.append(change)
        n_chat = int(round(2 * len(changes) * cfg.distractor_rate / (1.0 - cfg.distractor_rate)))
        slots = ["fact"] * len(changes) + ["chat"] * n_chat
        order = rng.permutation(len(slots))
        speaker_at = int(rng.integers(2))
        turns: list[Turn] = []
        pending = iter(changes)

        def say(text: str) -> str:
            nonlocal speaker_at
            dia_id = f"D{index}:{len(turns) + 1}"
            turns.append(Turn(speaker=speakers[speaker_at], dia_id=dia_id, text=text))
            speaker_at = 1 - speaker_at
            return dia_id

        for slot in (slots[i] for i in order):
            if slot == "chat":
                say(_pick(rng, CHITCHAT))
                continue
            kind, (person, attr_name) = next(pending)
            attr = ATTRIBUTE_BY_NAME[attr_name]
            chain = chains.setdefault((person, attr_name), [])
            used = {c["value"] for c in chain}
            value = NONE if kind == "retract" else _pick(rng, [v for v in attr.values if v not in used])
            rel, owner = relation[person]
            who = f"{'my' if owner == speakers[speaker_at] else 'your'} {rel} {person}"
            template = _pick(rng, {"introduce": attr.introduce, "update": attr.update, "retract": attr.retract}[kind])
            sentence = template.format(e=who, v=value, a=_article(value))
            opener = _pick(rng, OPENERS)
            teller = speakers[speaker_at]
            dia_id = say(opener + sentence if opener else sentence[0].upper() + sentence[1:])
            say(_pick(rng, REPLIES))
            fact = {"entity": person, "attribute": attr_name, "value": value, "kind": kind, "dia_id": dia_id,
                    "session": index, "speaker": teller, "previous": chain[-1]["value"] if chain else None,
                    "fact": canonical_fact(person, attr_name, value)}
            chain.append(fact)
            facts.append(fact)
        sessions.append(Session(index=index, date_time=_date_text(moment), turns=tuple(turns)))
    return Conversation(
        conversation_id=f"synthetic-{seed}",
        speakers=speakers,
        sessions=tuple(sessions),
        questions=tuple(_questions(chains, cfg.question_evidence)),
        meta={"generator": "synthetic-v0", "config": cfg.model_dump(), "facts": facts},
    )


def _questions(chains: dict[tuple[str, str], list[dict[str, Any]]], evidence: str = "latest") -> Iterable[QA]:
    """Per key, in order of first mention: its current (or retracted) value, and the value before the latest.

    ``evidence="chain"`` makes every change of the key evidence of both questions (see ``question_evidence``).
    """
    for (person, attr_name), chain in sorted(chains.items(), key=lambda kv: _position(kv[1][0])):
        attr = ATTRIBUTE_BY_NAME[attr_name]
        last = chain[-1]
        meta = {"entity": person, "attribute": attr_name, "keywords": [attr.keyword],
                "values": [c["value"] for c in chain], "cues": list(attr.cues)}
        whole = tuple(c["dia_id"] for c in chain)
        category = "retracted" if last["value"] == NONE else "current"
        yield QA(question=attr.question.format(e=person), answer=last["value"], category=category,
                 category_id=CATEGORY_IDS[category], evidence=whole if evidence == "chain" else (last["dia_id"],),
                 session=last["session"], meta={**meta, "kind": category})
        if len(chain) >= 2:
            before = chain[-2]
            question = (f"What was {person}'s {attr_name} before {last['value']}?" if last["value"] != NONE
                        else f"What was the last {attr_name} {person} had?")
            yield QA(question=question, answer=before["value"], category="history",
                     category_id=CATEGORY_IDS["history"],
                     evidence=whole if evidence == "chain" else (before["dia_id"], last["dia_id"]),
                     session=last["session"], meta={**meta, "kind": "history", "pivot": last["value"]})


def _position(fact: dict[str, Any]) -> tuple[int, int]:
    """Sort key of a gold fact: (session, turn)."""
    session, turn = fact["dia_id"][1:].split(":")
    return int(session), int(turn)


def ideal_operations(facts: Iterable[dict[str, Any]], entries: Iterable[Any]) -> list[dict[str, Any]]:
    """The operations an ideal manager emits for gold ``facts`` against a bank's ``entries`` (JSON op dicts).

    One memory per (entity, attribute), found by its canonical prefix: ADD when the bank has none, else UPDATE
    it to the new value, keeping the value before it.
    """
    holder = {}
    for entry in entries:
        for fact_key in _canonical_prefixes(entry.content):
            holder.setdefault(fact_key, entry.memory_id)
    operations: list[dict[str, Any]] = []
    for fact in facts:
        content = ideal_content(fact["entity"], fact["attribute"], fact["value"], fact["previous"])
        memory_id = holder.get((fact["entity"], fact["attribute"]))
        if memory_id is None:
            operations.append({"op": "ADD", "content": content, "speaker": fact["speaker"],
                               "dia_ids": [fact["dia_id"]]})
        else:
            operations.append({"op": "UPDATE", "memory_id": memory_id, "content": content,
                               "dia_ids": [fact["dia_id"]]})
    return operations or [{"op": "NOOP"}]


def _canonical_prefixes(content: str) -> Iterable[tuple[str, str]]:
    for attr in ATTRIBUTES:
        marker = f"'s {attr.name} is "
        if marker in content:
            yield content.split(marker, 1)[0].rsplit(" ", 1)[-1], attr.name
