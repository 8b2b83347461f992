"""What a run needs fixed and recorded to be reproduced: its compute threads and its provenance.

Every ``memr2`` command that computes (``eval``, ``train``, ``study``) fixes its thread count with
:func:`limit_threads` -- from its ``--torch-threads`` flag or ``TrainerConfig.torch_threads``, never from the
environment it was started in -- and writes :func:`provenance` into its result file: the exact command, the
commit and whether the tree had uncommitted changes, package versions, the thread count and the platform.
A float reduction can change with the thread count or the CPU's instruction set, and one changed action in
a rollout changes the whole training run after it, so these are part of a result, not decoration.
"""

from __future__ import annotations

import functools
import os
import platform
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

#: Environment variables read by OpenMP, MKL, OpenBLAS and tokenizers when a library (or a subprocess) starts.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def limit_threads(threads: int) -> None:
    """Use ``threads`` compute threads in this process and in the processes it starts.

    Sets torch's intra-op threads (if torch is loaded), limits every BLAS / OpenMP pool already loaded
    (numpy's OpenBLAS, torch's OpenMP) with threadpoolctl, and exports the usual variables so that libraries
    loaded later and subprocesses start with the same count. One thread per process is the default: on a busy
    2-core machine two threads cost ~12x the CPU of one (issue 20).
    """
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"torch_threads={threads!r}: give a whole number of threads >= 1 (default 1)")
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)
    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(threads)


def _git(where: Path, *args: str) -> str | None:
    """``git ARGS`` in ``where``: its output, or None when git is missing or fails."""
    try:
        done = subprocess.run(["git", *args], cwd=where, capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout


def _package_dir() -> Path:
    return Path(__file__).resolve().parent


def git_state(path: str | os.PathLike[str] | None = None) -> tuple[str | None, bool | None]:
    """``(commit, dirty)`` of the repository holding ``path`` (default: this package): the checked-out commit and
    whether tracked files differ from it; ``(None, None)`` outside a git checkout (e.g. an installed wheel)."""
    where = Path(path) if path else _package_dir()
    commit = (_git(where, "rev-parse", "HEAD") or "").strip()
    if len(commit) != 40:
        return None, None
    status = _git(where, "status", "--porcelain", "--untracked-files=no")
    return commit, None if status is None else bool(status.strip())


@functools.lru_cache(maxsize=None)
def commit_exists(commit: str, path: str | None = None) -> bool:
    """Whether the repository holding ``path`` (default: this package) has ``commit`` (7-40 hex digits; anything
    else is never passed to git)."""
    if not re.fullmatch(r"[0-9a-f]{7,40}", commit):
        return False
    return _git(Path(path) if path else _package_dir(), "cat-file", "-e", f"{commit}^{{commit}}") is not None


def platform_info() -> dict[str, str]:
    """The machine a run computed on: OS, architecture, CPU model and count, and torch's CPU kernel level
    (``AVX512``, ``AVX2``, ...: torch picks kernels by it, and they round differently)."""
    info = {"system": platform.platform(), "machine": platform.machine(), "cpus": str(os.cpu_count())}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            model = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), None)
    except OSError:
        model = None
    info["cpu"] = model or platform.processor() or "unknown"
    if "torch" in sys.modules:
        import torch

        info["torch_cpu_capability"] = str(torch.backends.cpu.get_cpu_capability())
    return info


def provenance(command: str | None, torch_threads: int) -> dict[str, Any]:
    """The :class:`~memr2.results.RunResult` fields that say how a result was produced (``command``: the exact
    ``memr2`` command line, see :func:`memr2.commands.command_line`)."""
    from memr2.results import package_versions

    commit, dirty = git_state()
    return {"command": command, "commit": commit, "dirty": dirty, "versions": package_versions(),
            "torch_threads": torch_threads, "platform": platform_info()}
