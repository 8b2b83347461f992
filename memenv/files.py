"""File writes that never follow a symlink planted where a run writes (a run folder, a download's ``.part``).

``open_no_follow`` refuses to open through a symlink (``O_NOFOLLOW``); ``write_text_atomic`` writes a fresh
temporary file and renames it over the target, which replaces a symlink there instead of writing through it.
``read_yaml`` reads a config file with a one-line ``ValueError`` (file, line, column) for a syntax error.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import IO, Any

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


def read_yaml(path: str | os.PathLike[str]) -> Any:
    """``yaml.safe_load`` of the file at ``path``; a syntax error is a ``ValueError`` naming the file, the line and
    the column, not a multi-line traceback."""
    import yaml

    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ValueError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
