"""File writes that never follow a symlink planted where a run writes (a run folder, a download's ``.part``).

``open_no_follow`` refuses to open through a symlink (``O_NOFOLLOW``); ``write_text_atomic`` writes a fresh
temporary file and renames it over the target, which replaces a symlink there instead of writing through it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import IO

_MODES = {"a": os.O_WRONLY | os.O_CREAT | os.O_APPEND, "x": os.O_WRONLY | os.O_CREAT | os.O_EXCL}


def open_no_follow(path: str | os.PathLike[str], mode: str = "a", *, binary: bool = False) -> IO:
    """Open ``path`` for appending (``"a"``) or exclusive creation (``"x"``), refusing a symlink at ``path``
    (``OSError``, ELOOP or EEXIST)."""
    fd = os.open(path, _MODES[mode] | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0), 0o644)
    return os.fdopen(fd, mode + ("b" if binary else ""), **({} if binary else {"encoding": "utf-8"}))


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` through a new temporary file renamed over it (never through a symlink)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        with open_no_follow(tmp, "x") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def sha256_of(path: str | os.PathLike[str], block: int = 1 << 16) -> str:
    """The hex sha256 of a file, read in blocks (a data file is checked against the digest a protocol pins)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(block), b""):
            digest.update(chunk)
    return digest.hexdigest()
