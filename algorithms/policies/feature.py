"""``FeaturePolicy``: a small torch policy over the structured view that trains on CPU in minutes.

One network with shared parameters plays both roles (a role embedding tells them apart), as Memory-R2's shared
LLM backbone does. Texts become hashed bags of unigrams and bigrams.

* **Extractor**: each turn of the chunk is a candidate fact; one decision per turn, *keep* or *drop*.
* **Manager**: one decision per fact among ``ADD``, ``NOOP``, ``UPDATE <related_j>`` and ``DELETE <related_j>``
  for the fact's first ``num_slots`` related memories. A pair scorer sees the fact and each related memory plus
  lexical-overlap features, which is what makes UPDATE / DELETE of a stale value learnable. An UPDATE writes
  the new fact and keeps the memory's current statement as one past clause (:func:`updated_content`), as an
  ideal memory does ("... is Lisbon. ... previous city was Porto."), so history questions stay answerable.

Every decision is one "token" of the policy-gradient loss.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from algorithms.policies.base import Decision, Evaluation, pad_rows
from memenv.actions import AddOp, DeleteOp, ExtractAction, Fact, ManageAction, NoopOp, UpdateOp

_WORD = re.compile(r"[a-z0-9']+")
_NAME = re.compile(r"\b[A-Z][a-z]+\b")
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")
_CLAUSE_BREAK = re.compile(r"\s*(?:[,:;()!?.]|\b(?:and|but|while)\b)\s*", re.I)
NUM_SCALARS = 6
NUM_PAIR_FEATURES = 8
KEEP, DROP, ADD, NOOP = 0, 1, 0, 1


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def hashed_ids(text: str, buckets: int) -> list[int]:
    """Stable (process-independent) hashes of the unigrams and bigrams of ``text``."""
    toks = words(text)
    grams = toks + [f"{a} {b}" for a, b in zip(toks, toks[1:])]
    return [zlib.crc32(g.encode()) % buckets for g in grams]


def updated_content(fact: str, memory: str) -> str:
    """What an UPDATE of ``memory`` by ``fact`` writes: the fact, then the memory's first (current) statement
    as a single past clause, so the old value reads as history and older ones are dropped.

    >>> updated_content("Maya moved to Oslo!", "Oh, Maya lives in Lisbon and loves it. Maya previously lived in Porto.")
    'Maya moved to Oslo! Previously Oh Maya lives in Lisbon loves it.'
    """
    current = _SENTENCE_END.split(memory.strip(), 1)[0]
    clause = " ".join(part for part in _CLAUSE_BREAK.split(current) if part)
    return f"{fact} Previously {clause}." if clause else fact


def pair_features(fact: str, memory: str, same_speaker: bool, slot: int, num_slots: int, gap: float) -> list[float]:
    """Lexical overlap of a fact with one related memory (what UPDATE / DELETE decisions hinge on)."""
    f_words, m_words = words(fact), words(memory)
    f, m = set(f_words), set(m_words)
    inter = len(f & m)
    f_names, m_names = set(_NAME.findall(fact)), set(_NAME.findall(memory))
    names = len(f_names & m_names) / max(len(f_names | m_names), 1)  # shared capitalised words: people, places
    return [
        inter / max(len(f | m), 1),
        inter / max(len(f), 1),
        inter / max(len(m), 1),
        names,
        float(f_words == m_words),
        float(same_speaker),
        slot / num_slots,
        gap,
    ]


@dataclass
class FeatureSample:
    """One featurized view and the decisions taken on it (enough to recompute their log-probs)."""

    role: int
    texts: list[list[int]]  # hashed ids; decision texts first, then memory texts
    dec_text: list[int]  # [D] index into texts
    dec_scalars: list[list[float]]  # [D, NUM_SCALARS]
    option_mask: list[list[bool]]  # [D, 2 + 2 * num_slots]
    pairs: list[tuple[int, int, int]] = field(default_factory=list)  # (decision, slot, memory text)
    pair_feats: list[list[float]] = field(default_factory=list)  # [P, NUM_PAIR_FEATURES]
    actions: list[int] = field(default_factory=list)  # [D]


class FeatureNet(nn.Module):
    """Shared trunk + extractor head + manager head + (fact, memory) pair head. ``forward`` -> masked logits."""

    def __init__(self, buckets: int = 4096, hidden: int = 64, num_slots: int = 5) -> None:
        super().__init__()
        self.buckets, self.num_slots = buckets, num_slots
        self.embed = nn.EmbeddingBag(buckets, hidden, mode="mean")
        self.role = nn.Embedding(2, hidden)
        self.trunk = nn.Sequential(nn.Linear(hidden + NUM_SCALARS, hidden), nn.Tanh())
        self.extract_head = nn.Linear(hidden, 2)
        self.manage_head = nn.Linear(hidden, 2)
        self.pair_head = nn.Sequential(nn.Linear(3 * hidden + NUM_PAIR_FEATURES, hidden), nn.Tanh(), nn.Linear(hidden, 2))

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Logits ``[D, 2 + 2 * num_slots]`` over each decision's options; invalid options are ``-inf``."""
        text_emb = self.embed(batch["ids"], batch["offsets"])  # [U, H]
        dec_role = batch["dec_role"]  # [D]
        h = self.trunk(torch.cat([text_emb[batch["dec_text"]] + self.role(dec_role), batch["dec_scalars"]], -1))
        base = torch.where((dec_role == 0).unsqueeze(-1), self.extract_head(h), self.manage_head(h))  # [D, 2]
        logits = torch.cat([base, h.new_zeros(len(h), 2 * self.num_slots)], -1)  # [D, O]
        if len(batch["pair_dec"]):
            fact_h, mem_e = h[batch["pair_dec"]], text_emb[batch["pair_mem"]]  # [P, H]
            pair = self.pair_head(torch.cat([fact_h, mem_e, fact_h * mem_e, batch["pair_feats"]], -1))  # [P, 2]
            cols = torch.stack([2 + batch["pair_slot"], 2 + self.num_slots + batch["pair_slot"]], -1)  # [P, 2]
            rows = batch["pair_dec"].unsqueeze(-1).expand_as(cols)
            logits = logits.index_put((rows.reshape(-1), cols.reshape(-1)), pair.reshape(-1), accumulate=True)
        return logits.masked_fill(~batch["option_mask"], float("-inf"))


class FeaturePolicy:
    """Acts on ``info["view"]`` with a :class:`FeatureNet`; see the module docstring."""

    def __init__(self, *, hidden: int = 64, num_slots: int = 5, buckets: int = 4096, temperature: float = 1.0, seed: int = 0):
        generator = torch.Generator().manual_seed(seed)
        self.model = FeatureNet(buckets=buckets, hidden=hidden, num_slots=num_slots)
        with torch.no_grad():
            for p in self.model.parameters():
                p.copy_(torch.randn(p.shape, generator=generator) * (0.1 if p.dim() > 1 else 0.0))
        self.temperature, self.num_slots = temperature, num_slots

    # -- featurization ----------------------------------------------------------------------------------------
    def featurize(self, view: dict[str, Any]) -> tuple[FeatureSample, list[Any]]:
        """A sample without actions, and the payload of each decision (turn dicts or fact dicts)."""
        progress = view["session"] / max(view["num_sessions"], 1)
        buckets, k = self.model.buckets, self.num_slots
        if view["role"] == "extractor":
            turns = view.get("turns", [])
            texts = [hashed_ids(t["text"], buckets) for t in turns]
            scalars = [[progress, 0.0, len(words(t["text"])) / 30, float(any(c.isdigit() for c in t["text"])), 0.0,
                        float("?" in t["text"])] for t in turns]
            mask = [[True, True] + [False] * 2 * k for _ in turns]
            return FeatureSample(0, texts, list(range(len(turns))), scalars, mask), turns
        facts, memories = view.get("facts", []), {m["memory_id"]: m for m in view.get("memories", [])}
        texts = [hashed_ids(f["fact"], buckets) for f in facts]
        sample = FeatureSample(1, texts, list(range(len(facts))), [], [])
        mem_text: dict[str, int] = {}
        for d, fact in enumerate(facts):
            related = [m for m in fact.get("related", []) if m in memories][:k]
            feats = []
            for slot, memory_id in enumerate(related):
                memory = memories[memory_id]
                if memory_id not in mem_text:
                    mem_text[memory_id] = len(sample.texts)
                    sample.texts.append(hashed_ids(memory["content"], buckets))
                gap = (view["session"] - (memory.get("session") or 0)) / max(view["num_sessions"], 1)
                same_speaker = memory.get("speaker") == fact.get("speaker")
                feats.append(pair_features(fact["fact"], memory["content"], same_speaker, slot, k, gap))
                sample.pairs.append((d, slot, mem_text[memory_id]))
            sample.pair_feats += feats
            best = max((f[0] for f in feats), default=0.0)
            sample.dec_scalars.append([progress, len(related) / k, len(words(fact["fact"])) / 30,
                                       float(any(c.isdigit() for c in fact["fact"])), best, float("?" in fact["fact"])])
            valid = [slot < len(related) for slot in range(k)]
            sample.option_mask.append([True, True] + valid + valid)
        return sample, facts

    def collate(self, samples: Sequence[FeatureSample]) -> dict[str, torch.Tensor]:
        ids, offsets, dec_text, dec_role, scalars, masks = [], [], [], [], [], []
        pair_dec, pair_slot, pair_mem, pair_feats, actions = [], [], [], [], []
        n_texts = n_decs = 0
        for s in samples:
            for t in s.texts:
                offsets.append(len(ids))
                ids += t
            dec_text += [n_texts + i for i in s.dec_text]
            dec_role += [s.role] * len(s.dec_text)
            scalars += s.dec_scalars
            masks += s.option_mask
            actions += s.actions
            for d, slot, mem in s.pairs:
                pair_dec.append(n_decs + d)
                pair_slot.append(slot)
                pair_mem.append(n_texts + mem)
            pair_feats += s.pair_feats
            n_texts += len(s.texts)
            n_decs += len(s.dec_text)
        long = lambda xs: torch.tensor(xs, dtype=torch.long)  # noqa: E731
        return {
            "ids": long(ids), "offsets": long(offsets), "dec_text": long(dec_text), "dec_role": long(dec_role),
            "dec_scalars": torch.tensor(scalars, dtype=torch.float32).reshape(-1, NUM_SCALARS),
            "option_mask": torch.tensor(masks, dtype=torch.bool).reshape(-1, 2 + 2 * self.num_slots),
            "pair_dec": long(pair_dec), "pair_slot": long(pair_slot), "pair_mem": long(pair_mem),
            "pair_feats": torch.tensor(pair_feats, dtype=torch.float32).reshape(-1, NUM_PAIR_FEATURES),
            "actions": long(actions),
        }

    # -- acting -----------------------------------------------------------------------------------------------
    def act(self, infos: Sequence[dict[str, Any]], *, generator: torch.Generator, greedy: bool = False) -> list[Decision]:
        featurized = [self.featurize(info["view"]) for info in infos]
        samples = [s for s, _ in featurized]
        with torch.no_grad():
            logp_all = torch.log_softmax(self.model(self.collate(samples)) / self.temperature, -1)  # [D, O]
            if greedy or not len(logp_all):
                choice = logp_all.argmax(-1)
            else:
                choice = torch.multinomial(logp_all.exp(), 1, generator=generator).squeeze(-1)
            chosen_logp = logp_all.gather(-1, choice.unsqueeze(-1)).squeeze(-1)  # [D]
        decisions, start = [], 0
        for (sample, payload), info in zip(featurized, infos):
            n = len(sample.dec_text)
            sample.actions = choice[start : start + n].tolist()
            action = self._action(info["view"], sample, payload)
            decisions.append(Decision(action=action, sample=sample, old_logp=chosen_logp[start : start + n].clone()))
            start += n
        return decisions

    def _action(self, view: dict[str, Any], sample: FeatureSample, payload: list[Any]) -> ExtractAction | ManageAction:
        if sample.role == 0:
            kept = [t for t, a in zip(payload, sample.actions) if a == KEEP]
            return ExtractAction(facts=tuple(Fact(speaker=t["speaker"], fact=t["text"], dia_ids=(t["dia_id"],)) for t in kept))
        ops, deleted, k = [], set(), self.num_slots
        view_memories = {m["memory_id"]: m["content"] for m in view.get("memories", [])}
        for fact, a in zip(payload, sample.actions):
            related = [m for m in fact.get("related", []) if m in view_memories][:k]
            dia_ids = tuple(fact.get("dia_ids", ()))
            if a == ADD:
                ops.append(AddOp(content=fact["fact"], speaker=fact.get("speaker"), dia_ids=dia_ids))
            elif a == NOOP:
                ops.append(NoopOp())
            else:
                target = related[(a - 2) % k]
                if target in deleted:  # already gone in this step: nothing left to change
                    ops.append(NoopOp())
                elif a - 2 < k:
                    content = updated_content(fact["fact"], view_memories[target])
                    ops.append(UpdateOp(memory_id=target, content=content, dia_ids=dia_ids))
                else:
                    deleted.add(target)
                    ops.append(DeleteOp(memory_id=target))
        return ManageAction(operations=tuple(ops))

    # -- learning ---------------------------------------------------------------------------------------------
    def evaluate(self, model: nn.Module, samples: Sequence[FeatureSample]) -> Evaluation:
        batch = self.collate(samples)
        logits = model(batch)  # [D, O]
        logp_all = torch.log_softmax(logits / self.temperature, -1)
        logp = logp_all.gather(-1, batch["actions"].unsqueeze(-1)).squeeze(-1)  # [D]
        probs = logp_all.exp()
        entropy = -(probs * torch.where(probs > 0, logp_all, torch.zeros_like(logp_all))).sum(-1)  # [D]
        lengths = [len(s.dec_text) for s in samples]
        width = max([1, *lengths])
        rows = torch.repeat_interleave(torch.arange(len(samples)), torch.tensor(lengths, dtype=torch.long))
        cols = torch.cat([torch.arange(n) for n in lengths]) if lengths else torch.zeros(0, dtype=torch.long)
        out_logp = logp.new_zeros(len(samples), width).index_put((rows, cols), logp)
        out_ent = logp.new_zeros(len(samples), width).index_put((rows, cols), entropy)
        _, mask = pad_rows([torch.zeros(n) for n in lengths])
        return Evaluation(logp=out_logp, entropy=out_ent, mask=mask)
