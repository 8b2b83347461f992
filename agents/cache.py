"""Where memr2 caches converted models and embeddings, and an atomic directory write (no heavy imports).

``agents.llm.loading`` re-exports both; :mod:`agents.embedding` imports them from here so that the feature policy
never imports ``transformers``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def cache_dir() -> Path:
    """Where converted models live: ``$MEMR2_CACHE_DIR``, else ``$XDG_CACHE_HOME/memr2``, else ``~/.cache/memr2``."""
    if os.environ.get("MEMR2_CACHE_DIR"):
        return Path(os.environ["MEMR2_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "memr2"


def _atomic_save(target: Path, write) -> None:
    """Run ``write(tmp_dir)`` and move the result to ``target`` in one rename (concurrent loaders never see half)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        write(tmp)
        try:
            tmp.rename(target)
        except OSError:  # another process won the race: keep its copy
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
