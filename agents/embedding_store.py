"""A persistent text -> vector store (SQLite), shared by every process that embeds with the same encoder.

Every cell of a study trains on the same conversations (training seeds 0, 1, ... whatever the cell's seed) and
validates and tests on the same ones, so most of what a cell embeds was embedded by an earlier cell. The store
keeps each vector under its text, in one database file per *fingerprint* -- the encoder's arithmetic version, the
model and tokenizer files' contents, the torch version and the CPU capability torch dispatches to -- so a vector is
only ever reused where recomputing it would give the same bits (the encoder's vectors depend on the text alone,
:mod:`agents.minilm`). Concurrent processes may read and write it (SQLite locking; a text written twice is
written with identical bytes).

``MEMR2_EMBEDDING_STORE``: unset -> ``<cache_dir>/embeddings``; ``off`` -> no persistent store; else a directory.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch

from agents.cache import cache_dir

STORE_ENV = "MEMR2_EMBEDDING_STORE"
_CHUNK = 500  # texts per SELECT (SQLite's default limit on host parameters is 999)


def store_directory() -> Path | None:
    """Where stores live (``$MEMR2_EMBEDDING_STORE``, else ``<cache_dir>/embeddings``); None when it is ``off``."""
    value = os.environ.get(STORE_ENV, "").strip()
    if value.lower() == "off":
        return None
    return Path(value).expanduser() if value else cache_dir() / "embeddings"


def fingerprint(version: str, files: Iterable[Path], max_length: int) -> str:
    """A short digest of everything a stored vector's bits depend on."""
    digest = hashlib.sha256(f"{version}|{torch.__version__}|{torch.backends.cpu.get_cpu_capability()}|{max_length}".encode())
    for path in files:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


class EmbeddingStore:
    """``get(texts) -> {text: vector}`` for the stored ones, ``put({text: vector})``; vectors are float32 ``[dim]``."""

    def __init__(self, path: str | Path, dim: int) -> None:
        self.path, self.dim = Path(path), dim
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=120, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # a crash may lose the last writes, which are recomputed
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (text TEXT PRIMARY KEY, vector BLOB NOT NULL)")

    def get(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        found: dict[str, torch.Tensor] = {}
        for start in range(0, len(texts), _CHUNK):
            chunk = list(texts[start : start + _CHUNK])
            marks = ",".join("?" * len(chunk))
            for text, blob in self._db.execute(f"SELECT text, vector FROM vectors WHERE text IN ({marks})", chunk):
                if len(blob) == 4 * self.dim:  # anything else is not ours: recompute it
                    found[text] = torch.frombuffer(bytearray(blob), dtype=torch.float32)
        return found

    def put(self, vectors: dict[str, torch.Tensor]) -> None:
        rows = [(text, v.detach().to(torch.float32).contiguous().numpy().tobytes()) for text, v in vectors.items()]
        with self._db:  # one transaction
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT OR IGNORE INTO vectors (text, vector) VALUES (?, ?)", rows)

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

    def close(self) -> None:
        self._db.close()
