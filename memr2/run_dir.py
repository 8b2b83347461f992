"""One writer per training run directory, and no silent mixing of two runs in one directory.

``memr2 train --output-dir DIR`` into a directory that already holds a run (``config.json``, ``metrics.jsonl`` or
``checkpoints/``) appended the new run's metrics to the old ones, and the result's diagnostics were computed
over both (issue 21). :func:`claim_run_dir` refuses such a directory unless the run continues it (``--resume``)
or replaces it (``--overwrite``), and holds a lock file with the owner's pid for the whole run, so an orphaned
trainer and a rerun study cannot write one directory at once (issue 19). A lock whose process is gone is stale
and taken over.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

LOCK_NAME = ".lock"
RUN_FILES = ("config.json", "metrics.jsonl", "checkpoints")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _lock_owner(lock: Path) -> int | None:
    """The pid written in ``lock`` if that process is alive; None for a missing, unreadable or stale lock."""
    try:
        text = lock.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() and _alive(int(text)) else None


def holds_run(directory: Path) -> list[str]:
    """The run files (:data:`RUN_FILES`) already in ``directory``."""
    return [name for name in RUN_FILES if (directory / name).exists() or (directory / name).is_symlink()]


@contextlib.contextmanager
def claim_run_dir(directory: str | os.PathLike[str], *, resume: bool, overwrite: bool) -> Iterator[Path]:
    """Hold ``directory`` for one run: refuse it if another live process holds it, or if it holds a run that
    this one neither resumes nor overwrites; with ``overwrite`` remove the old run's files first. The lock file
    is removed when the block ends."""
    directory = Path(directory)
    if resume and overwrite:
        raise ValueError("--resume continues the run in the directory and --overwrite deletes it: give one")
    directory.mkdir(parents=True, exist_ok=True)
    lock = directory / LOCK_NAME
    owner = _lock_owner(lock)
    if owner is not None and owner != os.getpid():
        raise ValueError(f"{directory} is in use by process {owner} (lock file {lock}); wait for it or stop it")
    existing = holds_run(directory)
    if existing and not (resume or overwrite):
        raise ValueError(f"{directory} already holds a run ({', '.join(existing)}): continue it with --resume "
                         f"{directory}, replace it with --overwrite, or choose another --output-dir")
    lock.unlink(missing_ok=True)  # stale (its process is gone) or none
    try:
        fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except FileExistsError:
        raise ValueError(f"{directory} was claimed by another process just now (lock file {lock})") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(f"{os.getpid()}\n")
    try:
        if overwrite:
            for name in existing:
                path = directory / name
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
        yield directory
    finally:
        if _lock_owner(lock) == os.getpid():
            lock.unlink(missing_ok=True)
