"""``FeaturePolicy``: a small torch policy over the structured view that trains on CPU in minutes.

One network with shared parameters plays both roles (a role embedding tells them apart), as Memory-R2's shared
LLM backbone does. Texts become hashed bags of unigrams and bigrams.

* **Extractor**: each turn of the chunk is a candidate fact; one decision per turn, *keep* or *drop*.
* **Manager**: one decision per fact among ``ADD``, ``NOOP``, ``UPDATE <related_j>`` and ``DELETE <related_j>``
  for the fact's first ``num_slots`` related memories. A pair scorer sees the fact and each related memory plus
  lexical-overlap features, which is what makes UPDATE / DELETE of a stale value learnable. An UPDATE writes
  the new fact and keeps the memory's current statement as one past clause
  (:func:`agents.restricted_oracle.updated_content`), as an ideal memory does ("... is Lisbon. ... previous city
  was Porto."), so history questions stay answerable. ``delete_keeps_fact=True`` makes ``DELETE <j>`` also ADD
  the fact (replace a stale memory); the default drops it (as first published).
* ``similarity="embedding"`` adds a fact-memory similarity signal to the pair scorer: the cosine of
  all-MiniLM-L6-v2 sentence embeddings (:class:`agents.embedding.SentenceEmbedder`) between the fact and each
  related memory's current statement, its gap to the best of the fact's memories, and whether it is the best.
  Nothing privileged: it is what finds "the memory about Maya's city" among Maya's memories. The default
  ``"lexical"`` uses word overlap only (as first published; it barely separates attributes of one person).

Every decision is one "token" of the policy-gradient loss.
"""

from __future__ import annotations

import functools
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from agents.restricted_oracle import current_statement, manager_operations
from agents.llm.backend import pad_rows
from algorithms.policies.base import Decision, Evaluation
from memenv.actions import ExtractAction, Fact, ManageAction
from memenv.views import ExtractorView, FactView, ManagerView

_WORD = re.compile(r"[a-z0-9']+")
_NAME = re.compile(r"\b[A-Z][a-z]+\b")
NUM_SCALARS = 6
NUM_PAIR_FEATURES = 8
NUM_EMBEDDING_FEATURES = 3
KEEP, DROP = 0, 1
Similarity = Literal["lexical", "embedding"]


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


@dataclass(frozen=True)
class TextInfo:
    """What featurization reads from one text, computed once per distinct text (:func:`text_info`)."""

    words: tuple[str, ...]
    word_set: frozenset[str]
    names: frozenset[str]  # capitalised words: people, places
    has_digit: bool
    has_question: bool


@functools.lru_cache(maxsize=1 << 16)
def text_info(text: str) -> TextInfo:
    """:class:`TextInfo` of ``text`` (memoised: a conversation's turns recur in every rollout and step)."""
    toks = tuple(words(text))
    return TextInfo(toks, frozenset(toks), frozenset(_NAME.findall(text)), any(c.isdigit() for c in text), "?" in text)


@functools.lru_cache(maxsize=1 << 16)
def _hashed_ids(text: str, buckets: int) -> tuple[int, ...]:
    toks = text_info(text).words
    grams = list(toks) + [f"{a} {b}" for a, b in zip(toks, toks[1:])]
    return tuple(zlib.crc32(g.encode()) % buckets for g in grams)


def hashed_ids(text: str, buckets: int) -> list[int]:
    """Stable (process-independent) hashes of the unigrams and bigrams of ``text``."""
    return list(_hashed_ids(text, buckets))


def embedding_features(similarities: Sequence[float]) -> list[list[float]]:
    """Per related memory: cosine similarity of the fact with the memory's current statement, its gap to the
    best of the fact's memories (0 for the best) and whether it is the best.

    >>> embedding_features([0.25, 0.75])
    [[0.25, -0.5, 0.0], [0.75, 0.0, 1.0]]
    """
    best = max(similarities, default=0.0)
    return [[s, s - best, float(s == best)] for s in similarities]


@functools.lru_cache(maxsize=1 << 16)
def _overlap(fact: str, memory: str) -> tuple[float, float, float, float, float]:
    """Word overlap (Jaccard, of the fact, of the memory), shared capitalised words, identical wording."""
    fi, mi = text_info(fact), text_info(memory)
    f, m = fi.word_set, mi.word_set
    inter = len(f & m)
    names = len(fi.names & mi.names) / max(len(fi.names | mi.names), 1)  # shared capitalised words: people, places
    return inter / max(len(f | m), 1), inter / max(len(f), 1), inter / max(len(m), 1), names, float(fi.words == mi.words)


def pair_features(fact: str, memory: str, same_speaker: bool, slot: int, num_slots: int, gap: float) -> list[float]:
    """Lexical overlap of a fact with one related memory (what UPDATE / DELETE decisions hinge on)."""
    return [*_overlap(fact, memory), float(same_speaker), slot / num_slots, gap]


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
    """Shared trunk + extractor head + manager head + (fact, memory) pair head. ``forward`` -> masked logits.

    ``factored=False`` (as first published): the manager head scores ADD / NOOP and the pair head scores UPDATE j
    and DELETE j directly. ``factored=True``: the manager head scores the operation (ADD, NOOP, UPDATE, DELETE)
    and the pair head one target score per related memory, so ``P(UPDATE j) = P(UPDATE) * P(j | target)``; the
    target softmax gets a learned ``similarity_scale`` (initially ``similarity_prior``) times the fact-memory
    similarity (the embedding cosine when the policy uses embeddings, else word overlap) on top of the pair MLP. Both are one categorical over ``2 + 2 * num_slots``.
    """

    def __init__(
        self,
        buckets: int = 4096,
        hidden: int = 64,
        num_slots: int = 5,
        num_pair_features: int = NUM_PAIR_FEATURES,
        factored: bool = False,
        similarity_prior: float = 0.0,
    ) -> None:
        super().__init__()
        self.buckets, self.num_slots, self.num_pair_features, self.factored = buckets, num_slots, num_pair_features, factored
        self.embed = nn.EmbeddingBag(buckets, hidden, mode="mean")
        self.role = nn.Embedding(2, hidden)
        self.trunk = nn.Sequential(nn.Linear(hidden + NUM_SCALARS, hidden), nn.Tanh())
        self.extract_head = nn.Linear(hidden, 2)
        self.manage_head = nn.Linear(hidden, 4 if factored else 2)
        self.pair_head = nn.Sequential(
            nn.Linear(3 * hidden + num_pair_features, hidden), nn.Tanh(), nn.Linear(hidden, 1 if factored else 2)
        )
        if factored:
            self.similarity_scale = nn.Parameter(torch.full((1,), float(similarity_prior)))
            # the embedding cosine when there is one (appended after the lexical features), else word overlap
            self.similarity_index = NUM_PAIR_FEATURES if num_pair_features > NUM_PAIR_FEATURES else 0

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Logits ``[D, 2 + 2 * num_slots]`` over each decision's options; invalid options are ``-inf``."""
        text_emb = self.embed(batch["ids"], batch["offsets"])  # [U, H]
        dec_role = batch["dec_role"]  # [D]
        h = self.trunk(torch.cat([text_emb[batch["dec_text"]] + self.role(dec_role), batch["dec_scalars"]], -1))
        extract, manage = self.extract_head(h), self.manage_head(h)  # [D, 2], [D, 2 or 4]
        base = torch.where((dec_role == 0).unsqueeze(-1), extract, manage[:, :2])  # [D, 2]
        if self.factored:  # UPDATE / DELETE op logits, spread over the slots below
            ops = torch.where((dec_role == 0).unsqueeze(-1), torch.zeros_like(manage[:, 2:]), manage[:, 2:])  # [D, 2]
            logits = torch.cat([base, ops[:, :1].expand(-1, self.num_slots), ops[:, 1:].expand(-1, self.num_slots)], -1)
        else:
            logits = torch.cat([base, h.new_zeros(len(h), 2 * self.num_slots)], -1)  # [D, O]
        if len(batch["pair_dec"]):
            fact_h, mem_e = h[batch["pair_dec"]], text_emb[batch["pair_mem"]]  # [P, H]
            pair = self.pair_head(torch.cat([fact_h, mem_e, fact_h * mem_e, batch["pair_feats"]], -1))  # [P, 1 or 2]
            if self.factored:
                similarity = batch["pair_feats"][:, self.similarity_index]  # [P]
                target = pair[:, 0] + self.similarity_scale * similarity  # [P]
                target = target - _segment_logsumexp(target, batch["pair_dec"], len(h))  # log P(slot | target)
                pair = torch.stack([target, target], -1)  # [P, 2]
            cols = torch.stack([2 + batch["pair_slot"], 2 + self.num_slots + batch["pair_slot"]], -1)  # [P, 2]
            rows = batch["pair_dec"].unsqueeze(-1).expand_as(cols)
            logits = logits.index_put((rows.reshape(-1), cols.reshape(-1)), pair.reshape(-1), accumulate=True)
        return logits.masked_fill(~batch["option_mask"], float("-inf"))


def _decision_scalars(progress: float, slots_share: float, info: TextInfo, best: float) -> list[float]:
    """A decision's scalar inputs: episode progress, share of slots filled, length, digits, best overlap, question."""
    return [progress, slots_share, len(info.words) / 30, float(info.has_digit), best, float(info.has_question)]


_statement = functools.lru_cache(maxsize=1 << 16)(current_statement)  # memoised: memories recur step after step


def _segment_logsumexp(values: torch.Tensor, segments: torch.Tensor, num_segments: int) -> torch.Tensor:
    """``logsumexp`` of ``values [P]`` within each segment id, gathered back to ``[P]``."""
    peak = values.new_full((num_segments,), float("-inf")).scatter_reduce(0, segments, values.detach(), reduce="amax")
    total = values.new_zeros(num_segments).index_add(0, segments, (values - peak[segments]).exp())
    return (total.log() + peak)[segments]


class FeaturePolicy:
    """Acts on ``info["view"]`` with a :class:`FeatureNet`; see the module docstring."""

    def __init__(
        self,
        *,
        hidden: int = 64,
        num_slots: int = 5,
        buckets: int = 4096,
        temperature: float = 1.0,
        seed: int = 0,
        similarity: Similarity = "lexical",
        delete_keeps_fact: bool = False,
        factored: bool = False,
        similarity_prior: float = 0.0,
        embedder: Any = None,
    ):
        if similarity not in ("lexical", "embedding"):
            raise ValueError(f"similarity={similarity!r}: choose 'lexical' or 'embedding'")
        generator = torch.Generator().manual_seed(seed)
        extra = NUM_EMBEDDING_FEATURES if similarity == "embedding" else 0
        self.model = FeatureNet(
            buckets=buckets, hidden=hidden, num_slots=num_slots, num_pair_features=NUM_PAIR_FEATURES + extra,
            factored=factored,
            similarity_prior=similarity_prior,
        )
        with torch.no_grad():
            for p in self.model.parameters():
                p.copy_(torch.randn(p.shape, generator=generator) * (0.1 if p.dim() > 1 else 0.0))
        if factored:  # after the random init above, which would overwrite it
            with torch.no_grad():
                self.model.similarity_scale.fill_(similarity_prior)
        self.temperature, self.num_slots = temperature, num_slots
        self.similarity, self.delete_keeps_fact = similarity, delete_keeps_fact
        if similarity == "embedding" and embedder is None:
            from agents.embedding import SentenceEmbedder

            embedder = SentenceEmbedder()
        self.embedder = embedder

    # -- featurization ----------------------------------------------------------------------------------------
    def featurize(self, view: ExtractorView | ManagerView) -> tuple[FeatureSample, list[Any]]:
        """A sample without actions, and the payload of each decision (the turns or the facts)."""
        progress = view.session / max(view.num_sessions, 1)
        buckets, k = self.model.buckets, self.num_slots
        if isinstance(view, ExtractorView):
            turns = list(view.turns)
            texts = [hashed_ids(t.text, buckets) for t in turns]
            scalars = [_decision_scalars(progress, 0.0, text_info(t.text), 0.0) for t in turns]
            mask = [[True, True] + [False] * 2 * k for _ in turns]
            return FeatureSample(0, texts, list(range(len(turns))), scalars, mask), turns
        facts, memories = list(view.facts), {m.memory_id: m for m in view.memories}
        texts = [hashed_ids(f.fact, buckets) for f in facts]
        sample = FeatureSample(1, texts, list(range(len(facts))), [], [])
        mem_text: dict[str, int] = {}
        slots = self._slots(view, facts)
        similarities = self._similarities(view, facts, slots) if self.similarity == "embedding" else None
        for d, (fact, related) in enumerate(zip(facts, slots)):
            feats = []
            for slot, memory_id in enumerate(related):
                memory = memories[memory_id]
                if memory_id not in mem_text:
                    mem_text[memory_id] = len(sample.texts)
                    sample.texts.append(hashed_ids(memory.content, buckets))
                gap = (view.session - memory.session) / max(view.num_sessions, 1)
                same_speaker = memory.speaker == fact.speaker
                feats.append(pair_features(fact.fact, memory.content, same_speaker, slot, k, gap))
                sample.pairs.append((d, slot, mem_text[memory_id]))
            best = max((f[0] for f in feats), default=0.0)
            if similarities is not None:
                best = max(similarities[d], default=0.0)
                feats = [f + extra for f, extra in zip(feats, embedding_features(similarities[d]))]
            sample.pair_feats += feats
            sample.dec_scalars.append(_decision_scalars(progress, len(related) / k, text_info(fact.fact), best))
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
            "pair_feats": torch.tensor(pair_feats, dtype=torch.float32).reshape(-1, self.model.num_pair_features),
            "actions": long(actions),
        }

    # -- acting -----------------------------------------------------------------------------------------------
    def act(self, infos: Sequence[dict[str, Any]], *, generator: torch.Generator, greedy: bool = False) -> list[Decision]:
        if self.similarity == "embedding":
            self._prefetch_embeddings([info["view"] for info in infos])
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

    def _slots(self, view: ManagerView, facts: Sequence[FactView]) -> list[list[str]]:
        """Per fact, the memory ids of its related slots (:func:`related_slots`, with the shown ids built once)."""
        shown = {m.memory_id for m in view.memories}
        return [[m for m in fact.related if m in shown][: self.num_slots] for fact in facts]

    def _similarity_texts(self, view: ManagerView, facts: Sequence[FactView], slots: list[list[str]]) -> list[str]:
        """The texts to embed for a manager view: the facts, then the current statement of each slot's memory."""
        contents = {m.memory_id: m.content for m in view.memories}
        return [f.fact for f in facts] + [_statement(contents[m]) for related in slots for m in related]

    def _prefetch_embeddings(self, views: Sequence[ExtractorView | ManagerView]) -> None:
        """Embed the texts of every manager view of a step in one call (the embedder caches them per text, and a
        text's vector does not depend on what it is embedded with), so featurizing each view finds them cached."""
        texts = [t for v in views if isinstance(v, ManagerView)
                 for t in self._similarity_texts(v, v.facts, self._slots(v, v.facts))]
        if texts:
            self.embedder.embed(texts)

    def _similarities(self, view: ManagerView, facts: list[FactView], slots: list[list[str]]) -> list[list[float]]:
        """Per fact, the cosine similarity with the current statement of each of its related slots."""
        vectors = self.embedder.embed(self._similarity_texts(view, facts, slots))
        out, start = [], len(facts)
        for d, related in enumerate(slots):
            out.append((vectors[start : start + len(related)] @ vectors[d]).tolist())
            start += len(related)
        return out

    def _action(
        self, view: ExtractorView | ManagerView, sample: FeatureSample, payload: list[Any]
    ) -> ExtractAction | ManageAction:
        if sample.role == 0:
            kept = [t for t, a in zip(payload, sample.actions) if a == KEEP]
            return ExtractAction(facts=tuple(Fact(speaker=t.speaker, fact=t.text, dia_ids=(t.dia_id,)) for t in kept))
        return manager_operations(view, sample.actions, self.num_slots, delete_keeps_fact=self.delete_keeps_fact)

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
